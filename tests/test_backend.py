"""SQLiteBackend: statements, results, connect/close, timeout, PRAGMAs, transactions, threads."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import activerecord
from activerecord import (ActiveRecord, DatabaseError, DatabaseLockedError, OperationalError,
                          SQLiteBackend)
from activerecord.backends.sqlite import TUNED_PRAGMAS

ROOT = Path(__file__).resolve().parents[1]


class Note(ActiveRecord):
    body: str = ""


@pytest.fixture
def db(tmp_path):
    backend = SQLiteBackend(str(tmp_path / "b.db"))
    backend.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    yield backend
    backend.close()


# -- statements and results --------------------------------------------------------------
def test_execute_results(db):
    r = db.execute("INSERT INTO t (v) VALUES (?)", ("a",))
    assert r.rowcount == 1 and r.lastrowid == 1
    r = db.execute("INSERT INTO t (v) VALUES (?)", ["b"])
    assert r.lastrowid == 2
    assert db.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    one = db.execute("SELECT v FROM t WHERE id = ?", (2,))
    assert one.fetchone() == ("b",) and one.fetchone() is None
    assert db.execute("UPDATE t SET v = 'z'").rowcount == 2
    assert db.execute("SELECT v FROM t WHERE id = ?", (99,)).fetchone() is None


def test_named_parameters(db):
    db.execute("INSERT INTO t (v) VALUES (:v)", {"v": "named"})
    assert db.execute("SELECT v FROM t").fetchall() == [("named",)]


def test_executemany(db):
    r = db.executemany("INSERT INTO t (v) VALUES (?)", [("x",), ("y",), ("z",)])
    assert r.rowcount == 3
    assert db.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_execute_accepts_objects_with_to_sql(sqlite_backend):
    backend = sqlite_backend
    Note.create_table()
    Note(body="hello").save()
    query = Note.query().where(Note.c.body == "hello")
    assert backend.execute(query).fetchall() == [(1, "hello")]


def test_execute_rejects_other_objects(db):
    with pytest.raises(TypeError, match="to_sql"):
        db.execute(42)


def test_bad_sql_is_operational_error_with_orig(db):
    import sqlite3
    with pytest.raises(OperationalError) as info:
        db.execute("SELEC nonsense")
    assert isinstance(info.value.orig, sqlite3.OperationalError)
    assert "SELEC nonsense" in str(info.value)


def test_unbindable_parameter_is_database_error(db):
    with pytest.raises(DatabaseError, match="bind"):
        db.execute("SELECT ?", (object(),))


def test_file_database_created_when_missing(tmp_path):
    path = tmp_path / "sub" / "new.db"
    path.parent.mkdir()
    b = SQLiteBackend(str(path))
    assert not path.exists()      # nothing happens until first use
    b.execute("CREATE TABLE x (a)")
    assert path.exists()
    b.close()


# -- connect / close ---------------------------------------------------------------------
class CountingBackend(SQLiteBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connects = []

    def connect(self):
        conn = super().connect()
        self.connects.append(threading.get_ident())
        self.execute("PRAGMA user_version = 7")
        return conn


def test_subclass_connect_runs_once_per_connection(tmp_path):
    b = CountingBackend(str(tmp_path / "c.db"))
    assert b.connects == []                      # lazy
    b.execute("SELECT 1")
    b.execute("SELECT 2")
    assert len(b.connects) == 1
    assert b.execute("PRAGMA user_version").fetchone() == (7,)

    def work():
        b.execute("SELECT 1")
        b.execute("SELECT 1")

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert len(b.connects) == 2 and b.connects[0] != b.connects[1]
    b.close()
    b.execute("SELECT 1")                        # reconnects after close
    assert len(b.connects) == 3
    b.close()


def test_one_connection_per_thread(tmp_path):
    b = SQLiteBackend(str(tmp_path / "t.db"))
    seen = {}

    def grab(key):
        seen[key] = b._connection()

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grab("main")
    assert len({id(c) for c in seen.values()}) == 4
    assert b._connection() is seen["main"]
    b.close()


def test_memory_database_is_shared_across_threads():
    b = SQLiteBackend(":memory:")
    b.execute("CREATE TABLE m (a)")
    errors = []

    def insert():
        try:
            b.execute("INSERT INTO m VALUES (1)")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=insert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert b.execute("SELECT count(*) FROM m").fetchone() == (4,)
    b.close()


def test_close_then_use_reconnects(db):
    db.execute("INSERT INTO t (v) VALUES ('kept')")
    db.close()
    assert db.execute("SELECT v FROM t").fetchall() == [("kept",)]


# -- timeout and locking -----------------------------------------------------------------
def test_timeout_zero_raises_database_locked(tmp_path):
    path = str(tmp_path / "lock.db")
    holder = SQLiteBackend(path)
    holder.execute("CREATE TABLE t (a)")
    waiter = SQLiteBackend(path, timeout=0)
    assert waiter.timeout == 0
    with holder.transaction():
        holder.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(DatabaseLockedError) as info:
            waiter.execute("INSERT INTO t VALUES (2)")
        assert info.value.orig is not None
        assert isinstance(info.value, OperationalError)
    waiter.execute("INSERT INTO t VALUES (2)")     # lock released: works now
    assert waiter.execute("SELECT count(*) FROM t").fetchone() == (2,)
    holder.close()
    waiter.close()


def test_waiting_backend_succeeds_once_lock_released(tmp_path):
    path = str(tmp_path / "wait.db")
    holder = SQLiteBackend(path)
    holder.execute("CREATE TABLE t (a)")
    waiter = SQLiteBackend(path, timeout=10)
    started = threading.Event()
    release = threading.Event()

    def hold():
        with holder.transaction():
            holder.execute("INSERT INTO t VALUES (1)")
            started.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(5)
    timer = threading.Timer(0.2, release.set)
    timer.start()
    waiter.execute("INSERT INTO t VALUES (2)")     # blocks until the holder commits
    t.join()
    assert waiter.execute("SELECT count(*) FROM t").fetchone() == (2,)
    holder.close()
    waiter.close()


# -- PRAGMAs -----------------------------------------------------------------------------
def _pragma(b, name):
    return b.execute(f"PRAGMA {name}").fetchone()[0]


def test_tuned_preset_applies_guide_pragmas(tmp_path):
    b = SQLiteBackend(str(tmp_path / "tuned.db"), pragmas="tuned")
    assert _pragma(b, "journal_mode") == "wal"
    assert _pragma(b, "synchronous") == 1          # NORMAL
    assert _pragma(b, "cache_size") == -64000
    assert _pragma(b, "temp_store") == 2           # MEMORY
    assert _pragma(b, "mmap_size") == 268435456
    assert _pragma(b, "foreign_keys") == 1
    assert set(TUNED_PRAGMAS) == {"journal_mode", "synchronous", "cache_size", "temp_store",
                                  "mmap_size", "foreign_keys"}
    b.close()
    t = SQLiteBackend.tuned(str(tmp_path / "tuned2.db"))
    assert _pragma(t, "journal_mode") == "wal" and _pragma(t, "foreign_keys") == 1
    t.close()


def test_default_backend_leaves_sqlite_defaults(tmp_path):
    b = SQLiteBackend(str(tmp_path / "plain.db"))
    assert _pragma(b, "journal_mode") == "delete"
    assert _pragma(b, "foreign_keys") == 0
    b.close()


def test_custom_pragmas_apply_on_every_connection(tmp_path):
    b = SQLiteBackend(str(tmp_path / "p.db"), pragmas={"cache_size": -2000, "foreign_keys": "ON"})
    assert _pragma(b, "cache_size") == -2000
    result = {}
    t = threading.Thread(target=lambda: result.update(fk=_pragma(b, "foreign_keys"),
                                                      cs=_pragma(b, "cache_size")))
    t.start()
    t.join()
    assert result == {"fk": 1, "cs": -2000}
    b.close()
    b2 = SQLiteBackend(str(tmp_path / "p2.db"), pragmas=[("user_version", 3)])
    assert _pragma(b2, "user_version") == 3
    b2.close()


def test_bad_pragmas_are_rejected():
    with pytest.raises(ValueError, match="fast"):
        SQLiteBackend(":memory:", pragmas="fast")
    with pytest.raises(ValueError, match="PRAGMA name"):
        SQLiteBackend(":memory:", pragmas={"x; DROP TABLE t": 1})


# -- transactions ------------------------------------------------------------------------
def _values(b):
    return [r[0] for r in b.execute("SELECT v FROM t ORDER BY id").fetchall()]


def test_transaction_commits(db):
    with db.transaction():
        assert db.in_transaction
        db.execute("INSERT INTO t (v) VALUES ('a')")
    assert not db.in_transaction
    assert _values(db) == ["a"]


def test_transaction_rolls_back_on_error(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.execute("INSERT INTO t (v) VALUES ('a')")
            raise RuntimeError("boom")
    assert _values(db) == [] and not db.in_transaction


def test_nested_inner_failure_rolls_back_only_inner(db, counter):
    with db.transaction():
        db.execute("INSERT INTO t (v) VALUES ('outer')")
        with pytest.raises(RuntimeError):
            with db.transaction():
                db.execute("INSERT INTO t (v) VALUES ('inner')")
                raise RuntimeError("inner fails")
        with db.transaction():
            db.execute("INSERT INTO t (v) VALUES ('inner ok')")
    assert _values(db) == ["outer", "inner ok"]
    assert any(s.startswith("SAVEPOINT") for s, _ in counter.statements)
    assert any(s.startswith("ROLLBACK TO SAVEPOINT") for s, _ in counter.statements)


def test_nested_outer_failure_rolls_back_everything(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.execute("INSERT INTO t (v) VALUES ('outer')")
            with db.transaction():
                db.execute("INSERT INTO t (v) VALUES ('inner')")
            raise RuntimeError("outer fails")
    assert _values(db) == []


def test_transactions_are_per_thread(db):
    """Another thread's statements are not part of this thread's transaction."""
    db.execute("PRAGMA journal_mode=WAL")
    with db.transaction():
        db.execute("INSERT INTO t (v) VALUES ('mine')")
        seen = []
        t = threading.Thread(target=lambda: seen.append(_values(db)))
        t.start()
        t.join()
        assert seen == [[]]          # uncommitted row invisible to the other connection
    assert _values(db) == ["mine"]


def test_orm_writes_join_an_open_transaction(sqlite_backend):
    backend = sqlite_backend
    Note.create_table()
    with pytest.raises(RuntimeError):
        with backend.transaction():
            Note(body="a").save()
            Note.insert_many([{"body": "b"}, {"body": "c"}])
            raise RuntimeError("undo")
    assert Note.query().count() == 0


# -- logging -----------------------------------------------------------------------------
def test_statements_logged_at_debug_with_params_and_duration(db, caplog):
    with caplog.at_level(logging.DEBUG, logger="activerecord.sql"):
        db.execute("SELECT v FROM t WHERE v = ?", ("needle",))
    records = [r for r in caplog.records if r.name == "activerecord.sql"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert records[0].levelno == logging.DEBUG
    assert "SELECT v FROM t WHERE v = ?" in message and "needle" in message and "ms" in message


def test_no_log_records_above_debug(db, caplog):
    with caplog.at_level(logging.INFO, logger="activerecord.sql"):
        db.execute("SELECT 1")
    assert [r for r in caplog.records if r.name.startswith("activerecord")] == []


def _run_script(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, cwd=str(ROOT), timeout=60)


def test_nothing_printed_by_default():
    code = (
        "from activerecord import ActiveRecord, SQLiteBackend\n"
        "class Thing(ActiveRecord):\n    name: str = ''\n"
        "ActiveRecord.configure(SQLiteBackend(':memory:'))\n"
        "Thing.create_table(); Thing(name='x').save(); Thing.query().all()\n"
        "print('done')\n")
    proc = _run_script(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n" and proc.stderr == ""


# -- speedups switch ---------------------------------------------------------------------
def test_speedups_enabled_is_a_bool():
    assert isinstance(activerecord.speedups_enabled(), bool)


def test_pure_python_switch_forces_pure_path():
    code = "import activerecord; print(activerecord.speedups_enabled())"
    assert _run_script(code, ACTIVERECORD_PURE_PYTHON="1").stdout.strip() == "False"
    if not os.environ.get("ACTIVERECORD_PURE_PYTHON"):
        # without the switch a fresh interpreter picks the same path as this one
        expected = str(activerecord.speedups_enabled())
        assert _run_script(code, ACTIVERECORD_PURE_PYTHON="").stdout.strip() == expected
