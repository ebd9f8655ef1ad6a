"""The identity map: one instance per row, context-local, coherent with writes."""
from __future__ import annotations

import asyncio
import threading

import pytest

import activerecord
from activerecord import ActiveRecord, identity_map


class Person(ActiveRecord):
    __table_name__ = "im_people"
    name: str
    age: int = 30


class Pinned(ActiveRecord):
    """Opted in everywhere."""
    __table_name__ = "im_pinned"
    __identity_map__ = True
    name: str


class Loose(ActiveRecord):
    """Opted out even inside a block."""
    __table_name__ = "im_loose"
    __identity_map__ = False
    name: str


@pytest.fixture
def people(backend):
    for model in (Person, Pinned, Loose):
        model.create_table()
    Person.insert_many([{"name": "ann"}, {"name": "bob"}])
    Pinned.insert_many([{"name": "p1"}])
    Loose.insert_many([{"name": "l1"}])
    return backend


def test_without_a_map_every_find_queries_and_returns_new_instances(people, counter):
    a, b = Person.find_by_id(1), Person.find_by_id(1)
    assert a is not b
    assert len(counter.selects) == 2


def test_find_by_id_returns_the_same_instance_without_a_query(people, counter):
    with identity_map() as mapping:
        a = Person.find_by_id(1)
        counter.clear()
        b = Person.find_by_id(1)
        assert b is a
        assert counter.selects == []
        assert a in mapping and len(mapping) == 1
    assert Person.find_by_id(1) is not a


def test_queries_hand_back_mapped_instances(people):
    with identity_map():
        a = Person.find_by_id(1)
        everyone = Person.query().order_by(Person.c.id).all()
        assert everyone[0] is a
        assert Person.find_by_id(2) is everyone[1]
        assert Person.query().where(Person.c.name == "ann").first() is a


def test_partial_records_are_not_mapped(people, counter):
    with identity_map():
        partial = Person.query().select("id", "name").first()
        counter.clear()
        full = Person.find_by_id(1)
        assert full is not partial
        assert len(counter.selects) == 1
        assert full.age == 30


def test_saving_a_new_record_maps_it(people, counter):
    with identity_map():
        carl = Person(name="carl")
        carl.save()
        counter.clear()
        assert Person.find_by_id(carl.id) is carl
        assert counter.selects == []


def test_save_update_keeps_the_entry_current(people, counter):
    with identity_map():
        a = Person.find_by_id(1)
        a.age = 41
        a.save()
        counter.clear()
        assert Person.find_by_id(1) is a
        assert counter.selects == []
        assert a.age == 41


def test_delete_removes_the_entry(people, counter):
    with identity_map() as mapping:
        b = Person.find_by_id(2)
        b.delete()
        assert b not in mapping
        counter.clear()
        assert Person.find_by_id(2) is None
        assert len(counter.selects) == 1


@pytest.mark.parametrize("write", ["bulk update", "raw update", "rolled back"])
def test_other_writes_make_the_next_find_read_the_row_again(people, counter, write):
    class Abort(Exception):
        pass

    with identity_map():
        a = Person.find_by_id(1)
        if write == "bulk update":
            Person.query().where(Person.c.id == 1).update({"age": 50})
            expected = 50
        elif write == "raw update":
            people.execute("UPDATE im_people SET age = 51 WHERE id = 1")
            expected = 51
        else:
            a.age = 52
            try:
                with people.transaction():
                    a.save()
                    raise Abort
            except Abort:
                pass
            expected = 30
        counter.clear()
        again = Person.find_by_id(1)
        assert len(counter.selects) == 1
        assert again is a
        assert a.age == expected


def test_unsaved_changes_survive_a_query_load(people):
    with identity_map():
        a = Person.find_by_id(1)
        a.name = "edited"
        people.execute("UPDATE im_people SET age = 60 WHERE id = 1")
        loaded = Person.query().order_by(Person.c.id).first()
        assert loaded is a
        assert a.name == "edited"
        assert a.changes == {"name": ("ann", "edited")}


def test_reload_drops_unsaved_changes_inside_a_map(people, counter):
    with identity_map():
        a = Person.find_by_id(1)
        a.name = "edited"
        a.reload()
        assert a.name == "ann" and not a.is_dirty
        counter.clear()
        assert Person.find_by_id(1) is a
        assert counter.selects == []


def test_nested_blocks_share_the_outer_map(people):
    with identity_map() as outer:
        a = Person.find_by_id(1)
        with identity_map() as inner:
            assert inner is outer
            assert Person.find_by_id(1) is a
        assert Person.find_by_id(1) is a


def test_model_opt_in_works_outside_a_block(people, counter):
    p = Pinned.find_by_id(1)
    counter.clear()
    assert Pinned.find_by_id(1) is p
    assert counter.selects == []
    Person_a, Person_b = Person.find_by_id(1), Person.find_by_id(1)
    assert Person_a is not Person_b


def test_model_opt_out_inside_a_block(people):
    with identity_map():
        assert Loose.find_by_id(1) is not Loose.find_by_id(1)


def test_maps_are_per_thread(people):
    with identity_map():
        mine = Person.find_by_id(1)
        theirs = {}

        def other() -> None:
            with identity_map():
                theirs["first"] = Person.find_by_id(1)
                theirs["second"] = Person.find_by_id(1)
            theirs["pinned"] = Pinned.find_by_id(1)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert theirs["first"] is theirs["second"]
        assert theirs["first"] is not mine
        assert theirs["pinned"] is not Pinned.find_by_id(1)


def test_maps_are_per_asyncio_task(people):
    async def load() -> tuple:
        with identity_map():
            a = Person.find_by_id(1)
            await asyncio.sleep(0)
            return a, Person.find_by_id(1)

    async def main() -> list:
        return await asyncio.gather(load(), load())

    (a1, a2), (b1, b2) = asyncio.run(main())
    assert a1 is a2 and b1 is b2
    assert a1 is not b1


def test_identity_map_is_exported():
    assert activerecord.identity_map is identity_map
