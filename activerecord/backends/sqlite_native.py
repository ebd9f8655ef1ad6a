"""Glue between ``SQLiteBackend`` and the compiled C-API connection.

When speedups are enabled, ``SQLiteBackend`` opens its connections here: an
``activerecord._speedups.sqlite_conn.Connection`` with the same small interface as
``sqlite3.Connection`` (execute/executemany/close, cursors with fetch*, rowcount,
lastrowid, description) and the stdlib's own exception classes. Everything else in
the backend -- logging, observers, retries, transactions -- is the same code on both
paths. Its results can also hydrate records straight from the stepped columns.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from .. import speedups
from .base import Result
from .dialects import _datetime_from_db, _float_from_db

# The statement cache size, as the stdlib connection is given.
CACHED_STATEMENTS = 512


def _register_converters() -> None:
    """Tell the C hydrator which SQLite converters it may apply itself (it verifies them)."""
    native = speedups.loaded_module("sqlite_conn")
    if native is not None:
        native.set_converters(_float_from_db, _datetime_from_db)


_register_converters()


def open_native(database: str, timeout: float, uri: bool,
                connect_kwargs: Mapping[str, Any]) -> Optional[Any]:
    """A C-level connection, or None when the pure path must be used.

    Extra ``sqlite3.connect`` keyword arguments (detect_types, factory...) only mean
    something to the stdlib driver, so a backend given any keeps using it.
    """
    native = speedups.module("sqlite_conn")
    if native is None or connect_kwargs:
        return None
    return native.Connection(database, timeout, uri, CACHED_STATEMENTS)


def is_native(conn: Any) -> bool:
    native = speedups.loaded_module("sqlite_conn")
    return native is not None and type(conn) is native.Connection


class NativeResult(Result):
    """A result whose rows can become records without passing through tuples."""

    __slots__ = ()

    def hydrate(self, plan: Any, track_siblings: bool) -> list:
        """Every remaining row as a record of ``plan.model`` (same as hydrate_records)."""
        return self._cursor.hydrate(plan, track_siblings)

