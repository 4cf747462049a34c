"""Hit paths of cached functions, one per shape. GENERATED: do not edit.

Written by ``_hitpath_generator.py`` (see there for what a shape is); run
``python -m offload._recipes._hitpath_generator`` to rewrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[..., tuple[Callable[..., Any], Callable[[], int]]]

MAX_PARAMS = 5
MAX_KEY_PARAMS = 8
ANY = 0  # the shape of a hit path taking any arguments


def key_0() -> Any:
    return ()


def key_1(a0: Any) -> Any:
    return a0


def key_2(a0: Any, a1: Any) -> Any:
    return (a0, a1)


def key_3(a0: Any, a1: Any, a2: Any) -> Any:
    return (a0, a1, a2)


def key_4(a0: Any, a1: Any, a2: Any, a3: Any) -> Any:
    return (a0, a1, a2, a3)


def key_5(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any) -> Any:
    return (a0, a1, a2, a3, a4)


def key_6(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> Any:
    return (a0, a1, a2, a3, a4, a5)


def key_7(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any) -> Any:
    return (a0, a1, a2, a3, a4, a5, a6)


def key_8(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any) -> Any:
    return (a0, a1, a2, a3, a4, a5, a6, a7)


def ready_cell_move_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_now:
                _o_move(_o_p0)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_move_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_move_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_move_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_move_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_move_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_keep_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_cell_read_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_clock():
                _o_move(_o_p0)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_move_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_keep_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_hits += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0)
        return _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1)
        return _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def ready_call_read_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_fail(_o_exc, _o_args, _o_kwargs)
        return _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_now:
                _o_move(_o_p0)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_move_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_keep_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_cell_read_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0
    _o_now: float = 0.0  # replaced by the clock's cell

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_clock():
                _o_move(_o_p0)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_move_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_key)
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any) -> Any:
        nonlocal _o_hits
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        nonlocal _o_hits
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_keep_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        nonlocal _o_hits
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_hits += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_1(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0) from _o_exc
        return await _o_slow(_o_p0, _o_p0)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_2(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_3(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_4(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_5(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_slow(_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


def async_call_read_any(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_clock():
                _o_move(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_fail(_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_slow(_o_key, _o_args, _o_kwargs)

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count


# (mode, fresh, record, parameters or ANY) -> factory
FACTORIES: dict[tuple[str, str, str, int], Factory] = {
    ("ready", "cell", "move", 1): ready_cell_move_1,
    ("ready", "cell", "move", 2): ready_cell_move_2,
    ("ready", "cell", "move", 3): ready_cell_move_3,
    ("ready", "cell", "move", 4): ready_cell_move_4,
    ("ready", "cell", "move", 5): ready_cell_move_5,
    ("ready", "cell", "move", 0): ready_cell_move_any,
    ("ready", "cell", "keep", 1): ready_cell_keep_1,
    ("ready", "cell", "keep", 2): ready_cell_keep_2,
    ("ready", "cell", "keep", 3): ready_cell_keep_3,
    ("ready", "cell", "keep", 4): ready_cell_keep_4,
    ("ready", "cell", "keep", 5): ready_cell_keep_5,
    ("ready", "cell", "keep", 0): ready_cell_keep_any,
    ("ready", "cell", "read", 1): ready_cell_read_1,
    ("ready", "cell", "read", 2): ready_cell_read_2,
    ("ready", "cell", "read", 3): ready_cell_read_3,
    ("ready", "cell", "read", 4): ready_cell_read_4,
    ("ready", "cell", "read", 5): ready_cell_read_5,
    ("ready", "cell", "read", 0): ready_cell_read_any,
    ("ready", "call", "move", 1): ready_call_move_1,
    ("ready", "call", "move", 2): ready_call_move_2,
    ("ready", "call", "move", 3): ready_call_move_3,
    ("ready", "call", "move", 4): ready_call_move_4,
    ("ready", "call", "move", 5): ready_call_move_5,
    ("ready", "call", "move", 0): ready_call_move_any,
    ("ready", "call", "keep", 1): ready_call_keep_1,
    ("ready", "call", "keep", 2): ready_call_keep_2,
    ("ready", "call", "keep", 3): ready_call_keep_3,
    ("ready", "call", "keep", 4): ready_call_keep_4,
    ("ready", "call", "keep", 5): ready_call_keep_5,
    ("ready", "call", "keep", 0): ready_call_keep_any,
    ("ready", "call", "read", 1): ready_call_read_1,
    ("ready", "call", "read", 2): ready_call_read_2,
    ("ready", "call", "read", 3): ready_call_read_3,
    ("ready", "call", "read", 4): ready_call_read_4,
    ("ready", "call", "read", 5): ready_call_read_5,
    ("ready", "call", "read", 0): ready_call_read_any,
    ("async", "cell", "move", 1): async_cell_move_1,
    ("async", "cell", "move", 2): async_cell_move_2,
    ("async", "cell", "move", 3): async_cell_move_3,
    ("async", "cell", "move", 4): async_cell_move_4,
    ("async", "cell", "move", 5): async_cell_move_5,
    ("async", "cell", "move", 0): async_cell_move_any,
    ("async", "cell", "keep", 1): async_cell_keep_1,
    ("async", "cell", "keep", 2): async_cell_keep_2,
    ("async", "cell", "keep", 3): async_cell_keep_3,
    ("async", "cell", "keep", 4): async_cell_keep_4,
    ("async", "cell", "keep", 5): async_cell_keep_5,
    ("async", "cell", "keep", 0): async_cell_keep_any,
    ("async", "cell", "read", 1): async_cell_read_1,
    ("async", "cell", "read", 2): async_cell_read_2,
    ("async", "cell", "read", 3): async_cell_read_3,
    ("async", "cell", "read", 4): async_cell_read_4,
    ("async", "cell", "read", 5): async_cell_read_5,
    ("async", "cell", "read", 0): async_cell_read_any,
    ("async", "call", "move", 1): async_call_move_1,
    ("async", "call", "move", 2): async_call_move_2,
    ("async", "call", "move", 3): async_call_move_3,
    ("async", "call", "move", 4): async_call_move_4,
    ("async", "call", "move", 5): async_call_move_5,
    ("async", "call", "move", 0): async_call_move_any,
    ("async", "call", "keep", 1): async_call_keep_1,
    ("async", "call", "keep", 2): async_call_keep_2,
    ("async", "call", "keep", 3): async_call_keep_3,
    ("async", "call", "keep", 4): async_call_keep_4,
    ("async", "call", "keep", 5): async_call_keep_5,
    ("async", "call", "keep", 0): async_call_keep_any,
    ("async", "call", "read", 1): async_call_read_1,
    ("async", "call", "read", 2): async_call_read_2,
    ("async", "call", "read", 3): async_call_read_3,
    ("async", "call", "read", 4): async_call_read_4,
    ("async", "call", "read", 5): async_call_read_5,
    ("async", "call", "read", 0): async_call_read_any,
}

# parameters -> key function
KEY_FUNCTIONS: dict[int, Callable[..., Any]] = {
    0: key_0,
    1: key_1,
    2: key_2,
    3: key_3,
    4: key_4,
    5: key_5,
    6: key_6,
    7: key_7,
    8: key_8,
}
