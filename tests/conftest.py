"""Shared fixtures: every test gets a fresh database and the default backend.

- ``backend`` / ``async_backend``: parametrized, so a test taking one runs on SQLite and on
  PostgreSQL (the PostgreSQL run skips without a server; see postgres_support.py).
- ``sqlite_backend``, ``memory_backend``, ``sqlite_async_backend``: for SQLite-only tests;
  ``postgres_backend``, ``postgres_async_backend``: one database only.
- ``counter``: every statement run; ``chinook`` / ``chinook_sql``: the Chinook models
  (chinook_models.py) and a plain sqlite3 connection on a private copy of the database.

Helper modules the tests import: backend_support.py (``configured``), chinook_models.py,
guide_examples.py (guide snippets used by several guide tests), postgres_support.py.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from activerecord import ActiveRecord, AsyncActiveRecord, AsyncSQLiteBackend, SQLiteBackend
from backend_support import configured

CHINOOK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chinook.sqlite"


class StatementCounter:
    """Counts statements through the backend observer hook (every execute passes it)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, object]] = []

    def __call__(self, sql: str, params: object, seconds: float, rowcount: int) -> None:
        self.statements.append((sql, params))

    @property
    def selects(self) -> list[str]:
        return [s for s, _ in self.statements if s.lstrip().upper().startswith("SELECT")]

    def clear(self) -> None:
        self.statements.clear()


@pytest.fixture
def sqlite_backend(tmp_path):
    """A file-backed SQLite database configured as every model's default (SQLite-only tests)."""
    db = SQLiteBackend(str(tmp_path / "test.db"))
    with configured(ActiveRecord, db):
        yield db
        db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    """The default backend for a test, once per database: file SQLite, then PostgreSQL.

    PostgreSQL runs when ACTIVERECORD_TEST_POSTGRES_DSN points at a server (start one
    with ``bash .ci/postgres.sh pytest ...``); each test gets its own empty schema.
    """
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def postgres_backend():
    """PostgresBackend in an empty schema, configured as every model's default."""
    from postgres_support import postgres_schema_backend
    with postgres_schema_backend() as db, configured(ActiveRecord, db):
        yield db


@pytest.fixture
def memory_backend():
    db = SQLiteBackend(":memory:")
    with configured(ActiveRecord, db):
        yield db
        db.close()


@pytest.fixture
def sqlite_async_backend(tmp_path):
    """A file SQLite database behind AsyncSQLiteBackend, the default of every async model."""
    db = AsyncSQLiteBackend(str(tmp_path / "async.db"))
    with configured(AsyncActiveRecord, db):
        yield db
        asyncio.run(db.close())


@pytest.fixture
def postgres_async_backend():
    """AsyncPostgresBackend in an empty schema, the default of every async model."""
    from postgres_support import async_postgres_schema_backend
    with async_postgres_schema_backend() as db, configured(AsyncActiveRecord, db):
        yield db
        asyncio.run(db.close())


@pytest.fixture(params=["sqlite", "postgres"])
def async_backend(request):
    """The async models' backend for a test, once per database, like ``backend``."""
    return request.getfixturevalue(f"{request.param}_async_backend")


@pytest.fixture
def counter():
    from activerecord.backends.base import add_observer, remove_observer
    c = StatementCounter()
    add_observer(c)
    yield c
    remove_observer(c)


@pytest.fixture
def chinook_path(tmp_path):
    """A private copy of the Chinook database (the original stays read-only)."""
    if not CHINOOK.exists():
        pytest.skip(f"Chinook database not found at {CHINOOK}")
    target = tmp_path / "chinook.sqlite"
    shutil.copyfile(CHINOOK, target)
    return target


@pytest.fixture
def chinook(chinook_path):
    """The Chinook models (tests/chinook_models.py) on a private copy of the database."""
    from chinook_models import ChinookModel
    db = SQLiteBackend(str(chinook_path))
    with configured(ChinookModel, db):
        yield db
        db.close()


@pytest.fixture
def chinook_sql(chinook_path):
    """A plain sqlite3 connection to the same copy, for the answers the ORM must match."""
    conn = sqlite3.connect(str(chinook_path))
    yield conn
    conn.close()


def pytest_report_header(config):
    from activerecord import speedups_enabled
    path = "compiled extension" if speedups_enabled() else "pure Python"
    forced = " (ACTIVERECORD_PURE_PYTHON=1)" if os.environ.get("ACTIVERECORD_PURE_PYTHON") else ""
    return f"activerecord path: {path}{forced}"
