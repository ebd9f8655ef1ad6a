"""Async models: the sync API as coroutines, driven from the same step generators.

Every ORM operation is written once as a step generator (``execution``); the sync
``ActiveRecord``/``ActiveQuery`` drive it with ``run``, the classes here with
``run_async`` on an async backend. SQL building, hydration (compiled or pure) and
eager grouping are therefore the very same code; only the I/O differs.

Relations on async records never load behind the caller's back: reading one that
is not loaded raises (``__ar_async__`` tells the relation descriptor); load it with
``await record.load('orders')`` or with ``includes('orders')`` on the query.
"""
from __future__ import annotations

from typing import Any, AsyncIterator, ClassVar, Iterable, Iterator, Optional, TypeVar

from . import errors
from .execution import Steps, run_async
from .model import ActiveRecord, _Config
from .query.builder import ActiveQuery, _non_negative
from .query.compiled import CompiledQuery
from .relations import load_steps

T = TypeVar("T", bound="AsyncActiveRecord")


def _is_async_backend(backend: Any) -> bool:
    return bool(getattr(backend, "is_async", False))


class AsyncCompiledQuery(CompiledQuery):
    """``query.compile()`` on an async model: ``await compiled.execute(**params)``."""

    async def execute(self, **params: Any) -> list:  # type: ignore[override]
        return await run_async(self._steps(params), self.query.model.backend())


class AsyncActiveQuery(ActiveQuery):
    """The query builder of async models: builders as in sync, terminals awaitable."""

    __slots__ = ()

    async def _run(self, steps: Steps) -> Any:  # type: ignore[override]
        return await run_async(steps, self.model.backend())

    async def all(self) -> list:  # type: ignore[override]
        return await self._run(self._all_steps())

    async def first(self) -> Any:  # type: ignore[override]
        return await self._run(self._first_steps())

    async def one(self) -> Any:  # type: ignore[override]
        return await self._run(self._one_steps())

    async def count(self) -> int:  # type: ignore[override]
        return await self._run(self._count_steps())

    async def exists(self) -> bool:  # type: ignore[override]
        return await self._run(self._exists_steps())

    async def scalar(self) -> Any:  # type: ignore[override]
        return await self._run(self._scalar_steps())

    async def aggregate(self) -> list[dict]:  # type: ignore[override]
        return await self._run(self._aggregate_steps())

    async def update(self, values: dict) -> int:  # type: ignore[override]
        return await self._run(self._update_steps(values))

    async def delete(self) -> int:  # type: ignore[override]
        return await self._run(self._delete_steps())

    async def in_batches(self, size: int = 1000) -> AsyncIterator[list]:  # type: ignore[override]
        """``async for batch in query.in_batches(500)``: primary-key order, keyset-paginated."""
        size = _non_negative("in_batches size", size)  # type: ignore[assignment]
        if not size:
            raise ValueError("in_batches size must be at least 1")
        after = None
        while True:
            batch = await self._run(self._batch_steps(size, after))
            if not batch:
                return
            yield batch
            if len(batch) < size:
                return
            after = batch[-1]._pk_value()

    async def __aiter__(self) -> AsyncIterator[Any]:
        """``async for record in query``: rows fetched and hydrated in chunks."""
        sql, params, shape = self._executable()
        async for chunk in self.model.backend().stream(sql, params, 256):
            for record in shape.build(chunk, self, track_siblings=False):
                yield record

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self.model.__name__} is an async model: iterate its queries with "
                        f"'async for', or await query.all()")

    async def explain(self) -> Any:  # type: ignore[override]
        """The query plan, already read (its ``rows``, ``str()`` and ``full_scans`` need no I/O)."""
        plan = super().explain()
        plan._rows = (await self.model.backend().execute(plan)).fetchall()
        return plan

    def compile(self) -> AsyncCompiledQuery:
        return AsyncCompiledQuery(self)


class AsyncActiveRecord(ActiveRecord):
    """Base class of async models: the ``ActiveRecord`` API with coroutines.

    Configure with ``AsyncActiveRecord.configure(AsyncSQLiteBackend(path))`` (or on
    one model). Hooks (``before_save``...) stay plain methods.
    """

    __abstract__ = True
    __ar_async__: ClassVar[bool] = True
    __query_class__: ClassVar[type] = AsyncActiveQuery

    @classmethod
    def backend(cls) -> Any:
        for klass in cls.__mro__:
            backend = klass.__dict__.get("__ar_backend__")
            if backend is not None:
                break
        else:
            backend = _Config.default_backend
        if backend is None or not _is_async_backend(backend):
            found = "none" if backend is None else type(backend).__name__
            raise errors.ConfigurationError(
                f"{cls.__name__} is an async model and needs an async backend (found {found}): "
                f"call AsyncActiveRecord.configure(AsyncSQLiteBackend(...)) or "
                f"{cls.__name__}.configure(...) first")
        return backend

    @classmethod
    async def _run(cls, steps: Steps) -> Any:
        return await run_async(steps, cls.backend())

    # -- DDL ---------------------------------------------------------------------
    @classmethod
    async def create_table(cls, if_not_exists: bool = True) -> None:  # type: ignore[override]
        return await cls._run(cls._create_table_steps(if_not_exists))

    @classmethod
    async def drop_table(cls, if_exists: bool = True) -> None:  # type: ignore[override]
        return await cls._run(cls._drop_table_steps(if_exists))

    # -- finders -----------------------------------------------------------------
    @classmethod
    async def find_by_id(cls: type[T], pk: Any) -> Optional[T]:  # type: ignore[override]
        return await cls._run(cls._find_by_id_steps(pk))

    @classmethod
    async def find_one(cls: type[T], condition: Any = None) -> Optional[T]:  # type: ignore[override]
        return await cls._run(cls.query()._where_any(condition)._first_steps(order=False))

    @classmethod
    async def find_all(cls: type[T], condition: Any = None) -> list[T]:  # type: ignore[override]
        return await cls._run(cls.query()._where_any(condition)._all_steps())

    @classmethod
    async def insert_many(cls, rows: Iterable[Any],  # type: ignore[override]
                          batch_size: Optional[int] = None) -> int:
        """Validate every row, then insert all of them in one transaction."""
        return await cls._run(cls._insert_many_steps(rows, batch_size))

    # -- writes ------------------------------------------------------------------
    async def save(self) -> int:  # type: ignore[override]
        """Insert a new record or UPDATE its changed columns; returns rows affected."""
        return await run_async(self._save_steps(), type(self).backend())

    async def delete(self) -> int:  # type: ignore[override]
        """Delete this record's row; returns rows affected."""
        return await run_async(self._delete_steps(), type(self).backend())

    async def reload(self: T) -> T:  # type: ignore[override]
        """Re-read every column from the database, dropping unsaved changes."""
        return await run_async(self._reload_steps(), type(self).backend())

    # -- relations ---------------------------------------------------------------
    async def load(self, relation: Any) -> Any:
        """Load a relation onto this record: ``orders = await user.load('orders')``.

        Takes any ``includes()`` form; returns the loaded value for a plain name, else
        the record. Unloaded siblings from the same result are loaded in the same query.
        """
        return await load(self, relation)


async def load(record_or_records: Any, relation: Any) -> Any:
    """Async twin of ``relations.load``: load a relation for a record or a list of them."""
    first = record_or_records if isinstance(record_or_records, ActiveRecord) else \
        next(iter(record_or_records), None)
    if first is None:
        return record_or_records
    return await run_async(load_steps(record_or_records, relation), type(first).backend())
