"""``AsyncSQLiteBackend``: the SQLite backend for ``asyncio`` code.

All SQLite work runs on one dedicated worker thread that owns a wrapped
synchronous ``SQLiteBackend``, so statement execution, error mapping, logging,
observers and the BEGIN/SAVEPOINT logic are the sync backend's own code, and the
event loop never waits on the database.

Concurrency between tasks. Statements from independent tasks interleave freely,
but a transaction belongs to the task that opened it (and to the tasks it spawns,
which inherit its context): while it is open, statements of every other task wait
for it to finish instead of slipping into it. The guard is a chain of ``_Frame``s,
one per open ``transaction()`` block, each with an ``asyncio.Lock``: a statement
takes the lock of the innermost frame of its own task (the root frame outside any
transaction), and opening a transaction holds its parent frame's lock for the
whole block. The single worker thread runs jobs in submission order, so a
ROLLBACK queued by a cancelled task still runs before anything submitted later.
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, Sequence

from .base import BufferedResult, statement_of
from .sqlite import Pragmas, SQLiteBackend

_WORKER_PREFIX = "activerecord-sqlite-async"


class _Frame:
    """One open transaction level (or the root): its lock orders the statements under it."""

    __slots__ = ("lock", "parent", "closed")

    def __init__(self, parent: Optional["_Frame"]):
        self.lock = asyncio.Lock()
        self.parent = parent
        self.closed = False


def _consume(future: "asyncio.Future[Any]") -> None:
    """Retrieve an abandoned job's outcome so asyncio does not warn about it."""
    if not future.cancelled():
        future.exception()


class AsyncTransaction:
    """``async with backend.transaction():`` — commit on success, roll back on error.

    Nested blocks become savepoints (the wrapped sync backend's logic).
    """

    __slots__ = ("backend", "_parent", "_sync_cm", "_begun", "_frame", "_token")

    def __init__(self, backend: "AsyncSQLiteBackend"):
        self.backend = backend
        self._begun = False

    def _begin(self) -> None:
        self._sync_cm.__enter__()
        self._begun = True

    def _undo_begin(self) -> None:
        """Roll back a BEGIN whose task was cancelled while it ran (worker thread)."""
        if self._begun:
            cancelled = asyncio.CancelledError()
            self._sync_cm.__exit__(type(cancelled), cancelled, None)

    async def __aenter__(self) -> "AsyncSQLiteBackend":
        backend = self.backend
        self._parent = backend._frame()
        await self._parent.lock.acquire()
        try:
            self._sync_cm = backend.sync.transaction()
            job = backend._call(self._begin)
            try:
                await asyncio.shield(job)
            except asyncio.CancelledError:
                # BEGIN still runs on the worker; queue its rollback right behind it,
                # ahead of any statement another task submits once the lock is free.
                backend._worker().submit(self._undo_begin)
                job.add_done_callback(_consume)
                raise
        except BaseException:
            self._parent.lock.release()
            raise
        self._frame = _Frame(self._parent)
        self._token = backend._current.set(self._frame)
        return backend

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        backend = self.backend
        self._frame.closed = True
        backend._current.reset(self._token)
        try:
            # Queued on the worker before anything submitted later, so even when this
            # task is cancelled while waiting, COMMIT/ROLLBACK runs in order.
            job = backend._call(self._sync_cm.__exit__, exc_type, exc, tb)
            job.add_done_callback(_consume)
            await asyncio.shield(job)
        finally:
            self._parent.lock.release()
        return False


class AsyncSQLiteBackend:
    """An SQLite database (file or ``':memory:'``) driven from ``asyncio``.

    Takes the same options as ``SQLiteBackend``. ``await backend.close()`` or
    ``async with backend:`` closes the connections and stops the worker thread;
    the next use starts them again.
    """

    is_async = True
    # The synchronous backend that does the work; a subclass may point this at a
    # SQLiteBackend subclass (for instance one that overrides ``connect()``).
    sync_backend_class: type = SQLiteBackend

    def __init__(self, database: str = ":memory:", pragmas: Pragmas = None,
                 timeout: float = 5.0, **connect_kwargs: Any):
        self.sync = self.sync_backend_class(database, pragmas=pragmas, timeout=timeout,
                                            **connect_kwargs)
        self.dialect = self.sync.dialect
        self._executor: Optional[ThreadPoolExecutor] = None
        self._executor_lock = threading.Lock()
        self._root: Optional[tuple[asyncio.AbstractEventLoop, _Frame]] = None
        self._current: contextvars.ContextVar[Optional[_Frame]] = contextvars.ContextVar(
            f"activerecord_async_tx_{id(self):x}", default=None)

    @classmethod
    def tuned(cls, database: str, **kwargs: Any) -> "AsyncSQLiteBackend":
        """A backend with the guide's PRAGMAs (WAL, synchronous=NORMAL, caches...)."""
        return cls(database, pragmas="tuned", **kwargs)

    @property
    def database(self) -> str:
        return self.sync.database

    @property
    def timeout(self) -> float:
        return self.sync.timeout

    @property
    def pragmas(self) -> list:
        return self.sync.pragmas

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.database!r}>"

    # -- the worker thread -----------------------------------------------------------
    def _worker(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                executor = self._executor
                if executor is None:
                    executor = self._executor = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix=_WORKER_PREFIX)
        return executor

    def _call(self, fn: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """Run ``fn(*args)`` on the worker thread; jobs run one at a time, in order.

        The caller's context goes along, so context-local recorders (``profile()``)
        see the statements of the task that issued them.
        """
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self._worker(), context.run, fn, *args)

    def _frame(self) -> _Frame:
        """The innermost open transaction of the calling task, else the root."""
        frame = self._current.get()
        while frame is not None and frame.closed:
            frame = frame.parent
        if frame is not None:
            return frame
        loop = asyncio.get_running_loop()
        root = self._root
        if root is None or root[0] is not loop:
            # asyncio locks belong to one loop; a new loop (a new asyncio.run) gets its own.
            root = self._root = (loop, _Frame(None))
        return root[1]

    # -- statements ------------------------------------------------------------------
    def _execute_buffered(self, sql: str, params: Any) -> BufferedResult:
        result = self.sync.execute(sql, params)
        try:
            rows = result.fetchall() if result.description else []
        finally:
            result.close()
        return BufferedResult(rows, result.rowcount, result.lastrowid, result.description)

    def _executemany_buffered(self, sql: str, seq_of_params: Sequence[Any]) -> BufferedResult:
        result = self.sync.executemany(sql, seq_of_params)
        return BufferedResult([], result.rowcount, result.lastrowid, result.description)

    async def execute(self, sql_or_object: Any, params: Any = None) -> BufferedResult:
        """Run one statement off the event loop; every row is read before it returns."""
        sql, params = statement_of(sql_or_object, params)
        async with self._frame().lock:
            return await self._call(self._execute_buffered, sql, params)

    async def executemany(self, sql: str, seq_of_params: Sequence[Any]) -> BufferedResult:
        seq = list(seq_of_params)
        async with self._frame().lock:
            return await self._call(self._executemany_buffered, sql, seq)

    async def stream(self, sql_or_object: Any, params: Any = None, size: int = 256):
        """Yield the rows of a query in lists of up to ``size``, fetched chunk by chunk."""
        sql, params = statement_of(sql_or_object, params)
        async with self._frame().lock:
            result = await self._call(self.sync.execute, sql, params)
        try:
            while True:
                async with self._frame().lock:
                    chunk = await self._call(result.fetchmany, size)
                if not chunk:
                    return
                yield chunk
        finally:
            await asyncio.shield(self._call(result.close))

    def transaction(self) -> AsyncTransaction:
        """``async with backend.transaction():`` — nested blocks make savepoints."""
        return AsyncTransaction(self)

    @property
    def in_transaction(self) -> bool:
        """Whether the calling task is inside ``transaction()``."""
        frame = self._current.get()
        while frame is not None and frame.closed:
            frame = frame.parent
        return frame is not None

    # -- lifecycle -------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the worker's connection now (it otherwise opens on first use)."""
        await self._call(self.sync._connection)

    async def close(self) -> None:
        """Close every connection and stop the worker thread."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self.sync.close)
        finally:
            # The close job was the last one queued: the thread is idle and joins at once.
            executor.shutdown(wait=True)

    async def __aenter__(self) -> "AsyncSQLiteBackend":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.close()
