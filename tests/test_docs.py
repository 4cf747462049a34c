"""The documentation: the site builds without warnings, the reference lists every public
name, and every Python example in README.md and docs/ runs as written.

An example is a fenced ``python`` block. It runs as a program of its own (a fresh
interpreter), so it must be complete: imports, definitions and ``asyncio.run``. A block
with a title (```` ```python title="app.py" ````) is also a file of its page: every titled
block of the page is written into the working directory before any block runs, so a
later block can ``import app``. A block that includes a file (``--8<-- "examples/x.py"``)
runs that file. A block preceded by ``<!-- needs: rabbitmq -->`` runs with
``OFFLOAD_AMQP_URL`` pointing at the tests' RabbitMQ broker. A block preceded by
``<!-- not run: reason -->`` is reported as skipped with the reason; keep those few (a
program that needs a service the tests do not start).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests._rabbitmq import broker

import offload

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.M | re.S)
_TITLE = re.compile(r'title="([\w.-]+\.py)"')
_SKIP = re.compile(r"<!-- not run: (.+?) -->\s*$")
_NEEDS = re.compile(r"<!-- needs: (rabbitmq) -->\s*$")
_SNIPPET = re.compile(r'^--8<-- "([^"]+)"\s*$')


@dataclass(frozen=True)
class Example:
    where: str
    code: str
    skip: str | None
    title: str | None
    needs: str | None
    files: tuple[tuple[str, str], ...] = ()  # the page's titled blocks: (name, code)


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in pages if "_hooks" not in p.parts]


def _examples() -> list[Example]:
    found = []
    for page in _pages():
        text = page.read_text()
        examples = []
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = _SKIP.search(before)
            needs = _NEEDS.search(before)
            title = _TITLE.search(match.group(1))
            code = match.group(2)
            include = _SNIPPET.match(code.strip())
            if include:
                code = (ROOT / include.group(1)).read_text()
            examples.append(
                Example(
                    f"{page.relative_to(ROOT)}:{line}",
                    code,
                    skip.group(1) if skip else None,
                    title.group(1) if title else None,
                    needs.group(1) if needs else None,
                )
            )
        files = tuple((e.title, e.code) for e in examples if e.title)
        found += [dataclasses.replace(e, files=files) for e in examples]
    return found


EXAMPLES = _examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_runs_as_written(example: Example, tmp_path: Path) -> None:
    if example.skip:
        pytest.skip(example.skip)
    for name, code in example.files:
        (tmp_path / name).write_text(code)
    script = tmp_path / (example.title or "example.py")
    script.write_text(example.code)
    env = dict(os.environ)
    if example.needs == "rabbitmq":
        env["OFFLOAD_AMQP_URL"] = broker().url
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{example.where} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def test_every_page_with_python_examples_is_collected() -> None:
    assert any(e.where.startswith("README.md") for e in EXAMPLES)


@pytest.mark.slow
def test_site_builds_without_warnings_and_lists_every_public_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    reference = (site / "reference" / "index.html").read_text()
    missing = [n for n in offload.__all__ if f'id="offload.{n}"' not in reference]
    assert not missing, f"not in the API reference: {missing}"
