"""Shared fixtures: every test gets a fresh database and the default backend."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from activerecord import ActiveRecord, SQLiteBackend
from activerecord.model import _Config

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
    previous = _Config.default_backend
    ActiveRecord.configure(db)
    yield db
    db.close()
    _Config.default_backend = previous


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """The default backend for a test, once per database: file SQLite, then PostgreSQL.

    PostgreSQL runs when ACTIVERECORD_TEST_POSTGRES_DSN points at a server (start one
    with ``bash .ci/postgres.sh pytest ...``); each test gets its own empty schema.
    """
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_backend")
        return
    from postgres_support import postgres_schema_backend
    with postgres_schema_backend() as db:
        previous = _Config.default_backend
        ActiveRecord.configure(db)
        try:
            yield db
        finally:
            _Config.default_backend = previous


@pytest.fixture
def memory_backend():
    db = SQLiteBackend(":memory:")
    previous = _Config.default_backend
    ActiveRecord.configure(db)
    yield db
    db.close()
    _Config.default_backend = previous


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


def pytest_report_header(config):
    from activerecord import speedups_enabled
    path = "compiled extension" if speedups_enabled() else "pure Python"
    forced = " (ACTIVERECORD_PURE_PYTHON=1)" if os.environ.get("ACTIVERECORD_PURE_PYTHON") else ""
    return f"activerecord path: {path}{forced}"
