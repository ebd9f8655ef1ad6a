"""The data every library sees: one schema, one deterministic seed, Chinook.

The synthetic database is written once with plain ``sqlite3`` and copied for each
library, so every library reads byte-identical data and its writes cannot disturb
another library's numbers. The Chinook database is only ever copied, never opened
where it lies.
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

from .catalog import Sizes

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(255) NOT NULL UNIQUE,
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    age INTEGER NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE INDEX idx_users_status ON users (status);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    total REAL NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX idx_orders_user ON orders (user_id);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_name VARCHAR(100) NOT NULL,
    quantity INTEGER NOT NULL,
    price REAL NOT NULL
);
CREATE INDEX idx_items_order ON items (order_id);
"""

EPOCH = datetime(2024, 1, 1, 9, 30, 0)
# Written by the seed and by bulk_update, so every round leaves the data as it was.
TOUCHED_AT = datetime(2024, 6, 1, 12, 0, 0)
NEW_STATUS = "new"            # rows written by save_loop / insert_many
DOOMED_STATUS = "archived"    # rows bulk_delete removes
USER_STATUSES = ("active",) * 6 + ("inactive",) * 2 + ("pending",) * 2
PRODUCTS = ("keyboard", "mouse", "monitor", "cable", "laptop stand", "headset", "webcam", "dock")


def sql_datetime(value: datetime) -> str:
    """The text form every library reads back: ``YYYY-MM-DD HH:MM:SS``."""
    return value.isoformat(" ")


def user_status(user_id: int) -> str:
    return USER_STATUSES[user_id % len(USER_STATUSES)]


class SyntheticData:
    """The seed and the inputs of every synthetic workload, derived from the sizes."""

    def __init__(self, sizes: Sizes):
        self.sizes = sizes
        rng = random.Random(20240601)
        ids = list(range(1, sizes.users + 1))
        self.lookup_ids = [rng.choice(ids) for _ in range(sizes.lookups)]
        self.lookup_emails = [email(rng.choice(ids)) for _ in range(sizes.lookups)]
        active = [i for i in ids if user_status(i) == "active"]
        self.update_ids = active[:sizes.batch]
        self.active_count = len(active)

    def new_users(self, status: str) -> list[dict]:
        """``batch`` rows for a write workload; ``status`` marks them for clean-up."""
        return [{"name": f"New user {i}", "email": f"new{i}@example.org", "status": status,
                 "age": 20 + i % 50, "created_at": EPOCH + timedelta(minutes=i),
                 "updated_at": TOUCHED_AT}
                for i in range(self.sizes.batch)]


def email(user_id: int) -> str:
    return f"user{user_id}@example.com"


def seed(path: Path, sizes: Sizes) -> Path:
    """Create the synthetic database at ``path`` (WAL mode, persistent in the file)."""
    if path.exists():
        path.unlink()
    rng = random.Random(42)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO users (id, name, email, status, age, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((i, f"User {i}", email(i), user_status(i), 18 + i % 60,
              sql_datetime(EPOCH + timedelta(hours=i)), sql_datetime(TOUCHED_AT))
             for i in range(1, sizes.users + 1)))
        orders = []
        items = []
        order_id = item_id = 0
        for user_id in range(1, sizes.users + 1):
            for _ in range(sizes.orders_per_user):
                order_id += 1
                orders.append((order_id, user_id, round(rng.uniform(5, 500), 2),
                               rng.choice(("paid", "shipped", "open")),
                               sql_datetime(EPOCH + timedelta(minutes=order_id))))
                for _ in range(sizes.items_per_order):
                    item_id += 1
                    items.append((item_id, order_id, rng.choice(PRODUCTS), rng.randint(1, 5),
                                  round(rng.uniform(1, 200), 2)))
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", orders)
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", items)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path


def copy_database(source: Path, target: Path) -> Path:
    """Copy an SQLite file (and nothing of a stale WAL next to the target)."""
    for suffix in ("", "-wal", "-shm"):
        stale = Path(str(target) + suffix)
        if stale.exists():
            stale.unlink()
    shutil.copyfile(source, target)
    return target


def project_root() -> Path:
    """The checkout the package was imported from (``activerecord/..``)."""
    return Path(__file__).resolve().parents[2]


def find_chinook(explicit: Optional[str] = None) -> Optional[Path]:
    """The Chinook database: ``--chinook``, ``$ACTIVERECORD_CHINOOK``, or
    ``../shared/data/chinook.sqlite`` next to the project root or the working directory."""
    candidates = [explicit, os.environ.get("ACTIVERECORD_CHINOOK")]
    relative = Path("..") / "shared" / "data" / "chinook.sqlite"
    candidates += [str(project_root() / relative), str(Path.cwd() / relative)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    if explicit:
        raise FileNotFoundError(f"--chinook: no such file {explicit}")
    return None
