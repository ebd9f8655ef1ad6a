"""Async models on the async backends: same API as sync, one shared core.

Tests taking ``async_backend`` run on SQLite and on PostgreSQL; the few that take
``sqlite_async_backend`` (or build an AsyncSQLiteBackend) test SQLite's own behaviour:
its worker thread, PRAGMAs, and one connection serializing transactions.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import ClassVar, Optional

import pytest

from activerecord import (
    ActiveRecord,
    AsyncActiveRecord,
    AsyncSQLiteBackend,
    BelongsTo,
    ConfigurationError,
    Count,
    DatabaseError,
    Field,
    HasMany,
    IntegrityError,
    MultipleRecordsFound,
    Raw,
    RecordInvalid,
    RecordNotFound,
    SQLiteBackend,
    Sum,
)
from activerecord.aio import AsyncActiveQuery
from backend_support import configured

ROOT = Path(__file__).resolve().parents[1]


class Item(AsyncActiveRecord):
    __table_name__ = "items"
    name: str = Field(max_length=50, unique=True)
    qty: int = 0
    price: float = 0.0
    note: Optional[str] = None


class SyncItem(ActiveRecord):
    """The sync twin of ``Item`` (same table): both must issue the same statements."""
    __table_name__ = "items"
    name: str = Field(max_length=50, unique=True)
    qty: int = 0
    price: float = 0.0
    note: Optional[str] = None


class Tag(AsyncActiveRecord):
    __table_name__ = "tags"
    label: str
    weight: int = 1


class Pair(AsyncActiveRecord):
    __table_name__ = "pairs"
    a: int = Field(primary_key=True)
    b: int = Field(primary_key=True)
    value: str = ""


# ``async_backend`` (conftest) runs a test on SQLite and on PostgreSQL;
# ``sqlite_async_backend`` and ``memory_async_backend`` are for SQLite-only tests.
@pytest.fixture
def memory_async_backend():
    db = AsyncSQLiteBackend(":memory:")
    with configured(AsyncActiveRecord, db):
        yield db
        asyncio.run(db.close())


# What each database says where the behaviour is the same but the words differ.
UNIQUE_VIOLATION = {"sqlite": "UNIQUE", "postgres": "violates unique constraint"}
FULL_SCAN_IN_PLAN = {"sqlite": "SCAN", "postgres": "Seq Scan"}


async def _seed(n: int = 10) -> None:
    await Item.create_table()
    await Item.insert_many([{"name": f"item{i}", "qty": i, "price": i * 1.5} for i in range(n)])


# -- the API surface --------------------------------------------------------------------
MODEL_METHODS = ["create_table", "drop_table", "find_by_id", "find_one", "find_all",
                 "insert_many", "save", "delete", "reload"]
QUERY_TERMINALS = ["all", "first", "one", "count", "exists", "scalar", "aggregate",
                   "update", "delete", "explain"]


@pytest.mark.parametrize("name", MODEL_METHODS)
def test_every_sync_model_method_is_a_coroutine_of_the_same_name(name):
    assert callable(getattr(ActiveRecord, name))
    assert not inspect.iscoroutinefunction(getattr(ActiveRecord, name))
    assert inspect.iscoroutinefunction(getattr(AsyncActiveRecord, name))
    assert inspect.iscoroutinefunction(getattr(Item, name))


@pytest.mark.parametrize("name", QUERY_TERMINALS)
def test_every_query_terminal_is_a_coroutine(name):
    assert isinstance(Item.query(), AsyncActiveQuery)
    assert inspect.iscoroutinefunction(getattr(Item.query(), name))


def test_batches_and_iteration_are_async():
    query = Item.query()
    assert inspect.isasyncgenfunction(type(query).in_batches)
    assert hasattr(query, "__aiter__")
    with pytest.raises(TypeError, match="async for"):
        iter(query)


def test_builders_stay_async_queries(async_backend):
    query = Item.query().where(Item.c.qty > 1).order_by("name").limit(3).select("id", "name")
    assert isinstance(query, AsyncActiveQuery)
    assert "items" in query.to_sql()[0]


def test_unconfigured_or_sync_backend_is_a_clear_error(tmp_path):
    previous = AsyncActiveRecord.__dict__.get("__ar_backend__")
    try:
        type.__setattr__(AsyncActiveRecord, "__ar_backend__", None)
        Item.configure(SQLiteBackend(str(tmp_path / "sync.db")))
        with pytest.raises(ConfigurationError, match="Item is an async model.*SQLiteBackend"):
            asyncio.run(Item.find_by_id(1))
    finally:
        type.__setattr__(Item, "__ar_backend__", None)
        type.__setattr__(AsyncActiveRecord, "__ar_backend__", previous)


# -- CRUD -------------------------------------------------------------------------------
def test_crud_round_trip(async_backend):
    async def main():
        await Item.create_table()
        item = Item(name="pen", qty=3, price=1.25)
        assert item.is_new_record
        assert await item.save() == 1
        assert item.id == 1 and not item.is_new_record

        found = await Item.find_by_id(1)
        assert found == item and found is not item
        assert await Item.find_by_id(999) is None
        assert (await Item.find_one({"name": "pen"})).id == 1
        assert await Item.find_one(Item.c.name == "nope") is None

        found.qty = 7
        assert found.changes == {"qty": (3, 7)}
        assert await found.save() == 1
        assert await found.save() == 0            # nothing changed
        assert (await item.reload()).qty == 7

        item.note = "unsaved"
        await item.reload()
        assert item.note is None

        assert [i.name for i in await Item.find_all()] == ["pen"]
        assert await item.delete() == 1
        assert await Item.find_all() == []
        with pytest.raises(RecordNotFound):
            await item.reload()
        await Item.drop_table()
        with pytest.raises(DatabaseError, match="items"):
            await Item.query().count()

    asyncio.run(main())


def test_composite_primary_key(async_backend):
    async def main():
        await Pair.create_table()
        await Pair(a=1, b=2, value="x").save()
        assert (await Pair.find_by_id((1, 2))).value == "x"
        assert await Pair.find_by_id((2, 1)) is None
        with pytest.raises(ValueError, match="composite primary key"):
            await Pair.find_by_id(1)

    asyncio.run(main())


def test_hooks_and_super_save_override(async_backend):
    calls = []

    class Audited(AsyncActiveRecord):
        __table_name__ = "audited"
        name: str

        def before_save(self):
            calls.append(("before", self.name))

        def after_save(self):
            calls.append(("after", self.id))

        async def save(self) -> int:
            result = await super().save()
            calls.append(("override", result))
            return result

    async def main():
        await Audited.create_table()
        await Audited(name="a").save()

    asyncio.run(main())
    assert calls == [("before", "a"), ("after", 1), ("override", 1)]


def test_insert_many_validates_everything_and_is_all_or_nothing(async_backend):
    async def main():
        await _seed(3)
        with pytest.raises(RecordInvalid, match="row 1"):
            await Item.insert_many([{"name": "ok"}, {"name": "bad", "qty": "many"}])
        with pytest.raises(IntegrityError):
            await Item.insert_many([{"name": "new1"}, {"name": "item0"}])  # duplicate in row 2
        assert await Item.query().count() == 3
        assert await Item.insert_many([Item(name="m1"), Item(name="m2")], batch_size=1) == 2
        assert await Item.query().count() == 5

    asyncio.run(main())


def test_integrity_error_on_save(async_backend):
    async def main():
        await _seed(1)
        with pytest.raises(IntegrityError, match=UNIQUE_VIOLATION[async_backend.dialect.name]):
            await Item(name="item0").save()

    asyncio.run(main())


# -- queries ----------------------------------------------------------------------------
def test_query_terminals(async_backend):
    async def main():
        await _seed(10)
        q = Item.query().where(Item.c.qty >= 5)
        assert [i.qty for i in await q.order_by(("qty", "DESC")).limit(3).all()] == [9, 8, 7]
        assert (await q.first()).qty == 5
        assert await Item.query().where(Item.c.qty > 100).first() is None
        assert (await Item.query().where(name="item4").one()).qty == 4
        with pytest.raises(RecordNotFound):
            await Item.query().where(name="zzz").one()
        with pytest.raises(MultipleRecordsFound):
            await q.one()
        assert await q.count() == 5
        assert await q.exists() is True
        assert await Item.query().where(Item.c.qty > 100).exists() is False
        assert await Item.query().select(Sum(Item.c.qty)).scalar() == 45
        groups = await (Item.query().select(Raw("qty % 2").as_("parity"), Count().as_("n"))
                        .group_by(Raw("qty % 2")).order_by(Raw("qty % 2")).aggregate())
        assert groups == [{"parity": 0, "n": 5}, {"parity": 1, "n": 5}]
        assert await q.update({"note": "big"}) == 5
        assert await Item.query().where(note="big").count() == 5
        assert await Item.query().where(Item.c.qty < 2).delete() == 2
        assert await Item.query().count() == 8
        partial = await Item.query().select("id", "name").order_by("id").first()
        assert partial.name == "item2"

    asyncio.run(main())


def test_async_iteration_batches_compile_and_explain(async_backend):
    async def main():
        await _seed(25)
        names = [i.name async for i in Item.query().order_by("qty")]
        assert names == [f"item{i}" for i in range(25)]
        sizes = [len(b) async for b in Item.query().in_batches(10)]
        assert sizes == [10, 10, 5]
        ids = [r.id async for b in Item.query().in_batches(7) for r in b]
        assert ids == list(range(1, 26))
        from activerecord import BindParam
        compiled = Item.query().where(Item.c.qty == BindParam("q")).compile()
        assert [i.name for i in await compiled.execute(q=3)] == ["item3"]
        assert [i.name for i in await compiled.execute(q=4)] == ["item4"]
        plan = await Item.query().where(Item.c.qty == 3).explain()
        assert plan.full_scans == ["items"]
        assert FULL_SCAN_IN_PLAN[async_backend.dialect.name] in str(plan)

    asyncio.run(main())


def test_stream_releases_its_cursor_on_early_exit(async_backend):
    async def main():
        await _seed(600)
        seen = 0
        async for _ in Item.query():
            seen += 1
            if seen == 3:
                break
        assert seen == 3
        # Nothing the stream opened (a cursor, a transaction) is left to the caller.
        assert not async_backend.in_transaction
        assert await Item.query().count() == 600   # the backend is usable afterwards

    asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def sync_and_async_backends(request):
    """A sync and an async backend on the same kind of database (two separate databases)."""
    return (request.getfixturevalue(f"{request.param}_backend"),
            request.getfixturevalue(f"{request.param}_async_backend"))


def test_same_statements_and_records_as_the_sync_model(sync_and_async_backends, counter):
    """One core: the async model issues exactly the sync model's SQL and hydrates equal records."""
    def sync_ops():
        SyncItem.create_table()
        SyncItem.insert_many([{"name": f"n{i}", "qty": i} for i in range(5)])
        item = SyncItem(name="solo", qty=9)
        item.save()
        item.qty = 10
        item.save()
        found = SyncItem.find_by_id(item.id)
        rows = SyncItem.query().where(SyncItem.c.qty > 1).order_by("qty").all()
        n = SyncItem.query().where(SyncItem.c.qty > 1).count()
        SyncItem.query().where(SyncItem.c.qty == 2).update({"note": "two"})
        found.delete()
        return [r.model_dump() for r in rows], n

    async def async_ops():
        await Item.create_table()
        await Item.insert_many([{"name": f"n{i}", "qty": i} for i in range(5)])
        item = Item(name="solo", qty=9)
        await item.save()
        item.qty = 10
        await item.save()
        found = await Item.find_by_id(item.id)
        rows = await Item.query().where(Item.c.qty > 1).order_by("qty").all()
        n = await Item.query().where(Item.c.qty > 1).count()
        await Item.query().where(Item.c.qty == 2).update({"note": "two"})
        await found.delete()
        return [r.model_dump() for r in rows], n

    counter.clear()
    sync_result = sync_ops()
    sync_statements = list(counter.statements)
    counter.clear()
    async_result = asyncio.run(async_ops())
    async_statements = list(counter.statements)
    assert async_result == sync_result
    assert len(sync_statements) > 8
    assert async_statements == sync_statements


# -- concurrency ------------------------------------------------------------------------
def test_gather_of_independent_queries(async_backend):
    async def main():
        await _seed(20)
        await Tag.create_table()
        await Tag.insert_many([{"label": "a", "weight": 2}, {"label": "b"}])
        item, tags, n, big = await asyncio.gather(
            Item.find_by_id(5),
            Tag.query().order_by("label").all(),
            Item.query().count(),
            Item.query().where(Item.c.qty > 15).all(),
        )
        assert item.qty == 4
        assert [t.label for t in tags] == ["a", "b"]
        assert n == 20
        assert sorted(i.qty for i in big) == [16, 17, 18, 19]

    asyncio.run(main())


@pytest.fixture(params=[("sqlite", "sqlite_async_backend"), ("postgres", "postgres_async_backend"),
                        ("sqlite", "memory_async_backend")], ids=["file", "postgres", "memory"])
def dialect_and_backend(request):
    """Each async backend (SQLite's file and shared :memory: connection, PostgreSQL)."""
    dialect, fixture = request.param
    return dialect, request.getfixturevalue(fixture)


def test_hundred_concurrent_saves_get_distinct_ids(dialect_and_backend):
    dialect, db = dialect_and_backend

    async def main():
        await Tag.create_table()
        tags = [Tag(label=f"t{i}") for i in range(100)]
        results = await asyncio.gather(*(t.save() for t in tags))
        return tags, results, await Tag.query().count()

    tags, results, count = asyncio.run(main())
    assert results == [1] * 100
    ids = [t.id for t in tags]
    assert len(set(ids)) == 100 and None not in ids
    assert count == 100
    assert db.dialect.name == dialect


def test_event_loop_keeps_ticking_during_a_large_query(async_backend):
    """Liveness: the SQLite work runs off the loop, so a concurrent ticker advances."""
    class Big(AsyncActiveRecord):
        __table_name__ = "big"
        n: int
        label: str

    async def main():
        await Big.create_table()
        await Tag.create_table()
        await Big.insert_many([{"n": i, "label": f"x{i}"} for i in range(20000)])
        await Tag.insert_many([{"label": f"t{i}", "weight": i} for i in range(300)])
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        # 6 million joined rows scanned by SQLite, a one-row answer.
        n = await (Big.query().join(Tag, Raw("1 = 1"))
                   .where(Raw("(big.n + tags.weight) % 7 = 0")).count())
        query_ticks = ticks
        rows = await Big.query().all()
        stop.set()
        await task
        return n, query_ticks, rows

    n, query_ticks, rows = asyncio.run(main())
    expected = sum(1 for i in range(20000) for w in range(300) if (i + w) % 7 == 0)
    assert n == expected
    assert query_ticks > 5
    assert [r.n for r in rows] == list(range(20000))


def test_a_transaction_does_not_swallow_other_tasks_statements(sqlite_async_backend):
    """While one task's transaction is open, other tasks' statements wait for it.

    SQLite-only: its one connection serializes the tasks; PostgreSQL gives the outsider
    its own pooled connection, so there it runs (and commits) at once.
    """
    async def main():
        await Tag.create_table()
        inside = asyncio.Event()
        release = asyncio.Event()

        async def failing_transaction():
            with pytest.raises(RuntimeError):
                async with sqlite_async_backend.transaction():
                    await Tag(label="in-tx").save()
                    inside.set()
                    await release.wait()
                    raise RuntimeError("roll it back")

        tx = asyncio.create_task(failing_transaction())
        await inside.wait()
        outsider = asyncio.create_task(Tag(label="outside").save())
        for _ in range(50):
            await asyncio.sleep(0)
        # The transaction holds the connection: the outsider's INSERT has not run,
        # so the rollback below cannot take it along.
        assert not outsider.done()
        assert sqlite_async_backend.in_transaction is False
        release.set()
        await tx
        assert await outsider == 1
        return [t.label for t in await Tag.find_all()]

    assert asyncio.run(main()) == ["outside"]


def test_concurrent_read_modify_write_transactions_do_not_lose_updates(sqlite_async_backend):
    """SQLite-only: it runs one transaction at a time, so the reads cannot interleave.

    PostgreSQL runs them concurrently (READ COMMITTED), where this pattern needs row locks.
    """
    async def main():
        await Tag.create_table()
        counter_tag = Tag(label="counter", weight=0)
        await counter_tag.save()

        async def increment():
            async with sqlite_async_backend.transaction():
                row = await Tag.find_by_id(counter_tag.id)
                await asyncio.sleep(0)      # let the other tasks try to interleave
                row.weight += 1
                await row.save()

        await asyncio.gather(*(increment() for _ in range(30)))
        return (await counter_tag.reload()).weight

    assert asyncio.run(main()) == 30


def test_nested_transactions_are_savepoints(async_backend):
    async def main():
        await Tag.create_table()
        async with async_backend.transaction() as tx:
            assert tx is async_backend and async_backend.in_transaction
            await Tag(label="outer").save()
            with pytest.raises(ValueError):
                async with async_backend.transaction():
                    await Tag(label="inner").save()
                    raise ValueError
            await Tag(label="after").save()
        assert not async_backend.in_transaction
        return sorted(t.label for t in await Tag.find_all())

    assert asyncio.run(main()) == ["after", "outer"]


def test_tasks_spawned_inside_a_transaction_belong_to_it(async_backend):
    async def main():
        await Tag.create_table()
        with pytest.raises(KeyError):
            async with async_backend.transaction():
                await asyncio.gather(*(Tag(label=f"c{i}").save() for i in range(5)))
                assert await Tag.query().count() == 5
                raise KeyError("undo the children too")
        return await Tag.query().count()

    assert asyncio.run(main()) == 0


def test_cancelled_task_rolls_back_its_transaction(async_backend):
    async def main():
        await Tag.create_table()
        inside = asyncio.Event()

        async def stuck():
            async with async_backend.transaction():
                await Tag(label="doomed").save()
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(stuck())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await Tag(label="later").save()
        async with async_backend.transaction():
            await Tag(label="tx-later").save()
        return sorted(t.label for t in await Tag.find_all())

    assert asyncio.run(main()) == ["later", "tx-later"]


def test_backend_works_across_event_loops(async_backend):
    asyncio.run(_seed(3))
    assert asyncio.run(Item.query().count()) == 3
    assert asyncio.run(Item.find_by_id(2)).name == "item1"


def test_backend_execute_and_options(tmp_path):
    async def main():
        db = AsyncSQLiteBackend(str(tmp_path / "opts.db"), pragmas={"journal_mode": "WAL"},
                                timeout=0.5)
        async with db:
            assert db.timeout == 0.5
            mode = (await db.execute("PRAGMA journal_mode")).fetchone()[0]
            assert mode == "wal"
            await db.execute("CREATE TABLE t (x INTEGER)")
            await db.executemany("INSERT INTO t (x) VALUES (?)", [(i,) for i in range(5)])
            result = await db.execute("SELECT x FROM t WHERE x > ? ORDER BY x", (2,))
            assert result.fetchall() == [(3,), (4,)]
            with pytest.raises(DatabaseError, match="no_such_table"):
                await db.execute("SELECT * FROM no_such_table")

    asyncio.run(main())


# -- shutting down ----------------------------------------------------------------------
def test_close_stops_the_worker_thread_and_reopens_on_use(tmp_path):
    async def main():
        db = AsyncSQLiteBackend(str(tmp_path / "close.db"))
        await db.execute("CREATE TABLE t (x)")
        worker = await db._call(threading.current_thread)
        assert worker is not threading.current_thread() and worker.is_alive()
        await db.close()
        assert not worker.is_alive()
        await db.close()                                   # closing twice is harmless
        await db.execute("INSERT INTO t VALUES (1)")      # next use starts again
        again = await db._call(threading.current_thread)
        async with db:
            assert (await db.execute("SELECT count(*) FROM t")).fetchone() == (1,)
        assert not again.is_alive()

    asyncio.run(main())


# The scripts below run in a fresh interpreter; the database comes from their arguments.
SCRIPT_BACKEND = """
def backend(args):
    # AsyncSQLiteBackend for ['sqlite', path], AsyncPostgresBackend for [dsn, schema].
    if args[0] == 'sqlite':
        from activerecord import AsyncSQLiteBackend
        return AsyncSQLiteBackend(args[1])
    from activerecord.backends.postgres import AsyncPostgresBackend
    dsn, schema = args
    return AsyncPostgresBackend(dsn, options=f'-c search_path={schema}',
                                application_name=schema, min_size=0)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def script_database(request):
    """``with script_database(sqlite_path) as args``: a script's arguments for a fresh database."""
    if request.param == "sqlite":
        return lambda sqlite_path: nullcontext(["sqlite", sqlite_path])
    from postgres_support import fresh_schema, postgres_dsn
    dsn = postgres_dsn()

    @contextmanager
    def fresh_postgres_schema(sqlite_path):
        with fresh_schema() as schema:
            yield [dsn, schema]
    return fresh_postgres_schema


EXIT_SCRIPT = SCRIPT_BACKEND + """
import asyncio, sys
from activerecord import AsyncActiveRecord

class Note(AsyncActiveRecord):
    __table_name__ = 'notes'
    body: str

async def main(mode):
    db = backend(sys.argv[2:])
    if mode == 'async-with':
        async with db:
            Note.configure(db)
            await Note.create_table()
            await asyncio.gather(*(Note(body=str(i)).save() for i in range(20)))
            print(await Note.query().count())
    else:
        Note.configure(db)
        await Note.create_table()
        await asyncio.gather(*(Note(body=str(i)).save() for i in range(20)))
        print(await Note.query().count())
        if mode == 'close':
            await db.close()

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.parametrize("mode", ["close", "async-with", "never-closed"])
def test_interpreter_exits_promptly(tmp_path, mode, script_database):
    script = tmp_path / "prog.py"
    script.write_text(EXIT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with script_database(str(tmp_path / "exit.db")) as database:
        proc = subprocess.run([sys.executable, str(script), mode, *database],
                              capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "20"


DIFF_SCRIPT = SCRIPT_BACKEND + """
import asyncio, json, sys
from datetime import date
from decimal import Decimal
from typing import Optional
from activerecord import AsyncActiveRecord, speedups_enabled

class Rec(AsyncActiveRecord):
    __table_name__ = 'recs'
    name: str
    amount: Decimal = Decimal('0')
    day: Optional[date] = None
    flag: bool = False
    meta: dict = {}

async def main():
    async with backend(sys.argv[1:]) as db:
        Rec.configure(db)
        await Rec.create_table()
        await Rec.insert_many([{'name': f'r{i}', 'amount': Decimal(i) / 4,
                                'day': date(2024, 1, 1 + i), 'flag': i % 2 == 0,
                                'meta': {'i': i}} for i in range(5)])
        rows = await Rec.query().order_by('id').all()
        out = [[(k, type(v).__name__, repr(v)) for k, v in r.__dict__.items()] for r in rows]
        print(json.dumps({'speedups': speedups_enabled(), 'rows': out}))

asyncio.run(main())
"""


def test_compiled_and_pure_paths_give_identical_async_records(tmp_path, script_database):
    script = tmp_path / "diff.py"
    script.write_text(DIFF_SCRIPT)
    outputs = {}
    for pure in ("0", "1"):
        env = dict(os.environ, PYTHONPATH=str(ROOT), ACTIVERECORD_PURE_PYTHON=pure)
        with script_database(":memory:") as database:
            proc = subprocess.run([sys.executable, str(script), *database], capture_output=True,
                                  text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        outputs[pure] = json.loads(proc.stdout)
    assert outputs["1"]["speedups"] is False
    assert outputs["0"]["rows"] == outputs["1"]["rows"]
    assert len(outputs["1"]["rows"]) == 5
    assert ["amount", "Decimal", "Decimal('0.25')"] in outputs["1"]["rows"][1]


# -- relations --------------------------------------------------------------------------
class Author(AsyncActiveRecord):
    __table_name__ = "authors"
    name: str
    books: ClassVar[HasMany["Book"]] = HasMany(foreign_key="author_id")


class Book(AsyncActiveRecord):
    __table_name__ = "books"
    title: str
    author_id: int
    author: ClassVar[BelongsTo["Author"]] = BelongsTo(foreign_key="author_id")
    reviews: ClassVar[HasMany["Review"]] = HasMany(foreign_key="book_id")


class Review(AsyncActiveRecord):
    __table_name__ = "reviews"
    book_id: int
    stars: int


async def _library() -> None:
    for model in (Author, Book, Review):
        await model.create_table()
    await Author.insert_many([{"name": n} for n in ("ann", "bob", "cy")])
    await Book.insert_many([{"title": f"b{i}", "author_id": 1 + i % 2} for i in range(6)])
    await Review.insert_many([{"book_id": 1 + i % 6, "stars": i % 5} for i in range(12)])


def test_includes_loads_relations_one_query_per_level(async_backend, counter):
    async def main():
        await _library()
        counter.clear()
        authors = await Author.query().includes("books.reviews").order_by("id").all()
        return authors

    authors = asyncio.run(main())
    assert len(counter.selects) == 3            # authors, books, reviews: never one per parent
    assert [[b.title for b in a.books] for a in authors] == \
        [["b0", "b2", "b4"], ["b1", "b3", "b5"], []]
    assert [len(b.reviews) for b in authors[0].books] == [2, 2, 2]
    assert len(counter.selects) == 3            # reading loaded relations runs nothing


def test_reading_an_unloaded_relation_is_an_error_not_a_blocking_query(async_backend, counter):
    async def main():
        await _library()
        return await Book.find_by_id(1)

    book = asyncio.run(main())
    counter.clear()
    with pytest.raises(ConfigurationError, match=r"Book\.author is not loaded.*await record\.load"):
        book.author
    assert counter.statements == []


def test_await_load_and_filtered_includes(async_backend, counter):
    async def main():
        await _library()
        books = await Book.query().order_by("id").all()
        counter.clear()
        author = await books[0].load("author")
        assert author.name == "ann"
        # The siblings of the same result were loaded by that one query.
        assert [b.author.name for b in books] == ["ann", "bob"] * 3
        assert len(counter.selects) == 1
        reviews = await books[0].load("reviews")
        assert sorted(r.stars for r in reviews) == [0, 1]
        good = await (Author.query().order_by("id")
                      .includes({"books": lambda q: q.where(Book.c.title != "b0")}).all())
        assert [b.title for b in good[0].books] == ["b2", "b4"]
        from activerecord.aio import load
        fresh = await Author.query().order_by("id").all()
        await load(fresh, "books")
        return [len(a.books) for a in fresh]

    assert asyncio.run(main()) == [3, 3, 0]


def test_cancelled_while_beginning_leaves_no_open_transaction(sqlite_async_backend, tmp_path):
    """SQLite-only: queues BEGIN behind the backend's worker thread."""
    import sqlite3

    async def main():
        await Tag.create_table()
        gate = threading.Event()
        # Keep the worker thread busy so that BEGIN queues behind it.
        sqlite_async_backend._worker().submit(gate.wait, 30)

        async def wants_transaction():
            async with sqlite_async_backend.transaction():
                await Tag(label="never").save()

        task = asyncio.create_task(wants_transaction())
        for _ in range(10):
            await asyncio.sleep(0)
        task.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await Tag(label="after").save()
        return await sqlite_async_backend._call(lambda: sqlite_async_backend.sync.in_transaction)

    assert asyncio.run(main()) is False
    # Committed, so another connection sees it: no BEGIN was left dangling.
    with sqlite3.connect(str(tmp_path / "async.db")) as other:
        assert other.execute("SELECT label FROM tags").fetchall() == [("after",)]
