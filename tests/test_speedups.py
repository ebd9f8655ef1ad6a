"""The compiled extension: every module is built, importable and used on the fast path.

In CI (``CI=true`` and not ``ACTIVERECORD_PURE_PYTHON``) the extension must be in use;
elsewhere the fast-path tests run only when it is. The C-level connection is also
checked directly against the stdlib driver for the interface the backend relies on.
"""
from __future__ import annotations

import datetime as dt
import importlib.machinery
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import ClassVar, Optional

import pytest

from activerecord import (ActiveRecord, DatabaseError, Field, IntegrityError, OperationalError,
                          SQLiteBackend, grouping, hydrate, speedups, speedups_enabled)
from activerecord.backends.base import add_observer, remove_observer
from activerecord.relations import BelongsTo, HasMany

SOURCES = Path(__file__).resolve().parents[1] / "_speedups"
PURE_FORCED = os.environ.get("ACTIVERECORD_PURE_PYTHON", "") not in ("", "0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

needs_speedups = pytest.mark.skipif(not speedups_enabled(),
                                    reason="the compiled extension is not in use in this run")


def source_modules() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.pyx"))


def test_every_source_is_listed_as_a_module():
    assert source_modules(), "no Cython sources in _speedups/"
    if speedups.MODULES:
        assert sorted(speedups.MODULES) == source_modules()


def test_ci_runs_the_compiled_path():
    if not IN_CI or PURE_FORCED:
        pytest.skip("only enforced in CI without ACTIVERECORD_PURE_PYTHON")
    assert speedups_enabled(), "CI must build and use the compiled extension"


def test_pure_python_switch_is_honoured():
    if PURE_FORCED:
        assert not speedups_enabled()
    with speedups.pure_python():
        assert not speedups_enabled()
        assert speedups.module("hydration") is None


def test_fallback_logs_one_debug_line():
    code = ("import logging, io; s = io.StringIO(); h = logging.StreamHandler(s); "
            "l = logging.getLogger('activerecord'); l.addHandler(h); l.setLevel(logging.DEBUG); "
            "import activerecord; print(activerecord.speedups_enabled()); print(repr(s.getvalue()))")
    env = dict(os.environ, ACTIVERECORD_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=str(SOURCES.parent), check=True).stdout.splitlines()
    assert out[0] == "False"
    logged = eval(out[1])  # noqa: S307 - our own repr
    assert logged.count("\n") == 1 and "pure-Python path" in logged


# -- compiled and used ----------------------------------------------------------------------
@needs_speedups
@pytest.mark.parametrize("name", source_modules())
def test_module_is_a_compiled_extension(name):
    mod = speedups.module(name)
    assert mod is not None, f"activerecord._speedups.{name} was not loaded"
    assert mod.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), mod.__file__


class FastUser(ActiveRecord):
    __table_name__ = "fast_users"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    born: Optional[dt.datetime] = None
    posts: ClassVar[HasMany["FastPost"]] = HasMany(foreign_key="user_id")


class FastPost(ActiveRecord):
    __table_name__ = "fast_posts"
    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int
    title: str
    user: ClassVar[BelongsTo[FastUser]] = BelongsTo(foreign_key="user_id")


@pytest.fixture
def fast_db(sqlite_backend):
    FastUser.create_table()
    FastPost.create_table()
    return sqlite_backend


@needs_speedups
def test_backend_uses_the_c_connection(fast_db):
    conn = fast_db._connection()
    assert type(conn) is speedups.module("sqlite_conn").Connection
    assert hasattr(fast_db.execute("SELECT 1"), "hydrate")


@needs_speedups
def test_queries_hydrate_from_the_c_cursor(fast_db, monkeypatch):
    FastUser.insert_many([{"name": "a"}, {"name": "b"}])
    calls = []
    native = speedups.module("sqlite_conn")
    from activerecord.backends import sqlite_native
    original = sqlite_native.NativeResult.hydrate

    def spy(self, plan, track):
        calls.append(plan.model)
        return original(self, plan, track)

    monkeypatch.setattr(sqlite_native.NativeResult, "hydrate", spy)
    users = FastUser.query().order_by("id").all()
    assert [u.name for u in users] == ["a", "b"] and calls == [FastUser]
    assert isinstance(fast_db.execute("SELECT 1")._cursor, native.Cursor)


@needs_speedups
def test_tuple_hydration_and_grouping_are_the_compiled_functions():
    assert hydrate._compiled is speedups.module("hydration")
    assert grouping.group_by_key is speedups.module("grouping").group_by_key
    assert type(grouping.group_by_key).__name__ == "cython_function_or_method"


@needs_speedups
def test_insert_many_binds_packed_records(fast_db):
    seen = []
    observer = lambda sql, params, s, n: seen.append(params)  # noqa: E731
    add_observer(observer)
    try:
        FastUser.insert_many([FastUser(name="x", born=dt.datetime(2020, 1, 2, 3, 4, 5, 6))])
    finally:
        remove_observer(observer)
    packed = [p for p in seen if type(p).__name__ == "PackedRows"]
    assert len(packed) == 1 and list(packed[0]) == [("x", "2020-01-02 03:04:05.000006")]
    assert FastUser.query().one().born == dt.datetime(2020, 1, 2, 3, 4, 5, 6)


def test_compiled_grouping_matches_the_pure_source():
    twin = speedups.loaded_module("grouping")
    if twin is None:
        pytest.skip("the compiled extension was not built")
    import importlib.util
    spec = importlib.util.spec_from_file_location("pure_grouping", grouping.__file__)
    pure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pure)
    from types import SimpleNamespace
    posts = [SimpleNamespace(id=i, user_id=(i % 3 if i % 5 else None), title=str(i % 7))
             for i in range(1, 30)]
    for name in ("distinct_keys", "group_by_key", "index_by_key"):
        assert getattr(twin, name)(posts, "user_id") == getattr(pure, name)(posts, "user_id")
    assert twin.chunked(list(range(10)), 3) == pure.chunked(list(range(10)), 3)
    keys = [p.id % 4 for p in posts]
    assert twin.group_pairs(keys, posts, "title") == pure.group_pairs(keys, posts, "title")


# -- the C connection against the stdlib driver --------------------------------------------------
@pytest.fixture
def pair(tmp_path):
    native = speedups.loaded_module("sqlite_conn")
    if native is None:
        pytest.skip("the compiled extension was not built")
    c = native.Connection(str(tmp_path / "n.db"), 5.0, False, 16)
    s = sqlite3.connect(str(tmp_path / "s.db"), isolation_level=None)
    for conn in (c, s):
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b BLOB, c REAL)")
    yield c, s
    c.close()
    s.close()


def _outcome(conn, sql, params=()):
    try:
        cur = conn.execute(sql, params)
        return ("ok", cur.rowcount, cur.lastrowid, cur.description, cur.fetchall())
    except Exception as exc:  # compare the stdlib's exception exactly
        return (type(exc), str(exc), getattr(exc, "sqlite_errorcode", None),
                getattr(exc, "sqlite_errorname", None))


STATEMENTS = [
    ("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", ("x", b"\x00\x01", 1.5)),
    ("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", ("x", None, None)),
    ("INSERT INTO t (a) VALUES (:a)", {"a": "named"}),
    ("INSERT INTO t (a) VALUES (:a)", {"b": 1}),
    ("SELECT ?", (1, 2)),
    ("SELECT ?", ([1],)),
    ("SELECT 1; SELECT 2", ()),
    ("SELEC 1", ()),
    ("SELECT * FROM missing", ()),
    ("SELECT ?, ?, ?, ?", (True, 2 ** 63 - 1, -0.0, float("inf"))),
    ("SELECT ?", (2 ** 63,)),
    ("SELECT ?, ?", (bytearray(b"ab"), memoryview(b"cd"))),
    ("SELECT ?", (dt.date(2020, 1, 2),)),
    ("SELECT ?", (float("nan"),)),
    ("UPDATE t SET c = 2", ()),
    ("DELETE FROM t WHERE a = 'nope'", ()),
    ("INSERT INTO t (a) VALUES ('r') RETURNING id, a", ()),
    ("-- only a comment", ()),
    ("SELECT id, a, b, c FROM t ORDER BY id", ()),
    ("SELECT CAST(x'ff41' AS TEXT)", ()),
    ("SELECT 1 -- trailing comment", ()),
]


@pytest.mark.parametrize("sql,params", STATEMENTS)
def test_c_connection_matches_stdlib(pair, sql, params):
    c, s = pair
    for setup_sql, setup_params in STATEMENTS[:3]:
        _outcome(c, setup_sql, setup_params), _outcome(s, setup_sql, setup_params)
    assert _outcome(c, sql, params) == _outcome(s, sql, params)


def test_c_connection_executemany_matches_stdlib(pair):
    c, s = pair
    rows = [("m1", b"", 0.5), ("m2", None, None)]
    for conn in (c, s):
        cur = conn.executemany("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", rows)
        assert (cur.rowcount, cur.lastrowid, cur.description) == (2, None, None)
    outcomes = []
    for conn in (c, s):
        try:
            conn.executemany("SELECT ?", [(1,)])
        except Exception as exc:
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1] and outcomes[0][0] is sqlite3.ProgrammingError
    assert c.execute("SELECT a FROM t ORDER BY id").fetchall() == \
        s.execute("SELECT a FROM t ORDER BY id").fetchall()


def test_c_cursor_fetch_interface(pair):
    c, s = pair
    c.executemany("INSERT INTO t (a) VALUES (?)", [(str(i),) for i in range(10)])
    cur = c.execute("SELECT a FROM t ORDER BY id")
    assert cur.fetchone() == ("0",)
    assert cur.fetchmany(3) == [("1",), ("2",), ("3",)]
    assert next(iter(cur)) == ("4",)
    assert cur.fetchall() == [(str(i),) for i in range(5, 10)]
    assert cur.fetchone() is None and cur.fetchall() == []
    cur.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed cursor"):
        cur.fetchone()


def test_backend_errors_are_translated_the_same(sqlite_backend, tmp_path):
    backend = sqlite_backend
    backend.execute("CREATE TABLE u (a TEXT UNIQUE)")
    backend.execute("INSERT INTO u VALUES ('x')")
    with pytest.raises(IntegrityError) as info:
        backend.execute("INSERT INTO u VALUES ('x')")
    assert isinstance(info.value.orig, sqlite3.IntegrityError)
    assert info.value.orig.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"
    with pytest.raises(OperationalError, match="no such table"):
        backend.execute("SELECT * FROM nope")
    with pytest.raises(DatabaseError, match="cannot bind"):
        backend.execute("SELECT ?", (2 ** 64,))
    assert backend.execute("SELECT count(*) FROM u").fetchone() == (1,)


def test_busy_timeout_raises_database_locked(tmp_path):
    from activerecord import DatabaseLockedError
    path = str(tmp_path / "busy.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (a)")
    holder.execute("BEGIN EXCLUSIVE")
    db = SQLiteBackend(path, timeout=0.05, retries=0)
    try:
        with pytest.raises(DatabaseLockedError):
            db.execute("INSERT INTO t VALUES (1)")
        holder.execute("COMMIT")
        db.execute("INSERT INTO t VALUES (1)")
        assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        db.close()
        holder.close()


def test_debug_logging_is_identical_on_both_paths(tmp_path, caplog):
    lines = []
    for pure in (False, True):
        with speedups.pure_python(pure):
            db = SQLiteBackend(str(tmp_path / f"log{pure}.db"))
            with caplog.at_level(logging.DEBUG, logger="activerecord.sql"):
                caplog.clear()
                db.execute("CREATE TABLE t (a)")
                db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
                db.execute("SELECT a FROM t WHERE a > ?", (0,)).fetchall()
                lines.append([r.getMessage().split(") ", 1)[1] for r in caplog.records])
            db.close()
    assert lines[0] == lines[1] and len(lines[0]) == 3
