"""activerecord.cache: MemoryCache, pluggable stores, and query caching with invalidation."""
from __future__ import annotations

import asyncio
import fnmatch
import pickle
import threading

import pytest

import activerecord
from activerecord import ActiveRecord, Count, Field, HasMany, SQLiteBackend, Sum
from activerecord import cache as cache_module
from activerecord.cache import CacheBackend, MemoryCache, RedisCache, cache
from activerecord.query.expressions import BindParam


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- MemoryCache -------------------------------------------------------------------------
def test_memory_cache_get_set_delete_clear():
    c = MemoryCache()
    assert c.get("k") is None
    c.set("k", {"a": 1})
    assert c.get("k") == {"a": 1}
    assert "k" in c and len(c) == 1
    assert c.delete("k") is True
    assert c.get("k") is None
    assert c.delete("k") is False
    c.set("a", 1)
    c.set("b", 2)
    c.clear()
    assert len(c) == 0 and c.get("a") is None


def test_memory_cache_is_lru_with_max_size():
    c = MemoryCache(maxsize=2)
    c.set("a", 1)
    c.set("b", 2)
    assert c.get("a") == 1          # a is now the most recently used
    c.set("c", 3)                   # evicts b
    assert c.get("b") is None
    assert c.get("a") == 1 and c.get("c") == 3
    assert len(c) == 2


def test_memory_cache_ttl_and_default_timeout():
    clock = FakeClock()
    c = MemoryCache(default_timeout=10, clock=clock)
    c.set("default", "x")
    c.set("short", "y", timeout=2)
    c.set("zero", "z", timeout=0)       # stores nothing
    assert c.get("zero") is None
    clock.now += 3
    assert c.get("short") is None
    assert c.get("default") == "x"
    clock.now += 8
    assert c.get("default") is None
    forever = MemoryCache(clock=clock)
    forever.set("k", 1)
    clock.now += 10 ** 9
    assert forever.get("k") == 1


def test_memory_cache_copies_values_so_callers_do_not_share_state():
    c = MemoryCache()
    value = [1, 2]
    c.set("k", value)
    value.append(3)
    got = c.get("k")
    assert got == [1, 2]
    got.append(4)
    assert c.get("k") == [1, 2]
    refs = MemoryCache(copy=False)
    refs.set("k", value)
    assert refs.get("k") is value


def test_memory_cache_rejects_bad_arguments():
    with pytest.raises(ValueError, match="maxsize"):
        MemoryCache(maxsize=0)
    with pytest.raises(TypeError, match="timeout"):
        MemoryCache().set("k", 1, timeout="soon")
    with pytest.raises(TypeError, match="cannot be copied"):
        MemoryCache().set("k", threading.Lock())
    assert MemoryCache(copy=False).set("k", threading.Lock()) is None


def test_memory_cache_get_or_set():
    c = MemoryCache()
    calls = []
    assert c.get_or_set("k", lambda: calls.append(1) or "v") == "v"
    assert c.get_or_set("k", lambda: calls.append(1) or "w") == "v"
    assert calls == [1]


def test_memory_cache_is_thread_safe():
    c = MemoryCache(maxsize=50)
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                key = f"{n}:{i % 80}"
                c.set(key, i)
                got = c.get(key)
                assert got is None or isinstance(got, int)
                if i % 7 == 0:
                    c.delete(key)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(c) <= 50
    c.set("last", "x")
    assert c.get("last") == "x"


def test_default_instance_and_module_names():
    assert isinstance(cache, MemoryCache)
    assert activerecord.cache is cache_module
    assert activerecord.cache.cache is cache
    assert isinstance(MemoryCache(), CacheBackend)


# -- a Redis test double behind the interface ----------------------------------------------
class FakeRedis:
    """The slice of redis-py's client RedisCache uses: bytes in, bytes out, px expiry."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.data: dict[str, tuple[bytes, float | None]] = {}

    def get(self, name: str):
        entry = self.data.get(name)
        if entry is None or (entry[1] is not None and entry[1] <= self.clock()):
            return None
        return entry[0]

    def set(self, name: str, value: bytes, px=None):
        assert isinstance(value, bytes)
        self.data[name] = (value, None if px is None else self.clock() + px / 1000)
        return True

    def delete(self, *names: str) -> int:
        return sum(self.data.pop(n, None) is not None for n in names)

    def scan_iter(self, match: str = "*"):
        return [k for k in self.data if fnmatch.fnmatch(k, match)]


def test_redis_adapter_satisfies_the_interface():
    clock = FakeClock()
    client = FakeRedis(clock)
    client.set("other:key", b"keep")
    store = RedisCache(client, prefix="app:")
    assert isinstance(store, CacheBackend)
    store.set("k", {"n": [1, 2]}, timeout=5)
    assert pickle.loads(client.data["app:k"][0]) == {"n": [1, 2]}
    got = store.get("k")
    got["n"].append(3)
    assert store.get("k") == {"n": [1, 2]}
    clock.now += 6
    assert store.get("k") is None
    store.set("a", 1)
    store.delete("a")
    assert store.get("a") is None
    store.set("b", 2)
    store.clear()
    assert store.get("b") is None
    assert client.get("other:key") == b"keep"


# -- query caching -------------------------------------------------------------------------
class Author(ActiveRecord):
    __table_name__ = "cache_authors"
    name: str
    status: str = Field(default="active")
    books = HasMany("CacheBook", foreign_key="author_id")


class CacheBook(ActiveRecord):
    __table_name__ = "cache_books"
    author_id: int
    title: str
    pages: int = 100


@pytest.fixture
def authors(backend):
    Author.create_table()
    CacheBook.create_table()
    Author.insert_many([{"name": n} for n in ("ann", "bob", "cid")])
    CacheBook.insert_many([{"author_id": 1, "title": "a1"}, {"author_id": 1, "title": "a2"},
                           {"author_id": 2, "title": "b1"}])
    cache_module.clear_query_cache()
    return backend


def test_cached_all_runs_one_select_and_returns_fresh_instances(authors, counter):
    query = Author.query().where(Author.c.status == "active").order_by(Author.c.id).cache(ttl=60)
    first = query.all()
    counter.clear()
    second = query.all()
    assert counter.selects == []
    assert [a.name for a in second] == ["ann", "bob", "cid"]
    assert first[0] is not second[0]
    second[0].name = "changed in memory"
    assert query.all()[0].name == "ann"
    assert not query.all()[0].is_new_record


def test_uncached_query_still_hits_the_database(authors, counter):
    query = Author.query()
    query.all()
    counter.clear()
    query.all()
    assert len(counter.selects) == 1


@pytest.mark.parametrize("terminal", ["first", "count", "exists", "scalar", "aggregate", "one"])
def test_every_read_terminal_is_cached(authors, counter, terminal):
    base = Author.query().where(Author.c.name == "bob")
    if terminal == "scalar":
        base = Author.query().select(Count())
    if terminal == "aggregate":
        base = Author.query().select(Author.c.status, Count().as_("n")).group_by(Author.c.status)
    query = base.cache(ttl=60)
    expected = getattr(base, terminal)()
    got = getattr(query, terminal)()
    counter.clear()
    again = getattr(query, terminal)()
    assert counter.selects == []
    if terminal in ("first", "one"):
        assert (got.id, got.name) == (again.id, again.name) == (expected.id, expected.name)
    else:
        assert got == again == expected


def test_different_parameters_are_different_entries(authors, counter):
    ann = Author.query().where(Author.c.name == "ann").cache(60).first()
    bob = Author.query().where(Author.c.name == "bob").cache(60).first()
    assert (ann.name, bob.name) == ("ann", "bob")
    counter.clear()
    assert Author.query().where(Author.c.name == "bob").cache(60).first().name == "bob"
    assert counter.selects == []


def test_each_backend_has_its_own_entries(tmp_path):
    first = SQLiteBackend(str(tmp_path / "one.db"))
    second = SQLiteBackend(str(tmp_path / "two.db"))
    try:
        for db, name in ((first, "one"), (second, "two")):
            Author.configure(db)
            Author.create_table()
            Author(name=name).save()
        Author.configure(first)
        assert Author.query().cache(60).first().name == "one"
        Author.configure(second)
        assert Author.query().cache(60).first().name == "two"
    finally:
        type.__setattr__(Author, "__ar_backend__", None)
        first.close()
        second.close()


def test_joined_query_depends_on_every_joined_table(authors):
    query = (Author.query().join(CacheBook, CacheBook.c.author_id == Author.c.id)
             .where(CacheBook.c.pages > 50).cache(60))
    assert query.count() == 3
    CacheBook.query().where(CacheBook.c.title == "b1").update({"pages": 10})
    assert query.count() == 2


def test_subquery_tables_are_dependencies(authors):
    with_books = Author.query().where(
        Author.c.id.is_in(CacheBook.query().select(CacheBook.c.author_id))).cache(60)
    assert with_books.count() == 2
    CacheBook(author_id=3, title="c1").save()
    assert with_books.count() == 3


def test_includes_preload_is_cached_and_invalidated(authors, counter):
    query = Author.query().includes("books").order_by(Author.c.id).cache(60)
    assert [len(a.books) for a in query.all()] == [2, 1, 0]
    counter.clear()
    assert [len(a.books) for a in query.all()] == [2, 1, 0]
    assert counter.selects == []
    CacheBook(author_id=3, title="c1").save()
    assert [len(a.books) for a in query.all()] == [2, 1, 1]


def test_compiled_query_with_cache(authors, counter):
    compiled = Author.query().where(Author.c.name == BindParam("name")).cache(60).compile()
    assert compiled.execute(name="cid")[0].name == "cid"
    counter.clear()
    assert compiled.execute(name="cid")[0].name == "cid"
    assert counter.selects == []
    Author.query().where(Author.c.name == "cid").update({"status": "gone"})
    assert compiled.execute(name="cid")[0].status == "gone"


def test_ttl_expires_entries(authors, counter):
    clock = FakeClock()
    previous = cache_module.query_store()
    cache_module.use_query_store(MemoryCache(copy=False, clock=clock))
    try:
        query = Author.query().cache(ttl=5)
        query.all()
        counter.clear()
        query.all()
        assert counter.selects == []
        clock.now += 6
        query.all()
        assert len(counter.selects) == 1
    finally:
        cache_module.use_query_store(previous)


def test_cache_ttl_validation_and_switching_off(authors, counter):
    with pytest.raises(ValueError, match="cache\\(ttl"):
        Author.query().cache(-1)
    with pytest.raises(ValueError, match="cache\\(ttl"):
        Author.query().cache("soon")
    cached = Author.query().cache(None)
    cached.all()
    counter.clear()
    cached.all()
    assert counter.selects == []
    for off in (cached.cache(0), cached.cache(False)):
        counter.clear()
        off.all()
        assert len(counter.selects) == 1


def test_query_store_can_be_redis(authors, counter):
    previous = cache_module.query_store()
    cache_module.use_query_store(RedisCache(FakeRedis(FakeClock()), prefix="q:"))
    try:
        query = Author.query().order_by(Author.c.id).cache(60)
        assert [a.name for a in query.all()] == ["ann", "bob", "cid"]
        counter.clear()
        assert [a.name for a in query.all()] == ["ann", "bob", "cid"]
        assert counter.selects == []
        Author(name="dee").save()
        assert [a.name for a in query.all()] == ["ann", "bob", "cid", "dee"]
    finally:
        cache_module.use_query_store(previous)
    with pytest.raises(TypeError, match="get/set/delete/clear"):
        cache_module.use_query_store(object())


# -- stale-read freedom ----------------------------------------------------------------------
def _raw(sql: str):
    return lambda: Author.backend().execute(sql)


def _save_insert():
    Author(name="new").save()


def _save_update():
    a = Author.find_by_id(1)
    a.status = "gone"
    a.save()


def _delete():
    Author.find_by_id(2).delete()


def _in_rolled_back_transaction():
    class Abort(Exception):
        pass

    db = Author.backend()
    try:
        with db.transaction():
            Author(name="ghost").save()
            Author.query().cache(60).all()      # a read inside the transaction
            Author.query().where(Author.c.id == 1).update({"status": "ghostly"})
            raise Abort
    except Abort:
        pass


def _in_committed_transaction():
    with Author.backend().transaction():
        Author(name="committed").save()
        Author.query().cache(60).count()


WRITES = {
    "save insert": _save_insert,
    "save update": _save_update,
    "delete": _delete,
    "insert_many": lambda: Author.insert_many([{"name": "x"}, {"name": "y"}]),
    "query.update": lambda: Author.query().where(Author.c.name == "cid").update({"status": "gone"}),
    "query.delete": lambda: Author.query().where(Author.c.name == "ann").delete(),
    "raw INSERT": _raw("INSERT INTO cache_authors (name, status) VALUES ('raw', 'active')"),
    "raw quoted UPDATE": _raw('update "cache_authors" set "status" = \'gone\' where id = 3'),
    "raw DELETE mixed case": _raw("DeLeTe FROM Cache_Authors WHERE id = 1"),
    "raw upsert": lambda: Author.backend().execute(
        "REPLACE INTO main.cache_authors (id, name, status) VALUES (2, 'bo', 'x')"
        if Author.backend().dialect.name == "sqlite" else
        "INSERT INTO cache_authors (id, name, status) VALUES (2, 'bo', 'x') "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status"),
    "rolled back transaction": _in_rolled_back_transaction,
    "committed transaction": _in_committed_transaction,
}


def _reads():
    base = Author.query().where(Author.c.status == "active")
    return {
        "all": lambda q: [(a.id, a.name, a.status) for a in q.order_by(Author.c.id).all()],
        "first": lambda q: (lambda a: a and (a.id, a.name))(q.order_by(Author.c.id).first()),
        "count": lambda q: q.count(),
        "exists": lambda q: q.where(Author.c.name == "ann").exists(),
        "scalar": lambda q: q.select(Count()).scalar(),
        "aggregate": lambda q: q.select(Author.c.status, Count().as_("n")).group_by(Author.c.status).aggregate(),
        "find_all": lambda q: sorted(a.name for a in Author.find_all()),
    }, base


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_no_cached_query_returns_old_data_after_a_write(authors, write):
    reads, base = _reads()
    for read in reads.values():
        read(base.cache(ttl=None))
    WRITES[write]()
    for name, read in reads.items():
        assert read(base.cache(ttl=None)) == read(base), f"{name} is stale after {write}"


def test_ddl_invalidates(authors):
    query = Author.query().cache(60)
    assert query.count() == 3
    Author.drop_table()
    Author.create_table()
    assert query.count() == 0


def test_commit_in_another_thread_invalidates_reads_cached_meanwhile(authors):
    query = Author.query().cache(ttl=None)
    assert query.count() == 3
    wrote, cached = threading.Event(), threading.Event()

    def writer() -> None:
        with Author.backend().transaction():
            Author(name="late").save()
            wrote.set()
            cached.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    assert wrote.wait(5)
    assert query.count() == 3          # the commit has not happened: old data, cached again
    cached.set()
    t.join()
    assert query.count() == 4


def test_concurrent_readers_and_writer_end_consistent(authors):
    query = Author.query().where(Author.c.status == "active").cache(ttl=None)
    stop = threading.Event()
    problems = []

    def reader() -> None:
        while not stop.is_set():
            try:
                query.count()
            except Exception as exc:  # pragma: no cover - reported below
                problems.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(30):
        Author(name=f"w{i}").save()
    stop.set()
    for t in readers:
        t.join()
    assert problems == []
    assert query.count() == Author.query().where(Author.c.status == "active").count() == 33


def test_async_models_use_the_same_cache(tmp_path):
    from activerecord import AsyncActiveRecord, AsyncSQLiteBackend

    class Note(AsyncActiveRecord):
        __table_name__ = "cache_notes"
        body: str

    async def main() -> list:
        db = AsyncSQLiteBackend(str(tmp_path / "async.db"))
        Note.configure(db)
        try:
            await Note.create_table()
            await Note.insert_many([{"body": "a"}, {"body": "b"}])
            query = Note.query().cache(60)
            seen = [await query.count()]
            with activerecord.profile(all_threads=True) as p:
                seen.append(await query.count())
            seen.append(p.query_count)
            await Note(body="c").save()
            seen.append(await query.count())
            return seen
        finally:
            await db.close()

    assert asyncio.run(main()) == [2, 2, 0, 3]


def test_sum_query_sees_bulk_update(authors):
    CacheBook.query().update({"pages": 10})
    total = CacheBook.query().select(Sum(CacheBook.c.pages)).cache(60)
    assert total.scalar() == 30
    CacheBook.query().where(CacheBook.c.title == "a1").update({"pages": 20})
    assert total.scalar() == 40
