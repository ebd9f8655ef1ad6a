"""The compiled path against raw stdlib ``sqlite3``, as ratios measured in one run.

Each workload is timed three ways in the same process: raw ``sqlite3`` (tuples), the
ORM on the compiled path and the ORM on the pure-Python path (``speedups.pure_python``
with its own backend, so its connections are stdlib ones). The ratio table is printed
at the end of the module:

    python -m pytest benchmarks/test_speedups_bench.py --benchmark-only -p no:randomly

Data: 10,000 rows of 7 columns (one a datetime); 1,000 parents x 10 children.
Targets (issue 5): all() <= 1.5x compiled / 3x pure; insert_many <= 1.0x / 3x;
includes() <= 1.5x / 3x; find_by_id x1000 <= 2.5x / 3x.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from typing import ClassVar, Optional

import pytest

from activerecord import ActiveRecord, Field, SQLiteBackend, speedups
from activerecord.relations import BelongsTo, HasMany

ROWS = 10_000
PARENTS, CHILDREN_EACH = 1_000, 10
FIND_COUNT = 1_000
TARGETS = {"all": (1.5, 3.0), "insert_many": (1.0, 3.0), "includes": (1.5, 3.0),
           "find_by_id": (2.5, 3.0)}


class SpeedItem(ActiveRecord):
    __table_name__ = "speed_items"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    email: str
    age: int
    score: float
    active: bool
    created_at: dt.datetime


class SpeedParent(ActiveRecord):
    __table_name__ = "speed_parents"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    children: ClassVar[HasMany["SpeedChild"]] = HasMany(foreign_key="parent_id")


class SpeedChild(ActiveRecord):
    __table_name__ = "speed_children"
    id: Optional[int] = Field(default=None, primary_key=True)
    parent_id: int
    title: str
    rank: int
    parent: ClassVar[BelongsTo[SpeedParent]] = BelongsTo(foreign_key="parent_id")


ITEM_COLUMNS = "id, name, email, age, score, active, created_at"
MODELS = (SpeedItem, SpeedParent, SpeedChild)


def _item_values(i: int) -> tuple:
    created = dt.datetime(2020, 1, 1) + dt.timedelta(seconds=97 * i, microseconds=(i * 7) % 1000)
    return (f"user {i}", f"user{i}@example.com", 18 + i % 60, i * 0.25, i % 3 == 0, created)


def _raw_tuple(values: tuple) -> tuple:
    name, email, age, score, active, created = values
    return (name, email, age, score, int(active), created.isoformat(" "))


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A seeded database file, shared by every variant."""
    path = str(tmp_path_factory.mktemp("speedups") / "speed.db")
    backend = SQLiteBackend(path)
    for model in MODELS:
        model.configure(backend)
        model.create_table()
    backend.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO speed_items (name, email, age, score, active, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", [_raw_tuple(_item_values(i)) for i in range(ROWS)])
    conn.executemany("INSERT INTO speed_parents (id, name) VALUES (?, ?)",
                     [(p, f"parent {p}") for p in range(1, PARENTS + 1)])
    conn.executemany("INSERT INTO speed_children (parent_id, title, rank) VALUES (?, ?, ?)",
                     [(p, f"child {p}.{c}", c) for p in range(1, PARENTS + 1)
                      for c in range(CHILDREN_EACH)])
    conn.execute("CREATE TABLE speed_sink AS SELECT * FROM speed_items WHERE 0")
    conn.execute("COMMIT")
    conn.close()
    return path


class Ratios:
    """Median seconds per (workload, variant); printed as ratios to raw at the end."""

    def __init__(self) -> None:
        self.medians: dict[tuple[str, str], float] = {}

    def record(self, workload: str, variant: str, benchmark) -> None:
        stats = getattr(benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            self.medians[(workload, variant)] = stats.stats.median

    def lines(self) -> list[str]:
        out = [f"{'workload':<12} {'raw ms':>9} {'compiled':>9} {'pure':>9}   targets (compiled/pure)"]
        for workload, (t_compiled, t_pure) in TARGETS.items():
            raw = self.medians.get((workload, "raw"))
            if not raw:
                continue
            cells = []
            for variant in ("compiled", "pure"):
                value = self.medians.get((workload, variant))
                cells.append(f"{value / raw:>8.2f}x" if value else f"{'-':>9}")
            out.append(f"{workload:<12} {raw * 1000:>9.2f} {cells[0]} {cells[1]}   "
                       f"<= {t_compiled}x / <= {t_pure}x")
        return out


@pytest.fixture(scope="module")
def ratios(request):
    table = Ratios()
    yield table
    if not table.medians:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nspeedups: ratios to raw sqlite3 (speedups built: "
              f"{speedups.loaded_module('sqlite_conn') is not None})")
        for line in table.lines():
            print("  " + line)


@pytest.fixture(params=["raw", "compiled", "pure"])
def variant(request, database):
    """(name, connection or None); the ORM variants have the models configured."""
    name = request.param
    if name == "compiled" and not speedups.speedups_enabled():
        pytest.skip("the compiled extension is not in use in this process")
    if name == "raw":
        conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        yield name, conn
        conn.close()
        return
    with speedups.pure_python(name == "pure"):
        backend = SQLiteBackend(database)
        backend.execute("SELECT 1")   # open the connection on this path
    for model in MODELS:
        model.configure(backend)
    yield name, None
    for model in MODELS:
        model.configure(None)
    backend.close()


def _on_path(name: str, fn):
    """Run ``fn`` on the variant's path (hydration and packing choose at call time)."""
    def run():
        with speedups.pure_python(name == "pure"):
            return fn()
    return run


def test_all(benchmark, variant, ratios):
    name, conn = variant
    if conn is not None:
        fn = lambda: conn.execute(f"SELECT {ITEM_COLUMNS} FROM speed_items").fetchall()  # noqa: E731
    else:
        fn = _on_path(name, lambda: SpeedItem.query().all())
    rows = benchmark.pedantic(fn, rounds=15, warmup_rounds=2)
    assert len(rows) == ROWS
    ratios.record("all", name, benchmark)


def test_insert_many(benchmark, variant, ratios):
    name, conn = variant
    values = [_item_values(i) for i in range(ROWS)]
    sink = sqlite3.connect(variant_db(conn), isolation_level=None) if conn is None else conn

    def clear():
        sink.execute("DELETE FROM speed_items WHERE id > ?", (ROWS,))
        return (), {}

    if conn is not None:
        tuples = [_raw_tuple(v) for v in values]

        def fn():
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO speed_items (name, email, age, score, active, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", tuples)
            conn.execute("COMMIT")
            return len(tuples)
    else:
        records = [SpeedItem(name=a, email=b, age=c, score=d, active=e, created_at=f)
                   for a, b, c, d, e, f in values]
        fn = _on_path(name, lambda: SpeedItem.insert_many(records))
    count = benchmark.pedantic(fn, setup=clear, rounds=10, warmup_rounds=1)
    clear()
    if conn is None:
        sink.close()
    assert count == ROWS
    ratios.record("insert_many", name, benchmark)


def variant_db(conn) -> str:
    return SpeedItem.backend().database


def test_includes(benchmark, variant, ratios):
    name, conn = variant
    if conn is not None:
        def fn():
            parents = conn.execute("SELECT id, name FROM speed_parents").fetchall()
            ids = [p[0] for p in parents]
            children = conn.execute(
                f"SELECT id, parent_id, title, rank FROM speed_children "
                f"WHERE parent_id IN ({', '.join('?' * len(ids))})", ids).fetchall()
            groups: dict = {}
            for child in children:
                groups.setdefault(child[1], []).append(child)
            return [(p, groups.get(p[0], [])) for p in parents]
    else:
        fn = _on_path(name, lambda: SpeedParent.query().includes("children").all())
    loaded = benchmark.pedantic(fn, rounds=15, warmup_rounds=2)
    assert len(loaded) == PARENTS
    ratios.record("includes", name, benchmark)


def test_find_by_id(benchmark, variant, ratios):
    name, conn = variant
    ids = [1 + (i * 7919) % ROWS for i in range(FIND_COUNT)]
    if conn is not None:
        sql = f"SELECT {ITEM_COLUMNS} FROM speed_items WHERE id = ?"

        def fn():
            return [conn.execute(sql, (i,)).fetchone() for i in ids]
    else:
        fn = _on_path(name, lambda: [SpeedItem.find_by_id(i) for i in ids])
    found = benchmark.pedantic(fn, rounds=15, warmup_rounds=2)
    assert len(found) == FIND_COUNT and all(r is not None for r in found)
    ratios.record("find_by_id", name, benchmark)
