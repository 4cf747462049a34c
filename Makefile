# Two commands on a fresh machine with python3 and make:
#   make demo   set up .venv and run the main job
#   make test   set up .venv and run ruff, mypy --strict and the test suite, the suite
#               once per supported Python found (3.11, 3.12, 3.13: see pytest-all)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all setup test lint typecheck pytest pytest-all demo bench docs clean system-deps

all: test

# (Re)create the virtual environment whenever pyproject.toml changes.
$(STAMP): pyproject.toml scripts/setup-venv.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/setup-venv.sh
	@touch $(STAMP)

setup: $(STAMP)

# Debian packages some tests need (a headless browser for the demo page test).
system-deps:
	@sh scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite on .venv's Python only (quick, while working).
pytest: $(STAMP) system-deps
	$(BIN)/python -m pytest

# The suite on 3.11 (required) and on each of 3.12 and 3.13 found (python3.X on PATH, or
# pyenv), each in its own venv (.venv-3.X); the summary names the versions run and
# those skipped as missing. PYTHONS="3.12" runs a subset; the loop lives in the script.
pytest-all: $(STAMP) system-deps
	@PYTHON=$(PYTHON) sh scripts/test-all-pythons.sh

# Lint and type checks once (on .venv), the suite on every supported Python.
test: lint typecheck pytest-all

# The subset-sum server with its live page; prints the URL, Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/offload demo --strategy process --host 127.0.0.1 --port $(or $(PORT),8000)

# The documentation site with the API reference built from the docstrings (warnings fail).
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) .venv-3.* site .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist
