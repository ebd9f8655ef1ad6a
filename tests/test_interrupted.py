"""Interrupted work leaks no statement and leaves the connection usable.

Breaking out of a streaming loop, an exception in the loop body or in hydration, a
hook that raises, and a failure in the middle of ``insert_many``: afterwards there is
no open transaction, no statement still running on the connection (SQLite refuses
``DROP TABLE`` while one is: "database table is locked"), and the next queries work.
"""
from __future__ import annotations

import datetime as dt
import gc
from typing import Any

import pytest

from activerecord import ActiveRecord, Field
from activerecord.backends.base import add_observer, remove_observer
from activerecord.backends.sqlite import SQLiteBackend
from activerecord.errors import DatabaseError, IntegrityError

ROWS = 1000   # several fetch chunks


class Streamed(ActiveRecord):
    __table_name__ = "streamed"
    n: int
    code: str = Field(default="", unique=True)
    at: dt.datetime = Field(default_factory=lambda: dt.datetime(2024, 1, 1))


class Guarded(ActiveRecord):
    __table_name__ = "guarded"
    name: str = ""

    def before_save(self) -> None:
        if self.name == "refuse":
            raise PermissionError("refused by before_save")

    def after_save(self) -> None:
        if self.name == "explode-after":
            raise RuntimeError("after_save failed")

    def before_delete(self) -> None:
        if self.name == "keep":
            raise PermissionError("refused by before_delete")


@pytest.fixture(params=["DELETE", "WAL"])
def db(request, tmp_path):
    backend = SQLiteBackend(str(tmp_path / "interrupted.db"),
                            pragmas={"journal_mode": request.param})
    for model in (Streamed, Guarded):
        model.configure(backend)
        model.create_table()
    Streamed.insert_many([{"n": i, "code": f"c{i}"} for i in range(ROWS)])
    yield backend
    backend.close()
    for model in (Streamed, Guarded):
        model.configure(None)


def assert_clean(backend: SQLiteBackend) -> None:
    """No transaction open, no statement left running, and the connection works."""
    assert backend.in_transaction is False
    assert backend._connection().in_transaction is False
    # DROP TABLE fails with 'database table is locked' while any statement is active.
    backend.execute('CREATE TABLE "probe" (x)')
    backend.execute('DROP TABLE "probe"')
    with backend.transaction():
        Guarded(name="probe").save()
    assert Guarded.query().where(name="probe").delete() == 1
    assert Streamed.query().count() == ROWS


def test_the_probe_detects_a_leaked_statement(db):
    it = iter(Streamed.query())
    next(it)
    with pytest.raises(DatabaseError, match="locked"):
        db.execute('DROP TABLE "guarded"')
    it.close()
    assert_clean(db)


def test_break_out_of_a_streaming_loop(db):
    seen = []
    for record in Streamed.query().order_by("n"):
        seen.append(record.n)
        if record.n == 300:
            break
    assert seen == list(range(301))
    assert_clean(db)


def test_exception_in_the_loop_body(db):
    with pytest.raises(KeyError):
        for record in Streamed.query():
            if record.n == 500:
                raise KeyError("stop")
    assert_clean(db)


def test_abandoned_iterator_is_cleaned_up(db):
    it = iter(Streamed.query())
    assert next(it).n == 0
    del it
    gc.collect()
    assert_clean(db)


def test_exception_while_hydrating_a_row_mid_stream(db):
    db.execute("UPDATE streamed SET at = 'not a date' WHERE n = 700")
    seen = 0
    with pytest.raises(ValueError):
        for _ in Streamed.query().order_by("n"):
            seen += 1
    assert seen <= 700        # rows are hydrated in chunks: the error surfaces with its chunk
    db.execute("UPDATE streamed SET at = '2024-01-01 00:00:00' WHERE n = 700")
    assert_clean(db)


def test_break_inside_a_transaction_then_commit(db):
    with db.transaction():
        for record in Streamed.query():
            Guarded(name=f"from-{record.n}").save()
            if record.n == 5:
                break
    assert Guarded.query().count() == 6
    assert_clean(db)


def test_exception_mid_stream_inside_a_transaction_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            for record in Streamed.query():
                Guarded(name=f"from-{record.n}").save()
                if record.n == 5:
                    raise RuntimeError("abort")
    assert Guarded.query().count() == 0
    assert_clean(db)


def test_break_out_of_in_batches(db):
    for batch in Streamed.query().in_batches(100):
        assert len(batch) == 100
        break
    assert_clean(db)


# -- hooks ------------------------------------------------------------------------------

def test_before_save_raising_runs_no_statement(db, counter):
    record = Guarded(name="refuse")
    counter.clear()
    with pytest.raises(PermissionError):
        record.save()
    assert counter.statements == []
    assert record.is_new_record and record.id is None
    assert_clean(db)


def test_before_save_raising_inside_a_transaction_rolls_back_earlier_saves(db):
    with pytest.raises(PermissionError):
        with db.transaction():
            Guarded(name="first").save()
            Guarded(name="refuse").save()
    assert Guarded.query().count() == 0
    assert_clean(db)


def test_after_save_raising_inside_a_transaction_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            Guarded(name="explode-after").save()
    assert Guarded.query().count() == 0
    assert_clean(db)


def test_before_delete_raising_keeps_the_row(db):
    record = Guarded(name="keep")
    record.save()
    with pytest.raises(PermissionError):
        record.delete()
    assert Guarded.find_by_id(record.id) is not None
    record.name = "gone"
    record.save()
    assert record.delete() == 1
    assert_clean(db)


# -- failures in the middle of insert_many ----------------------------------------------

def _new_rows(count: int, start: int = ROWS) -> list[dict]:
    return [{"n": i, "code": f"c{i}"} for i in range(start, start + count)]


def test_constraint_violation_in_a_middle_batch_rolls_back_everything(db, counter):
    rows = _new_rows(1000)
    rows[650]["code"] = "c1"          # duplicate of a seeded row, in the 7th batch
    counter.clear()
    with pytest.raises(IntegrityError, match="UNIQUE"):
        Streamed.insert_many(rows, batch_size=100)
    kinds = [sql.split(" ")[0] for sql, _ in counter.statements]
    assert kinds[0] == "BEGIN" and kinds[-1] == "ROLLBACK" and "COMMIT" not in kinds
    assert kinds.count("INSERT") in (6, 7)   # 6 batches ran; the 7th failed (logged or not)
    assert_clean(db)
    assert Streamed.insert_many(_new_rows(1000), batch_size=100) == 1000
    assert Streamed.query().count() == 2 * ROWS


class _FailAfter:
    """An observer that raises once the Nth INSERT has run (an injected fault)."""

    def __init__(self, n: int, exc: BaseException):
        self.n, self.exc, self.seen = n, exc, 0

    def __call__(self, sql: str, params: Any, seconds: float, rowcount: int) -> None:
        if sql.startswith("INSERT"):
            self.seen += 1
            if self.seen == self.n:
                raise self.exc


@pytest.mark.parametrize("exc", [RuntimeError("fault"), KeyboardInterrupt(), MemoryError()])
def test_fault_between_batches_rolls_back_everything(db, exc):
    fault = _FailAfter(3, exc)
    add_observer(fault)
    try:
        with pytest.raises(type(exc)):
            Streamed.insert_many(_new_rows(1000), batch_size=100)
    finally:
        remove_observer(fault)
    assert fault.seen == 3
    assert_clean(db)


def test_fault_mid_insert_many_inside_an_outer_transaction(db):
    fault = _FailAfter(2, RuntimeError("fault"))
    with db.transaction():
        Guarded(name="outer").save()
        add_observer(fault)
        try:
            with pytest.raises(RuntimeError):
                Streamed.insert_many(_new_rows(500), batch_size=100)
        finally:
            remove_observer(fault)
        assert db.in_transaction is True   # only the savepoint was rolled back
    assert [g.name for g in Guarded.query()] == ["outer"]
    assert Guarded.query().where(name="outer").delete() == 1
    assert_clean(db)
