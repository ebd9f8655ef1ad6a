"""insert_many, bulk update/delete and keyset batching."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import pytest

from activerecord import ActiveRecord, DatabaseError, Field, IntegrityError, RecordInvalid


class Reader(ActiveRecord):
    __table_name__ = "readers"
    id: int = Field(primary_key=True)
    name: str
    email: str = Field(unique=True)
    status: str = "active"
    score: int = 0
    updated_at: Optional[dt.datetime] = None


class Shelf(ActiveRecord):
    room: int = Field(primary_key=True)
    slot: int = Field(primary_key=True)
    label: str = ""


@pytest.fixture
def tables(backend):
    Reader.create_table()
    Shelf.create_table()
    return backend


def writes(counter):
    return [s for s, _ in counter.statements if not s.lstrip().upper().startswith("SELECT")]


# -- insert_many ---------------------------------------------------------------------------
def test_insert_many_dicts_in_one_transaction(tables, counter):
    rows = [{"name": f"User {i}", "email": f"user{i}@example.com"} for i in range(1000)]
    counter.clear()
    assert Reader.insert_many(rows) == 1000
    statements = [s for s, _ in counter.statements]
    assert len(statements) == 3, statements                # BEGIN, one executemany, COMMIT
    assert statements[0].startswith("BEGIN") and statements[-1] == "COMMIT"
    assert statements[1].startswith('INSERT INTO "readers"')
    assert Reader.query().count() == 1000
    first = Reader.query().order_by("id").first()
    assert (first.name, first.email, first.status, first.score) == ("User 0", "user0@example.com", "active", 0)


def test_insert_many_instances(tables):
    people = [Reader(name="a", email="a@x"), Reader(name="b", email="b@x", score=5)]
    assert Reader.insert_many(people) == 2
    assert [(r.name, r.score) for r in Reader.query().order_by("id").all()] == [("a", 0), ("b", 5)]
    # documented: insert_many does not assign ids to the instances it was given
    assert people[0].id is None


def test_insert_many_mixed_and_explicit_ids(tables):
    assert Reader.insert_many([{"id": 10, "name": "x", "email": "x@x"},
                               Reader(id=20, name="y", email="y@x")]) == 2
    assert sorted(r.id for r in Reader.find_all()) == [10, 20]


def test_insert_many_batch_size(tables, counter):
    rows = [{"name": str(i), "email": f"{i}@x"} for i in range(25)]
    counter.clear()
    assert Reader.insert_many(rows, batch_size=10) == 25
    inserts = [s for s in writes(counter) if s.startswith("INSERT")]
    assert len(inserts) == 3
    assert [s for s in writes(counter) if s.startswith(("BEGIN", "COMMIT"))] == [
        writes(counter)[0], "COMMIT"]
    assert Reader.query().count() == 25
    with pytest.raises(ValueError, match="batch_size"):
        Reader.insert_many(rows, batch_size=0)


def test_insert_many_empty(tables, counter):
    counter.clear()
    assert Reader.insert_many([]) == 0
    assert counter.statements == []


def test_insert_many_validates_everything_first(tables, counter):
    rows = [{"name": "ok", "email": "ok@x"}, {"name": "bad", "email": "bad@x", "score": "lots"}]
    counter.clear()
    with pytest.raises(RecordInvalid) as info:
        Reader.insert_many(rows)
    assert "row 1" in str(info.value) and "score" in str(info.value)
    assert counter.statements == []                       # nothing was sent
    assert Reader.query().count() == 0


def test_insert_many_missing_required_field(tables):
    with pytest.raises(RecordInvalid, match="email"):
        Reader.insert_many([{"name": "no email"}])


def test_insert_many_database_failure_writes_nothing(tables):
    Reader(name="taken", email="dup@x").save()
    rows = [{"name": str(i), "email": f"{i}@x"} for i in range(30)] + [{"name": "d", "email": "dup@x"}]
    with pytest.raises(IntegrityError):
        Reader.insert_many(rows, batch_size=7)            # fails in the last batch
    assert Reader.query().count() == 1                    # earlier batches rolled back


def test_insert_many_rejects_wrong_input(tables):
    with pytest.raises(TypeError, match="list of dicts"):
        Reader.insert_many({"name": "x", "email": "x@x"})
    with pytest.raises(TypeError, match="row 0"):
        Reader.insert_many([("x", "x@x")])
    Reader(name="p", email="p@x").save()
    partial = Reader.query().select("id", "name").first()
    with pytest.raises(ValueError, match="partial"):
        Reader.insert_many([partial])


def test_insert_many_hostile_values(tables):
    values = ["", "O'Brien", "x'); DROP TABLE readers; --", "日本語 🎉", "NULL", '"q"']
    Reader.insert_many([{"name": v, "email": f"{i}{v}@x"} for i, v in enumerate(values)])
    assert [r.name for r in Reader.query().order_by("id").all()] == values


def test_insert_many_composite_keys(tables):
    assert Shelf.insert_many([{"room": 1, "slot": s, "label": f"s{s}"} for s in range(3)]) == 3
    assert Shelf.find_by_id((1, 2)).label == "s2"
    with pytest.raises(IntegrityError):
        Shelf.insert_many([{"room": 1, "slot": 0}])


# -- bulk update / delete ------------------------------------------------------------------
def _seed(n=10):
    Reader.insert_many([{"name": f"r{i}", "email": f"r{i}@x", "score": i,
                         "status": "inactive" if i % 3 == 0 else "active"} for i in range(n)])


def test_bulk_update_returns_rows_affected(tables, counter):
    _seed()
    ids = [r.id for r in Reader.query().where(Reader.c.score < 4).all()]
    stamp = dt.datetime(2024, 5, 6, 7, 8, 9, 10)
    counter.clear()
    n = Reader.query().where(Reader.c.id.is_in(ids)).update({"status": "vip", "updated_at": stamp})
    assert n == 4 and len(counter.statements) == 1
    assert Reader.query().where({"status": "vip"}).count() == 4
    assert Reader.query().where({"status": "vip"}).first().updated_at == stamp
    assert Reader.query().where(Reader.c.score > 100).update({"score": 1}) == 0


def test_bulk_update_validates_values(tables):
    _seed(3)
    with pytest.raises(RecordInvalid, match="score"):
        Reader.query().update({"score": "many"})
    with pytest.raises(RecordInvalid, match="name"):
        Reader.query().update({"name": None})
    with pytest.raises(ValueError, match="non-empty dict"):
        Reader.query().update({})
    assert sorted(r.score for r in Reader.find_all()) == [0, 1, 2]
    assert Reader.query().update({"score": "7"}) == 3     # coerced like on assignment
    assert {r.score for r in Reader.find_all()} == {7}


def test_bulk_update_with_expression(tables):
    _seed(3)
    assert Reader.query().update({"score": Reader.c.score + 10}) == 3
    assert sorted(r.score for r in Reader.find_all()) == [10, 11, 12]


def test_bulk_update_with_limit_and_order(tables):
    _seed(5)
    assert Reader.query().order_by(Reader.c.score.desc()).limit(2).update({"status": "top"}) == 2
    assert sorted(r.score for r in Reader.find_all({"status": "top"})) == [3, 4]


def test_bulk_delete(tables):
    _seed(9)
    assert Reader.query().where(Reader.c.status == "inactive").delete() == 3
    assert Reader.query().count() == 6
    assert Reader.query().where({"status": "inactive"}).delete() == 0
    assert Reader.query().delete() == 6


def test_bulk_delete_hostile_value_deletes_nothing(tables):
    _seed(3)
    assert Reader.query().where({"name": "x' OR '1'='1"}).delete() == 0
    assert Reader.query().count() == 3


# -- in_batches ----------------------------------------------------------------------------
def test_in_batches_keyset_in_pk_order(tables, counter):
    _seed(10)
    Reader.query().where(Reader.c.score == 4).delete()     # a gap in the ids
    counter.clear()
    batches = list(Reader.query().in_batches(3))
    assert [len(b) for b in batches] == [3, 3, 3]
    ids = [r.id for b in batches for r in b]
    assert ids == sorted(ids) and len(set(ids)) == 9
    selects = counter.selects
    assert len(selects) == 4          # 3 full batches, then one query finds nothing more
    assert all("OFFSET" not in s for s in selects)
    assert '"readers"."id" > ' in selects[1] and "ORDER BY" in selects[1]
    assert counter.statements[1][1][0] == batches[0][-1].id   # keyset continues after last id


def test_in_batches_with_filter_and_exact_multiple(tables):
    _seed(12)
    batches = list(Reader.query().where(Reader.c.status == "active").in_batches(4))
    assert [len(b) for b in batches] == [4, 4]
    assert all(r.status == "active" for b in batches for r in b)
    assert list(Reader.query().where({"status": "none"}).in_batches(5)) == []


def test_in_batches_ignores_existing_order(tables):
    _seed(5)
    batches = list(Reader.query().order_by(Reader.c.score.desc()).in_batches(2))
    assert [r.score for b in batches for r in b] == [0, 1, 2, 3, 4]


def test_in_batches_composite_key(tables):
    Shelf.insert_many([{"room": r, "slot": s} for r in (2, 1) for s in (1, 0, 2)])
    batches = list(Shelf.query().in_batches(2))
    assert [(x.room, x.slot) for b in batches for x in b] == [
        (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]


def test_in_batches_bad_size(tables):
    with pytest.raises(ValueError):
        list(Reader.query().in_batches(0))
    with pytest.raises(ValueError):
        list(Reader.query().in_batches(-1))


def test_bulk_errors_are_database_errors():
    assert issubclass(RecordInvalid, DatabaseError)
