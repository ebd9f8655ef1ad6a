"""Behaviour the speed work must keep: shared fields sets and the find_by_id fast path.

Loaded records of one result share one ``LoadedFields`` set (copy-on-write), and
``find_by_id`` on a single-column key runs a statement compiled once per model and
dialect. Both must be invisible: every pydantic and ORM path behaves as with a fresh
set and a freshly built query. The suite runs on both paths (compiled and pure).
"""
from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import pickle
import uuid
from typing import Optional

import pytest

from activerecord import ActiveRecord, Field, identity_map
from activerecord.hydrate import LoadedFields
from activerecord.query.builder import ActiveQuery


class HotItem(ActiveRecord):
    __table_name__ = "hot_items"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    qty: int = 0
    note: Optional[str] = None


class HotKeyed(ActiveRecord):
    __table_name__ = "hot_keyed"
    key: uuid.UUID = Field(primary_key=True)
    label: str


class HotPair(ActiveRecord):
    __table_name__ = "hot_pairs"
    a: int = Field(primary_key=True)
    b: int = Field(primary_key=True)
    label: str


class HotScoped(ActiveRecord):
    """A default scope through an overridden query(): find_by_id must honour it."""
    __table_name__ = "hot_scoped"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    hidden: bool = False

    @classmethod
    def query(cls):
        return super().query().where(hidden=False)


class ScopedQuery(ActiveQuery):
    """A query class whose constructor adds a condition."""
    __slots__ = ()

    def __init__(self, model: type):
        super().__init__(model)
        self._where = (model.c.qty > 0,)


class HotCustom(ActiveRecord):
    __table_name__ = "hot_custom"
    __query_class__ = ScopedQuery
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    qty: int = 0


class Mood(enum.Enum):
    CALM = "calm"
    LOUD = "loud"


class HotPacked(ActiveRecord):
    """Every kind insert_many converts while binding (no JSON: that stays on the pure packer)."""
    __table_name__ = "hot_packed"
    id: Optional[int] = Field(default=None, primary_key=True)
    text: str
    flag: bool
    count: int
    at: dt.datetime
    key: uuid.UUID
    amount: decimal.Decimal
    mood: Mood
    blob: Optional[bytes] = None


MODELS = (HotItem, HotKeyed, HotPair, HotScoped, HotCustom, HotPacked)


@pytest.fixture
def db(backend):
    for model in MODELS:
        model.create_table()
    HotItem.insert_many([{"name": f"item {i}", "qty": i} for i in range(1, 6)])
    yield backend
    for model in MODELS:
        model.drop_table()


# -- shared fields set -------------------------------------------------------------------------
def test_loaded_records_share_one_fields_set(db):
    items = HotItem.query().order_by("id").all()
    assert all(type(r.model_fields_set) is LoadedFields for r in items)
    assert len({id(r.model_fields_set) for r in items}) == 1
    assert items[0].model_fields_set == {"id", "name", "qty", "note"}


def test_assignment_copies_the_set_for_that_record_only(db):
    first, second = HotItem.query().order_by("id").limit(2).all()
    first.note = "changed"
    assert type(first.model_fields_set) is set
    assert first.model_fields_set == {"id", "name", "qty", "note"}
    assert type(second.model_fields_set) is LoadedFields
    assert first.changes == {"note": (None, "changed")}
    assert first.save() == 1
    assert HotItem.find_by_id(first.id).note == "changed"
    assert HotItem.find_by_id(second.id).note is None


def test_partial_records_report_only_loaded_fields(db):
    rows = HotItem.query().select("id", "name").order_by("id").all()
    assert rows[0].model_fields_set == {"id", "name"}
    assert rows[0].model_dump(exclude_unset=True) == {"id": 1, "name": "item 1"}
    rows[0].qty = 7
    assert rows[0].model_fields_set == {"id", "name", "qty"}
    assert rows[1].model_fields_set == {"id", "name"}


def test_pydantic_paths_work_on_shared_sets(db):
    item, other = HotItem.query().order_by("id").limit(2).all()
    assert item.model_dump(exclude_unset=True) == {"id": 1, "name": "item 1", "qty": 1, "note": None}
    assert item.model_dump_json(exclude_unset=True) == '{"id":1,"name":"item 1","qty":1,"note":null}'
    updated = item.model_copy(update={"qty": 99})
    assert updated.qty == 99 and item.qty == 1
    assert updated.model_fields_set == {"id", "name", "qty", "note"}
    assert type(other.model_fields_set) is LoadedFields
    clone = copy.deepcopy(item)
    clone.name = "clone"
    assert item.name == "item 1" and other.model_fields_set == {"id", "name", "qty", "note"}
    restored = pickle.loads(pickle.dumps(item))
    assert type(restored.model_fields_set) is set
    assert restored == item and not restored.is_new_record


def test_editing_a_shared_fields_set_directly_is_refused(db):
    item = HotItem.query().order_by("id").first()
    with pytest.raises(TypeError, match="shared"):
        item.model_fields_set.add("qty")
    with pytest.raises(TypeError, match="shared"):
        item.model_fields_set.discard("id")
    assert repr(item.model_fields_set) == repr(set(item.model_fields_set))


def test_reloaded_and_deleted_records_keep_working(db):
    item = HotItem.query().order_by("id").first()
    item.reload()
    item.qty = 3
    assert item.save() == 1
    gone = HotItem.find_by_id(5)
    gone.delete()
    assert gone.is_new_record
    gone.id = None       # assignment on a deleted record: still copy-on-write
    gone.save()
    assert gone.id is not None and "id" in gone.model_fields_set


# -- find_by_id fast path ----------------------------------------------------------------------
def test_find_by_id_runs_the_same_statement_as_the_general_path(db, counter):
    general = HotItem.query().where(HotItem.c.id == 3).limit(1).to_sql()
    counter.clear()
    assert HotItem.find_by_id(3).name == "item 3"
    assert counter.statements == [(general[0], list(general[1]))]
    assert HotItem.find_by_id(999) is None
    assert HotItem.find_by_id(None) is None
    assert HotItem.find_by_id((2,)).name == "item 2"
    with pytest.raises(ValueError, match="single primary key"):
        HotItem.find_by_id((1, 2))


def test_find_by_id_converts_the_key_and_keeps_composite_keys(db):
    key = uuid.uuid4()
    HotKeyed(key=key, label="k").save()
    found = HotKeyed.find_by_id(key)
    assert found.key == key and found.label == "k"
    HotPair(a=1, b=2, label="pair").save()
    assert HotPair.find_by_id((1, 2)).label == "pair"
    with pytest.raises(ValueError, match="composite primary key"):
        HotPair.find_by_id(1)


def test_find_by_id_honours_overridden_query_and_query_class(db):
    visible = HotScoped(name="visible")
    visible.save()
    hidden = HotScoped(name="hidden", hidden=True)
    hidden.save()
    assert HotScoped.find_by_id(visible.id).name == "visible"
    assert HotScoped.find_by_id(hidden.id) is None
    empty = HotCustom(name="empty", qty=0)
    empty.save()
    full = HotCustom(name="full", qty=2)
    full.save()
    assert HotCustom.find_by_id(empty.id) is None
    assert HotCustom.find_by_id(full.id).name == "full"


def test_find_by_id_uses_the_identity_map(db, counter):
    with identity_map():
        first = HotItem.find_by_id(2)
        counter.clear()
        assert HotItem.find_by_id(2) is first
        assert counter.selects == []
    assert HotItem.find_by_id(2) is not first
    assert HotItem.find_by_id(2) == first


# -- query building ----------------------------------------------------------------------------
def test_clone_copies_every_query_slot_and_resets_the_compiled_cache():
    query = HotItem.query()
    markers = {slot: object() for slot in ActiveQuery.__slots__}
    for slot, marker in markers.items():
        object.__setattr__(query, slot, marker)
    clone = query._clone()
    for slot, marker in markers.items():
        expected = None if slot == "_compiled" else marker
        assert getattr(clone, slot) is expected, slot


def test_default_select_list_is_shared_but_queries_stay_independent(db):
    first = HotItem.query().where(HotItem.c.qty > 3)
    second = HotItem.query().where(HotItem.c.qty < 3)
    assert first.to_sql()[0].split(" WHERE ")[0] == second.to_sql()[0].split(" WHERE ")[0]
    assert [r.qty for r in first.order_by("qty").all()] == [4, 5]
    assert [r.qty for r in second.order_by("qty").all()] == [1, 2]
    assert [r.name for r in HotItem.query().select("name").where(qty=1).all()] == ["item 1"]


# -- insert_many binding -----------------------------------------------------------------------
def test_insert_many_binds_converted_values_and_leaves_the_statement_reusable(db):
    # SQLite keeps the UTC offset in the stored text; PostgreSQL's TIMESTAMP column
    # stores aware values as naive UTC (documented, tested in test_postgres.py).
    zone = dt.timezone(dt.timedelta(hours=2)) if db.dialect.name == "sqlite" else None
    rows = [HotPacked(text=f"tëxt {i} " + "é" * i, flag=i % 2 == 0, count=i - 3,
                      at=dt.datetime(2024, 1, 1 + i, 12, 0, i, i * 1000,
                                     tzinfo=zone if i % 3 == 0 else None),
                      key=uuid.uuid4(), amount=decimal.Decimal(f"{i}.25"),
                      mood=Mood.LOUD if i % 2 else Mood.CALM, blob=bytes([i]) * i or None)
            for i in range(12)]
    assert HotPacked.insert_many(rows) == 12
    assert HotPacked.insert_many(rows[:3]) == 3       # the cached statement, bound again
    loaded = HotPacked.query().order_by("id").all()
    assert len(loaded) == 15
    fields = [n for n in HotPacked.model_fields if n != "id"]
    for row, back in zip(rows + rows[:3], loaded):
        assert {n: getattr(back, n) for n in fields} == {n: getattr(row, n) for n in fields}
    assert HotPacked.query().where(HotPacked.c.text == rows[5].text).count() == 1


def test_rows_of_another_length_hydrate_alike_on_both_paths(db):
    from activerecord import speedups
    from activerecord.hydrate import hydrate_records
    plan = HotItem._record_plan(("id", "name", "qty", "note"), db.dialect)
    rows = [(1, "a", 2, "n"), (2, "b"), (3, "c", 4, "x", "extra"), [4, "d", 5, None]]
    first = hydrate_records(plan, rows, True)
    with speedups.pure_python():
        pure = hydrate_records(plan, rows, True)
    for records in (first, pure):
        assert [r.__dict__ for r in records] == [
            {"id": 1, "name": "a", "qty": 2, "note": "n"}, {"id": 2, "name": "b"},
            {"id": 3, "name": "c", "qty": 4, "note": "x"}, {"id": 4, "name": "d", "qty": 5, "note": None}]
        assert [sorted(r.model_fields_set) for r in records][:2] == [
            ["id", "name", "note", "qty"], ["id", "name"]]
        assert records[0]._ar_persisted.siblings is records
