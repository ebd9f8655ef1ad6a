"""SQLite through the standard library's ``sqlite3``: the pure-Python path.

One connection per thread for a file database; an in-memory database is a single
connection shared by all threads behind a lock (each new connection to ``:memory:``
would otherwise be a different, empty database). Transactions are explicit: the
connection runs in autocommit mode and ``transaction()`` issues BEGIN/SAVEPOINT.
"""
from __future__ import annotations

import random
import sqlite3
import threading
import time
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .. import errors
from .base import Backend, BufferedResult, Result, TransactionState, statement_of
from .dialects import SQLiteDialect
from .sqlite_native import NativeResult, open_native

SQLITE_BUSY, SQLITE_LOCKED = 5, 6
SQLITE_BUSY_SNAPSHOT = 517   # WAL: a read transaction's snapshot is stale; retrying cannot help
MAX_RETRY_SLEEP = 0.1        # longest single backoff sleep, in seconds

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


def _is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY (any extended code): another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == SQLITE_BUSY
    return "database is locked" in str(exc)


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
                 timeout: float = 5.0, retries: Optional[int] = None,
                 retry_backoff: float = 0.005, **connect_kwargs: Any):
        """``timeout``: seconds a statement may wait for a lock in all (SQLite's busy
        handler, then retries); ``retries``: most retries of one statement after
        SQLITE_BUSY (None: as many as fit in ``timeout``, 0: none); ``retry_backoff``:
        first retry's sleep in seconds, doubled each retry, with jitter."""
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)
                                    or retries < 0):
            raise ValueError(f"retries must be None or a non-negative integer, got {retries!r}")
        if float(retry_backoff) < 0 or float(timeout) < 0:
            raise ValueError(f"timeout and retry_backoff must be >= 0, got {timeout!r}, {retry_backoff!r}")
        self.database = str(database)
        self.timeout = float(timeout)
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.busy_retries = 0   # statements retried after SQLITE_BUSY, for stress figures
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
            native = open_native(self.database, self.timeout, uri, self.connect_kwargs)
            if native is not None:
                return native
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
        cursor = self._run_with_retry(conn, conn.execute, sql, params or (), started)
        if cursor is None:
            return self._already_rolled_back(sql, params, started)
        rowcount = cursor.rowcount
        self._log(sql, params, started, rowcount)
        if type(cursor) is not sqlite3.Cursor and hasattr(cursor, "hydrate"):
            return NativeResult(cursor, rowcount, cursor.lastrowid, cursor.description)
        return Result(cursor, rowcount, cursor.lastrowid, cursor.description)

    def executemany(self, sql: str, seq_of_params: Sequence[Any]) -> Result:
        conn = self._connection()
        started = time.perf_counter()
        if not isinstance(seq_of_params, (list, tuple)) and not hasattr(seq_of_params, "__ar_packed__"):
            seq_of_params = list(seq_of_params)  # a retry must be able to replay it
        cursor = self._run_with_retry(conn, conn.executemany, sql, seq_of_params, started)
        if cursor is None:
            return self._already_rolled_back(sql, seq_of_params, started)
        rowcount = cursor.rowcount
        self._log(sql, seq_of_params, started, rowcount)
        return Result(cursor, rowcount, cursor.lastrowid, cursor.description)

    def _run_with_retry(self, conn: sqlite3.Connection, call: Any, sql: str, params: Any,
                        started: float) -> Optional[sqlite3.Cursor]:
        """Run one statement; on SQLITE_BUSY retry with backoff while that is safe.

        None means a ROLLBACK/RELEASE found SQLite had already rolled the transaction
        back itself (after BUSY, FULL, IOERR...): there is nothing left to undo.
        """
        attempt = 0
        while True:
            changes_before = conn.total_changes
            was_in_transaction = conn.in_transaction
            try:
                if self._shared:
                    with self._shared_state.lock:
                        return call(sql, params)
                return call(sql, params)
            except sqlite3.Error as exc:
                if _is_busy(exc):
                    self._backoff_or_raise(conn, exc, sql, started, attempt, changes_before,
                                           was_in_transaction)
                    attempt += 1
                    continue
                if not conn.in_transaction and sql.lstrip()[:8].upper() in ("ROLLBACK", "RELEASE "):
                    return None
                raise wrap_sqlite_error(exc, sql) from exc
            except (ValueError, OverflowError, TypeError) as exc:
                shown = params if call == conn.execute else "..."
                raise errors.DatabaseError(f"cannot bind parameters {shown!r}: {exc}", exc) from exc

    def _backoff_or_raise(self, conn: sqlite3.Connection, exc: sqlite3.Error, sql: str,
                          started: float, attempt: int, changes_before: int,
                          was_in_transaction: bool) -> None:
        """Sleep before the next retry, or raise DatabaseLockedError saying why not."""
        elapsed = time.perf_counter() - started
        why = None
        if conn.total_changes != changes_before:
            why = "part of the statement was already applied, so it is not retried"
        elif was_in_transaction and not conn.in_transaction:
            why = "SQLite rolled the open transaction back, so it is not retried"
        elif getattr(exc, "sqlite_errorcode", 0) == SQLITE_BUSY_SNAPSHOT:
            why = "the transaction read a stale snapshot; roll it back and start again"
        elif self.retries is not None and attempt >= self.retries:
            why = f"no retries left (retries={self.retries})"
        elif elapsed >= self.timeout:
            why = "the timeout ran out"
        if why is not None:
            raise errors.DatabaseLockedError(
                f"database {self.database!r} is locked: gave up after {elapsed:.3f} s and "
                f"{attempt} retries (timeout={self.timeout:g} s): {why}; SQLite said: {exc} "
                f"(while running: {sql})", exc) from exc
        delay = min(self.retry_backoff * (2 ** attempt), MAX_RETRY_SLEEP,
                    self.timeout - elapsed) * random.uniform(0.5, 1.0)
        self.busy_retries += 1
        if delay > 0:
            time.sleep(delay)

    def _already_rolled_back(self, sql: str, params: Any, started: float) -> Result:
        self._log(sql, params, started, 0)
        return BufferedResult([], 0)

    def dialect_begin(self) -> str:
        return "BEGIN IMMEDIATE"
