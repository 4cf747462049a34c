"""Hit paths of cached functions, one per shape. GENERATED: do not edit.

Written by ``_hitpath_generator.py`` (see there for what a shape is); run
``python -m offload._recipes._hitpath_generator`` to rewrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[..., Any]

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


def ready_coarse_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0)
        return _o_paths[2](_o_p0, _o_p0)

    return _o_wrapper


def ready_coarse_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1)
        return _o_paths[2](_o_key, _o_p0, _o_p1)

    return _o_wrapper


def ready_coarse_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def ready_coarse_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def ready_coarse_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def ready_coarse_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_args, _o_kwargs)
        return _o_paths[2](_o_key, _o_args, _o_kwargs)

    return _o_wrapper


def ready_exact_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_p0)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0)
        return _o_paths[2](_o_p0, _o_p0)

    return _o_wrapper


def ready_exact_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1)
        return _o_paths[2](_o_key, _o_p0, _o_p1)

    return _o_wrapper


def ready_exact_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def ready_exact_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def ready_exact_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def ready_exact_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_args, _o_kwargs)
        return _o_paths[2](_o_key, _o_args, _o_kwargs)

    return _o_wrapper


def async_coarse_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0) from _o_exc
        return await _o_paths[2](_o_p0, _o_p0)

    return _o_wrapper


def async_coarse_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1)

    return _o_wrapper


def async_coarse_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def async_coarse_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def async_coarse_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def async_coarse_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell

    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_paths[2](_o_key, _o_args, _o_kwargs)

    return _o_wrapper


def async_exact_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(_o_p0: Any) -> Any:
        try:
            _o_entry = _o_data[_o_p0]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_p0)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0) from _o_exc
        return await _o_paths[2](_o_p0, _o_p0)

    return _o_wrapper


def async_exact_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(_o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_p0, _o_p1)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1)

    return _o_wrapper


def async_exact_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def async_exact_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def async_exact_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(_o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_paths[2](_o_key, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def async_exact_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    async def _o_wrapper(*_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = _o_keyfn(*_o_args, **_o_kwargs)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_args, _o_kwargs) from _o_exc
        return await _o_paths[2](_o_key, _o_args, _o_kwargs)

    return _o_wrapper


def method_ready_coarse_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any) -> Any:
        _o_key = (_o_owner, _o_p0)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0)
        return _o_paths[2](_o_key, _o_self, _o_p0)

    return _o_wrapper


def method_ready_coarse_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1)

    return _o_wrapper


def method_ready_coarse_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def method_ready_coarse_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def method_ready_coarse_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def method_ready_coarse_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, /, *_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = (_o_owner, _o_keyfn(_o_self, *_o_args, **_o_kwargs))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_now:
                _o_read(_o_entry)
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_args, _o_kwargs)
        return _o_paths[2](_o_key, _o_self, _o_args, _o_kwargs)

    return _o_wrapper


def method_ready_exact_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any) -> Any:
        _o_key = (_o_owner, _o_p0)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0)
        return _o_paths[2](_o_key, _o_self, _o_p0)

    return _o_wrapper


def method_ready_exact_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1)

    return _o_wrapper


def method_ready_exact_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def method_ready_exact_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def method_ready_exact_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)
        return _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def method_ready_exact_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    def _o_wrapper(_o_self: Any, /, *_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = (_o_owner, _o_keyfn(_o_self, *_o_args, **_o_kwargs))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[4] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[3]
        except KeyError:
            pass
        except TypeError as _o_exc:
            return _o_paths[3](_o_exc, _o_self, _o_args, _o_kwargs)
        return _o_paths[2](_o_key, _o_self, _o_args, _o_kwargs)

    return _o_wrapper


def method_async_coarse_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any) -> Any:
        _o_key = (_o_owner, _o_p0)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0)

    return _o_wrapper


def method_async_coarse_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1)

    return _o_wrapper


def method_async_coarse_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def method_async_coarse_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def method_async_coarse_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(
        _o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any
    ) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def method_async_coarse_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_now: float = 0.0  # replaced by the coarse clock's cell
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, /, *_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = (_o_owner, _o_keyfn(_o_self, *_o_args, **_o_kwargs))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_now:
                _o_read(_o_entry)
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_args, _o_kwargs) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_args, _o_kwargs)

    return _o_wrapper


def method_async_exact_1(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any) -> Any:
        _o_key = (_o_owner, _o_p0)
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0)

    return _o_wrapper


def method_async_exact_2(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1)

    return _o_wrapper


def method_async_exact_3(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2)

    return _o_wrapper


def method_async_exact_4(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3)

    return _o_wrapper


def method_async_exact_5(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(
        _o_self: Any, _o_p0: Any, _o_p1: Any, _o_p2: Any, _o_p3: Any, _o_p4: Any
    ) -> Any:
        _o_key = (_o_owner, (_o_p0, _o_p1, _o_p2, _o_p3, _o_p4))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_p0, _o_p1, _o_p2, _o_p3, _o_p4)

    return _o_wrapper


def method_async_exact_any(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:
    _o_owner: Any = None  # replaced by the instance's owner (one function each)

    async def _o_wrapper(_o_self: Any, /, *_o_args: Any, **_o_kwargs: Any) -> Any:
        _o_key = (_o_owner, _o_keyfn(_o_self, *_o_args, **_o_kwargs))
        try:
            _o_entry = _o_data[_o_key]
            if _o_entry[1] > _o_paths[0]():
                _o_paths[1](_o_key)
                _o_paths[4] += 1
                return _o_entry[0]
        except KeyError:
            pass
        except TypeError as _o_exc:
            raise _o_paths[3](_o_exc, _o_self, _o_args, _o_kwargs) from _o_exc
        return await _o_paths[2](_o_key, _o_self, _o_args, _o_kwargs)

    return _o_wrapper


# (mode, clock, parameters or ANY) -> factory
FACTORIES: dict[tuple[str, str, int], Factory] = {
    ("ready", "coarse", 1): ready_coarse_1,
    ("ready", "coarse", 2): ready_coarse_2,
    ("ready", "coarse", 3): ready_coarse_3,
    ("ready", "coarse", 4): ready_coarse_4,
    ("ready", "coarse", 5): ready_coarse_5,
    ("ready", "coarse", 0): ready_coarse_any,
    ("ready", "exact", 1): ready_exact_1,
    ("ready", "exact", 2): ready_exact_2,
    ("ready", "exact", 3): ready_exact_3,
    ("ready", "exact", 4): ready_exact_4,
    ("ready", "exact", 5): ready_exact_5,
    ("ready", "exact", 0): ready_exact_any,
    ("async", "coarse", 1): async_coarse_1,
    ("async", "coarse", 2): async_coarse_2,
    ("async", "coarse", 3): async_coarse_3,
    ("async", "coarse", 4): async_coarse_4,
    ("async", "coarse", 5): async_coarse_5,
    ("async", "coarse", 0): async_coarse_any,
    ("async", "exact", 1): async_exact_1,
    ("async", "exact", 2): async_exact_2,
    ("async", "exact", 3): async_exact_3,
    ("async", "exact", 4): async_exact_4,
    ("async", "exact", 5): async_exact_5,
    ("async", "exact", 0): async_exact_any,
}


# (mode, clock, parameters or ANY) -> method factory
METHOD_FACTORIES: dict[tuple[str, str, int], Factory] = {
    ("ready", "coarse", 1): method_ready_coarse_1,
    ("ready", "coarse", 2): method_ready_coarse_2,
    ("ready", "coarse", 3): method_ready_coarse_3,
    ("ready", "coarse", 4): method_ready_coarse_4,
    ("ready", "coarse", 5): method_ready_coarse_5,
    ("ready", "coarse", 0): method_ready_coarse_any,
    ("ready", "exact", 1): method_ready_exact_1,
    ("ready", "exact", 2): method_ready_exact_2,
    ("ready", "exact", 3): method_ready_exact_3,
    ("ready", "exact", 4): method_ready_exact_4,
    ("ready", "exact", 5): method_ready_exact_5,
    ("ready", "exact", 0): method_ready_exact_any,
    ("async", "coarse", 1): method_async_coarse_1,
    ("async", "coarse", 2): method_async_coarse_2,
    ("async", "coarse", 3): method_async_coarse_3,
    ("async", "coarse", 4): method_async_coarse_4,
    ("async", "coarse", 5): method_async_coarse_5,
    ("async", "coarse", 0): method_async_coarse_any,
    ("async", "exact", 1): method_async_exact_1,
    ("async", "exact", 2): method_async_exact_2,
    ("async", "exact", 3): method_async_exact_3,
    ("async", "exact", 4): method_async_exact_4,
    ("async", "exact", 5): method_async_exact_5,
    ("async", "exact", 0): method_async_exact_any,
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
