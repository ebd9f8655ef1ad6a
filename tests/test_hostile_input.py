"""Hostile input: values are always bound, unknown identifiers are refused, nothing runs
that the caller did not mean; oversized inputs work or fail clearly.

Hypothesis feeds arbitrary strings (quotes, NUL, unicode, SQL fragments) as values and
as field names to where, insert_many, update, order_by and select. After every example
the table still exists with its rows unchanged, and the statement log (the ``counter``
fixture) holds exactly the statements the call was meant to run.
"""
from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from activerecord import ActiveRecord, Count, Field
from activerecord.backends.sqlite import SQLiteBackend
from activerecord.errors import DatabaseError, UnknownColumnError
from activerecord.query.expressions import BindParam

FIELDS = ("id", "name", "score", "data")
FRAGMENTS = [
    "'", '"', "`", ";", "--", "/*", "*/", "\x00", "\\", "?", ":name", "%s", "$1", " ", "",
    "'; DROP TABLE hostile_rows; --", '" OR 1=1 --', "name; DELETE FROM hostile_rows",
    "name DESC", "-name", "hostile_rows.name", "HostileRow.name", "Other.name",
    "name\x00", 'name"', "name --", "NAME", "1=1", "\u202e", "💥", "é", "\ufeff",
    "sqlite_master", ") UNION SELECT * FROM sqlite_master --",
]
hostile = st.one_of(
    st.text(max_size=30),
    st.sampled_from(FRAGMENTS),
    st.builds(lambda a, b: a + b, st.sampled_from(FIELDS + tuple(FRAGMENTS)),
              st.sampled_from(FRAGMENTS)),
)
HYPOTHESIS = settings(max_examples=120, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])
SEED = [("alice", 1), ("bob", 2), ("carol", 3)]


class HostileRow(ActiveRecord):
    __table_name__ = "hostile_rows"
    name: str = ""
    score: int = 0
    data: bytes = b""


@pytest.fixture
def db(tmp_path):
    backend = SQLiteBackend(str(tmp_path / "hostile.db"))
    HostileRow.configure(backend)
    HostileRow.create_table()
    HostileRow.insert_many([{"name": n, "score": s} for n, s in SEED])
    yield backend
    backend.close()
    HostileRow.configure(None)


def _snapshot(backend: SQLiteBackend) -> list:
    return backend.execute("SELECT id, name, score, data FROM hostile_rows ORDER BY id").fetchall()


def _tables(backend: SQLiteBackend) -> list:
    return backend.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()


def _resolves(key: str) -> bool:
    """Whether a string legitimately names a field of HostileRow."""
    if key in FIELDS:
        return True
    model, _, field = key.partition(".")
    return model == "HostileRow" and field in FIELDS


# -- values --------------------------------------------------------------------------

@HYPOTHESIS
@given(value=hostile)
def test_hostile_values_are_bound_and_round_trip(db, counter, value):
    before, tables = _snapshot(db), _tables(db)
    benign_select = HostileRow.query().where({"name": "benign"}).to_sql()[0]
    assert HostileRow.query().where({"name": value}).to_sql()[0] == benign_select

    counter.clear()
    row = HostileRow(name=value, data=value.encode("utf-8"))
    row.save()
    [(sql, params)] = counter.statements
    assert sql == 'INSERT INTO "hostile_rows" ("name", "score", "data") VALUES (?, ?, ?)'
    assert list(params) == [value, 0, value.encode("utf-8")]

    def reads(v: str) -> list[str]:
        counter.clear()
        found = HostileRow.find_one({"name": v, "id": row.id})
        HostileRow.query().where(HostileRow.c.name == v).where(id=row.id).count()
        HostileRow.query().where(HostileRow.c.name.like(v)).count()
        assert [p[0] for _, p in counter.statements] == [v, v, v]   # the value is a parameter
        return [s for s, _ in counter.statements], found

    sqls, found = reads(value)
    assert (found.name, found.data) == (value, value.encode("utf-8"))
    assert sqls == reads("benign")[0]      # the SQL text does not depend on the value

    counter.clear()
    assert HostileRow.query().where(id=row.id).update({"name": value + "'"}) == 1
    assert HostileRow.find_by_id(row.id).name == value + "'"
    assert row.delete() == 1
    assert [s.split(" ")[0] for s, _ in counter.statements] == ["UPDATE", "SELECT", "DELETE"]
    assert _snapshot(db) == before and _tables(db) == tables


@HYPOTHESIS
@given(values=st.lists(hostile, max_size=8))
def test_hostile_lists_in_where_are_bound(db, counter, values):
    before = _snapshot(db)
    counter.clear()
    rows = HostileRow.query().where({"name": values}).all()
    assert {r.name for r in rows} == {n for n, _ in SEED} & set(values)
    [(sql, params)] = counter.statements
    assert list(params) == values
    assert sql.count("?") == len(values)
    assert _snapshot(db) == before


# -- identifiers -----------------------------------------------------------------------

def _refused(call, db, counter) -> Exception:
    before, tables = _snapshot(db), _tables(db)
    counter.clear()
    with pytest.raises((UnknownColumnError, ValueError)) as info:
        call()
    assert counter.statements == []           # refused before anything ran
    assert _snapshot(db) == before and _tables(db) == tables
    return info.value


@HYPOTHESIS
@given(key=hostile)
def test_unknown_field_names_are_refused_everywhere(db, counter, key):
    assume(not _resolves(key))
    error = _refused(lambda: HostileRow.query().where({key: 1}).all(), db, counter)
    assert isinstance(error, UnknownColumnError)
    # The message names what was wrong: the key, or the part of 'Model.field' that is.
    assert any(repr(part) in str(error) for part in (key, *key.split(".", 1)))
    error = _refused(lambda: HostileRow.insert_many([{"name": "x", key: 1}]), db, counter)
    assert isinstance(error, UnknownColumnError) and "insert_many() row 0" in str(error)
    _refused(lambda: HostileRow.query().update({key: 1}), db, counter)
    _refused(lambda: HostileRow.query().select("id", key).all(), db, counter)
    _refused(lambda: HostileRow.query().group_by(key).all(), db, counter)
    _refused(lambda: HostileRow.find_all({key: "x"}), db, counter)


ORDER_ITEM = re.compile(r'^"hostile_rows"\."(id|name|score|data)" (ASC|DESC)$')


@HYPOTHESIS
@given(key=hostile, direction=st.one_of(st.sampled_from(["ASC", "desc"]), hostile))
def test_order_by_accepts_only_fields_and_directions(db, counter, key, direction):
    for spec in (key, (key, direction), ("name", direction)):
        before = _snapshot(db)
        counter.clear()
        try:
            rows = HostileRow.query().order_by(spec).all()
        except (UnknownColumnError, ValueError):
            assert counter.statements == []
            continue
        [(sql, _)] = counter.statements
        order = sql.split(" ORDER BY ", 1)[1]
        assert ORDER_ITEM.match(order), order
        assert len(rows) == len(SEED) and _snapshot(db) == before


@HYPOTHESIS
@given(name=hostile)
def test_aliases_and_bind_names_must_be_identifiers(db, counter, name):
    if not name.isidentifier():
        with pytest.raises(ValueError):
            Count().as_(name)
        with pytest.raises(ValueError):
            BindParam(name)
        return
    counter.clear()
    result = HostileRow.query().select(Count().as_(name)).aggregate()
    assert result == [{name: len(SEED)}]
    assert len(counter.statements) == 1


def test_hostile_table_and_column_names_are_quoted(tmp_path):
    class WeirdNames(ActiveRecord):
        __table_name__ = 'we"ird; DROP TABLE x; --'
        label: str = Field(default="", column="la\"bel'; --")
        n: int = Field(default=0, column="select")

    backend = SQLiteBackend(str(tmp_path / "weird.db"))
    WeirdNames.configure(backend)
    WeirdNames.create_table()
    WeirdNames.insert_many([{"label": "a", "n": 1}, {"label": "b", "n": 2}])
    WeirdNames(label="c", n=3).save()
    assert WeirdNames.query().where(WeirdNames.c.n >= 2).order_by("-n").all()[0].label == "c"
    assert WeirdNames.query().where(label="a").update({"n": 10}) == 1
    assert WeirdNames.find_one({"label": "a"}).n == 10
    tables = [r[0] for r in backend.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ['we"ird; DROP TABLE x; --']
    columns = [r[1] for r in backend.execute('PRAGMA table_info("we""ird; DROP TABLE x; --")')]
    assert columns == ["id", "la\"bel'; --", "select"]
    backend.close()


# -- oversized inputs ------------------------------------------------------------------

def test_100k_element_is_in_is_one_bound_parameter(db, counter):
    HostileRow.insert_many([{"name": f"n{i}", "score": i} for i in range(5000)])
    wanted = list(range(0, 100_000))
    counter.clear()
    assert HostileRow.query().where(HostileRow.c.score.is_in(wanted)).count() == 5000 + len(SEED)
    assert HostileRow.query().where(HostileRow.c.score.not_in(wanted)).count() == 0
    assert HostileRow.query().where(HostileRow.c.score.is_in(range(2, 100_002))).count() == 4998 + 2
    assert len(counter.statements) == 3
    assert all(len(params) == 1 for _, params in counter.statements)


def test_100k_hostile_strings_in_is_in(db):
    tricky = ["a\x00b", "\x00", "x'y", 'q"z', "nl\nx", "back\\slash", "💥", "\u202e", "",
              "'; DROP TABLE hostile_rows; --"]
    HostileRow.insert_many([{"name": t} for t in tricky])
    padding = [f"pad-{i}-'\"" for i in range(100_000 - len(tricky))]
    names = {r.name for r in HostileRow.query().where(HostileRow.c.name.is_in(tricky + padding))}
    assert names == set(tricky)
    # Inline (<= 1000) and single-parameter (> 1000) lists agree.
    inline = {r.name for r in HostileRow.query().where(HostileRow.c.name.is_in(tricky))}
    assert inline == set(tricky)
    outside = HostileRow.query().where(HostileRow.c.name.not_in(tricky + padding)).all()
    assert sorted(r.name for r in outside) == sorted(n for n, _ in SEED)


@pytest.mark.parametrize("size", [999, 1000, 1001, 1002])
def test_is_in_agrees_on_both_sides_of_the_inline_limit(db, size):
    base = 10_000
    HostileRow.insert_many([{"name": f"n{i}", "score": base + i} for i in range(size + 10)])
    wanted = range(base, base + size)
    assert HostileRow.query().where(HostileRow.c.score.is_in(wanted)).count() == size
    assert HostileRow.query().where(HostileRow.c.score.not_in(wanted)).count() == 10 + len(SEED)


def test_long_is_in_of_blobs_fails_clearly_before_running(db, counter):
    counter.clear()
    with pytest.raises(ValueError, match="blobs is too long"):
        HostileRow.query().where(HostileRow.c.data.is_in([b"x%d" % i for i in range(2000)])).all()
    assert counter.statements == []


def test_50mb_blob_and_10m_char_string_round_trip(db):
    blob = bytes(range(256)) * (50 * 1024 * 1024 // 256)
    text = "é'\x00\"" * 2_500_000
    row = HostileRow(name=text, data=blob)
    row.save()
    fresh = HostileRow.find_by_id(row.id)
    assert fresh.data == blob and fresh.name == text
    assert HostileRow.query().where(name=text).count() == 1
    row.delete()
    assert _snapshot(db) == [(i + 1, n, s, b"") for i, (n, s) in enumerate(SEED)]


class LimitedBackend(SQLiteBackend):
    """A backend whose connections refuse values over 1 MB (SQLITE_LIMIT_LENGTH)."""

    def connect(self) -> sqlite3.Connection:
        conn = super().connect()
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        return conn


def test_blob_over_the_length_limit_fails_clearly_and_writes_nothing(tmp_path):
    backend = LimitedBackend(str(tmp_path / "limited.db"))
    HostileRow.configure(backend)
    HostileRow.create_table()
    with pytest.raises(DatabaseError, match="too big") as info:
        HostileRow(name="big", data=b"x" * 2_000_000).save()
    assert "INSERT INTO" in str(info.value)
    with pytest.raises(DatabaseError, match="too big"):
        HostileRow.insert_many([{"name": "ok"}, {"name": "big", "data": b"x" * 2_000_000}])
    assert HostileRow.query().count() == 0
    assert backend.in_transaction is False
    HostileRow(name="small", data=b"x" * 1000).save()
    assert HostileRow.query().count() == 1
    backend.close()
    HostileRow.configure(None)
