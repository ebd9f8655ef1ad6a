"""The backend contract: the one choke point every statement goes through.

``execute``/``executemany`` are the only ways the ORM talks to a database, so a
subclass that overrides them (logging, retries, counting) sees every statement,
transaction control included. Statement logging, timing and the observers used by
profiling live here, once, for every database.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

from .dialects import Dialect

sql_logger = logging.getLogger("activerecord.sql")

# Observers called after every statement with (sql, params, seconds, rowcount);
# profiling and slow-query logs register here instead of wrapping backends.
_observers: list[Callable[[str, Any, float, int], None]] = []


def add_observer(fn: Callable[[str, Any, float, int], None]) -> None:
    _observers.append(fn)


def remove_observer(fn: Callable[[str, Any, float, int], None]) -> None:
    try:
        _observers.remove(fn)
    except ValueError:
        pass


def statement_of(sql_or_object: Any, params: Any) -> tuple[str, Any]:
    """Accept SQL text or anything with ``to_sql()`` (queries, plans, compiled)."""
    if isinstance(sql_or_object, str):
        return sql_or_object, params
    to_sql = getattr(sql_or_object, "to_sql", None)
    if to_sql is None:
        raise TypeError(
            f"execute() takes SQL text or an object with to_sql(), got {type(sql_or_object).__name__}")
    sql, own_params = to_sql()
    return sql, own_params if params is None else params


class Result:
    """A statement's outcome: rows as tuples plus rowcount and lastrowid."""

    __slots__ = ("_cursor", "rowcount", "lastrowid", "description")

    def __init__(self, cursor: Any, rowcount: int, lastrowid: Optional[int], description: Any):
        self._cursor = cursor
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.description = description

    def fetchone(self) -> Optional[tuple]:
        return self._cursor.fetchone()

    def fetchmany(self, size: int = 256) -> list[tuple]:
        return self._cursor.fetchmany(size)

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._cursor)

    def close(self) -> None:
        self._cursor.close()

    @property
    def columns(self) -> list[str]:
        return [d[0] for d in self.description or ()]


class BufferedResult(Result):
    """A result whose rows were all read already (async backends, caches)."""

    __slots__ = ("_rows", "_pos")

    def __init__(self, rows: list[tuple], rowcount: int = -1, lastrowid: Optional[int] = None,
                 description: Any = None):
        super().__init__(None, rowcount, lastrowid, description)
        self._rows = rows
        self._pos = 0

    def fetchone(self) -> Optional[tuple]:
        if self._pos < len(self._rows):
            row = self._rows[self._pos]
            self._pos += 1
            return row
        return None

    def fetchmany(self, size: int = 256) -> list[tuple]:
        rows = self._rows[self._pos:self._pos + size]
        self._pos += len(rows)
        return rows

    def fetchall(self) -> list[tuple]:
        rows = self._rows[self._pos:] if self._pos else self._rows
        self._pos = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def close(self) -> None:
        self._pos = len(self._rows)


class Backend:
    """Shared machinery: logging, observers, nested transactions by savepoints."""

    dialect: Dialect

    def execute(self, sql_or_object: Any, params: Any = None) -> Result:
        raise NotImplementedError

    def executemany(self, sql: str, seq_of_params: Sequence[Any]) -> Result:
        raise NotImplementedError

    def connect(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- logging ---------------------------------------------------------------------
    @staticmethod
    def _log(sql: str, params: Any, started: float, rowcount: int) -> None:
        elapsed = time.perf_counter() - started
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("(%.3f ms) %s | params=%r", elapsed * 1000.0, sql, params)
        for observer in _observers:
            observer(sql, params, elapsed, rowcount)

    # -- transactions ----------------------------------------------------------------
    def _tx_state(self) -> "TransactionState":
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator["Backend"]:
        """Run the block atomically; nested blocks become savepoints."""
        state = self._tx_state()
        with state.lock:
            depth = state.depth
            if depth == 0:
                self.execute(self.dialect_begin())
            else:
                self.execute(f"SAVEPOINT ar_sp_{depth}")
            state.depth = depth + 1
            try:
                yield self
            except BaseException:
                state.depth = depth
                if depth == 0:
                    self.execute("ROLLBACK")
                else:
                    self.execute(f"ROLLBACK TO SAVEPOINT ar_sp_{depth}")
                    self.execute(f"RELEASE SAVEPOINT ar_sp_{depth}")
                raise
            else:
                state.depth = depth
                if depth == 0:
                    self.execute("COMMIT")
                else:
                    self.execute(f"RELEASE SAVEPOINT ar_sp_{depth}")

    def dialect_begin(self) -> str:
        return "BEGIN"

    @property
    def in_transaction(self) -> bool:
        return self._tx_state().depth > 0


class TransactionState:
    """Nesting depth of one connection's transaction, and the lock that guards it."""

    __slots__ = ("depth", "lock")

    def __init__(self) -> None:
        self.depth = 0
        self.lock = threading.RLock()
