"""Build hook: expand the reference page's marker into one entry per public name.

The API reference is generated from ``offload.__all__`` and the docstrings, so a name
added to the package appears in the reference without anyone editing a page. Names are
grouped by the private module that defines them; a module missing from ``_SECTIONS``
still appears, under its own module name.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- reference -->"

# Section titles by defining module (prefix match), in page order.
_SECTIONS = [
    ("offload._recipes", "Recipes: coalesce, cache and batch"),
    ("offload._cancel", "Cancellation"),
    ("offload._cancelable", "Cancellation"),
    ("offload._interleave", "Interleaving CPU work on the loop"),
    ("offload._monitor", "Monitoring the loop"),
    ("offload._pool", "Pool"),
    ("offload._shm", "Shared memory"),
    ("offload._process", "Programs and Python children"),
    ("offload._cluster", "Cluster"),
    ("offload._jobs", "Job queue"),
    ("offload._errors", "Errors"),
]


def _defining_module(obj: Any) -> str:
    """The private module an exported object comes from (``__module__`` says offload)."""
    target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    code = getattr(target, "__code__", None)
    if code is None and inspect.isclass(target):
        # a class's __module__ says offload: its own functions know their file
        code = next(
            (
                v.__code__
                for v in vars(target).values()
                if inspect.isfunction(v)
                and v.__qualname__.startswith(target.__qualname__ + ".")
                and "offload" in v.__code__.co_filename
            ),
            None,
        )
    if code is None and inspect.isclass(target):
        return _module_defining_class(target)
    source = inspect.getsourcefile(target) if code is None else code.co_filename
    source = (source or "").replace("\\", "/")
    marker = "/offload/"
    if marker in source:
        rel = source.rsplit(marker, 1)[1].removesuffix(".py").removesuffix("/__init__")
        return "offload." + rel.replace("/", ".")
    return "offload"


def _module_defining_class(cls: type) -> str:
    """The loaded offload module whose source says ``class <name>`` (a class without
    functions of its own: nothing else knows its file)."""
    pattern = re.compile(rf"^class {re.escape(cls.__name__)}\b", re.MULTILINE)
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("offload.") or vars(module).get(cls.__name__) is not cls:
            continue
        path = getattr(module, "__file__", None)
        if path and pattern.search(Path(path).read_text(encoding="utf-8")):
            return name
    return "offload"


def _section(module: str) -> str:
    for prefix, title in _SECTIONS:
        if module == prefix or module.startswith(prefix + "."):
            return title
    return module


def reference_markdown() -> str:
    """The reference page body: a heading per section, a ``:::`` entry per name."""
    offload = importlib.import_module("offload")
    order = list(dict.fromkeys(title for _, title in _SECTIONS))
    groups: dict[str, list[str]] = {}
    for name in offload.__all__:
        obj = getattr(offload, name)
        groups.setdefault(_section(_defining_module(obj)), []).append(name)
    titles = [t for t in order if t in groups] + sorted(t for t in groups if t not in order)
    lines: list[str] = []
    for title in titles:
        lines += [f"## {title}", ""]
        for name in sorted(groups[title], key=str.lower):
            lines += [f"::: offload.{name}", ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, reference_markdown())
    return markdown
