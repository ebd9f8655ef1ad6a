"""Model declaration: table names, Field options, keys, types, validation, class attributes."""
from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import ClassVar, Optional

import pydantic
import pytest
from pydantic import PrivateAttr

from activerecord import ActiveRecord, ConfigurationError, Field, HasMany, UnknownColumnError
from activerecord.query.expressions import Column


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Account(ActiveRecord):
    id: int = Field(primary_key=True)
    email: str = Field(max_length=255, unique=True)
    status: str = Field(default="active", index=True)
    nickname: Optional[str] = None


class OrderItem(ActiveRecord):
    quantity: int = 1


class Person(ActiveRecord):
    __table_name__ = "people"
    full_name: str = Field(column="FullName")


class Membership(ActiveRecord):
    group_id: int = Field(primary_key=True)
    member_id: int = Field(primary_key=True)
    role: str = "member"


class Everything(ActiveRecord):
    i: int = 0
    f: float = 0.0
    s: str = ""
    b: bool = False
    raw: bytes = b""
    when: dt.datetime = dt.datetime(2000, 1, 1)
    day: dt.date = dt.date(2000, 1, 1)
    at: dt.time = dt.time(0)
    price: decimal.Decimal = Field(default=decimal.Decimal("0"), max_digits=10, decimal_places=2)
    amount: decimal.Decimal = decimal.Decimal("0")
    uid: uuid.UUID = uuid.UUID(int=0)
    color: Color = Color.RED
    prio: Priority = Priority.LOW
    data: dict = Field(default_factory=dict)
    items: list = Field(default_factory=list)
    o_i: Optional[int] = None
    o_f: Optional[float] = None
    o_s: Optional[str] = None
    o_b: Optional[bool] = None
    o_raw: Optional[bytes] = None
    o_when: Optional[dt.datetime] = None
    o_day: Optional[dt.date] = None
    o_at: Optional[dt.time] = None
    o_price: Optional[decimal.Decimal] = None
    o_uid: Optional[uuid.UUID] = None
    o_color: Optional[Color] = None
    o_data: Optional[dict] = None
    o_items: Optional[list] = None


class Cached(ActiveRecord):
    name: str = ""
    _cache = {}
    FIND_BY_NAME = None
    LIMIT = 10
    _secret: int = PrivateAttr(default=7)
    _bag: list = PrivateAttr(default_factory=list)

    @classmethod
    def remember(cls, record: "Cached") -> None:
        cls._cache[record.name] = record


class Mapped(ActiveRecord):
    __table_name__ = "mapped"
    id: int = Field(primary_key=True)
    email: str = Field(max_length=255)
    status: str = Field(default="active")
    __mapping__ = {
        "id": "INTEGER PRIMARY KEY",
        "email": "VARCHAR(255) NOT NULL UNIQUE",
        "status": 'VARCHAR(20) DEFAULT "active"',
    }


# -- table names and columns -----------------------------------------------------------
def test_default_table_name_is_snake_case_plural():
    assert Account.__table_name__ == "accounts"
    assert OrderItem.__table_name__ == "order_items"
    assert Account.__ar_meta__().table == "accounts"
    assert OrderItem.__ar_meta__().table == "order_items"


def test_explicit_table_name_and_column_name():
    meta = Person.__ar_meta__()
    assert meta.table == "people"
    assert meta.by_name["full_name"].column == "FullName"


def test_implicit_id_primary_key():
    meta = OrderItem.__ar_meta__()
    assert meta.pk_names == ("id",)
    assert meta.autoincrement
    record = OrderItem(quantity=3)
    assert record.id is None
    assert "id" in OrderItem.model_fields


def test_primary_key_may_be_omitted_on_construction():
    record = Account(email="a@example.com")
    assert record.id is None and record.status == "active"


def test_composite_primary_key_metadata():
    meta = Membership.__ar_meta__()
    assert meta.pk_names == ("group_id", "member_id")
    assert not meta.autoincrement
    assert "id" not in Membership.model_fields


def test_field_options_recorded():
    meta = Account.__ar_meta__()
    email = meta.by_name["email"]
    assert email.unique and email.max_length == 255 and not email.nullable
    assert meta.by_name["status"].index
    assert meta.by_name["nickname"].nullable


def test_field_accepts_pydantic_arguments():
    class Bounded(ActiveRecord):
        age: int = Field(ge=0, le=150, description="years")
        tag: str = Field(default="x", min_length=1, alias="Tag")

    assert Bounded.model_fields["age"].description == "years"
    with pytest.raises(pydantic.ValidationError):
        Bounded(age=-1)
    with pytest.raises(pydantic.ValidationError):
        Bounded(age=200)
    assert Bounded(age=3).age == 3


# -- DDL -------------------------------------------------------------------------------
def test_create_table_ddl_and_indexes(sqlite_backend):
    backend = sqlite_backend
    Account.create_table()
    columns = {row[1]: row for row in backend.execute('PRAGMA table_info("accounts")').fetchall()}
    assert set(columns) == {"id", "email", "status", "nickname"}
    assert columns["email"][2] == "VARCHAR(255)" and columns["email"][3] == 1   # NOT NULL
    assert columns["nickname"][3] == 0
    assert columns["id"][5] == 1                                              # primary key
    indexes = {row[1]: row for row in backend.execute('PRAGMA index_list("accounts")').fetchall()}
    status_index = [n for n in indexes if "status" in n]
    assert status_index, indexes
    unique = [n for n, row in indexes.items() if row[2] == 1]
    assert any(backend.execute(f'PRAGMA index_info("{n}")').fetchall()[0][2] == "email" for n in unique)
    Account.create_table()   # if_not_exists: a second call is harmless
    Account.drop_table()
    assert not backend.execute("SELECT name FROM sqlite_master WHERE name='accounts'").fetchall()
    Account.drop_table()     # if_exists


def test_composite_primary_key_ddl(sqlite_backend):
    backend = sqlite_backend
    Membership.create_table()
    info = backend.execute('PRAGMA table_info("memberships")').fetchall()
    assert {row[1]: row[5] for row in info} == {"group_id": 1, "member_id": 2, "role": 0}


def test_mapping_overrides_ddl(sqlite_backend):
    backend = sqlite_backend
    Mapped.create_table()
    sql = backend.execute("SELECT sql FROM sqlite_master WHERE name='mapped'").fetchone()[0]
    assert '"status" VARCHAR(20) DEFAULT "active"' in sql
    assert '"email" VARCHAR(255) NOT NULL UNIQUE' in sql
    backend.execute("INSERT INTO mapped (email) VALUES ('x@y')")
    assert backend.execute("SELECT status FROM mapped").fetchone() == ("active",)


def test_mapping_naming_unknown_field_is_an_error():
    class BadMapping(ActiveRecord):
        name: str = ""
        __mapping__ = {"nmae": "TEXT"}

    with pytest.raises(ConfigurationError, match="nmae"):
        BadMapping.__ar_meta__()


def test_unsupported_field_type_names_the_field():
    class Weird(ActiveRecord):
        thing: complex = 0j

    with pytest.raises(ConfigurationError, match="Weird.thing"):
        Weird.__ar_meta__()


# -- every type round-trips exactly ----------------------------------------------------
FULL = dict(
    i=-42, f=1.25, s="héllo 'quoted' \"double\" ; DROP TABLE x; --", b=True, raw=b"\x00\xffbin",
    when=dt.datetime(2021, 3, 4, 5, 6, 7, 123456), day=dt.date(1999, 12, 31),
    at=dt.time(23, 59, 58, 999), price=decimal.Decimal("1.10"), amount=decimal.Decimal("-12.345"),
    uid=uuid.UUID("12345678-1234-5678-1234-567812345678"), color=Color.BLUE, prio=Priority.HIGH,
    data={"nested": {"list": [1, 2.5, None, "x"]}, "flag": True}, items=[1, "two", {"three": 3}],
    o_i=0, o_f=0.0, o_s="", o_b=False, o_raw=b"", o_when=dt.datetime(2020, 1, 1, 0, 0, 0, 1),
    o_day=dt.date(2020, 2, 29), o_at=dt.time(0, 0), o_price=decimal.Decimal("0.5"),
    o_uid=uuid.UUID(int=1), o_color=Color.RED, o_data={}, o_items=[],
)


def _assert_same(expected: dict, record: Everything):
    for name, value in expected.items():
        got = getattr(record, name)
        assert got == value, name
        assert type(got) is type(value), (name, type(got), type(value))


def test_every_type_round_trips_with_type_preserved(backend):
    Everything.create_table()
    record = Everything(**FULL)
    assert record.save() == 1
    loaded = Everything.find_by_id(record.id)
    _assert_same(FULL, loaded)
    assert str(loaded.price) == "1.10"   # decimal_places keeps the scale
    assert loaded.when.microsecond == 123456
    assert not loaded.is_dirty


def test_optional_types_round_trip_none(backend):
    Everything.create_table()
    record = Everything()
    record.save()
    loaded = Everything.find_by_id(record.id)
    for name in Everything.model_fields:
        if name.startswith("o_"):
            assert getattr(loaded, name) is None, name
    assert loaded.data == {} and loaded.items == [] and loaded.b is False and type(loaded.b) is bool


def test_values_stored_as_plain_sql_types(sqlite_backend):
    backend = sqlite_backend
    """Stored forms are readable by other tools: ISO text, enum values, JSON text."""
    Everything.create_table()
    Everything(**FULL).save()
    row = backend.execute('SELECT "when", day, color, prio, data, uid, b FROM everythings').fetchone()
    assert row[0] == "2021-03-04 05:06:07.123456"
    assert row[1] == "1999-12-31"
    assert row[2] == "blue" and row[3] == 2
    assert row[4].startswith("{") and '"nested"' in row[4]
    assert row[5] == "12345678-1234-5678-1234-567812345678"
    assert row[6] == 1


def test_json_in_place_mutation_is_detected(backend, counter):
    Everything.create_table()
    record = Everything(data={"a": [1]}, items=[1])
    record.save()
    loaded = Everything.find_by_id(record.id)
    assert not loaded.is_dirty
    loaded.data["a"].append(2)
    assert loaded.is_dirty
    assert loaded.changes == {"data": ({"a": [1]}, {"a": [1, 2]})}
    counter.clear()
    assert loaded.save() == 1
    assert 'SET "data"' in counter.statements[0][0] and '"items"' not in counter.statements[0][0]
    assert Everything.find_by_id(record.id).data == {"a": [1, 2]}
    assert not loaded.is_dirty and loaded.save() == 0
    # mutation on the record that was inserted (not loaded) is detected too
    record.items.append(5)
    assert record.changes == {"items": ([1], [1, 5])}
    record.save()
    assert Everything.find_by_id(record.id).items == [1, 5]


# -- validation ------------------------------------------------------------------------
def test_validation_on_construction():
    with pytest.raises(pydantic.ValidationError) as info:
        Account(email=123)
    assert "email" in str(info.value)
    with pytest.raises(pydantic.ValidationError):
        Account()  # email is required


def test_validation_on_assignment():
    record = Account(email="a@b")
    with pytest.raises(pydantic.ValidationError) as info:
        record.status = ["not", "a", "string"]
    assert "status" in str(info.value)
    assert record.status == "active"
    record.nickname = None
    with pytest.raises(pydantic.ValidationError):
        record.email = None


def test_string_too_long_rejected():
    with pytest.raises(pydantic.ValidationError):
        Account(email="x" * 256)


# -- column references -----------------------------------------------------------------
def test_column_references():
    col = Account.c.email
    assert isinstance(col, Column) and col.name == "email" and col.model is Account
    assert Person.c.full_name.column_info.column == "FullName"
    assert Account.c.email is Account.c.email


def test_unknown_column_reference_lists_fields():
    with pytest.raises(AttributeError) as info:
        Account.c.emial
    message = str(info.value)
    assert "emial" in message and "email" in message and "status" in message


def test_unknown_name_in_query_dict_names_it(backend):
    Account.create_table()
    with pytest.raises(UnknownColumnError, match="colour"):
        Account.query().where({"colour": "x"})


# -- class attributes and private attributes -------------------------------------------
def test_unannotated_class_attributes_are_plain_class_attributes():
    assert "_cache" not in Cached.model_fields and "FIND_BY_NAME" not in Cached.model_fields
    assert "_cache" not in Cached.__private_attributes__
    assert Cached._cache == {} and Cached.FIND_BY_NAME is None and Cached.LIMIT == 10
    a, b = Cached(name="a"), Cached(name="b")
    Cached.remember(a)
    assert b._cache is Cached._cache and b._cache["a"] is a
    Cached.FIND_BY_NAME = "compiled"
    assert a.FIND_BY_NAME == "compiled"
    Cached._cache.clear()
    Cached.FIND_BY_NAME = None


def test_private_attributes_per_instance(backend):
    Cached.create_table()
    a, b = Cached(name="a"), Cached(name="b")
    assert a._secret == 7
    a._secret = 9
    a._bag.append(1)
    assert b._secret == 7 and b._bag == []
    a.save()
    b.save()
    loaded = Cached.query().order_by("id").all()
    assert [r._secret for r in loaded] == [7, 7]
    loaded[0]._bag.append("x")
    assert loaded[1]._bag == []
    loaded[0]._secret = 1
    assert not loaded[0].is_dirty
    assert "_secret" not in loaded[0].model_dump()


def test_model_dump_excludes_c_and_classvars():
    class WithClassVar(ActiveRecord):
        name: str = ""
        registry: ClassVar[dict] = {}

    dumped = WithClassVar(name="n").model_dump()
    assert dumped == {"id": None, "name": "n"}
    assert "c" not in dumped and "registry" not in dumped


def test_json_schema_available():
    schema = Account.model_json_schema()
    assert set(schema["properties"]) == {"id", "email", "status", "nickname"}


def test_subclass_inherits_fields_and_table():
    class Admin(Account):
        level: int = 1

    assert Admin.__ar_meta__().table == "accounts"
    assert Admin.__ar_meta__().field_names == ("id", "email", "status", "nickname", "level")


class Author(ActiveRecord):
    name: str = ""
    books: ClassVar[HasMany["Book"]] = HasMany("Book", foreign_key="author_id")


class Book(ActiveRecord):
    author_id: int
    title: str = ""


def test_model_dump_excludes_relations_even_when_loaded(backend):
    Author.create_table()
    Book.create_table()
    author = Author(name="A")
    author.save()
    Book(author_id=author.id, title="T").save()
    loaded = Author.find_by_id(author.id)
    assert [b.title for b in loaded.books] == ["T"]
    assert loaded.model_dump() == {"id": author.id, "name": "A"}
    assert "books" not in Author.model_fields and "books" not in Author.model_json_schema()["properties"]
    assert not loaded.is_dirty


def test_decimal_without_scale_keeps_fifteen_significant_digits(backend):
    """SQLite stores NUMERIC as REAL: 15 significant digits survive exactly."""
    Everything.create_table()
    value = decimal.Decimal("1234567890.12345")
    record = Everything(amount=value, price=decimal.Decimal("99999999.99"))
    record.save()
    loaded = Everything.find_by_id(record.id)
    assert loaded.amount == value and str(loaded.price) == "99999999.99"
    assert Everything.query().where(Everything.c.amount > decimal.Decimal("1234567890")).count() == 1
    assert Everything.query().where(Everything.c.amount > decimal.Decimal("9e9")).count() == 0
