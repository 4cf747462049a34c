# Two commands on a fresh machine with python3 and make:
#   make demo   set up .venv and run the main job
#   make test   set up .venv and run ruff, mypy --strict and the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all setup test lint typecheck pytest demo bench docs clean system-deps

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

pytest: $(STAMP) system-deps
	$(BIN)/python -m pytest

test: lint typecheck pytest

# The subset-sum server with its live page; prints the URL, Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/offload demo --strategy process --host 127.0.0.1 --port $(or $(PORT),8000)

# The documentation site with the API reference built from the docstrings (warnings fail).
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) site .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist
