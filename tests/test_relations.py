"""Relation descriptors: declaring, resolving, lazy loading, caching, strict mode."""
from __future__ import annotations

import sys
import textwrap
from typing import ClassVar, Optional

import pytest

from activerecord import (
    ActiveRecord, BelongsTo, ConfigurationError, Field, HasMany, HasManyThrough, HasOne,
    StrictLoadingError, strict_loading,
)
from activerecord import relations


class Customer(ActiveRecord):
    __table_name__ = "rel_customers"
    id: int = Field(primary_key=True)
    name: str
    purchases: ClassVar[HasMany["Purchase"]] = HasMany(foreign_key="customer_id")
    card: ClassVar[HasOne["Card"]] = HasOne(foreign_key="holder_id")


class Purchase(ActiveRecord):
    __table_name__ = "rel_purchases"
    id: int = Field(primary_key=True)
    customer_id: Optional[int] = Field(default=None, column="CustRef", index=True)
    amount: float = 0.0
    customer = BelongsTo("Customer", foreign_key="customer_id")


class Card(ActiveRecord):
    __table_name__ = "rel_cards"
    id: int = Field(primary_key=True)
    holder_id: int
    number: str
    holder: ClassVar[BelongsTo[Customer]] = BelongsTo(foreign_key="holder_id")


class Employee(ActiveRecord):
    __table_name__ = "rel_employees"
    id: int = Field(primary_key=True)
    name: str
    manager_id: Optional[int] = None
    manager: ClassVar[BelongsTo["Employee"]] = BelongsTo(foreign_key="manager_id")
    reports: ClassVar[HasMany["Employee"]] = HasMany(foreign_key="manager_id")


class Student(ActiveRecord):
    __table_name__ = "rel_students"
    id: int = Field(primary_key=True)
    name: str
    courses: ClassVar[HasManyThrough["Course"]] = HasManyThrough(
        through="Enrollment", source_foreign_key="student_id", target_foreign_key="course_id")


class Course(ActiveRecord):
    __table_name__ = "rel_courses"
    id: int = Field(primary_key=True)
    title: str
    students = HasManyThrough("Student", through="Enrollment",
                              source_foreign_key="course_id", target_foreign_key="student_id")


class Enrollment(ActiveRecord):
    __table_name__ = "rel_enrollments"
    id: int = Field(primary_key=True)
    student_id: int
    course_id: int


MODELS = (Customer, Purchase, Card, Employee, Student, Course, Enrollment)


@pytest.fixture
def db(backend):
    for model in MODELS:
        model.create_table()
    alice, bob, carol = (Customer(name=n) for n in ("alice", "bob", "carol"))
    for c in (alice, bob, carol):
        c.save()
    Purchase.insert_many([{"customer_id": alice.id, "amount": 1.0},
                          {"customer_id": alice.id, "amount": 2.0},
                          {"customer_id": bob.id, "amount": 3.0},
                          {"customer_id": None, "amount": 4.0}])
    Card(holder_id=alice.id, number="4111").save()
    return backend


def test_has_many_is_a_list_and_belongs_to_a_record(db):
    alice = Customer.find_one({"name": "alice"})
    assert [p.amount for p in alice.purchases] == [1.0, 2.0]
    purchase = alice.purchases[0]
    assert isinstance(purchase.customer, Customer)
    assert purchase.customer.name == "alice"
    carol = Customer.find_one({"name": "carol"})
    assert carol.purchases == []
    orphan = Purchase.find_one({"amount": 4.0})
    assert orphan.customer is None


def test_foreign_key_names_a_field_whose_column_differs(db, counter):
    alice = Customer.find_one({"name": "alice"})
    counter.clear()
    assert len(alice.purchases) == 2
    assert "\"CustRef\"" in counter.selects[0]


def test_relation_is_loaded_once_and_kept(db, counter):
    alice = Customer.find_one({"name": "alice"})
    counter.clear()
    first = alice.purchases
    again = alice.purchases
    assert first is again
    assert len(counter.selects) == 1
    assert relations.is_loaded(alice, "purchases")


def test_relations_stay_out_of_model_dump(db):
    alice = Customer.find_one({"name": "alice"})
    alice.purchases
    alice.card
    assert alice.model_dump() == {"id": alice.id, "name": "alice"}
    assert "purchases" not in Customer.model_json_schema()["properties"]


def test_has_one_gives_a_record_or_none(db):
    alice, bob = Customer.query().where({"name": ["alice", "bob"]}).order_by("id").all()
    assert alice.card.number == "4111"
    assert alice.card.holder.name == "alice"
    assert bob.card is None


def test_new_record_has_empty_has_many_without_a_query(db, counter):
    dave = Customer(name="dave")
    counter.clear()
    assert dave.purchases == []
    assert dave.card is None
    assert counter.statements == []


def test_save_forgets_relations_made_stale(db, counter):
    dave = Customer(name="dave")
    assert dave.purchases == []
    dave.save()
    Purchase(customer_id=dave.id, amount=9.0).save()
    assert [p.amount for p in dave.purchases] == [9.0]     # id changed on insert: reloaded

    purchase = Purchase.find_one({"amount": 1.0})
    assert purchase.customer.name == "alice"
    bob = Customer.find_one({"name": "bob"})
    purchase.customer_id = bob.id
    assert purchase.customer.name == "bob"                  # a new key loads the new target
    purchase.save()
    counter.clear()
    assert purchase.customer.name == "bob"
    purchase.amount = 1.5
    purchase.save()                                          # foreign key unchanged: kept
    counter.clear()
    assert purchase.customer.name == "bob"
    assert counter.selects == []


def test_reload_clears_loaded_relations(db):
    alice = Customer.find_one({"name": "alice"})
    assert len(alice.purchases) == 2
    Purchase(customer_id=alice.id, amount=5.0).save()
    assert len(alice.purchases) == 2
    alice.reload()
    assert len(alice.purchases) == 3


def test_self_referential_manager_and_reports(db, counter):
    boss = Employee(name="boss")
    boss.save()
    for name in ("ann", "ben"):
        Employee(name=name, manager_id=boss.id).save()
    Employee(name="cid", manager_id=Employee.find_one({"name": "ann"}).id).save()
    counter.clear()
    staff = Employee.query().order_by("id").all()
    assert [e.manager.name if e.manager else None for e in staff] == [None, "boss", "boss", "ann"]
    assert [[r.name for r in e.reports] for e in staff] == [["ann", "ben"], ["cid"], [], []]
    assert len(counter.selects) == 3


def test_has_many_through(db, counter):
    s1, s2 = Student(name="s1"), Student(name="s2")
    c1, c2, c3 = Course(title="math"), Course(title="art"), Course(title="gym")
    for r in (s1, s2, c1, c2, c3):
        r.save()
    Enrollment.insert_many([{"student_id": s1.id, "course_id": c1.id},
                            {"student_id": s1.id, "course_id": c2.id},
                            {"student_id": s2.id, "course_id": c2.id}])
    counter.clear()
    students = Student.query().order_by("id").all()
    assert [sorted(c.title for c in s.courses) for s in students] == [["art", "math"], ["art"]]
    assert len(counter.selects) == 2
    art_of_s1 = next(c for c in students[0].courses if c.title == "art")
    assert art_of_s1 is students[1].courses[0]              # one instance per target row
    courses = Course.query().order_by("id").all()
    assert [sorted(s.name for s in c.students) for c in courses] == [["s1"], ["s1", "s2"], []]


def test_target_from_classvar_hint_and_string(db):
    assert Customer.purchases.target is Purchase            # from ClassVar[HasMany["Purchase"]]
    assert Card.holder.target is Customer                   # from ClassVar[BelongsTo[Customer]]
    assert Purchase.customer.target is Customer             # from the string argument
    assert Student.courses.target is Course
    assert HasMany["Purchase"] is not None                  # subscriptable generic


def test_unknown_target_is_a_clear_error_at_first_use(backend):
    class Shop(ActiveRecord):
        __table_name__ = "rel_shops"
        id: int = Field(primary_key=True)
        items = HasMany("NoSuchModel", foreign_key="shop_id")

    Shop.create_table()
    Shop(id=1).save()
    shop = Shop.find_by_id(1)
    with pytest.raises(ConfigurationError, match=r"Shop\.items.*NoSuchModel"):
        shop.items


def test_missing_foreign_key_is_a_clear_error(backend):
    class Shelf(ActiveRecord):
        __table_name__ = "rel_shelves"
        id: int = Field(primary_key=True)
        books: ClassVar[HasMany["ShelfBook"]] = HasMany(foreign_key="shelf_ref")

    class ShelfBook(ActiveRecord):
        __table_name__ = "rel_shelf_books"
        id: int = Field(primary_key=True)
        shelf_id: int

    Shelf.create_table()
    Shelf(id=1).save()
    with pytest.raises(ConfigurationError, match=r"Shelf\.books.*ShelfBook has no field 'shelf_ref'"):
        Shelf.find_by_id(1).books
    with pytest.raises(ConfigurationError, match=r"Shelf has no relation 'bookz'.*books"):
        Shelf.query().includes("bookz").all()


def test_default_foreign_keys_follow_the_names(backend):
    class Writer(ActiveRecord):
        __table_name__ = "rel_writers"
        id: int = Field(primary_key=True)
        name: str
        essays: ClassVar[HasMany["Essay"]] = HasMany()

    class Essay(ActiveRecord):
        __table_name__ = "rel_essays"
        id: int = Field(primary_key=True)
        writer_id: int
        writer: ClassVar[BelongsTo["Writer"]] = BelongsTo()

    Writer.create_table()
    Essay.create_table()
    w = Writer(name="w")
    w.save()
    Essay(writer_id=w.id).save()
    assert Essay.find_one().writer.name == "w"
    assert len(Writer.find_one().essays) == 1


def test_subclass_relations_do_not_leak_into_parent(backend):
    class Person(ActiveRecord):
        __table_name__ = "rel_people"
        id: int = Field(primary_key=True)
        notes = HasMany("PersonNote", foreign_key="person_id")

    class Admin(Person):
        __table_name__ = "rel_admins"
        logs = HasMany("PersonNote", foreign_key="person_id")

    class PersonNote(ActiveRecord):
        __table_name__ = "rel_person_notes"
        id: int = Field(primary_key=True)
        person_id: int

    assert set(Person.__ar_relations__) == {"notes"}
    assert set(Admin.__ar_relations__) == {"notes", "logs"}
    for model in (Admin, PersonNote):
        model.create_table()
    Admin(id=7).save()
    PersonNote(person_id=7).save()
    admin = Admin.find_by_id(7)
    assert len(admin.notes) == 1 and len(admin.logs) == 1


def test_forward_references_across_modules(backend, tmp_path, monkeypatch):
    pkg = tmp_path / "fwdpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "writers.py").write_text(textwrap.dedent("""
        from __future__ import annotations
        from typing import ClassVar
        from activerecord import ActiveRecord, Field, HasMany

        class FwdWriter(ActiveRecord):
            __table_name__ = "fwd_writers"
            id: int = Field(primary_key=True)
            name: str
            novels: ClassVar[HasMany['FwdNovel']] = HasMany(foreign_key='writer_id')
            poems = HasMany('fwdpkg.novels.FwdPoem', foreign_key='writer_id')
    """))
    (pkg / "novels.py").write_text(textwrap.dedent("""
        from typing import ClassVar
        from activerecord import ActiveRecord, BelongsTo, Field

        class FwdNovel(ActiveRecord):
            __table_name__ = "fwd_novels"
            id: int = Field(primary_key=True)
            writer_id: int
            writer: ClassVar[BelongsTo['FwdWriter']] = BelongsTo(foreign_key='writer_id')

        class FwdPoem(ActiveRecord):
            __table_name__ = "fwd_poems"
            id: int = Field(primary_key=True)
            writer_id: int
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from fwdpkg.writers import FwdWriter
        from fwdpkg.novels import FwdNovel, FwdPoem
        for model in (FwdWriter, FwdNovel, FwdPoem):
            model.create_table()
        w = FwdWriter(name="w")
        w.save()
        FwdNovel(writer_id=w.id).save()
        FwdPoem(writer_id=w.id).save()
        writer = FwdWriter.find_one()
        assert len(writer.novels) == 1 and len(writer.poems) == 1
        assert writer.novels[0].writer.name == "w"
        assert FwdWriter.novels.target is FwdNovel
    finally:
        for name in ("fwdpkg", "fwdpkg.writers", "fwdpkg.novels"):
            sys.modules.pop(name, None)


def test_ambiguous_model_name_is_reported(backend, tmp_path, monkeypatch):
    for mod in ("amb_one", "amb_two"):
        (tmp_path / f"{mod}.py").write_text(textwrap.dedent(f"""
            from activerecord import ActiveRecord, Field
            class AmbTarget(ActiveRecord):
                __table_name__ = "{mod}_targets"
                id: int = Field(primary_key=True)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import amb_one  # noqa: F401
        import amb_two  # noqa: F401

        class AmbOwner(ActiveRecord):
            __table_name__ = "amb_owners"
            id: int = Field(primary_key=True)
            targets = HasMany("AmbTarget", foreign_key="owner_id")

        with pytest.raises(ConfigurationError, match=r"AmbOwner\.targets.*ambiguous.*amb_one"):
            AmbOwner.targets.target
    finally:
        for name in ("amb_one", "amb_two"):
            sys.modules.pop(name, None)


# -- strict loading -------------------------------------------------------------------
def test_global_strict_loading_as_call_and_context_manager(db):
    alice = Customer.find_one({"name": "alice"})
    with strict_loading():
        with pytest.raises(StrictLoadingError, match=r"Customer\.purchases"):
            alice.purchases
    assert len(alice.purchases) == 2                        # restored after the block
    strict_loading(True)
    try:
        bob = Customer.find_one({"name": "bob"})
        with pytest.raises(StrictLoadingError, match=r"Customer\.card"):
            bob.card
        assert alice.purchases[0].amount == 1.0             # already loaded: allowed
        loaded = Customer.query().where({"name": "bob"}).includes("purchases").one()
        assert [p.amount for p in loaded.purchases] == [3.0]
    finally:
        strict_loading(False)
    assert Customer.find_one({"name": "bob"}).card is None


def test_per_query_strict_loading(db):
    customers = Customer.query().strict_loading().order_by("id").all()
    with pytest.raises(StrictLoadingError, match=r"Customer\.purchases.*includes\('purchases'\)"):
        customers[0].purchases
    customers = Customer.query().strict_loading().includes("purchases").order_by("id").all()
    assert [len(c.purchases) for c in customers] == [2, 1, 0]
    with pytest.raises(StrictLoadingError, match=r"Purchase\.customer"):
        customers[0].purchases[0].customer                   # children inherit strictness
    assert Customer.query().order_by("id").first().purchases  # other queries unaffected


def test_explicit_load_is_allowed_under_strict_loading(db, counter):
    customers = Customer.query().strict_loading().order_by("id").all()
    counter.clear()
    value = relations.load(customers[0], "purchases")
    assert [p.amount for p in value] == [1.0, 2.0]
    assert [len(c.purchases) for c in customers] == [2, 1, 0]   # siblings loaded with it
    assert len(counter.selects) == 1
