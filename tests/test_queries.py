"""ActiveQuery: generative builders, expressions, terminals, partial records, joins, streaming."""
from __future__ import annotations

import datetime as dt
import decimal
from typing import Optional

import pytest

from activerecord import (ActiveQuery, ActiveRecord, Avg, Count, Field, Max, Min,
                          MissingAttributeError, MultipleRecordsFound, RecordNotFound, Sum)
from activerecord.hydrate import Row


class Customer(ActiveRecord):
    __table_name__ = "customers"
    id: int = Field(primary_key=True)
    name: str
    city: Optional[str] = None
    age: int = 0
    joined: dt.date = dt.date(2020, 1, 1)


class Purchase(ActiveRecord):
    __table_name__ = "purchases"
    id: int = Field(primary_key=True)
    customer_id: int = Field(index=True)
    total: decimal.Decimal = Field(default=decimal.Decimal("0"), decimal_places=2)
    note: str = ""


PEOPLE = [
    ("Ann", "Oslo", 31, dt.date(2020, 1, 5)),
    ("Bob", "Rome", 25, dt.date(2021, 6, 1)),
    ("Cid", None, 40, dt.date(2019, 3, 3)),
    ("Dee", "Oslo", 25, dt.date(2022, 2, 2)),
    ("Eve", "Lima", 19, dt.date(2023, 7, 7)),
]


@pytest.fixture
def data(backend):
    Customer.create_table()
    Purchase.create_table()
    Customer.insert_many([dict(name=n, city=c, age=a, joined=j) for n, c, a, j in PEOPLE])
    Purchase.insert_many([
        {"customer_id": 1, "total": decimal.Decimal("10.50"), "note": "first"},
        {"customer_id": 1, "total": decimal.Decimal("5.25")},
        {"customer_id": 2, "total": decimal.Decimal("7.00")},
        {"customer_id": 4, "total": decimal.Decimal("1.10")},
    ])
    return backend


def names(records):
    return [r.name for r in records]


# -- generative builders -------------------------------------------------------------------
def test_every_builder_returns_a_new_query(data):
    base = Customer.query()
    sql0 = base.to_sql()
    derived = [
        base.select("id"), base.where(Customer.c.age > 1), base.where({"city": "Oslo"}),
        base.order_by("name"), base.limit(1), base.offset(1), base.distinct(),
        base.join(Purchase, Customer.c.id == Purchase.c.customer_id),
        base.left_join(Purchase, Customer.c.id == Purchase.c.customer_id),
        base.group_by("city"), base.having(Count() > 1), base.union(Customer.query()),
        base.intersect(Customer.query()), base.except_(Customer.query()),
    ]
    for q in derived:
        assert isinstance(q, ActiveQuery) and q is not base
        assert q.to_sql() != sql0
    assert base.to_sql() == sql0
    assert len(base.all()) == 5


def test_query_can_be_kept_and_reused(data):
    adults = Customer.query().where(Customer.c.age >= 25)
    oslo = adults.where({"city": "Oslo"})
    assert names(adults.order_by("name").all()) == ["Ann", "Bob", "Cid", "Dee"]
    assert names(oslo.order_by("name").all()) == ["Ann", "Dee"]
    assert adults.count() == 4 and oslo.count() == 2
    assert names(adults.order_by("name").all()) == ["Ann", "Bob", "Cid", "Dee"]


# -- select ----------------------------------------------------------------------------------
def test_select_names_and_column_refs(data, counter):
    counter.clear()
    rows = Customer.query().select("id", Customer.c.name).order_by("id").all()
    assert counter.selects[0].startswith('SELECT "customers"."id", "customers"."name" FROM')
    assert [(r.id, r.name) for r in rows] == [(1, "Ann"), (2, "Bob"), (3, "Cid"), (4, "Dee"), (5, "Eve")]


def test_select_aggregates_with_alias(data):
    [row] = Customer.query().select(Count().as_("n"), Max(Customer.c.age).as_("oldest"),
                                    Min(Customer.c.joined).as_("first"),
                                    Avg(Customer.c.age).as_("mean")).aggregate()
    assert row == {"n": 5, "oldest": 40, "first": dt.date(2019, 3, 3), "mean": 28.0}
    assert type(row["first"]) is dt.date


def test_aggregate_default_labels(data):
    [row] = Customer.query().select(Count(), Sum(Customer.c.age)).aggregate()
    assert row == {"count": 5, "sum_age": 140}


def test_sum_of_decimal_stays_decimal(data):
    total = Purchase.query().select(Sum(Purchase.c.total)).scalar()
    assert total == decimal.Decimal("23.85") and type(total) is decimal.Decimal


def test_scalar(data):
    assert Customer.query().select(Max(Customer.c.age)).scalar() == 40
    assert Customer.query().select("name").where({"id": 2}).scalar() == "Bob"
    assert Customer.query().select("name").where({"id": 99}).scalar() is None
    assert Customer.query().select(Count()).where(Customer.c.age > 100).scalar() == 0


# -- where -----------------------------------------------------------------------------------
def test_where_forms_and_repeated_calls_and(data):
    assert names(Customer.query().where(Customer.c.city == "Oslo").order_by("id").all()) == ["Ann", "Dee"]
    assert names(Customer.query().where({"city": "Oslo", "age": 25}).all()) == ["Dee"]
    assert names(Customer.query().where(Customer.c.city == "Oslo").where(Customer.c.age > 30).all()) == ["Ann"]
    assert names(Customer.query().where(city="Rome").all()) == ["Bob"]
    assert Customer.query().where({}).count() == 5
    assert names(Customer.query().where({"age": [19, 40]}).order_by("id").all()) == ["Cid", "Eve"]


def test_comparison_operators(data):
    q = Customer.query().order_by("id")
    c = Customer.c
    assert names(q.where(c.age == 25).all()) == ["Bob", "Dee"]
    assert names(q.where(c.age != 25).all()) == ["Ann", "Cid", "Eve"]
    assert names(q.where(c.age < 25).all()) == ["Eve"]
    assert names(q.where(c.age <= 25).all()) == ["Bob", "Dee", "Eve"]
    assert names(q.where(c.age > 31).all()) == ["Cid"]
    assert names(q.where(c.age >= 31).all()) == ["Ann", "Cid"]
    assert names(q.where(c.joined > dt.date(2021, 1, 1)).all()) == ["Bob", "Dee", "Eve"]


def test_boolean_combinators(data):
    q = Customer.query().order_by("id")
    c = Customer.c
    assert names(q.where((c.city == "Oslo") & (c.age > 30)).all()) == ["Ann"]
    assert names(q.where((c.city == "Rome") | (c.age > 35)).all()) == ["Bob", "Cid"]
    assert names(q.where(~(c.city == "Oslo")).all()) == ["Bob", "Eve"]   # NULL city is unknown
    assert names(q.where(((c.age == 25) | (c.age == 19)) & ~(c.city == "Lima")).all()) == ["Bob", "Dee"]


def test_is_in_and_not_in(data):
    q = Customer.query().order_by("id")
    c = Customer.c
    assert names(q.where(c.name.is_in(["Ann", "Eve", "Zed"])).all()) == ["Ann", "Eve"]
    assert names(q.where(c.name.not_in(["Ann", "Eve"])).all()) == ["Bob", "Cid", "Dee"]
    assert names(q.where(c.id.is_in(range(2, 4))).all()) == ["Bob", "Cid"]
    assert names(q.where(c.id.is_in((i for i in [5]))).all()) == ["Eve"]


def test_empty_in_lists(data):
    c = Customer.c
    assert Customer.query().where(c.id.is_in([])).all() == []
    assert Customer.query().where(c.id.not_in([])).count() == 5
    assert Customer.query().where(c.id.is_in([]) | (c.name == "Ann")).count() == 1
    assert Customer.query().where(~c.id.is_in([])).count() == 5
    assert Customer.query().where({"id": []}).count() == 0


def test_long_in_list(data):
    ids = list(range(1, 3000))
    assert Customer.query().where(Customer.c.id.is_in(ids)).count() == 5
    assert Customer.query().where(Customer.c.id.not_in(ids[2:])).count() == 2


def test_in_subquery(data):
    buyers = Purchase.query().select("customer_id")
    assert names(Customer.query().where(Customer.c.id.is_in(buyers)).order_by("id").all()) == ["Ann", "Bob", "Dee"]
    assert names(Customer.query().where(Customer.c.id.not_in(buyers)).order_by("id").all()) == ["Cid", "Eve"]


def test_like_between_null(data):
    q = Customer.query().order_by("id")
    c = Customer.c
    assert names(q.where(c.name.like("%e%")).all()) == ["Dee", "Eve"]
    assert names(q.where(c.name.like("A__")).all()) == ["Ann"]
    assert names(q.where(c.age.between(25, 31)).all()) == ["Ann", "Bob", "Dee"]
    assert names(q.where(c.joined.between(dt.date(2020, 1, 1), dt.date(2021, 12, 31))).all()) == ["Ann", "Bob"]
    assert names(q.where(c.city.is_null()).all()) == ["Cid"]
    assert names(q.where(c.city.is_not_null()).all()) == ["Ann", "Bob", "Dee", "Eve"]


def test_like_pattern_is_a_bound_value(data):
    sql, params = Customer.query().where(Customer.c.name.like("%'; DROP TABLE customers; --")).to_sql()
    assert "DROP" not in sql and params == ("%'; DROP TABLE customers; --",)
    assert Customer.query().where(Customer.c.name.like("%'; DROP TABLE customers; --")).all() == []
    assert Customer.query().count() == 5


def test_values_never_spliced_into_sql(data):
    hostile = "x' OR '1'='1"
    sql, params = Customer.query().where({"name": hostile}).to_sql()
    assert hostile not in sql and hostile in params
    assert Customer.query().where({"name": hostile}).all() == []


# -- order / limit / offset / distinct --------------------------------------------------------
def test_order_by_forms(data):
    c = Customer.c
    assert names(Customer.query().order_by(c.age, c.name).all()) == ["Eve", "Bob", "Dee", "Ann", "Cid"]
    assert names(Customer.query().order_by((c.age, "DESC"), "name").all()) == ["Cid", "Ann", "Bob", "Dee", "Eve"]
    assert names(Customer.query().order_by(c.age.desc(), c.name.desc()).all()) == ["Cid", "Ann", "Dee", "Bob", "Eve"]
    assert names(Customer.query().order_by(("name", "desc")).all()) == ["Eve", "Dee", "Cid", "Bob", "Ann"]
    assert names(Customer.query().order_by("-age", "name").limit(2).all()) == ["Cid", "Ann"]


def test_limit_offset(data):
    q = Customer.query().order_by("id")
    assert names(q.limit(2).all()) == ["Ann", "Bob"]
    assert names(q.limit(2).offset(2).all()) == ["Cid", "Dee"]
    assert names(q.offset(3).all()) == ["Dee", "Eve"]
    assert q.limit(0).all() == []
    assert q.limit(2).count() == 2 and q.offset(4).count() == 1


def test_distinct(data):
    cities = Customer.query().select("city").distinct().where(Customer.c.city.is_not_null())
    assert sorted(r.city for r in cities.all()) == ["Lima", "Oslo", "Rome"]
    assert cities.count() == 3
    assert Customer.query().select("age").distinct().count() == 4


# -- group by / having ------------------------------------------------------------------------
def test_group_by_having(data):
    rows = (Customer.query().select(Customer.c.city, Count().as_("n"), Max(Customer.c.age).as_("oldest"))
            .where(Customer.c.city.is_not_null()).group_by("city").having(Count() > 1).aggregate())
    assert rows == [{"city": "Oslo", "n": 2, "oldest": 31}]
    per_age = Customer.query().select("age", Count().as_("n")).group_by("age").order_by("age").aggregate()
    assert per_age == [{"age": 19, "n": 1}, {"age": 25, "n": 2}, {"age": 31, "n": 1}, {"age": 40, "n": 1}]
    assert Customer.query().select("age").group_by("age").count() == 4


def test_group_by_join_with_sum(data):
    rows = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
            .select(Customer.c.name, Sum(Purchase.c.total).as_("spent"))
            .group_by(Customer.c.name).order_by("name").aggregate())
    assert rows == [{"name": "Ann", "spent": decimal.Decimal("15.75")},
                    {"name": "Bob", "spent": decimal.Decimal("7.00")},
                    {"name": "Dee", "spent": decimal.Decimal("1.10")}]


# -- set operations ---------------------------------------------------------------------------
def test_union_intersect_except(data):
    young = Customer.query().where(Customer.c.age < 26)
    oslo = Customer.query().where({"city": "Oslo"})
    assert sorted(names(young.union(oslo).all())) == ["Ann", "Bob", "Dee", "Eve"]
    assert names(young.intersect(oslo).all()) == ["Dee"]
    assert sorted(names(young.except_(oslo).all())) == ["Bob", "Eve"]
    assert young.union(oslo).count() == 4
    assert len(young.union(oslo, all=True).all()) == 5
    assert names(young.union(oslo).order_by("name").all()) == ["Ann", "Bob", "Dee", "Eve"]


# -- terminals --------------------------------------------------------------------------------
def test_first_one_count_exists(data):
    assert Customer.query().first().name == "Ann"                       # primary-key order
    assert Customer.query().order_by(Customer.c.age.desc()).first().name == "Cid"
    assert Customer.query().where({"city": "Nowhere"}).first() is None
    assert Customer.query().where({"name": "Bob"}).one().age == 25
    with pytest.raises(RecordNotFound):
        Customer.query().where({"name": "Nobody"}).one()
    with pytest.raises(MultipleRecordsFound):
        Customer.query().where({"age": 25}).one()
    assert Customer.query().count() == 5
    assert Customer.query().where({"city": "Oslo"}).count() == 2
    assert Customer.query().where({"city": "Oslo"}).exists()
    assert not Customer.query().where({"city": "Nowhere"}).exists()


def test_to_sql_returns_sql_and_params(data):
    sql, params = Customer.query().where(Customer.c.age > 20).order_by("name").limit(3).to_sql()
    mark = data.dialect.placeholder
    assert sql == ('SELECT "customers"."id", "customers"."name", "customers"."city", "customers"."age", '
                   f'"customers"."joined" FROM "customers" WHERE "customers"."age" > {mark} '
                   f'ORDER BY "customers"."name" ASC LIMIT {mark}')
    assert params == (20, 3)
    assert data.execute(sql, params).fetchall()[0][1] == "Ann"


def test_params_converted_with_column_types(data):
    sql, params = Customer.query().where(Customer.c.joined >= dt.date(2021, 1, 1)).to_sql()
    # SQLite stores dates as ISO text; psycopg binds a date natively.
    assert params == (("2021-01-01",) if data.dialect.name == "sqlite" else (dt.date(2021, 1, 1),))


class _SpyResult:
    """Wraps a backend result and records how its rows were fetched."""

    def __init__(self, result, log):
        self._result, self._log = result, log

    def fetchmany(self, size=256):
        rows = self._result.fetchmany(size)
        self._log.append(len(rows))
        return rows

    def fetchall(self):  # pragma: no cover - the failing path
        raise AssertionError("iteration must not fetch every row at once")

    def __getattr__(self, name):
        return getattr(self._result, name)


def test_iteration_streams_in_chunks(data, monkeypatch):
    Customer.insert_many([{"name": f"bulk{i}", "age": i % 90} for i in range(2000)])
    fetched: list = []
    real_execute = data.execute
    monkeypatch.setattr(data, "execute",
                        lambda sql, params=None: _SpyResult(real_execute(sql, params), fetched))
    seen = 0
    for record in Customer.query().order_by("id"):
        assert isinstance(record, Customer)
        seen += 1
        if seen == 10:
            break
    assert seen == 10
    assert len(fetched) == 1 and 10 <= fetched[0] < 2005   # one chunk read, not all rows
    fetched.clear()
    total = sum(1 for _ in Customer.query())
    assert total == 2005 and len(fetched) > 2 and max(fetched) < 2005


def test_iteration_yields_equal_records_to_all(data):
    q = Customer.query().where(Customer.c.age > 20).order_by("name")
    assert list(q) == q.all()


# -- partial records --------------------------------------------------------------------------
def test_partial_records(data, counter):
    counter.clear()
    people = Customer.query().select("id", "name").order_by("id").all()
    assert '"age"' not in counter.selects[0]
    assert people[0].name == "Ann"
    with pytest.raises(MissingAttributeError, match="age"):
        people[0].age
    assert people[0].model_dump() == {"id": 1, "name": "Ann"}


def test_save_on_partial_writes_only_loaded_fields(data, counter):
    p = Customer.query().select("id", "name").where({"id": 1}).one()
    p.name = "Annie"
    counter.clear()
    assert p.save() == 1
    sql, params = counter.statements[0]
    assert sql.split(" SET ", 1)[1].split(" WHERE ")[0] == f'"name" = {data.dialect.placeholder}'
    full = Customer.find_by_id(1)
    assert (full.name, full.city, full.age) == ("Annie", "Oslo", 31)


def test_assigning_unloaded_field_on_partial_writes_it(data):
    p = Customer.query().select("id").where({"id": 2}).one()
    p.city = "Paris"
    assert p.save() == 1
    assert Customer.find_by_id(2).city == "Paris" and Customer.find_by_id(2).name == "Bob"


# -- joins ------------------------------------------------------------------------------------
def test_join_rows_namespaced_by_model(data):
    rows = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
            .select(Customer.c.id, Customer.c.name, Purchase.c.id, Purchase.c.total)
            .order_by(Purchase.c.id).all())
    assert len(rows) == 4
    assert all(isinstance(r, Row) for r in rows)
    assert [(r.Customer.name, r.Purchase.id) for r in rows] == [("Ann", 1), ("Ann", 2), ("Bob", 3), ("Dee", 4)]
    assert rows[0].Purchase.total == decimal.Decimal("10.50")
    assert rows[0].Customer.id == 1
    with pytest.raises(MissingAttributeError):
        rows[0].Customer.age


def test_join_with_only_base_columns_returns_records(data):
    buyers = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
              .where(Purchase.c.total > decimal.Decimal("5")).distinct().order_by("id").all())
    assert names(buyers) == ["Ann", "Bob"] and all(isinstance(b, Customer) for b in buyers)


def test_left_join_keeps_unmatched(data):
    rows = (Customer.query().left_join(Purchase, Customer.c.id == Purchase.c.customer_id)
            .where(Purchase.c.id.is_null()).select(Customer.c.name, Purchase.c.id)
            .order_by(Customer.c.name).all())
    assert [r.Customer.name for r in rows] == ["Cid", "Eve"]
    assert all(r.Purchase.id is None for r in rows)


def test_join_with_labels_mixed(data):
    rows = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
            .select(Customer.c.name, Count(Purchase.c.id).as_("orders"))
            .group_by(Customer.c.name).order_by(Customer.c.name).all())
    assert [(r.Customer.name, r.orders) for r in rows] == [("Ann", 2), ("Bob", 1), ("Dee", 1)]


def test_dotted_names_in_joined_query(data):
    q = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
         .select("Customer.name", "Purchase.note").where({"Purchase.note": "first"}))
    [row] = q.all()
    assert row.Customer.name == "Ann" and row.Purchase.note == "first"


# -- hostile values in queries ----------------------------------------------------------------
@pytest.mark.parametrize("value", ["", "O'Brien", "Robert'); DROP TABLE customers;--",
                                   "日本語 🎉", '"quoted"', "%", "NULL"])
def test_hostile_values_in_filters(data, value):
    Customer(name=value, city=value).save()
    assert Customer.query().where({"name": value}).one().city == value
    assert Customer.query().where(Customer.c.city.is_in([value, "x"])).count() == 1
    assert Customer.query().count() == 6


# -- aggregates over fields named by string ---------------------------------------------------
def test_aggregates_accept_field_names(data):
    [row] = Customer.query().select(Sum("age"), Max("joined").as_("latest"), Count("city")).aggregate()
    assert row == {"sum_age": 140, "latest": dt.date(2023, 7, 7), "count_city": 4}
    assert type(row["latest"]) is dt.date
    total = Purchase.query().select(Sum("total")).scalar()
    assert total == decimal.Decimal("23.85") and type(total) is decimal.Decimal
    rows = (Customer.query().select("city", Count("id").as_("n")).group_by("city")
            .having(Count("id") > 1).aggregate())
    assert rows == [{"city": "Oslo", "n": 2}]
    assert names(Customer.query().group_by("id").having(Max("age") > 30).order_by("name").all()) == ["Ann", "Cid"]


def test_aggregate_field_names_in_joins(data):
    rows = (Customer.query().join(Purchase, Customer.c.id == Purchase.c.customer_id)
            .select(Customer.c.name, Sum("Purchase.total").as_("spent"))
            .group_by("name").order_by("name").aggregate())
    assert rows[0] == {"name": "Ann", "spent": decimal.Decimal("15.75")}


def test_aggregate_unknown_field_name_is_named(data):
    from activerecord import UnknownColumnError
    with pytest.raises(UnknownColumnError, match="agee"):
        Customer.query().select(Sum("agee"))
    with pytest.raises(UnknownColumnError, match="agee"):
        Customer.query().group_by("name").having(Sum("agee") > 1).all()
