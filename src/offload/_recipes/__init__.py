"""The recipes: coalescing, caching and batching of async calls, on one engine.

Layout, from the bottom up::

    _keys.py              call arguments -> a hashable key; clear errors when impossible
    _ready.py             awaitables without a coroutine (a cache hit's completed future)
    _inflight.py          key -> the one in-flight call that concurrent callers share
    _store.py             bounded LRU map with expiry times, one sweep timer, no timer per key
    _methods.py           instances inside keys; descriptors of cached methods
    _hitpath_generator.py writes _hitpath_templates.py (generated: key functions, hit paths)
    _hitpath.py           picks and shapes a hit path for a cached function
    _coalesce.py          offload.coalesce, offload.Coalescer     (on _inflight)
    _cached.py            offload.cached                          (on _inflight, _store, _hitpath)
    _batcher.py           offload.Batcher                         (on _store)
"""

from ._batcher import Batcher
from ._cached import CacheInfo, cached
from ._coalesce import Coalescer, coalesce

__all__ = ["Batcher", "CacheInfo", "Coalescer", "cached", "coalesce"]
