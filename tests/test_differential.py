"""Both paths agree: the same writes and reads, value by value and type by type.

Each example runs on two databases side by side: one through the compiled path (C-level
connection, compiled hydration and packing) and one through the pure path (stdlib
``sqlite3`` backend opened and used inside ``speedups.pure_python()``). Without the
extension both sides are pure and the test still checks the pure path is deterministic.
"""
from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from typing import ClassVar, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activerecord import ActiveRecord, DatabaseError, Field, SQLiteBackend, speedups
from activerecord.relations import BelongsTo, HasMany


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class DiffRow(ActiveRecord):
    __table_name__ = "diff_rows"
    id: Optional[int] = Field(default=None, primary_key=True)
    i: Optional[int] = None
    f: Optional[float] = None
    s: Optional[str] = None
    b: Optional[bool] = None
    raw: Optional[bytes] = None
    at: Optional[dt.datetime] = None
    day: Optional[dt.date] = None
    clock: Optional[dt.time] = None
    amount: Optional[decimal.Decimal] = None
    key: Optional[uuid.UUID] = None
    color: Optional[Color] = None
    level: Optional[Level] = None
    doc: Optional[dict] = None
    notes: ClassVar[HasMany["DiffNote"]] = HasMany(foreign_key="row_id")


class DiffNote(ActiveRecord):
    __table_name__ = "diff_notes"
    id: Optional[int] = Field(default=None, primary_key=True)
    row_id: int
    text: str
    row: ClassVar[BelongsTo[DiffRow]] = BelongsTo(foreign_key="row_id")


FIELDS = [n for n in DiffRow.model_fields if n != "id"]

values = st.fixed_dictionaries({}, optional={
    "i": st.integers(-2 ** 63, 2 ** 63 - 1),
    "f": st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 1e308, 5e-324]),
    "s": st.text(max_size=20),
    "b": st.booleans(),
    "raw": st.binary(max_size=20),
    "at": st.datetimes(),
    "day": st.dates(),
    "clock": st.times(),
    "amount": st.decimals(allow_nan=False, allow_infinity=False, places=2,
                          min_value=-10 ** 9, max_value=10 ** 9),
    "key": st.uuids(),
    "color": st.sampled_from(list(Color)),
    "level": st.sampled_from(list(Level)),
    "doc": st.dictionaries(st.text(max_size=4), st.integers(-5, 5) | st.text(max_size=4) | st.none(),
                           max_size=3),
})


def fingerprint(obj):
    """Everything observable about a value or record, with exact types."""
    if isinstance(obj, list):
        return [fingerprint(o) for o in obj]
    if isinstance(obj, ActiveRecord):
        state = getattr(obj, "_ar_persisted", None)
        return (type(obj).__name__,
                [(k, fingerprint(v)) for k, v in obj.__dict__.items()],
                sorted(obj.__pydantic_fields_set__), obj.__pydantic_extra__,
                obj.__pydantic_private__, state is None,
                None if state is None or state.siblings is None else len(state.siblings),
                getattr(obj, "_ar_json", None),
                sorted((getattr(obj, "_ar_relations", None) or {}).keys()))
    if isinstance(obj, float) and math.isnan(obj):
        return ("float", "nan")
    if isinstance(obj, dict):
        return ("dict", [(k, fingerprint(v)) for k, v in obj.items()])
    return (type(obj).__name__, repr(obj))


class Sides:
    """The compiled side and the pure side, each with its own database file."""

    def __init__(self, tmp_path):
        self.backends = {}
        for pure in (False, True):
            with speedups.pure_python(pure):
                db = SQLiteBackend(str(tmp_path / f"diff_{int(pure)}.db"))
                db.execute("SELECT 1")
            self.backends[pure] = db
            self.run(pure, lambda: (DiffRow.create_table(), DiffNote.create_table()))

    def run(self, pure, fn):
        for model in (DiffRow, DiffNote):
            model.configure(self.backends[pure])
        with speedups.pure_python(pure):
            try:
                return ("ok", fingerprint(fn()))
            except DatabaseError as exc:
                return ("error", type(exc).__name__, str(exc))

    def both(self, fn):
        compiled, pure = self.run(False, fn), self.run(True, fn)
        assert compiled == pure
        return compiled

    def reset(self):
        for pure in (False, True):
            self.backends[pure].execute("DELETE FROM diff_notes")
            self.backends[pure].execute("DELETE FROM diff_rows")

    def close(self):
        for model in (DiffRow, DiffNote):
            model.configure(None)
        for db in self.backends.values():
            db.close()


@pytest.fixture
def sides(tmp_path):
    s = Sides(tmp_path)
    yield s
    s.close()


def test_both_sides_really_differ_in_driver(sides):
    if speedups.loaded_module("sqlite_conn") is None or not speedups.speedups_enabled():
        pytest.skip("the compiled extension is not in use")
    assert type(sides.backends[False]._connection()).__module__.startswith("activerecord._speedups")
    assert type(sides.backends[True]._connection()).__module__ == "sqlite3"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(values, min_size=1, max_size=6), subset=st.sets(st.sampled_from(FIELDS), min_size=1))
def test_every_read_and_write_agrees(sides, rows, subset):
    sides.reset()
    # writes: save() one by one, then insert_many of instances and of dicts
    sides.both(lambda: [DiffRow(**r).save() for r in rows])
    sides.both(lambda: DiffRow.insert_many([DiffRow(**r) for r in rows]))
    sides.both(lambda: DiffRow.insert_many([dict(r) for r in rows]))
    sides.both(lambda: DiffNote.insert_many([{"row_id": 1 + n % 3, "text": f"n{n}"} for n in range(7)]))
    # reads: every terminal, partial records, streaming, eager and lazy relations
    sides.both(lambda: DiffRow.query().order_by("id").all())
    sides.both(lambda: DiffRow.find_by_id(1))
    sides.both(lambda: DiffRow.query().order_by("-id").first())
    sides.both(lambda: DiffRow.query().select("id", *sorted(subset)).order_by("id").all())
    sides.both(lambda: list(DiffRow.query().order_by("id")))
    sides.both(lambda: DiffRow.query().count())
    sides.both(lambda: DiffRow.query().select(*sorted(subset)).order_by("id").limit(1).scalar())
    sides.both(lambda: DiffRow.query().order_by("id").includes("notes").all())
    sides.both(lambda: [n.row for n in DiffNote.query().order_by("id").all()])
    sides.both(lambda: DiffRow.backend().execute(
        "SELECT * FROM diff_rows ORDER BY id").fetchall())
    # writes through loaded records and bulk update/delete
    first = rows[0]
    sides.both(lambda: DiffRow.query().where(DiffRow.c.id == 1).update({"s": first.get("s", "")}))

    def edit_and_reload():
        row = DiffRow.find_by_id(2) or DiffRow.find_by_id(1)
        row.i = 7
        row.save()
        return row.reload()
    sides.both(edit_and_reload)
    sides.both(lambda: DiffRow.query().where(DiffRow.c.id > len(rows)).delete())
    sides.both(lambda: DiffRow.query().order_by("id").all())


@pytest.mark.parametrize("bad", [{"i": 2 ** 63}, {"i": -(2 ** 63) - 1}])
def test_unstorable_values_fail_the_same_way(sides, bad):
    sides.reset()
    outcome = sides.both(lambda: DiffRow(**bad).save())
    assert outcome[0] == "error"
    outcome = sides.both(lambda: DiffRow.insert_many([{"i": 1}, bad]))
    assert outcome[0] == "error"
    assert sides.both(lambda: DiffRow.query().count()) == ("ok", ("int", "0"))


def test_constraint_violations_agree(sides):
    sides.reset()
    sides.both(lambda: DiffRow(id=1, s="a").save())
    outcome = sides.both(lambda: DiffRow.insert_many([DiffRow(id=2), DiffRow(id=1)]))
    assert outcome[0] == "error" and outcome[1] == "IntegrityError"
    assert sides.both(lambda: DiffRow.query().count()) == ("ok", ("int", "1"))
