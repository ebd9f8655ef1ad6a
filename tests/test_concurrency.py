"""Many writers at once on one SQLite file in WAL mode: nothing lost, nothing locked.

Threads and spawned processes write through the ORM at the same time (single-row
saves, explicit transactions doing read-modify-write, bulk inserts) while a reader
streams. Lock waits are absorbed by the busy timeout plus the backend's retries;
past the timeout the user gets a DatabaseLockedError naming the database and the
timeout. Retry rules are checked with injected SQLITE_BUSY faults.
"""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from typing import Any

import pytest

from activerecord import ActiveRecord, Field
from activerecord.backends.sqlite import SQLiteBackend
from activerecord.errors import DatabaseLockedError

WAL = {"journal_mode": "WAL", "synchronous": "NORMAL"}
SPAWN = multiprocessing.get_context("spawn")


class ConcEvent(ActiveRecord):
    __table_name__ = "conc_events"
    writer: str = Field(index=True)
    seq: int
    payload: str = ""


class ConcTally(ActiveRecord):
    __table_name__ = "conc_tallies"
    name: str = Field(unique=True)
    hits: int = 0


def _use(backend: Any) -> None:
    for model in (ConcEvent, ConcTally):
        model.configure(backend)


@pytest.fixture
def use_events():
    """``use_events(backend)`` puts the models and the events table on ``backend``;
    after the test every such backend is closed and the models are unconfigured."""
    backends: list = []

    def use(backend: Any) -> Any:
        _use(backend)
        ConcEvent.create_table()
        backends.append(backend)
        return backend

    yield use
    for backend in backends:
        backend.close()
    _use(None)


def _workload(backend: SQLiteBackend, writer: str, writes: int) -> dict:
    """A writer's mix: autocommit saves, read-modify-write transactions, bulk inserts."""
    ids: list[int] = []
    for seq in range(writes):
        kind = seq % 3
        if kind == 0:
            event = ConcEvent(writer=writer, seq=seq, payload="x" * (seq % 50))
            event.save()
            ids.append(event.id)
        elif kind == 1:
            with backend.transaction():
                event = ConcEvent(writer=writer, seq=seq)
                event.save()
                ids.append(event.id)
                # ORM read-modify-write: safe because BEGIN IMMEDIATE holds the write lock.
                shared = ConcTally.find_one({"name": "shared"})
                shared.hits += 1
                shared.save()
                ConcTally.query().where(name=writer).update({"hits": ConcTally.c.hits + 1})
        else:
            ConcEvent.insert_many([{"writer": writer, "seq": seq}])
        ConcEvent.query().where(writer=writer).count()
    return {"writer": writer, "ids": ids}


def _process_writer(db_path: str, writer: str, writes: int, start: Any, results: Any) -> None:
    try:
        backend = SQLiteBackend(db_path, pragmas=WAL, timeout=30)
        _use(backend)
        start.wait(60)
        results.put(_workload(backend, writer, writes))
        backend.close()
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put({"writer": writer, "error": f"{type(exc).__name__}: {exc}"})


@pytest.fixture
def wal_db(tmp_path, use_events):
    path = str(tmp_path / "concurrency.db")
    backend = use_events(SQLiteBackend(path, pragmas=WAL, timeout=30))
    ConcTally.create_table()
    return path, backend


def test_threads_and_processes_write_at_once_and_lose_nothing(wal_db):
    path, backend = wal_db
    writers_t = [f"thread-{i}" for i in range(3)]
    writers_p = [f"proc-{i}" for i in range(3)]
    writes = 45
    ConcTally.insert_many([{"name": n, "hits": 0} for n in ["shared", *writers_t, *writers_p]])

    start = SPAWN.Event()
    results = SPAWN.Queue()
    procs = [SPAWN.Process(target=_process_writer, args=(path, w, writes, start, results))
             for w in writers_p]
    for p in procs:
        p.start()

    thread_results: list[dict] = []
    stop_reading = threading.Event()
    observed: list[tuple[int, int]] = []

    def thread_writer(writer: str) -> None:
        start.wait(60)
        try:
            thread_results.append(_workload(backend, writer, writes))
        except BaseException as exc:
            thread_results.append({"writer": writer, "error": f"{type(exc).__name__}: {exc}"})

    def reader() -> None:
        start.wait(60)
        try:
            while not stop_reading.is_set():
                count = ConcEvent.query().count()
                shared = ConcTally.find_one({"name": "shared"}).hits
                observed.append((count, shared))
                for _ in ConcEvent.query().where(ConcEvent.c.seq < 3):
                    pass
        except BaseException as exc:
            observed.append((-1, f"{type(exc).__name__}: {exc}"))  # type: ignore[arg-type]

    threads = [threading.Thread(target=thread_writer, args=(w,)) for w in writers_t]
    read_thread = threading.Thread(target=reader)
    for t in [*threads, read_thread]:
        t.start()
    start.set()
    process_results = [results.get(timeout=120) for _ in procs]
    for t in threads:
        t.join(120)
    stop_reading.set()
    read_thread.join(60)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0

    everything = process_results + thread_results
    failures = [r for r in everything if "error" in r]
    assert failures == []
    assert len(everything) == len(writers_t) + len(writers_p)

    # No write lost, none duplicated, every id unique.
    n_writers = len(everything)
    assert ConcEvent.query().count() == n_writers * writes
    rows = backend.execute("SELECT writer, seq, COUNT(*) FROM conc_events "
                           "GROUP BY writer, seq HAVING COUNT(*) <> 1").fetchall()
    assert rows == []
    for writer in [*writers_t, *writers_p]:
        seqs = sorted(e.seq for e in ConcEvent.query().where(writer=writer))
        assert seqs == list(range(writes))
    saved_ids = [i for r in everything for i in r["ids"]]
    assert len(saved_ids) == len(set(saved_ids))
    assert {e.id for e in ConcEvent.query().where(ConcEvent.c.id.is_in(saved_ids))} == set(saved_ids)

    # Read-modify-write under BEGIN IMMEDIATE lost no increment.
    per_writer = len([s for s in range(writes) if s % 3 == 1])
    assert ConcTally.find_one({"name": "shared"}).hits == per_writer * n_writers
    for writer in [*writers_t, *writers_p]:
        assert ConcTally.find_one({"name": writer}).hits == per_writer

    # The reader saw only committed, ever-growing states.
    assert observed and all(isinstance(s, int) for _, s in observed), observed[-1:]
    assert [c for c, _ in observed] == sorted(c for c, _ in observed)
    assert [s for _, s in observed] == sorted(s for _, s in observed)
    assert backend.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert backend.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_many_threads_share_one_backend_with_retries_and_no_lock_errors(wal_db):
    path, backend = wal_db
    errors: list[str] = []
    ids: list[int] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            for i in range(40):
                event = ConcEvent(writer=f"t{n}", seq=i)
                event.save()
                with lock:
                    ids.append(event.id)
        except BaseException as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(ids) == len(set(ids)) == 320
    assert ConcEvent.query().count() == 320


# -- past the timeout: a clear DatabaseLockedError ---------------------------------------

def _hold_write_lock(path: str) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_locked_past_timeout_raises_database_locked_error_naming_db_and_timeout(tmp_path, use_events):
    path = str(tmp_path / "locked.db")
    backend = use_events(SQLiteBackend(path, pragmas=WAL, timeout=0.2))
    holder = _hold_write_lock(path)
    try:
        with pytest.raises(DatabaseLockedError) as info:
            ConcEvent(writer="w", seq=1).save()
        message = str(info.value)
        assert path in message and "timeout=0.2 s" in message
        assert isinstance(info.value.orig, sqlite3.OperationalError)

        with pytest.raises(DatabaseLockedError, match="BEGIN IMMEDIATE"):
            with backend.transaction():
                ConcEvent(writer="w", seq=2).save()
        assert backend.in_transaction is False

        with pytest.raises(DatabaseLockedError):
            ConcEvent.insert_many([{"writer": "w", "seq": 3}])
        assert backend.in_transaction is False
    finally:
        holder.rollback()
        holder.close()
    # Once the lock is gone the same backend works and nothing half-done is there.
    assert ConcEvent.query().count() == 0
    ConcEvent(writer="w", seq=4).save()
    assert [e.seq for e in ConcEvent.query()] == [4]


def test_zero_timeout_fails_at_once(tmp_path, use_events):
    path = str(tmp_path / "zero.db")
    backend = use_events(SQLiteBackend(path, pragmas=WAL, timeout=0))
    holder = _hold_write_lock(path)
    try:
        with pytest.raises(DatabaseLockedError, match="0 retries"):
            ConcEvent(writer="w", seq=1).save()
        assert backend.busy_retries == 0
    finally:
        holder.close()


def test_lock_released_within_timeout_is_waited_for_not_reported(tmp_path, use_events):
    path = str(tmp_path / "wait.db")
    backend = use_events(SQLiteBackend(path, pragmas=WAL, timeout=20))
    holder = _hold_write_lock(path)
    holder.execute("INSERT INTO conc_events (writer, seq, payload) VALUES ('holder', 0, '')")
    acquired = threading.Event()
    release = threading.Timer(0.3, lambda: (holder.commit(), acquired.set()))
    release.start()
    try:
        with backend.transaction():
            ConcEvent(writer="orm", seq=1).save()
        ConcEvent(writer="orm", seq=2).save()
    finally:
        release.join()
        holder.close()
    assert acquired.is_set()
    assert sorted((e.writer, e.seq) for e in ConcEvent.query()) == [
        ("holder", 0), ("orm", 1), ("orm", 2)]


# -- retry rules, checked by injecting SQLITE_BUSY ---------------------------------------

class FlakyConnection:
    """Wraps a real connection; raises 'database is locked' when told to."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.fail_next: list[tuple[str, Any]] = []   # (sql prefix, action before raising)
        self.calls: list[str] = []

    def _maybe_fail(self, sql: str, seq: Any = None) -> None:
        self.calls.append(sql)
        for i, (prefix, action) in enumerate(self.fail_next):
            if sql.lstrip().upper().startswith(prefix):
                del self.fail_next[i]
                if action is not None:
                    action(self._conn, seq)
                raise sqlite3.OperationalError("database is locked")

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._maybe_fail(sql)
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, seq: Any) -> sqlite3.Cursor:
        self._maybe_fail(sql, seq)
        return self._conn.executemany(sql, seq)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class FlakyBackend(SQLiteBackend):
    def _open(self) -> Any:
        self.flaky = FlakyConnection(super()._open())
        return self.flaky


@pytest.fixture
def flaky(tmp_path, use_events):
    return use_events(FlakyBackend(str(tmp_path / "flaky.db"), timeout=10, retry_backoff=0.001))


def test_busy_outside_a_transaction_is_retried_until_it_succeeds(flaky):
    flaky.flaky.fail_next = [("INSERT", None)] * 3
    event = ConcEvent(writer="w", seq=1)
    assert event.save() == 1
    assert flaky.busy_retries == 3
    assert [e.id for e in ConcEvent.query()] == [event.id]
    assert sum(sql.startswith("INSERT") for sql in flaky.flaky.calls) == 4


def test_busy_at_begin_immediate_is_retried(flaky):
    flaky.flaky.fail_next = [("BEGIN IMMEDIATE", None)] * 2
    with flaky.transaction():
        ConcEvent(writer="w", seq=1).save()
    assert flaky.busy_retries == 2
    assert ConcEvent.query().count() == 1


def test_retries_limit_gives_up_with_clear_error(tmp_path, use_events):
    backend = use_events(FlakyBackend(str(tmp_path / "limit.db"), timeout=10, retries=2,
                                      retry_backoff=0.001))
    backend.flaky.fail_next = [("INSERT", None)] * 3
    with pytest.raises(DatabaseLockedError, match=r"2 retries .*no retries left \(retries=2\)"):
        ConcEvent(writer="w", seq=1).save()
    assert ConcEvent.query().count() == 0


def _sqlite_rolls_back(conn: sqlite3.Connection, _seq: Any) -> None:
    conn.execute("ROLLBACK")   # what SQLite may do on its own when a statement fails


def test_statement_in_a_transaction_sqlite_rolled_back_is_not_retried(flaky):
    ConcEvent(writer="before", seq=0).save()
    flaky.flaky.fail_next = [("UPDATE", _sqlite_rolls_back)]
    with pytest.raises(DatabaseLockedError, match="rolled the open transaction back"):
        with flaky.transaction():
            ConcEvent(writer="inside", seq=1).save()
            ConcEvent.query().update({"seq": 99})
    assert flaky.busy_retries == 0
    assert flaky.in_transaction is False
    assert [(e.writer, e.seq) for e in ConcEvent.query()] == [("before", 0)]
    with flaky.transaction():   # the connection is usable afterwards
        ConcEvent(writer="after", seq=2).save()
    assert ConcEvent.query().count() == 2


def test_partly_applied_executemany_is_not_replayed(flaky):
    def apply_half(conn: sqlite3.Connection, seq: Any) -> None:
        conn.executemany("INSERT INTO conc_events (writer, seq, payload) VALUES (?, ?, ?)",
                         list(seq)[: len(seq) // 2])

    flaky.flaky.fail_next = [("INSERT", apply_half)]
    rows = [{"writer": "bulk", "seq": i} for i in range(10)]
    with pytest.raises(DatabaseLockedError, match="already applied"):
        ConcEvent.insert_many(rows)
    assert flaky.busy_retries == 0
    assert ConcEvent.query().count() == 0      # insert_many is one transaction: rolled back
    assert flaky.in_transaction is False
    assert ConcEvent.insert_many(rows) == 10
    assert ConcEvent.query().count() == 10


def test_busy_inside_a_live_transaction_is_retried_in_place(flaky):
    flaky.flaky.fail_next = [("INSERT", None), ("COMMIT", None)]
    with flaky.transaction():
        ConcEvent(writer="w", seq=1).save()
        ConcEvent(writer="w", seq=2).save()
    assert flaky.busy_retries == 2
    assert sorted(e.seq for e in ConcEvent.query()) == [1, 2]


@pytest.mark.parametrize("kwargs", [{"retries": -1}, {"retries": 1.5}, {"retry_backoff": -0.1},
                                    {"timeout": -1}])
def test_bad_retry_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        SQLiteBackend(":memory:", **kwargs)
