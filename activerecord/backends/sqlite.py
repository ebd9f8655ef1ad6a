"""SQLite through the standard library's ``sqlite3``: the pure-Python path.

One connection per thread for a file database; an in-memory database is a single
connection shared by all threads behind a lock (each new connection to ``:memory:``
would otherwise be a different, empty database). Transactions are explicit: the
connection runs in autocommit mode and ``transaction()`` issues BEGIN/SAVEPOINT.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .. import errors
from .base import Backend, Result, TransactionState, statement_of
from .dialects import SQLiteDialect

SQLITE_BUSY, SQLITE_LOCKED = 5, 6

# The guide's recommended settings, as one preset.
TUNED_PRAGMAS: dict[str, Any] = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "cache_size": -64000,
    "temp_store": "MEMORY",
    "mmap_size": 268435456,
    "foreign_keys": "ON",
}

Pragmas = Union[None, str, Mapping[str, Any], Iterable[tuple[str, Any]]]


def wrap_sqlite_error(exc: sqlite3.Error, sql: str) -> errors.DatabaseError:
    """Translate a driver exception into the ORM's tree, keeping it as ``.orig``."""
    message = f"{exc} (while running: {sql})"
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if isinstance(exc, sqlite3.IntegrityError):
        return errors.IntegrityError(message, exc)
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in str(exc):
        return errors.DatabaseLockedError(message, exc)
    if isinstance(exc, sqlite3.OperationalError):
        return errors.OperationalError(message, exc)
    return errors.DatabaseError(message, exc)


def normalize_pragmas(pragmas: Pragmas) -> list[tuple[str, Any]]:
    if pragmas is None:
        return []
    if isinstance(pragmas, str):
        if pragmas != "tuned":
            raise ValueError(f"unknown pragma preset {pragmas!r}; the preset is 'tuned'")
        pragmas = TUNED_PRAGMAS
    items = list(pragmas.items()) if isinstance(pragmas, Mapping) else list(pragmas)
    for name, _ in items:
        if not (isinstance(name, str) and name.replace("_", "").isalnum()):
            raise ValueError(f"invalid PRAGMA name {name!r}")
    return items


class SQLiteBackend(Backend):
    """An SQLite database file (created when missing) or ``':memory:'``."""

    dialect = SQLiteDialect()
    TUNED_PRAGMAS = TUNED_PRAGMAS

    def __init__(self, database: str = ":memory:", pragmas: Pragmas = None,
                 timeout: float = 5.0, **connect_kwargs: Any):
        self.database = str(database)
        self.timeout = float(timeout)
        self.pragmas = normalize_pragmas(pragmas)
        self.connect_kwargs = connect_kwargs
        self._shared = self.database == ":memory:" or "mode=memory" in self.database
        self._local = threading.local()
        self._all_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._shared_conn: Optional[sqlite3.Connection] = None
        self._shared_state = TransactionState()

    @classmethod
    def tuned(cls, database: str, **kwargs: Any) -> "SQLiteBackend":
        """A backend with the guide's PRAGMAs (WAL, synchronous=NORMAL, caches...)."""
        return cls(database, pragmas="tuned", **kwargs)

    # -- connections -----------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        uri = self.database.startswith("file:")
        try:
            return sqlite3.connect(self.database, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False, uri=uri, cached_statements=512,
                                   **self.connect_kwargs)
        except sqlite3.Error as exc:
            raise wrap_sqlite_error(exc, f"open {self.database}") from exc

    def connect(self) -> sqlite3.Connection:
        """Open this thread's connection and apply the PRAGMAs; runs once per connection."""
        conn = self._open()
        with self._all_lock:
            self._connections.append(conn)
        if self._shared:
            self._shared_conn = conn
        else:
            self._local.conn = conn
            self._local.state = TransactionState()
        for name, value in self.pragmas:
            self.execute(f"PRAGMA {name}={value}")
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._shared:
            conn = self._shared_conn
        else:
            conn = getattr(self._local, "conn", None)
        if conn is None:
            self.connect()
            conn = self._shared_conn if self._shared else self._local.conn
        return conn  # type: ignore[return-value]

    def _tx_state(self) -> TransactionState:
        if self._shared:
            return self._shared_state
        state = getattr(self._local, "state", None)
        if state is None:
            self._connection()
            state = self._local.state
        return state

    def close(self) -> None:
        """Close every connection this backend opened; the next use reconnects."""
        with self._all_lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._shared_conn = None
        self._shared_state = TransactionState()
        self._local = threading.local()

    # -- statements ------------------------------------------------------------------
    def execute(self, sql_or_object: Any, params: Any = None) -> Result:
        if type(sql_or_object) is str:
            sql = sql_or_object
        else:
            sql, params = statement_of(sql_or_object, params)
        conn = self._connection()
        started = time.perf_counter()
        try:
            if self._shared:
                with self._shared_state.lock:
                    cursor = conn.execute(sql, params or ())
            else:
                cursor = conn.execute(sql, params or ())
        except sqlite3.Error as exc:
            raise wrap_sqlite_error(exc, sql) from exc
        except (ValueError, OverflowError, TypeError) as exc:
            raise errors.DatabaseError(f"cannot bind parameters {params!r}: {exc}", exc) from exc
        rowcount = cursor.rowcount
        self._log(sql, params, started, rowcount)
        return Result(cursor, rowcount, cursor.lastrowid, cursor.description)

    def executemany(self, sql: str, seq_of_params: Sequence[Any]) -> Result:
        conn = self._connection()
        started = time.perf_counter()
        try:
            if self._shared:
                with self._shared_state.lock:
                    cursor = conn.executemany(sql, seq_of_params)
            else:
                cursor = conn.executemany(sql, seq_of_params)
        except sqlite3.Error as exc:
            raise wrap_sqlite_error(exc, sql) from exc
        except (ValueError, OverflowError, TypeError) as exc:
            raise errors.DatabaseError(f"cannot bind parameters: {exc}", exc) from exc
        rowcount = cursor.rowcount
        self._log(sql, seq_of_params, started, rowcount)
        return Result(cursor, rowcount, cursor.lastrowid, cursor.description)

    def dialect_begin(self) -> str:
        return "BEGIN IMMEDIATE"
