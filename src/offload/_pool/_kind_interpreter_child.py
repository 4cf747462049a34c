"""The sub-interpreter side of an interpreter worker: load the pool's settings, serve tasks.

Imported and run inside a sub-interpreter by :mod:`offload._pool._kind_interpreter` (the
sub-interpreter has its own copy of every module, offload included). It maps the worker's
control page, rebuilds what the template process builds for forked workers (initializer,
initargs, context variables), and runs the process workers' task loop
(:func:`offload._pool._kind_process_child.serve`) over its end of the socket pair, with one
addition: an import that fails because an extension module does not support
sub-interpreters becomes :class:`offload.InterpreterIncompatible`.
"""

from __future__ import annotations

import contextlib
import mmap
import pickle
import re
import sys
import traceback
from typing import Any

from offload import _reaper, _shm
from offload._errors import InterpreterIncompatible

from . import _kind_process_messages as w
from ._kind_process_child import load_settings, serve

__all__ = ["main"]

# CPython's wording when an extension module refuses a sub-interpreter (3.12+).
_REFUSED = re.compile(r"module (\S+) does not support loading in subinterpreters")


def main(sock_fd: int, page_fd: int, init_bytes: bytes) -> None:
    """Serve tasks until the pool closes its end of the socket.

    The descriptors belong to the calling thread, which closes them. Raises SystemExit
    with the worker's exit code when it is not 0 (the only way to hand a number back).
    """
    if sys.version_info >= (3, 13):
        page = mmap.mmap(page_fd, w.PAGE, trackfd=False)
    else:  # pragma: no cover - sub-interpreters with their own GIL need 3.13
        page = mmap.mmap(page_fd, w.PAGE)
    try:
        init = _load(init_bytes)
        _share_the_reaper(init["shm_root"])
        code = serve(sock_fd, page, init)
    except (BrokenPipeError, ConnectionResetError):
        code = 0  # the pool closed its end (it abandoned this worker): nobody listens
    except BaseException:
        traceback.print_exc()
        code = 70
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
        with contextlib.suppress(BufferError):  # a token a task kept still points at it
            page.close()
    if code:
        raise SystemExit(code)


def _load(init_bytes: bytes) -> dict[str, Any]:
    """The worker settings, as the template process prepares them for its workers."""
    init = load_settings(pickle.loads(init_bytes), translate)
    init["translate_error"] = translate
    return init


def _share_the_reaper(root: int) -> None:
    """This process's reaper (started by the main interpreter, which registered the
    shared-memory prefix before starting this worker) already deletes the segments this
    worker makes. A sub-interpreter cannot start processes: its own copy of the reaper
    module must not try to start another one."""
    _reaper.share_parents(_shm.path_prefix(root))


def translate(exc: BaseException) -> BaseException:
    """``exc``, or :class:`offload.InterpreterIncompatible` if an extension module refused
    to load in this sub-interpreter somewhere in its chain."""
    seen: BaseException | None = exc
    for _ in range(32):  # a chain is short; a cycle must not loop forever
        if seen is None:
            break
        found = _REFUSED.search(str(seen)) if isinstance(seen, ImportError) else None
        if found is not None:
            module = found.group(1)
            error = InterpreterIncompatible(
                f"the extension module {module} cannot be loaded in a sub-interpreter "
                "(it does not support them), so this task cannot run in a "
                'Pool(kind="interpreter"); run it with kind="process"',
                name=module,
            )
            error.__cause__ = exc
            return error
        seen = seen.__cause__ or seen.__context__
    return exc
