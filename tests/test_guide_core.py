"""The user guide's examples that need only models, CRUD, the backend and queries.

Each example is written as in ``user-performance-tuning.md`` with only the imports
changed (``rhosocial.activerecord...`` -> ``activerecord``); the asserts check its effect.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import ClassVar, Optional

import pytest

from activerecord import (ActiveQuery, ActiveRecord, BindParam, DatabaseLockedError, Field,
                          HasMany, SQLiteBackend)
from backend_support import configured
from guide_examples import LoggedSQLiteBackend, instance_cached_user_model, query_timer


@pytest.fixture
def backend(sqlite_backend):
    """The guide's examples talk to SQLite (PRAGMAs, SQLite DDL)."""
    return sqlite_backend


def _users_and_orders():
    class User(ActiveRecord):
        __table_name__ = 'users'
        id: int = Field(primary_key=True)
        name: str = Field()
        email: str = Field(default='')
        is_active: bool = Field(default=True)
        status: str = Field(default='active')
        updated_at: Optional[datetime] = None

    class Order(ActiveRecord):
        __table_name__ = 'orders'
        id: int = Field(primary_key=True)
        user_id: int = Field()
        total: float = Field(default=0.0)

    User.create_table()
    Order.create_table()
    return User, Order


# -- Query Optimization ---------------------------------------------------------------------
def test_select_only_required_fields(backend, capsys, counter):
    User, _ = _users_and_orders()
    User.insert_many([{"name": "Ann", "email": "a@x"}, {"name": "Bob", "email": "b@x"}])
    capsys.readouterr()
    counter.clear()

    # ❌ Inefficient - retrieves all columns
    users = User.query().all()
    for user in users:
        print(user.id, user.name)

    # ✅ Efficient - retrieves only id and name
    users = User.query().select('id', 'name').all()
    for user in users:
        print(user.id, user.name)

    assert capsys.readouterr().out == "1 Ann\n2 Bob\n1 Ann\n2 Bob\n"
    assert '"email"' in counter.selects[0] and '"email"' not in counter.selects[1]


def test_use_where_clauses_early(backend):
    User, _ = _users_and_orders()
    User.insert_many([{"name": "a", "is_active": True}, {"name": "b", "is_active": False},
                      {"name": "c", "is_active": True}])

    # ❌ Inefficient - filters after retrieving all users
    all_users = User.query().all()
    active_users = [u for u in all_users if u.is_active]
    slow = [u.name for u in active_users]

    # ✅ Efficient - filters at database level
    active_users = User.query().where(User.c.is_active == True).all()  # noqa: E712

    assert [u.name for u in active_users] == slow == ["a", "c"]


def test_join_solution(backend, capsys, counter):
    User, Order = _users_and_orders()
    User.insert_many([{"name": "Ann"}, {"name": "Bob"}])
    Order.insert_many([{"user_id": 1, "total": 9.5}, {"user_id": 2, "total": 3.0},
                       {"user_id": 1, "total": 1.0}])
    capsys.readouterr()
    counter.clear()

    # ✅ Solution 2: Use JOIN to fetch all data at once
    results = User.query().join(
        Order, User.c.id == Order.c.user_id
    ).select(
        User.c.id, User.c.name, Order.c.id, Order.c.total
    ).all()

    for row in results:
        print(f"User {row.User.name} has order {row.Order.id}")

    assert len(counter.selects) == 1
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "User Ann has order 1", "User Ann has order 3", "User Bob has order 2"]


def test_n_plus_one_examples(backend, capsys, counter):
    User, Order = _users_and_orders()
    User.insert_many([{"name": "Ann"}, {"name": "Bob"}])
    Order.insert_many([{"user_id": 1}, {"user_id": 1}, {"user_id": 2}])
    capsys.readouterr()
    counter.clear()

    # ❌ N+1 Problem - queries for orders for each user
    users = User.query().all()
    for user in users:
        orders = Order.query().where(Order.c.user_id == user.id).all()
        print(f"User {user.name} has {len(orders)} orders")

    assert len(counter.selects) == 3
    assert capsys.readouterr().out == "User Ann has 2 orders\nUser Bob has 1 orders\n"


def test_use_indexes_wisely(backend):
    class User(ActiveRecord):
        __table_name__ = 'users'

        id: int = Field(primary_key=True)
        email: str = Field(max_length=255)
        status: str = Field(default='active')
        created_at: datetime = Field()

        # Define indexes in mapping
        __mapping__ = {
            'id': 'INTEGER PRIMARY KEY',
            'email': 'VARCHAR(255) NOT NULL UNIQUE',
            'status': 'VARCHAR(20) DEFAULT "active"',
            'created_at': 'TEXT',
        }

    User.create_table()
    # Create additional indexes manually
    backend.execute("CREATE INDEX idx_users_status ON users(status)")
    backend.execute("CREATE INDEX idx_users_created_at ON users(created_at)")

    ddl = backend.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
    assert '"email" VARCHAR(255) NOT NULL UNIQUE' in ddl and '"created_at" TEXT' in ddl
    stamp = datetime(2024, 1, 2, 3, 4, 5, 6)
    u = User(email="a@x", created_at=stamp)
    u.save()
    assert User.find_by_id(u.id).created_at == stamp
    assert User.query().where(User.c.status == "active").explain().full_scans == []
    assert User.query().where(User.c.created_at > stamp).explain().full_scans == []


# -- Batch Operations -----------------------------------------------------------------------
def test_bulk_insert_update_delete(backend, counter):
    backend.execute("PRAGMA synchronous=OFF")   # 1000 single-row commits: skip the fsyncs
    User, _ = _users_and_orders()

    # ❌ Inefficient - individual inserts
    users = []
    for i in range(1000):
        user = User(name=f"User {i}", email=f"user{i}@example.com")
        user.save()
        users.append(user)

    counter.clear()
    # ✅ Efficient - bulk insert
    users_data = [
        {'name': f"User {i}", 'email': f"user{i}@example.com"}
        for i in range(1000)
    ]
    User.insert_many(users_data)
    assert len(counter.statements) <= 3
    assert User.query().count() == 2000

    # ❌ Inefficient - individual updates
    for user in users[:10]:
        user.status = 'active'
        user.updated_at = datetime.utcnow()
        user.save()
    assert User.query().where(User.c.updated_at.is_not_null()).count() == 10

    counter.clear()
    # ✅ Efficient - bulk update
    user_ids = [u.id for u in users]
    User.query().where(
        User.c.id.is_in(user_ids)
    ).update({
        'status': 'active',
        'updated_at': datetime.utcnow()
    })
    assert len(counter.statements) == 1
    assert User.query().where(User.c.updated_at.is_not_null()).count() == 1000

    User.query().where(User.c.id > 1500).update({'status': 'inactive'})
    inactive_users = User.query().where(User.c.status == 'inactive').limit(5).all()

    # ❌ Inefficient - individual deletes
    for user in inactive_users:
        user.delete()
    assert User.query().count() == 1995

    # ✅ Efficient - bulk delete
    User.query().where(
        User.c.status == 'inactive'
    ).delete()
    assert User.query().count() == 1500
    assert User.query().where(User.c.status == 'inactive').count() == 0


def test_chunking_large_result_sets(backend):
    User, _ = _users_and_orders()
    User.insert_many([{"name": f"u{i}"} for i in range(2500)])
    processed = []

    def process_user(user):
        processed.append(user.id)

    # Process users in chunks of 1000
    chunk_size = 1000
    last_id = 0

    while True:
        users = (
            User.query()
            .where(User.c.id > last_id)
            .order_by(User.c.id)
            .limit(chunk_size)
            .all()
        )

        if not users:
            break

        for user in users:
            process_user(user)

        last_id = users[-1].id

    assert processed == list(range(1, 2501))


# -- Caching: Model Instance Caching --------------------------------------------------------
def test_model_instance_caching(backend, counter):
    # The guide's example model (guide_examples.py).
    User = instance_cached_user_model()

    User.create_table()
    ann = User(name="Ann", email="a@x")
    assert ann.save() == 1
    assert User._cache == {ann.id: ann}
    User._cache.clear()
    counter.clear()
    first = User.find_by_id_cached(ann.id)
    second = User.find_by_id_cached(ann.id)
    assert first is second and first.name == "Ann"
    assert len(counter.selects) == 1
    assert first.delete() == 1
    assert User._cache == {}
    assert User.find_by_id_cached(ann.id) is None


# -- Database-Specific Optimizations --------------------------------------------------------
def test_sqlite_optimizations(backend):
    _users_and_orders()
    # Enable WAL mode for better concurrency
    backend.execute("PRAGMA journal_mode=WAL")

    # Increase cache size
    backend.execute("PRAGMA cache_size=-64000")  # 64MB

    # Enable foreign keys
    backend.execute("PRAGMA foreign_keys=ON")

    # Use indexed columns for WHERE clauses
    # Create indexes for frequently filtered columns
    backend.execute("CREATE INDEX IF NOT EXISTS idx_user_status ON users(status)")
    backend.execute("CREATE INDEX IF NOT EXISTS idx_order_user ON orders(user_id)")

    assert backend.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert backend.execute("PRAGMA cache_size").fetchone() == (-64000,)
    assert backend.execute("PRAGMA foreign_keys").fetchone() == (1,)
    names = {r[0] for r in backend.execute("SELECT name FROM sqlite_master WHERE type='index'").fetchall()}
    assert {"idx_user_status", "idx_order_user"} <= names


class OptimizedSQLiteBackend(SQLiteBackend):
    """SQLite backend with optimized settings."""

    def connect(self):
        super().connect()

        # Optimizations
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")
        self.execute("PRAGMA cache_size=-64000")
        self.execute("PRAGMA temp_store=MEMORY")
        self.execute("PRAGMA mmap_size=268435456")  # 256MB

        # Enable foreign keys
        self.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params=None):
        """Execute with retry on lock."""
        max_retries = 5
        for attempt in range(max_retries):
            try:
                return super().execute(sql, params)
            except DatabaseLockedError:
                if attempt == max_retries - 1:
                    raise
                import time
                time.sleep(0.01 * (2 ** attempt))  # Exponential backoff


@pytest.fixture
def optimized(tmp_path):
    db = OptimizedSQLiteBackend(str(tmp_path / "opt.db"), timeout=0)
    with configured(ActiveRecord, db):
        yield db
        db.close()


def test_optimized_backend_connect_applies_pragmas(optimized):
    User, _ = _users_and_orders()
    User(name="x").save()
    assert optimized.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert optimized.execute("PRAGMA synchronous").fetchone() == (1,)
    assert optimized.execute("PRAGMA cache_size").fetchone() == (-64000,)
    assert optimized.execute("PRAGMA temp_store").fetchone() == (2,)
    assert optimized.execute("PRAGMA mmap_size").fetchone() == (268435456,)
    assert optimized.execute("PRAGMA foreign_keys").fetchone() == (1,)
    result = {}
    t = threading.Thread(target=lambda: result.update(fk=optimized.execute("PRAGMA foreign_keys").fetchone()))
    t.start()
    t.join()
    assert result == {"fk": (1,)}              # the new thread's connection was set up too


def test_optimized_backend_retries_orm_statements(optimized, monkeypatch):
    User, _ = _users_and_orders()
    calls = []
    real = SQLiteBackend.execute

    def flaky(self, sql, params=None):
        calls.append(sql)
        if sql.startswith("INSERT") and calls.count(sql) <= 2:
            raise DatabaseLockedError("database is locked")
        return real(self, sql, params)

    monkeypatch.setattr(SQLiteBackend, "execute", flaky)
    u = User(name="retry")
    assert u.save() == 1                              # two lock errors, then success
    inserts = [c for c in calls if c.startswith("INSERT")]
    assert len(inserts) == 3
    monkeypatch.setattr(SQLiteBackend, "execute", real)
    assert User.find_by_id(u.id).name == "retry"


def test_optimized_backend_gives_up_on_a_held_lock(optimized, tmp_path):
    User, _ = _users_and_orders()
    holder = SQLiteBackend(optimized.database)
    with holder.transaction():
        holder.execute("INSERT INTO users (name, email, is_active, status) VALUES ('h', '', 1, 'active')")
        with pytest.raises(DatabaseLockedError):
            User(name="blocked").save()
    holder.close()
    assert [u.name for u in User.find_all()] == ["h"]
    User(name="free").save()                          # lock released: works again
    assert User.query().count() == 2


# -- Prepared Statements --------------------------------------------------------------------
def test_prepared_statements(backend, counter):
    class User(ActiveRecord):
        __table_name__ = 'users'

        id: int = Field(primary_key=True)
        email: str = Field(max_length=255)
        status: str = Field(default='active')

        # Pre-compiled query for finding by email
        FIND_BY_EMAIL = None

        @classmethod
        def find_by_email(cls, email: str) -> Optional['User']:
            """Find user by email using prepared statement."""
            if cls.FIND_BY_EMAIL is None:
                cls.FIND_BY_EMAIL = cls.query().where(
                    cls.c.email == BindParam('email')
                ).compile()

            result = cls.FIND_BY_EMAIL.execute(email=email)
            return result[0] if result else None

    User.create_table()
    User.insert_many([{"email": "a@x"}, {"email": "b@x", "status": "gone"}])
    assert User.FIND_BY_EMAIL is None
    assert User.find_by_email("b@x").status == "gone"
    compiled = User.FIND_BY_EMAIL
    assert compiled is not None
    assert User.find_by_email("a@x").id == 1
    assert User.FIND_BY_EMAIL is compiled              # compiled once, reused
    assert User.find_by_email("nobody@x") is None
    assert "FIND_BY_EMAIL" not in User.model_fields


# -- Query Analysis -------------------------------------------------------------------------
def test_explain_queries(backend, capsys):
    class User(ActiveRecord):
        __table_name__ = 'users'
        id: int = Field(primary_key=True)
        name: str = ''
        status: str = Field(default='active', index=True)

    User.create_table()

    def explain_query(query: ActiveQuery) -> str:
        """Get EXPLAIN output for a query."""
        sql = query.explain()
        return backend.execute(sql).fetchall()

    # Analyze a query
    query = User.query().where(User.c.status == 'active').order_by(User.c.name)
    plan = explain_query(query)
    print(plan)

    out = capsys.readouterr().out
    assert "idx_users_status" in out and "ORDER BY" in out


def test_query_timing(backend, capsys):
    class Order(ActiveRecord):
        __table_name__ = 'orders'
        id: int = Field(primary_key=True)
        user_id: int = Field()

    class User(ActiveRecord):
        __table_name__ = 'users'
        id: int = Field(primary_key=True)
        name: str = ''
        orders: ClassVar[HasMany['Order']] = HasMany(Order, foreign_key='user_id')

    User.create_table()
    Order.create_table()
    User(name="a").save()
    Order(user_id=1).save()

    # Usage
    with query_timer():
        users = User.query().includes('orders').all()

    out = capsys.readouterr().out
    assert out.startswith("Query took: ") and out.rstrip().endswith("ms")
    assert len(users) == 1 and len(users[0].orders) == 1


# -- Monitoring: Query Logging (the guide's QueryLogger and backend: guide_examples.py) --
def test_logged_backend_sees_every_orm_statement(tmp_path, capsys):
    db = LoggedSQLiteBackend(str(tmp_path / "logged.db"))
    try:
        with configured(ActiveRecord, db):
            User, _ = _users_and_orders()
            u = User(name="O'Brien")
            u.save()
            u.name = "Changed"
            u.save()
            User.query().where(User.c.name == "Changed").all()
            User.query().where(User.c.id == u.id).update({"status": "x"})
            u.delete()
    finally:
        db.close()
        for handler in list(logging.getLogger('queries').handlers):
            logging.getLogger('queries').removeHandler(handler)
    text = capsys.readouterr().err
    assert 'CREATE TABLE IF NOT EXISTS "users"' in text
    assert 'INSERT INTO "users"' in text and "O'Brien" in text
    assert 'UPDATE "users" SET "name" = ?' in text and "Changed" in text
    assert 'SELECT "users"."id"' in text
    assert 'DELETE FROM "users"' in text
    records = text.count(" - Query (")
    assert records == 7 and text.count("ms): ") == records and text.count("| Params: ") == records
