"""Caching: a thread-safe LRU/TTL cache, pluggable stores, and query caching with automatic invalidation.

``cache`` is a ready ``MemoryCache`` for application code (the guide's examples use it
as ``cache.get/set/delete``). ``query.cache(ttl=...)`` caches the rows of a query's
SELECT statements (keyed by SQL text, parameters and backend) and every write that
passes the backend's choke point invalidates the tables it names: ORM saves, deletes,
``insert_many``, bulk ``update``/``delete`` and raw ``backend.execute`` writes alike.

How invalidation stays correct across threads: every table has a version, bumped
after each write to it and again when the transaction that wrote it commits or rolls
back. A cached entry remembers the versions it was read under (captured *before* the
SELECT ran) and is served only while they are unchanged, so a read racing a write can
only ever be discarded, never served stale. Reads inside a transaction bypass the cache
(they may see uncommitted rows, or an older snapshot). Cached rows are immutable tuples,
hydrated afresh on every hit: callers never share record instances.

Not seen (bounded only by the ttl): writes by other processes, and changes the database
makes on its own (triggers, ``ON DELETE CASCADE``, views over a written table).
"""
from __future__ import annotations

import copy as _copy
import hashlib
import itertools
import os
import pickle
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Generator, Optional, Protocol, runtime_checkable

from .backends.base import BufferedResult, add_observer
from .execution import Execute, Steps
from .sqlscan import BEGIN, END, READ, SCHEMA_SWITCH, WRITE, scan

__all__ = ["CacheBackend", "MemoryCache", "RedisCache", "cache", "query_store", "use_query_store",
           "clear_query_cache", "query_cache_stats", "invalidate_tables"]

_MISSING = object()


# -- the store interface -------------------------------------------------------------
@runtime_checkable
class CacheBackend(Protocol):
    """What a cache store provides; Redis or memcached adapters implement these four."""

    def get(self, key: str) -> Any:
        """The value, or None on a miss."""

    def set(self, key: str, value: Any, timeout: Optional[float] = None) -> None:
        """Store ``value``; ``timeout`` seconds (None: the store's default)."""

    def delete(self, key: str) -> Any:
        """Forget ``key``."""

    def clear(self) -> None:
        """Forget everything."""


class MemoryCache:
    """An in-process cache: thread-safe, least-recently-used eviction at ``maxsize``, TTLs.

    ``timeout=None`` on ``set`` uses ``default_timeout`` (None: no expiry); a timeout of
    0 or less stores nothing. With ``copy=True`` (the default) values are deep-copied on
    ``set`` and on ``get`` (records keep their saved state), so, as with a Redis or
    memcached store, a caller that changes what it got (or what it stored) never
    changes the cache.
    """

    def __init__(self, maxsize: int = 1024, default_timeout: Optional[float] = None,
                 copy: bool = True, clock: Callable[[], float] = time.monotonic):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"MemoryCache maxsize must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self.default_timeout = _check_timeout(default_timeout, "default_timeout")
        self.copy = copy
        self.clock = clock
        self._data: OrderedDict[Any, tuple[Any, Optional[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return default
            value, expires = entry
            if expires is not None and expires <= self.clock():
                del self._data[key]
                return default
            self._data.move_to_end(key)
        return _deepcopy(value) if self.copy else value

    def set(self, key: Any, value: Any, timeout: Optional[float] = None) -> None:
        timeout = self.default_timeout if timeout is None else _check_timeout(timeout, "timeout")
        if timeout is not None and timeout <= 0:
            self.delete(key)
            return
        if self.copy:
            try:
                value = _deepcopy(value)
            except Exception as exc:
                raise TypeError(f"MemoryCache.set({key!r}): the value cannot be copied ({exc}); "
                                f"use MemoryCache(copy=False) to store references") from exc
        expires = None if timeout is None else self.clock() + timeout
        with self._lock:
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_set(self, key: Any, default: Callable[[], Any], timeout: Optional[float] = None) -> Any:
        """The cached value, else ``default()`` stored and returned."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = default()
            self.set(key, value, timeout)
        return value

    def delete(self, key: Any) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __contains__(self, key: Any) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __len__(self) -> int:
        now = self.clock()
        with self._lock:
            return sum(1 for _, expires in self._data.values() if expires is None or expires > now)

    def __repr__(self) -> str:
        return f"<MemoryCache {len(self)}/{self.maxsize}>"


_deepcopy = _copy.deepcopy


def _check_timeout(timeout: Any, what: str) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, got {timeout!r}")
    return float(timeout)


class RedisCache:
    """A ``CacheBackend`` over a redis-py style client (``get``, ``set(px=)``, ``delete``, ``scan_iter``).

    Values are pickled; keys get ``prefix`` so ``clear()`` only drops this cache's keys.
    """

    def __init__(self, client: Any, prefix: str = "activerecord:",
                 default_timeout: Optional[float] = None):
        self.client = client
        self.prefix = prefix
        self.default_timeout = _check_timeout(default_timeout, "default_timeout")

    def get(self, key: str) -> Any:
        raw = self.client.get(self.prefix + key)
        return None if raw is None else pickle.loads(raw)

    def set(self, key: str, value: Any, timeout: Optional[float] = None) -> None:
        timeout = self.default_timeout if timeout is None else _check_timeout(timeout, "timeout")
        if timeout is not None and timeout <= 0:
            self.delete(key)
            return
        px = None if timeout is None else max(1, int(timeout * 1000))
        self.client.set(self.prefix + key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL), px=px)

    def delete(self, key: str) -> Any:
        return self.client.delete(self.prefix + key)

    def clear(self) -> None:
        for name in list(self.client.scan_iter(match=self.prefix + "*")):
            self.client.delete(name)


#: The default cache for application code (the guide's ``cache``).
cache = MemoryCache(maxsize=4096)


# -- table versions: what invalidation bumps -------------------------------------------
_clock = itertools.count(1)          # next() is atomic under the GIL: every bump is unique
_versions: dict[str, int] = {}       # table (lower-case) -> version
_epoch = [0]                         # bumped when a change cannot be tied to tables


class _Tracking(threading.local):
    """Per thread: open transactions seen (BEGIN...) and the tables they wrote."""

    def __init__(self) -> None:
        self.open = 0
        self.written: set[str] = set()


_tracking = _Tracking()
_install_lock = threading.Lock()
_installed = False


def stamp(tables: Any) -> tuple:
    """The current versions of ``tables`` (sorted), led by the global epoch."""
    get = _versions.get
    return (_epoch[0],) + tuple(get(t, 0) for t in tables)


def _bump(tables: Any) -> None:
    for table in tables:
        _versions[table] = next(_clock)


def invalidate_tables(*tables: str) -> None:
    """Invalidate cached queries (and identity-map entries) of ``tables``; none given: all."""
    if tables:
        _bump(t.lower() for t in tables)
    else:
        _epoch[0] = next(_clock)


def _on_statement(sql: str, params: Any, seconds: float, rowcount: int) -> None:
    """Backend observer: bump the tables every write names, and again at transaction end."""
    statement = scan(sql)
    kind = statement.kind
    if kind is READ:
        return
    track = _tracking
    if kind is WRITE:
        written = statement.written
        _bump(written)
        if track.open:
            track.written.update(written)
    elif kind is BEGIN:
        track.open += 1
    elif kind is END:
        if track.open:
            track.open -= 1
            _bump(track.written)
            if not track.open:
                track.written = set()
        else:
            _epoch[0] = next(_clock)   # a transaction we did not see begin: trust nothing
    elif kind is SCHEMA_SWITCH:
        _epoch[0] = next(_clock)


def ensure_tracking() -> None:
    """Start watching writes (once); until something is cached there is nothing to watch."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            add_observer(_on_statement)
            _installed = True


def in_transaction(backend: Any) -> bool:
    """Whether statements on ``backend`` from here may see uncommitted or snapshot data."""
    if _tracking.open:
        return True
    try:
        return bool(backend.in_transaction)
    except Exception:
        return True


# -- the query cache -------------------------------------------------------------------
class QueryCacheStats:
    """Counters for ``query.cache()``: hits, misses, and reads that bypassed the cache."""

    __slots__ = ("hits", "misses", "bypassed")

    def __init__(self) -> None:
        self.hits = self.misses = self.bypassed = 0

    def reset(self) -> None:
        self.hits = self.misses = self.bypassed = 0

    def __repr__(self) -> str:
        return f"<QueryCacheStats hits={self.hits} misses={self.misses} bypassed={self.bypassed}>"


_stats = QueryCacheStats()
_store: list[CacheBackend] = [MemoryCache(maxsize=2048, copy=False)]


def query_store() -> CacheBackend:
    """Where ``query.cache()`` keeps rows (an in-process ``MemoryCache`` by default)."""
    return _store[0]


def use_query_store(store: CacheBackend) -> None:
    """Keep cached query rows in ``store`` (any ``CacheBackend``, e.g. ``RedisCache``).

    Entries are private to this process: invalidation is in-process, so another
    process never reads them.
    """
    if not isinstance(store, CacheBackend):
        raise TypeError(f"use_query_store() needs an object with get/set/delete/clear, "
                        f"got {type(store).__name__}")
    _store[0] = store


def clear_query_cache() -> None:
    _store[0].clear()


def query_cache_stats() -> QueryCacheStats:
    return _stats


_tokens: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()
_token_ids = itertools.count(1)
_process = f"{os.getpid()}.{os.urandom(4).hex()}"


def _backend_token(backend: Any) -> str:
    try:
        token = _tokens.get(backend)
        if token is None:
            token = _tokens.setdefault(backend, f"{_process}.{next(_token_ids)}")
        return token
    except TypeError:  # not weak-referenceable: fall back on its id
        return f"{_process}.id{id(backend)}"


def check_ttl(ttl: Any) -> Optional[float]:
    """Validate ``query.cache(ttl)``: seconds > 0, None (until a write), 0/False (off)."""
    if ttl is False:
        return 0.0
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl < 0:
        raise ValueError(f"cache(ttl=...) takes a number of seconds >= 0 or None, got {ttl!r}")
    return float(ttl)


class CachedExecute(Execute):
    """A SELECT step served from the query cache when its tables have not changed."""

    __slots__ = ("ttl",)

    def __init__(self, sql: str, params: Any, ttl: Optional[float]):
        super().__init__(sql, params)
        self.ttl = ttl

    def _prepare(self, backend: Any) -> tuple[Optional[str], tuple, Any]:
        """(key or None to bypass, versions now, a cached result or None)."""
        tables = sorted(scan(self.sql).tables)
        if in_transaction(backend):
            _stats.bypassed += 1
            return None, (), None
        versions = stamp(tables)
        digest = hashlib.blake2b(repr((self.sql, self.params)).encode("utf-8", "surrogatepass"),
                                 digest_size=16).hexdigest()
        key = f"arq:{_backend_token(backend)}:{digest}"
        entry = _store[0].get(key)
        if entry is not None and entry[0] == versions:
            _stats.hits += 1
            return key, versions, BufferedResult(list(entry[1]), -1, None, entry[2])
        _stats.misses += 1
        return key, versions, None

    def _keep(self, key: str, versions: tuple, result: Any, rows: list) -> BufferedResult:
        if rows and type(rows[0]) is not tuple:
            rows = [tuple(row) for row in rows]
        _store[0].set(key, (versions, tuple(rows), result.description), self.ttl)
        return BufferedResult(list(rows), result.rowcount, result.lastrowid, result.description)

    def run(self, backend: Any) -> Any:
        key, versions, hit = self._prepare(backend)
        if hit is not None:
            return hit
        result = backend.execute(self.sql, self.params)
        if key is None:
            return result
        return self._keep(key, versions, result, result.fetchall())

    async def run_async(self, backend: Any) -> Any:
        key, versions, hit = self._prepare(backend)
        if hit is not None:
            return hit
        result = await backend.execute(self.sql, self.params)
        if key is None:
            return result
        rows = result.fetchall()
        if hasattr(rows, "__await__"):
            rows = await rows
        return self._keep(key, versions, result, rows)


def cached_steps(steps: Steps, ttl: Optional[float]) -> Generator[Any, Any, Any]:
    """Run a terminal's steps with each plain SELECT served through the query cache."""
    ensure_tracking()
    send = steps.send
    value = None
    while True:
        try:
            step = send(value)
        except StopIteration as stop:
            return stop.value
        if type(step) is Execute and scan(step.sql).verb in ("SELECT", "VALUES"):
            step = CachedExecute(step.sql, step.params, ttl)
        value = yield step
