"""PostgreSQL specifics: dialect, types, pool, errors, transactions and the async backend.

The shared suite already runs every portable test on PostgreSQL through the
parametrized ``backend`` fixture; this file covers what only PostgreSQL has.
Without ACTIVERECORD_TEST_POSTGRES_DSN these tests skip (under CI they fail).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import enum
import os
import threading
import uuid
from contextlib import contextmanager
from typing import Iterator, Optional

import pydantic
import pytest

from activerecord import (ActiveRecord, DatabaseError, DatabaseLockedError, Field, IntegrityError,
                          OperationalError)

import postgres_support
from backend_support import configured
from postgres_support import async_postgres_schema_backend, postgres_schema_backend

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    S = 1
    L = 3


class Address(pydantic.BaseModel):
    city: str
    zip: str


class Sample(ActiveRecord):
    __table_name__ = "pg_samples"
    name: str = Field(max_length=40, unique=True)
    ratio: float = 0.5
    flag: bool = False
    blob: Optional[bytes] = None
    at: Optional[dt.datetime] = None
    day: Optional[dt.date] = None
    clock: Optional[dt.time] = None
    price: Optional[decimal.Decimal] = Field(default=None, max_digits=10, decimal_places=2)
    token: Optional[uuid.UUID] = None
    color: Optional[Color] = None
    size: Optional[Size] = None
    data: Optional[dict] = None
    tags: Optional[list] = None
    address: Optional[Address] = None


class Author(ActiveRecord):
    __table_name__ = "pg_authors"
    name: str


class Book(ActiveRecord):
    __table_name__ = "pg_books"
    title: str
    author_id: int
    __mapping__ = {"author_id": "BIGINT NOT NULL REFERENCES pg_authors(id)",
                   "title": "TEXT NOT NULL CHECK (length(title) > 0)"}


@pytest.fixture
def pg(postgres_backend):
    """conftest's ``postgres_backend``: an empty schema, every model's default."""
    return postgres_backend


@pytest.fixture
def samples(pg):
    Sample.create_table()
    return pg


def column_types(db, table):
    rows = db.execute("SELECT column_name, data_type FROM information_schema.columns "
                      "WHERE table_schema = current_schema() AND table_name = %s", (table,)).fetchall()
    return dict(rows)


# -- dialect and DDL -------------------------------------------------------------------
def test_ddl_uses_native_postgres_types(samples):
    types = column_types(samples, "pg_samples")
    assert types == {
        "id": "bigint", "name": "character varying", "ratio": "double precision",
        "flag": "boolean", "blob": "bytea", "at": "timestamp without time zone", "day": "date",
        "clock": "time without time zone", "price": "numeric", "token": "uuid", "color": "text",
        "size": "bigint", "data": "jsonb", "tags": "jsonb", "address": "jsonb"}
    identity = samples.execute(
        "SELECT is_identity FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'pg_samples' AND column_name = 'id'").fetchone()
    assert identity == ("YES",)


def test_every_type_round_trips(samples):
    token = uuid.uuid4()
    at = dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    s = Sample(name="all", ratio=1.25, flag=True, blob=b"\x00\xffbin", at=at,
               day=dt.date(2024, 1, 31), clock=dt.time(23, 59, 58, 999999),
               price=decimal.Decimal("12.30"), token=token, color=Color.BLUE, size=Size.L,
               data={"a": [1, 2, {"b": None}], "s": "x"}, tags=["p", 1, True],
               address=Address(city="Oslo", zip="0150"))
    s.save()
    got = Sample.find_by_id(s.id)
    assert got.model_dump() == s.model_dump()
    assert got.at.microsecond == 123456 and got.clock.microsecond == 999999
    assert isinstance(got.address, Address) and got.color is Color.BLUE and got.size is Size.L
    assert got.price == decimal.Decimal("12.30") and isinstance(got.token, uuid.UUID)
    raw = samples.execute("SELECT color, size, data->>'s', price FROM pg_samples").fetchone()
    assert raw == ("blue", 3, "x", decimal.Decimal("12.30"))


def test_queries_compare_native_types(samples):
    token = uuid.uuid4()
    Sample.insert_many([
        {"name": "a", "token": token, "at": dt.datetime(2024, 1, 1, 10), "color": Color.RED},
        {"name": "b", "token": uuid.uuid4(), "at": dt.datetime(2024, 6, 1), "color": Color.BLUE},
    ])
    assert Sample.find_one({"token": token}).name == "a"
    assert [r.name for r in Sample.query().where(Sample.c.at > dt.datetime(2024, 3, 1)).all()] == ["b"]
    assert Sample.query().where(Sample.c.color == Color.BLUE).one().name == "b"


def test_json_mutated_in_place_is_saved(samples):
    Sample(name="j", data={"n": 1}).save()
    s = Sample.find_one({"name": "j"})
    s.data["n"] = 2
    assert "data" in s.changes
    s.save()
    assert Sample.find_one({"name": "j"}).data == {"n": 2}


def test_insert_returns_id_with_returning(samples, counter):
    counter.clear()
    s = Sample(name="r")
    s.save()
    assert isinstance(s.id, int)
    assert len(counter.statements) == 1
    assert counter.statements[0][0].endswith('RETURNING "id"')
    assert samples.execute("INSERT INTO pg_samples (name, ratio, flag) VALUES (%s, 1, true) "
                           "RETURNING id", ["raw"]).lastrowid == s.id + 1


def test_long_in_list_is_one_array_parameter(samples, counter):
    Sample.insert_many([{"name": f"n{i}"} for i in range(300)])
    ids = [r.id for r in Sample.query().order_by("id").all()]
    wanted = ids[::2]
    counter.clear()
    found = Sample.query().where(Sample.c.id.is_in(wanted)).order_by("id").all()
    assert [r.id for r in found] == wanted
    sql, params = counter.statements[0]
    assert "= ANY(%s)" in sql and params == [wanted]
    rest = Sample.query().where(Sample.c.id.not_in(wanted)).count()
    assert rest == 300 - len(wanted)
    short = Sample.query().where(Sample.c.id.is_in(ids[:3])).to_sql()[0]
    assert "IN (%s, %s, %s)" in short


def test_offset_without_limit(samples):
    Sample.insert_many([{"name": f"o{i}"} for i in range(5)])
    query = Sample.query().order_by("id").offset(3)
    assert "LIMIT" not in query.to_sql()[0]
    assert [r.name for r in query.all()] == ["o3", "o4"]
    assert [r.name for r in Sample.query().order_by("id").limit(2).offset(1).all()] == ["o1", "o2"]


def test_raw_where_fragments_use_question_marks_and_percent(samples):
    Sample.insert_many([{"name": "50% off", "ratio": 2.0}, {"name": "plain", "ratio": 3.0}])
    found = Sample.query().where("name LIKE '%off' AND ratio > ?", 1.0).all()
    assert [r.name for r in found] == ["50% off"]
    assert Sample.query().where("ratio > %s", 2.5).one().name == "plain"
    # Raw SQL given to the backend passes through untouched.
    assert samples.execute("SELECT '100%'").fetchone() == ("100%",)


def test_explain_reports_seq_scans(samples):
    plan = Sample.query().where(Sample.c.ratio > 1).explain()
    assert plan.full_scans == ["pg_samples"]
    assert str(plan).startswith("QUERY PLAN\n") and "Seq Scan on pg_samples" in str(plan)
    raw = samples.execute(Sample.query().where(Sample.c.ratio > 1).explain()).fetchall()
    assert any("Seq Scan" in row[0] for row in raw)
    samples.execute("SET enable_seqscan = off")  # one pooled connection here: it sticks
    indexed = Sample.query().where(Sample.c.name == "x").explain()
    assert "pg_samples" not in indexed.full_scans


# -- errors ------------------------------------------------------------------------------
@pytest.fixture
def library(pg):
    Author.create_table()
    Book.create_table()
    return pg


def test_constraint_violations_are_integrity_errors(samples, library):
    Sample(name="dup").save()
    with pytest.raises(IntegrityError) as unique:
        Sample(name="dup").save()
    assert isinstance(unique.value.orig, psycopg.errors.UniqueViolation)
    with pytest.raises(IntegrityError) as fk:
        Book(title="t", author_id=999).save()
    assert isinstance(fk.value.orig, psycopg.errors.ForeignKeyViolation)
    with pytest.raises(IntegrityError) as check:
        Book(title="", author_id=Author(name="a").save() and 1).save()
    assert isinstance(check.value.orig, psycopg.errors.CheckViolation)
    with pytest.raises(IntegrityError) as not_null:
        samples.execute("INSERT INTO pg_samples (name) VALUES (NULL)")
    assert isinstance(not_null.value.orig, psycopg.errors.NotNullViolation)


def test_bad_sql_is_operational_error(pg):
    with pytest.raises(OperationalError) as err:
        pg.execute("SELECT * FROM no_such_table")
    assert isinstance(err.value.orig, psycopg.errors.UndefinedTable)
    assert "no_such_table" in str(err.value)


@contextmanager
def transaction_held_by_another_thread(db, sql: Optional[str] = None) -> Iterator[None]:
    """Another thread holds a transaction open on ``db`` (after running ``sql``) for the block."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with db.transaction():
            if sql is not None:
                db.execute(sql)
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        thread.join()


def test_lock_not_available_is_database_locked(samples):
    Sample(name="locked").save()
    with transaction_held_by_another_thread(samples, "SELECT * FROM pg_samples FOR UPDATE"):
        with pytest.raises(DatabaseLockedError) as err:
            samples.execute("SELECT * FROM pg_samples FOR UPDATE NOWAIT")
        assert isinstance(err.value.orig, psycopg.errors.LockNotAvailable)


def test_lock_timeout_option_raises_database_locked():
    with postgres_schema_backend(lock_timeout=0.05) as db:
        db.execute("CREATE TABLE t (id int PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
        with transaction_held_by_another_thread(db, "UPDATE t SET id = 1"):
            with pytest.raises(DatabaseLockedError):
                db.execute("UPDATE t SET id = 1")


def test_serialization_failure_is_database_locked(pg):
    pg.execute("CREATE TABLE acct (id int PRIMARY KEY, v int)")
    pg.execute("INSERT INTO acct VALUES (1, 0)")
    first_read, second_done = threading.Event(), threading.Event()
    outcome: list = []

    def writer():
        first_read.wait(10)
        pg.execute("UPDATE acct SET v = v + 1 WHERE id = 1")
        second_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(DatabaseLockedError) as err:
            with pg.transaction():
                pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                outcome.append(pg.execute("SELECT v FROM acct").fetchone())
                first_read.set()
                second_done.wait(10)
                pg.execute("UPDATE acct SET v = v + 10 WHERE id = 1")
        assert isinstance(err.value.orig, psycopg.errors.SerializationFailure)
    finally:
        first_read.set()
        thread.join()
    assert outcome == [(0,)]
    assert pg.execute("SELECT v FROM acct").fetchone() == (1,)


# -- transactions and the pool -----------------------------------------------------------
def test_nested_transactions_use_savepoints(samples, counter):
    with samples.transaction():
        Sample(name="outer").save()
        with pytest.raises(RuntimeError):
            with samples.transaction():
                Sample(name="inner").save()
                raise RuntimeError("undo inner")
        assert samples.in_transaction
    assert [s.name for s in Sample.find_all()] == ["outer"]
    sqls = [s for s, _ in counter.statements]
    assert "SAVEPOINT ar_sp_1" in sqls and "ROLLBACK TO SAVEPOINT ar_sp_1" in sqls
    with pytest.raises(ValueError):
        with samples.transaction():
            Sample(name="gone").save()
            raise ValueError
    assert Sample.query().count() == 1
    assert not samples.in_transaction


def test_uncommitted_rows_are_invisible_to_other_threads(samples):
    seen: list = []
    with samples.transaction():
        Sample(name="pending").save()
        worker = threading.Thread(target=lambda: seen.append(Sample.query().count()))
        worker.start()
        worker.join()
        assert Sample.query().count() == 1
    assert seen == [0]
    assert Sample.query().count() == 1


def test_insert_many_is_all_or_nothing(samples):
    Sample(name="taken").save()
    with pytest.raises(IntegrityError):
        Sample.insert_many([{"name": f"m{i}"} for i in range(50)] + [{"name": "taken"}])
    assert Sample.query().count() == 1
    assert Sample.insert_many([{"name": f"m{i}"} for i in range(500)], batch_size=128) == 500
    assert Sample.query().count() == 501


def test_bulk_insert_through_copy_keeps_every_type(samples):
    from activerecord.backends.postgres import COPY_MIN_ROWS
    n = COPY_MIN_ROWS * 2
    token = uuid.uuid4()
    rows = [dict(name=f"c{i}", ratio=i / 3, flag=i % 2 == 0, blob=bytes([i % 256, 0]),
                 at=dt.datetime(2024, 1, 1, 0, 0, 0, i), day=dt.date(2024, 1, 1 + i % 28),
                 clock=dt.time(1, 2, 3, i), price=decimal.Decimal(f"{i}.25"), token=token,
                 color=Color.RED, size=Size.S, data={"i": i, "q": 'a"b\\c\t'}, tags=[i, None],
                 address=Address(city="Tab\tCity", zip=str(i)))
            for i in range(n)]
    rows.append(dict(name="nulls"))
    assert Sample.insert_many(rows) == n + 1
    got = {s.name: s for s in Sample.query().all()}
    expected = [Sample(**r) for r in rows]
    assert [got[e.name].model_dump(exclude={"id"}) for e in expected] == \
        [e.model_dump(exclude={"id"}) for e in expected]
    with pytest.raises(IntegrityError):
        Sample.insert_many([{"name": f"d{i}"} for i in range(n)] + [{"name": "c1"}])
    assert Sample.query().count() == n + 1


def test_pool_exhaustion_raises_after_timeout():
    with postgres_schema_backend(max_size=1, timeout=0.2) as db:
        with transaction_held_by_another_thread(db):
            with pytest.raises(OperationalError, match="pooled connection"):
                db.execute("SELECT 1")
        assert db.execute("SELECT 1").fetchone() == (1,)


def test_health_check_replaces_a_killed_connection():
    with postgres_schema_backend(min_size=1, max_size=1) as db:
        pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
        admin = postgres_support._admin_connection()
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        new_pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert new_pid != pid


def test_close_then_use_reconnects(samples):
    Sample(name="kept").save()
    samples.close()
    assert Sample.find_one({"name": "kept"}) is not None


def test_settings_apply_to_every_connection():
    with postgres_schema_backend(statement_timeout=1.5, timezone="Europe/Oslo") as db:
        assert db.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        assert db.execute("SHOW TimeZone").fetchone() == ("Europe/Oslo",)


def test_unreachable_server_is_operational_error():
    from activerecord.backends.postgres import PostgresBackend
    db = PostgresBackend("postgresql://nobody@127.0.0.1:1/none", min_size=0, timeout=0.5,
                         connect_timeout=1)
    with pytest.raises(OperationalError):
        db.execute("SELECT 1")
    db.close()


def test_bad_pool_sizes_are_rejected():
    from activerecord.backends.postgres import PostgresBackend
    with pytest.raises(ValueError, match="min_size"):
        PostgresBackend("", min_size=5, max_size=2)


def test_repr_hides_password():
    from activerecord.backends.postgres import PostgresBackend
    assert "s3cret" not in repr(PostgresBackend("postgresql://u:s3cret@h/db"))


# -- the test harness's own rule: skip locally, fail under CI ----------------------------
def test_missing_server_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(postgres_support, "_admin", None)
    monkeypatch.setattr(postgres_support, "_unavailable", None)
    monkeypatch.delenv(postgres_support.DSN_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=postgres_support.DSN_ENV):
        postgres_support.postgres_dsn()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI requires PostgreSQL"):
        postgres_support.postgres_dsn()


# -- async -------------------------------------------------------------------------------
def test_async_backend_statements_and_transactions():
    async def main(db):
        async with db:
            await db.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
            result = await db.execute("INSERT INTO t (v) VALUES (%s) RETURNING id", ["a"])
            assert result.lastrowid == 1
            await db.executemany("INSERT INTO t (v) VALUES (%s)", [("b",), ("c",)])
            async with db.transaction():
                await db.execute("INSERT INTO t (v) VALUES ('d')")
                try:
                    async with db.transaction():
                        await db.execute("INSERT INTO t (v) VALUES ('e')")
                        raise KeyError("inner")
                except KeyError:
                    pass
                assert db.in_transaction
            try:
                async with db.transaction():
                    await db.execute("INSERT INTO t (v) VALUES ('f')")
                    raise KeyError("outer")
            except KeyError:
                pass
            rows = (await db.execute("SELECT v FROM t ORDER BY id")).fetchall()
            chunks = [c async for c in db.stream("SELECT id FROM t ORDER BY id", None, 3)]
            with pytest.raises(IntegrityError):
                await db.execute("INSERT INTO t (id, v) VALUES (1, 'dup')")
            return rows, chunks

    with async_postgres_schema_backend() as db:
        rows, chunks = asyncio.run(main(db))
    assert rows == [("a",), ("b",), ("c",), ("d",)]
    assert chunks == [[(1,), (2,), (3,)], [(4,)]]


def test_async_models_on_postgres():
    from activerecord.aio import AsyncActiveRecord

    class Note(AsyncActiveRecord):
        __table_name__ = "pg_async_notes"
        body: str
        at: Optional[dt.datetime] = None

    async def main(db):
        async with db:
            await Note.create_table()
            notes = [Note(body=f"n{i}", at=dt.datetime(2024, 1, 1, 0, 0, i)) for i in range(20)]
            await asyncio.gather(*(n.save() for n in notes))
            await Note.insert_many([{"body": "bulk"}])
            assert await Note.query().count() == 21
            found = await Note.find_one({"body": "n7"})
            streamed = [n.body async for n in Note.query().where(Note.c.body.like("n1%"))]
            return found, sorted(streamed)

    with async_postgres_schema_backend() as db, configured(Note, db):
        found, streamed = asyncio.run(main(db))
    assert found.at == dt.datetime(2024, 1, 1, 0, 0, 7)
    assert streamed == ["n1"] + [f"n1{i}" for i in range(10)]


def test_async_backend_survives_a_new_event_loop():
    with async_postgres_schema_backend() as db:
        assert asyncio.run(db.execute("SELECT 1")).fetchone() == (1,)
        assert asyncio.run(db.execute("SELECT 2")).fetchone() == (2,)
        asyncio.run(db.close())


def test_errors_keep_driver_exception_as_orig(pg):
    with pytest.raises(DatabaseError) as err:
        pg.execute("SELECT 1/0")
    assert isinstance(err.value.orig, psycopg.Error)
    assert os.environ.get(postgres_support.DSN_ENV)
