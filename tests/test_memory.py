"""Nothing leaks, and failures inside a step leave the connection usable.

Hydration, insert_many and eager loading are repeated many times: neither the
interpreter's live-object count (``sys.gettotalrefcount`` is debug-only, so
``gc.get_objects`` and tracemalloc stand in) nor traced memory may keep growing.
Errors mid-statement (constraint violation in a bulk insert, a locked database, an
abandoned iteration) must release their prepared statements.
"""
from __future__ import annotations

import datetime as dt
import gc
import sqlite3
import tracemalloc
from typing import ClassVar, Optional

import pytest

from activerecord import (ActiveRecord, DatabaseLockedError, Field, IntegrityError,
                          SQLiteBackend, speedups)
from activerecord.relations import BelongsTo, HasMany


class MemAuthor(ActiveRecord):
    __table_name__ = "mem_authors"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    born: Optional[dt.datetime] = None
    books: ClassVar[HasMany["MemBook"]] = HasMany(foreign_key="author_id")


class MemBook(ActiveRecord):
    __table_name__ = "mem_books"
    id: Optional[int] = Field(default=None, primary_key=True)
    author_id: int
    title: str
    author: ClassVar[BelongsTo[MemAuthor]] = BelongsTo(foreign_key="author_id")


@pytest.fixture(params=["compiled", "pure"])
def mem_db(request, tmp_path):
    pure = request.param == "pure"
    if not pure and not speedups.speedups_enabled():
        pytest.skip("the compiled extension is not in use")
    with speedups.pure_python(pure):
        db = SQLiteBackend(str(tmp_path / "mem.db"), timeout=0.05, retries=0)
        for model in (MemAuthor, MemBook):
            model.configure(db)
            model.create_table()
        yield db
    for model in (MemAuthor, MemBook):
        model.configure(None)
    db.close()


def _seed(n=50):
    MemAuthor.insert_many([{"name": f"a{i}", "born": dt.datetime(2000, 1, 1 + i % 28)} for i in range(n)])
    MemBook.insert_many([{"author_id": 1 + i % n, "title": f"b{i}"} for i in range(n * 4)])


# The stdlib driver keeps a weak reference per cursor and prunes them every 200 cursors,
# so up to ~200 objects come and go on the pure path; a leak of one object per call
# over ROUNDS calls (or one per row) is far above that.
ROUNDS = 400
LIMIT_OBJECTS, LIMIT_BYTES = 250, 96_000


def _growth(work, rounds=ROUNDS):
    """(objects, bytes) still alive after the last rounds that were not after the first ones."""
    work()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(rounds // 3):
            work()
        gc.collect()
        objects_mid = len(gc.get_objects())
        bytes_mid = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            work()
        gc.collect()
        return len(gc.get_objects()) - objects_mid, tracemalloc.get_traced_memory()[0] - bytes_mid
    finally:
        tracemalloc.stop()


def test_repeated_hydration_does_not_grow(mem_db):
    _seed()
    objects, size = _growth(lambda: (MemAuthor.query().all(), MemAuthor.find_by_id(3),
                                     list(MemAuthor.query().where(MemAuthor.c.id < 20))))
    assert objects < LIMIT_OBJECTS and size < LIMIT_BYTES, (objects, size)


def test_repeated_insert_many_does_not_grow(mem_db):
    rows = [MemBook(author_id=1, title=f"t{i}") for i in range(200)]

    def work():
        MemBook.insert_many(rows)
        MemBook.query().delete()
    objects, size = _growth(work)
    assert objects < LIMIT_OBJECTS and size < LIMIT_BYTES, (objects, size)


def test_repeated_eager_loading_does_not_grow(mem_db):
    _seed()
    objects, size = _growth(lambda: MemAuthor.query().includes("books").all())
    assert objects < LIMIT_OBJECTS and size < LIMIT_BYTES, (objects, size)


def test_constraint_violation_mid_bulk_insert_releases_everything(mem_db):
    MemAuthor(name="taken").save()
    rows = [{"name": f"n{i}"} for i in range(100)] + [{"name": "taken"}]
    for _ in range(20):
        with pytest.raises(IntegrityError):
            MemAuthor.insert_many(rows)
    assert MemAuthor.query().count() == 1
    assert not mem_db.in_transaction
    MemAuthor.insert_many(rows[:-1])
    assert MemAuthor.query().count() == 101
    conn = mem_db._connection()
    if hasattr(conn, "cached_statement_count"):
        assert conn.cached_statement_count() < 64


def test_locked_database_releases_and_recovers(mem_db):
    holder = sqlite3.connect(mem_db.database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        for _ in range(5):
            with pytest.raises(DatabaseLockedError):
                MemAuthor(name="blocked").save()
            with pytest.raises(DatabaseLockedError):
                MemAuthor.query().all()
        holder.execute("COMMIT")
    finally:
        holder.close()
    MemAuthor(name="free").save()
    assert [a.name for a in MemAuthor.query().all()] == ["free"]


def test_interrupted_iteration_releases_the_statement(mem_db):
    _seed()
    for _ in range(50):
        for author in MemAuthor.query().order_by("id"):
            break
        result = mem_db.execute("SELECT id FROM mem_authors")
        result.fetchone()
        del result
    # the table is not held by a half-read statement: DDL and writes go through
    mem_db.execute("CREATE INDEX idx_mem_books_title ON mem_books (title)")
    MemAuthor.query().where(MemAuthor.c.id > 10).delete()
    mem_db.execute("DROP TABLE mem_books")
    assert MemAuthor.query().count() == 10


def test_closing_the_backend_with_an_open_result_is_safe(mem_db):
    _seed()
    result = mem_db.execute("SELECT id FROM mem_authors")
    assert result.fetchone() == (1,)
    mem_db.close()
    with pytest.raises(Exception) as info:
        result.fetchall()
    assert "closed" in str(info.value)
    del result
    assert MemAuthor.query().count() == 50   # reconnects
