"""Test support for PostgreSQL: find the server, give each test its own schema.

The server comes from ACTIVERECORD_TEST_POSTGRES_DSN (``.ci/postgres.sh`` starts one
and sets it). Without it, PostgreSQL tests skip with the reason, except under CI
(``CI=true``), where a missing or unreachable server fails them instead.
"""
from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import pytest

DSN_ENV = "ACTIVERECORD_TEST_POSTGRES_DSN"

_admin: Any = None
_unavailable: Optional[str] = None
_schema_numbers = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _admin_connection() -> Any:
    """One autocommit connection per test session, for creating and dropping schemas."""
    global _admin, _unavailable
    if _admin is not None and not _admin.closed:
        return _admin
    if _unavailable is None:
        dsn = os.environ.get(DSN_ENV)
        if not dsn:
            _unavailable = (f"PostgreSQL tests need {DSN_ENV} (a server DSN); "
                            "run `bash .ci/postgres.sh python -m pytest` to start one")
        else:
            try:
                import psycopg
            except ImportError:
                _unavailable = "psycopg is not installed: pip install -e '.[postgres]'"
            else:
                try:
                    _admin = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
                except psycopg.Error as exc:
                    _unavailable = f"PostgreSQL at {DSN_ENV} is unreachable: {exc}"
    if _unavailable is not None:
        if _in_ci():
            pytest.fail(f"CI requires PostgreSQL: {_unavailable}", pytrace=False)
        pytest.skip(_unavailable)
    return _admin


def postgres_dsn() -> str:
    """The server's DSN, or skip (fail under CI) when there is none."""
    _admin_connection()
    return os.environ[DSN_ENV]


@contextmanager
def fresh_schema() -> Iterator[str]:
    """An empty schema for one test, dropped with everything in it afterwards."""
    admin = _admin_connection()
    name = f"ar_test_{os.getpid()}_{next(_schema_numbers)}"
    admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        # Connections a test left behind (an abandoned pool, a transaction left open)
        # would block the DROP: end them first. They carry the schema as application_name.
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = %s AND pid <> pg_backend_pid()", (name,))
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _in_schema(schema: str, options: dict) -> dict:
    """Backend options for a test: small pool, short timeouts, every connection in ``schema``.

    The schema is also the connections' application_name, so ``fresh_schema`` can end them.
    """
    options.setdefault("min_size", 0)
    options.setdefault("max_size", 8)
    options.setdefault("timeout", 10.0)
    return dict(options, options=f"-c search_path={schema}", application_name=schema)


@contextmanager
def postgres_schema_backend(**options: Any) -> Iterator[Any]:
    """A PostgresBackend whose connections all work in a fresh schema."""
    from activerecord.backends.postgres import PostgresBackend
    dsn = postgres_dsn()
    with fresh_schema() as schema:
        db = PostgresBackend(dsn, **_in_schema(schema, options))
        try:
            yield db
        finally:
            db.close()


@contextmanager
def async_postgres_schema_backend(**options: Any) -> Iterator[Any]:
    """An AsyncPostgresBackend in a fresh schema (close it with ``await db.close()``)."""
    from activerecord.backends.postgres import AsyncPostgresBackend
    dsn = postgres_dsn()
    with fresh_schema() as schema:
        yield AsyncPostgresBackend(dsn, **_in_schema(schema, options))
