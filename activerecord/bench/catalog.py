"""What the benchmark knows: its workloads, its libraries and its sizes.

One list of workloads and one list of libraries serve both the
``python -m activerecord.bench`` runner and the pytest-benchmark suites.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Workload:
    name: str
    title: str            # short label for tables and charts
    group: str            # "synthetic" or "chinook"
    writes: bool = False  # mutates data: needs a prepare step before every round


WORKLOADS: tuple[Workload, ...] = (
    Workload("select_all_columns", "all users, every column", "synthetic"),
    Workload("select_needed_fields", "all users, select('id', 'name')", "synthetic"),
    Workload("filter_in_python", "active users, filtered in Python", "synthetic"),
    Workload("filter_in_sql", "active users, where() in SQL", "synthetic"),
    Workload("n_plus_one", "users + orders, one query per user (N+1)", "synthetic"),
    Workload("includes", "users + orders, includes('orders')", "synthetic"),
    Workload("nested_includes", "users + orders + items, nested includes", "synthetic"),
    Workload("save_loop", "insert rows with save() in a loop", "synthetic", writes=True),
    Workload("insert_many", "insert rows with insert_many()", "synthetic", writes=True),
    Workload("bulk_update", "bulk update where id in (...)", "synthetic", writes=True),
    Workload("bulk_delete", "bulk delete where status = ...", "synthetic", writes=True),
    Workload("keyset_chunking", "all orders in keyset chunks", "synthetic"),
    Workload("adhoc_query", "find by email, query built each time", "synthetic"),
    Workload("compiled_query", "find by email, compiled query", "synthetic"),
    Workload("find_by_id", "find_by_id lookups", "synthetic"),
    Workload("chinook_tracks", "Chinook: tracks with album, genre, media type", "chinook"),
    Workload("chinook_artists", "Chinook: artists with albums and tracks", "chinook"),
    Workload("chinook_invoice_totals", "Chinook: invoice totals by country", "chinook"),
    Workload("chinook_customer_invoices", "Chinook: customers' invoices, lines, tracks", "chinook"),
)

WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


@dataclass(frozen=True)
class Library:
    name: str
    title: str
    module: str                  # activerecord.bench.<module> defines Suite
    requires: Optional[str]      # importable package the library needs
    pure_python: bool = False    # run with ACTIVERECORD_PURE_PYTHON=1


LIBRARIES: tuple[Library, ...] = (
    Library("sqlite3", "raw sqlite3", "lib_sqlite3", None),
    Library("activerecord", "activerecord (compiled)", "lib_activerecord", None),
    Library("activerecord-pure", "activerecord (pure Python)", "lib_activerecord", None,
            pure_python=True),
    Library("sqlalchemy", "SQLAlchemy 2 ORM", "lib_sqlalchemy", "sqlalchemy"),
    Library("peewee", "peewee", "lib_peewee", "peewee"),
    Library("django", "Django ORM", "lib_django", "django"),
)

LIBRARIES_BY_NAME = {lib.name: lib for lib in LIBRARIES}

BASELINE = "sqlite3"


@dataclass(frozen=True)
class Sizes:
    """How much data and how many repetitions; every field has a command-line flag."""

    users: int = 1000
    orders_per_user: int = 5
    items_per_order: int = 3
    batch: int = 1000           # rows written by the insert/update/delete workloads
    lookups: int = 500          # lookups by id / by email per round
    chunk: int = 250            # keyset chunk size
    customers: int = 59         # Chinook customers whose invoices are loaded
    min_rounds: int = 5
    max_rounds: int = 50
    min_time: float = 0.5       # keep measuring a workload until this many seconds

    @property
    def orders(self) -> int:
        return self.users * self.orders_per_user

    @property
    def items(self) -> int:
        return self.orders * self.items_per_order

    def replace(self, **changes: object) -> "Sizes":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFAULT_SIZES = Sizes()
QUICK_SIZES = Sizes(users=200, orders_per_user=3, items_per_order=2, batch=200, lookups=100,
                    chunk=50, customers=10, min_rounds=3, max_rounds=3, min_time=0.0)


def select(tokens: list[str]) -> tuple[list[Workload], list[Library]]:
    """Resolve ``--only`` names into workloads and libraries.

    A token is a workload name, a library name, a workload group (``synthetic``,
    ``chinook``) or ``activerecord-all`` (both activerecord variants). Tokens of one
    kind restrict that kind; a kind not named at all stays complete.
    """
    workloads: list[Workload] = []
    libraries: list[Library] = []
    groups = {w.group for w in WORKLOADS}
    for raw in tokens:
        for token in filter(None, (t.strip() for t in raw.split(","))):
            if token in WORKLOADS_BY_NAME:
                workloads.append(WORKLOADS_BY_NAME[token])
            elif token in groups:
                workloads.extend(w for w in WORKLOADS if w.group == token)
            elif token in LIBRARIES_BY_NAME:
                libraries.append(LIBRARIES_BY_NAME[token])
            elif token == "activerecord-all":
                libraries.extend(lib for lib in LIBRARIES if lib.name.startswith("activerecord"))
            else:
                raise ValueError(
                    f"--only: unknown name {token!r}. Workloads: {', '.join(WORKLOADS_BY_NAME)}; "
                    f"groups: {', '.join(sorted(groups))}; libraries: "
                    f"{', '.join(LIBRARIES_BY_NAME)}, activerecord-all")
    chosen_w = [w for w in WORKLOADS if w in workloads] if workloads else list(WORKLOADS)
    chosen_l = [lib for lib in LIBRARIES if lib in libraries] if libraries else list(LIBRARIES)
    return chosen_w, chosen_l
