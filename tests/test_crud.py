"""save/delete/reload, finders, dirty tracking, hooks, composite keys, hostile values."""
from __future__ import annotations

from typing import Optional

import pytest

from activerecord import ActiveRecord, DatabaseError, Field, IntegrityError, RecordNotFound


class Member(ActiveRecord):
    id: int = Field(primary_key=True)
    email: str = Field(unique=True)
    name: str = ""
    age: Optional[int] = None
    status: str = "active"


class Membership(ActiveRecord):
    group_id: int = Field(primary_key=True)
    member_id: int = Field(primary_key=True)
    role: str = "member"


class Hooked(ActiveRecord):
    name: str = ""
    events: "list[str]" = Field(default_factory=list)

    log = []

    def before_save(self) -> None:
        Hooked.log.append(("before_save", self.is_new_record, self.name))
        if self.name == "forbidden":
            raise ValueError("name is forbidden")

    def after_save(self) -> None:
        Hooked.log.append(("after_save", self.is_new_record, self.id))

    def before_delete(self) -> None:
        Hooked.log.append(("before_delete", self.id))
        if self.name == "keep":
            raise ValueError("cannot delete")

    def after_delete(self) -> None:
        Hooked.log.append(("after_delete", self.is_new_record))


class Overriding(ActiveRecord):
    name: str = ""
    _cache = {}

    def save(self) -> int:
        result = super().save()
        self._cache[self.id] = self
        return result

    def delete(self) -> int:
        result = super().delete()
        self._cache.pop(self.id, None)
        return result


@pytest.fixture
def tables(backend):
    for model in (Member, Membership, Hooked, Overriding):
        model.create_table()
    Hooked.log.clear()
    return backend


# -- insert / update ---------------------------------------------------------------------
def test_insert_sets_primary_key_and_returns_one(tables):
    m = Member(email="a@x", name="Ann")
    assert m.is_new_record and m.is_dirty
    assert m.save() == 1
    assert isinstance(m.id, int) and m.id >= 1
    assert not m.is_new_record and not m.is_dirty and m.changes == {}
    other = Member(email="b@x")
    other.save()
    assert other.id == m.id + 1


def test_insert_with_explicit_primary_key(tables):
    m = Member(id=40, email="a@x")
    assert m.save() == 1
    assert m.id == 40 and Member.find_by_id(40).email == "a@x"


def test_update_writes_only_changed_columns(tables, counter):
    m = Member(email="a@x", name="Ann", age=30)
    m.save()
    m.name = "Anna"
    assert m.is_dirty
    assert m.changes == {"name": ("Ann", "Anna")}
    counter.clear()
    assert m.save() == 1
    assert len(counter.statements) == 1
    sql, params = counter.statements[0]
    assert sql.startswith("UPDATE")
    set_clause = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert set_clause == f'"name" = {tables.dialect.placeholder}'
    assert list(params) == ["Anna", m.id]
    assert Member.find_by_id(m.id).name == "Anna"


def test_save_unchanged_runs_nothing_and_returns_zero(tables, counter):
    m = Member(email="a@x")
    m.save()
    counter.clear()
    assert m.save() == 0
    m.name = m.name          # assigning the same value is not a change
    assert m.save() == 0
    assert counter.statements == []


def test_change_and_change_back_is_not_dirty(tables):
    m = Member(email="a@x", name="one")
    m.save()
    m.name = "two"
    m.name = "one"
    assert not m.is_dirty and m.save() == 0


def test_update_of_row_deleted_elsewhere_returns_zero(tables):
    m = Member(email="a@x")
    m.save()
    Member.query().delete()
    m.name = "ghost"
    assert m.save() == 0


def test_changing_the_primary_key_updates_the_old_row(tables):
    m = Member(email="a@x")
    m.save()
    old = m.id
    m.id = 99
    assert m.changes == {"id": (old, 99)}
    assert m.save() == 1
    assert Member.find_by_id(old) is None and Member.find_by_id(99).email == "a@x"


def test_unique_violation_is_integrity_error_with_orig(tables):
    Member(email="dup@x").save()
    with pytest.raises(IntegrityError) as info:
        Member(email="dup@x").save()
    assert info.value.orig is not None
    assert "unique" in str(info.value).lower()
    assert isinstance(info.value, DatabaseError)


# -- finders -----------------------------------------------------------------------------
def test_finders(tables):
    a = Member(email="a@x", name="A", age=20)
    b = Member(email="b@x", name="B", age=30)
    a.save()
    b.save()
    found = Member.find_by_id(a.id)
    assert found == a and found is not a and not found.is_new_record
    assert Member.find_by_id(12345) is None
    assert Member.find_by_id(None) is None
    assert Member.find_one(Member.c.age > 25).email == "b@x"
    assert Member.find_one({"name": "A"}).id == a.id
    assert Member.find_one({"name": "nobody"}) is None
    assert [m.email for m in Member.find_all()] == ["a@x", "b@x"]
    assert [m.email for m in Member.find_all(Member.c.age < 25)] == ["a@x"]
    assert [m.email for m in Member.find_all({"name": ["A", "B"]})] == ["a@x", "b@x"]
    assert Member.find_all({"name": "zzz"}) == []


def test_find_with_bad_condition_type_is_clear(tables):
    with pytest.raises(TypeError, match="where"):
        Member.find_one(42)


# -- delete / reload ---------------------------------------------------------------------
def test_delete(tables):
    m = Member(email="a@x")
    m.save()
    assert m.delete() == 1
    assert m.is_new_record
    assert Member.find_by_id(m.id) is None
    with pytest.raises(DatabaseError, match="never saved"):
        Member(email="b@x").delete()


def test_deleted_record_can_be_saved_again(tables):
    m = Member(email="a@x")
    m.save()
    m.delete()
    assert m.save() == 1
    assert Member.find_by_id(m.id).email == "a@x"


def test_reload_discards_changes_and_reads_database(tables):
    m = Member(email="a@x", name="A")
    m.save()
    Member.query().where(Member.c.id == m.id).update({"name": "from elsewhere"})
    m.age = 5
    assert m.reload() is m
    assert m.name == "from elsewhere" and m.age is None and not m.is_dirty
    Member.query().delete()
    with pytest.raises(RecordNotFound):
        m.reload()
    with pytest.raises(RecordNotFound):
        Member(email="new@x").reload()


# -- dirty tracking ----------------------------------------------------------------------
def test_changes_report_old_and_new(tables):
    m = Member(email="a@x", name="A", age=1)
    assert m.changes == {"email": (None, "a@x"), "name": (None, "A"), "age": (None, 1),
                         "status": (None, "active")}
    m.save()
    m.age = 2
    m.status = "inactive"
    assert m.changes == {"age": (1, 2), "status": ("active", "inactive")}
    m.age = None
    assert m.changes["age"] == (1, None)
    m.save()
    assert Member.find_by_id(m.id).age is None


def test_failed_assignment_does_not_mark_dirty(tables):
    m = Member(email="a@x")
    m.save()
    with pytest.raises(Exception):
        m.age = "not a number"
    assert not m.is_dirty


# -- hooks -------------------------------------------------------------------------------
def test_save_and_delete_hooks_order(tables):
    h = Hooked(name="x")
    h.save()
    h.name = "y"
    h.save()
    h.delete()
    assert Hooked.log == [
        ("before_save", True, "x"), ("after_save", False, h.id),
        ("before_save", False, "y"), ("after_save", False, h.id),
        ("before_delete", h.id), ("after_delete", True),
    ]


def test_before_hooks_abort(tables, counter):
    h = Hooked(name="forbidden")
    counter.clear()
    with pytest.raises(ValueError, match="forbidden"):
        h.save()
    assert counter.statements == [] and h.is_new_record
    k = Hooked(name="keep")
    k.save()
    with pytest.raises(ValueError):
        k.delete()
    assert Hooked.find_by_id(k.id) is not None


def test_subclass_overriding_save_and_delete(tables):
    o = Overriding(name="n")
    assert o.save() == 1
    assert Overriding._cache[o.id] is o
    o.name = "m"
    assert o.save() == 1
    assert o.delete() == 1
    assert o.id not in Overriding._cache


# -- composite primary keys --------------------------------------------------------------
def test_composite_key_crud(tables, counter):
    m = Membership(group_id=1, member_id=2)
    assert m.save() == 1
    Membership(group_id=1, member_id=3, role="admin").save()
    found = Membership.find_by_id((1, 2))
    assert found.role == "member"
    assert Membership.find_by_id((2, 1)) is None
    found.role = "owner"
    counter.clear()
    assert found.save() == 1
    sql, params = counter.statements[0]
    mark = tables.dialect.placeholder
    assert f'"group_id" = {mark}' in sql and f'"member_id" = {mark}' in sql
    assert list(params) == ["owner", 1, 2]
    assert Membership.find_by_id((1, 2)).role == "owner"
    assert Membership.find_by_id((1, 3)).role == "admin"
    found.role = "x"
    found.reload()
    assert found.role == "owner"
    assert found.delete() == 1
    assert Membership.find_by_id((1, 2)) is None and Membership.find_by_id((1, 3)) is not None


def test_composite_key_needs_a_tuple(tables):
    with pytest.raises(ValueError, match="group_id, member_id"):
        Membership.find_by_id(1)
    with pytest.raises(ValueError, match="tuple of 2"):
        Membership.find_by_id((1, 2, 3))


# -- hostile and unusual values ----------------------------------------------------------
HOSTILE = [
    "", " ", "O'Brien", 'say "hi"', "Robert'); DROP TABLE members;--", "1 OR 1=1",
    "%_wild%", "back\\slash", "naïve café 日本語 🎉", "line\nbreak\ttab", "NULL", "?", ":name",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip(tables, value):
    m = Member(email=f"{value}@x", name=value)
    m.save()
    assert Member.find_by_id(m.id).name == value
    assert Member.find_one({"name": value}).id == m.id
    assert Member.query().where(Member.c.name == value).count() == 1
    m.name = value + "!"
    m.save()
    assert Member.find_by_id(m.id).name == value + "!"
    assert tables.execute("SELECT count(*) FROM members").fetchone() == (1,)


def test_null_round_trip_and_null_comparison(tables):
    Member(email="a@x", age=None).save()
    Member(email="b@x", age=3).save()
    assert Member.find_one({"age": None}).email == "a@x"
    assert Member.query().where(Member.c.age == None).count() == 1   # noqa: E711
    assert Member.query().where(Member.c.age != None).count() == 1   # noqa: E711


def test_copy_and_pickle_keep_persisted_state(tables):
    import copy
    import pickle
    m = Member(email="a@x", name="A")
    m.save()
    m.name = "B"
    for clone in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert not clone.is_new_record
        assert clone.changes == {"name": ("A", "B")}
        assert clone.save() == 1
    assert Member.find_by_id(m.id).name == "B"
    fresh = pickle.loads(pickle.dumps(Member(email="n@x")))
    assert fresh.is_new_record
