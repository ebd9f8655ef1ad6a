"""Query observability: profiles, slow-query logs, query-count assertions, index advice.

All of them listen at the backend's choke point (``backends.base.add_observer``), so
they see every statement the ORM or the application runs, raw SQL included. One
dispatcher is registered while at least one recorder is active and removed after the
last one stops: with nothing active a statement costs nothing extra.

Recorders are context-local by default: a ``profile()`` sees the statements run in
its own context (its thread, and asyncio tasks created inside the block), so profiles
in different threads never mix. Pass ``all_threads=True`` to record every statement
of the process (needed when statements run on worker threads that do not carry the
caller's context).

``rows`` is the driver's rowcount: the rows a write changed. A SELECT's row count is
not known when it executes (rows are fetched later), so it is None there.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import ContextDecorator
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, NamedTuple, Optional

from .backends.base import add_observer, remove_observer
from .sqlscan import filter_columns, scan

__all__ = ["StatementRecord", "Profile", "SlowQueryLog", "QueryCountAssertion", "IndexAdvice",
           "profile", "slow_queries", "assert_queries", "index_advice"]

slow_logger = logging.getLogger("activerecord.slow")

_TX_CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class StatementRecord(NamedTuple):
    """One executed statement. ``duration`` in seconds; ``at`` is a Unix time."""

    sql: str
    params: Any
    duration: float
    rows: Optional[int]
    at: float

    @property
    def duration_ms(self) -> float:
        return self.duration * 1000.0

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.at, timezone.utc)

    @property
    def verb(self) -> str:
        return scan(self.sql).verb or "?"

    def as_dict(self) -> dict:
        """The guide's record shape: sql, duration (seconds), timestamp, plus params and rows."""
        return {"sql": self.sql, "params": self.params, "duration": self.duration,
                "rows": self.rows, "timestamp": self.timestamp}


# -- dispatch ----------------------------------------------------------------------------
_in_context: ContextVar[tuple] = ContextVar("activerecord_recorders", default=())
_explaining: ContextVar[bool] = ContextVar("activerecord_explaining", default=False)
_everywhere: list["_Recorder"] = []
_lock = threading.Lock()
_active = [0]


def _dispatch(sql: str, params: Any, seconds: float, rowcount: int) -> None:
    recorders = _in_context.get()
    if _everywhere:
        recorders = recorders + tuple(r for r in _everywhere if r not in recorders)
    if not recorders or _explaining.get():
        return
    record = StatementRecord(sql, params, seconds, rowcount if rowcount >= 0 else None, time.time())
    for recorder in recorders:
        recorder._record(record)


class _Recorder(ContextDecorator):
    """A context manager (and decorator) that receives statements while active."""

    def __init__(self, all_threads: bool = False):
        self.all_threads = all_threads
        self._tokens: list = []

    def _reset(self) -> None:
        """Start empty."""

    def _record(self, record: StatementRecord) -> None:
        raise NotImplementedError

    def start(self) -> "_Recorder":
        self._reset()
        with _lock:
            if self.all_threads:
                _everywhere.append(self)
            else:
                self._tokens.append(_in_context.set(_in_context.get() + (self,)))
            _active[0] += 1
            if _active[0] == 1:
                add_observer(_dispatch)
        return self

    def stop(self) -> None:
        with _lock:
            if self.all_threads:
                if self in _everywhere:
                    _everywhere.remove(self)
            elif self._tokens:
                _in_context.reset(self._tokens.pop())
            _active[0] -= 1
            if _active[0] == 0:
                remove_observer(_dispatch)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.stop()
        return False


# -- profile -----------------------------------------------------------------------------
class Profile(_Recorder):
    """Every statement of a block: ``query_count``, ``total_time``, ``report()``.

    ``backend`` is where ``index_warnings`` run EXPLAIN (default: the backend
    configured on ``ActiveRecord``).
    """

    def __init__(self, all_threads: bool = False, backend: Any = None):
        super().__init__(all_threads)
        self.backend = backend
        self.statements: list[StatementRecord] = []
        self.started = self.finished = None
        self._advice: Optional[list] = None

    def _reset(self) -> None:
        self.statements = []
        self._advice = None
        self.started, self.finished = time.perf_counter(), None

    def _record(self, record: StatementRecord) -> None:
        self.statements.append(record)

    def stop(self) -> None:
        self.finished = time.perf_counter()
        super().stop()

    @property
    def query_count(self) -> int:
        return len(self.statements)

    @property
    def total_time(self) -> float:
        """Seconds spent executing statements."""
        return sum(s.duration for s in self.statements)

    @property
    def elapsed(self) -> Optional[float]:
        """Seconds the block took (statements plus everything else)."""
        if self.started is None:
            return None
        return (self.finished or time.perf_counter()) - self.started

    def counts(self) -> dict[str, int]:
        """Statements per verb: ``{'SELECT': 3, 'INSERT': 1}``."""
        out: dict[str, int] = {}
        for s in self.statements:
            out[s.verb] = out.get(s.verb, 0) + 1
        return out

    def slowest(self, n: int = 10) -> list[StatementRecord]:
        return sorted(self.statements, key=lambda s: s.duration, reverse=True)[:n]

    def repeated(self, min_count: int = 2) -> list[tuple[str, int, float]]:
        """SQL run ``min_count`` times or more, as (sql, times, seconds): N+1 candidates."""
        groups: dict[str, list] = {}
        for s in self.statements:
            if s.verb not in _TX_CONTROL:
                entry = groups.setdefault(s.sql, [0, 0.0])
                entry[0] += 1
                entry[1] += s.duration
        rows = [(sql, n, t) for sql, (n, t) in groups.items() if n >= min_count]
        return sorted(rows, key=lambda r: (-r[1], -r[2]))

    @property
    def index_warnings(self) -> list["IndexAdvice"]:
        """EXPLAIN each distinct SELECT/UPDATE/DELETE: tables read without an index that would help."""
        if self._advice is None:
            backend = self.backend or _default_backend()
            advice: list[IndexAdvice] = []
            seen: set = set()
            if backend is not None:
                for s in self.statements:
                    if s.sql in seen or s.verb not in ("SELECT", "UPDATE", "DELETE") \
                            or _is_many(s.params):
                        continue
                    seen.add(s.sql)
                    for item in index_advice(s.sql, s.params, backend):
                        if item not in advice:
                            advice.append(item)
            self._advice = advice
        return self._advice

    def report(self, limit: int = 10) -> str:
        counts = ", ".join(f"{n} {verb.lower()}" for verb, n in sorted(
            self.counts().items(), key=lambda kv: -kv[1]))
        elapsed = self.elapsed
        lines = [f"Profile: {self.query_count} statements"
                 + (f" ({counts})" if counts else "")
                 + f" in {self.total_time * 1000:.3f} ms"
                 + (f"; the block took {elapsed * 1000:.3f} ms" if elapsed is not None else "")]
        if self.statements:
            lines.append("Slowest statements:")
            for i, s in enumerate(self.slowest(limit), 1):
                rows = "" if s.rows is None else f" rows={s.rows}"
                lines.append(f"  {i:>2}. {s.duration_ms:8.3f} ms  {_short(s.sql)}"
                             f"{_params_text(s.params)}{rows}")
        repeated = self.repeated()
        if repeated:
            lines.append("Repeated statements (possible N+1 queries):")
            for sql, n, seconds in repeated[:limit]:
                lines.append(f"  {n:>4}x {seconds * 1000:8.3f} ms  {_short(sql)}")
        warnings = self.index_warnings
        if warnings:
            lines.append("Index warnings:")
            for item in warnings:
                lines.append(f"  {item.message}")
                lines.append(f"      {_short(item.sql)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Profile {self.query_count} statements, {self.total_time * 1000:.3f} ms>"


def _default_backend() -> Any:
    from .model import _Config
    return _Config.default_backend


def _is_many(params: Any) -> bool:
    return isinstance(params, list) and bool(params) and isinstance(params[0], (list, tuple, dict))


def _short(sql: str, width: int = 240) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _params_text(params: Any) -> str:
    if not params:
        return ""
    text = repr(tuple(params) if isinstance(params, list) else params)
    return f"  params={text if len(text) <= 120 else text[:117] + '...'}"


# -- slow queries --------------------------------------------------------------------------
class SlowQueryLog(_Recorder):
    """Statements at or above ``threshold_ms``; ``report()`` lists the slowest first.

    Each slow statement is also logged at WARNING on the ``activerecord.slow`` logger
    (``log=False`` turns that off).
    """

    def __init__(self, threshold_ms: float = 100.0, all_threads: bool = False, log: bool = True):
        super().__init__(all_threads)
        if isinstance(threshold_ms, bool) or not isinstance(threshold_ms, (int, float)) \
                or threshold_ms < 0:
            raise ValueError(f"slow_queries threshold_ms must be a number >= 0, got {threshold_ms!r}")
        self.threshold_ms = float(threshold_ms)
        self.log = log
        self.queries: list[StatementRecord] = []
        self.seen = 0

    def _reset(self) -> None:
        self.queries = []
        self.seen = 0

    @property
    def slow_queries(self) -> list[StatementRecord]:
        return self.queries

    def _record(self, record: StatementRecord) -> None:
        self.seen += 1
        if record.duration * 1000.0 >= self.threshold_ms:
            self.queries.append(record)
            if self.log:
                slow_logger.warning("slow query (%.2f ms >= %g ms): %s%s", record.duration_ms,
                                    self.threshold_ms, _short(record.sql), _params_text(record.params))

    def record_query(self, sql: str, duration: float, params: Any = None) -> None:
        """Record a statement timed elsewhere (``duration`` in seconds), as the guide's detector does."""
        self._record(StatementRecord(sql, params, duration, None, time.time()))

    def slowest(self, n: int = 10) -> list[StatementRecord]:
        return sorted(self.queries, key=lambda s: s.duration, reverse=True)[:n]

    def report(self, limit: int = 10) -> str:
        if not self.queries:
            return "No slow queries detected."
        lines = [f"Slow Query Report ({len(self.queries)} queries):"]
        for i, s in enumerate(self.slowest(limit), 1):
            lines.append(f"{i}. {s.duration_ms:.2f}ms: {s.sql}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"<SlowQueryLog {len(self.queries)} of {self.seen} statements >= {self.threshold_ms:g} ms>"


# -- assert_queries ------------------------------------------------------------------------
class QueryCountAssertion(_Recorder):
    """Fails the block unless exactly ``expected`` statements ran in it.

    Transaction control (BEGIN, COMMIT, SAVEPOINT...) is not counted unless
    ``include_transaction_control=True``.
    """

    def __init__(self, expected: int, include_transaction_control: bool = False,
                 all_threads: bool = False):
        super().__init__(all_threads)
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
            raise ValueError(f"assert_queries takes a number of statements >= 0, got {expected!r}")
        self.expected = expected
        self.include_transaction_control = include_transaction_control
        self.statements: list[StatementRecord] = []

    def _reset(self) -> None:
        self.statements = []

    def _record(self, record: StatementRecord) -> None:
        if self.include_transaction_control or record.verb not in _TX_CONTROL:
            self.statements.append(record)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.stop()
        if exc_type is None and self.count != self.expected:
            listing = "\n".join(f"  {i}. {_short(s.sql)}{_params_text(s.params)}"
                                for i, s in enumerate(self.statements, 1))
            raise AssertionError(
                f"expected {self.expected} {'query' if self.expected == 1 else 'queries'}, "
                f"{self.count} {'was' if self.count == 1 else 'were'} executed"
                + (f":\n{listing}" if listing else ""))
        return False


# -- EXPLAIN-based index advice --------------------------------------------------------------
class IndexAdvice(NamedTuple):
    table: str
    columns: tuple
    reason: str   # "full scan" or "automatic index"
    sql: str

    @property
    def message(self) -> str:
        cols = ", ".join(self.columns)
        if self.reason == "automatic index":
            return (f"{self.table}: the database builds an automatic index on every run; "
                    f"an index on {self.table}({cols}) would serve it")
        return f"{self.table}: full scan; an index on {self.table}({cols}) would serve it"

    def __str__(self) -> str:
        return self.message


_SQLITE_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(?: AS (\S+))?$")
_SQLITE_AUTO = re.compile(r"^SEARCH (?:TABLE )?(\S+)(?: AS (\S+))? USING AUTOMATIC "
                          r"(?:PARTIAL )?(?:COVERING )?INDEX \(([^)]*)\)")
_PG_SEQ = re.compile(r"Seq Scan on (\S+)(?: (\S+))?")


def index_advice(sql: str, params: Any, backend: Any) -> list[IndexAdvice]:
    """Ask the database's planner about ``sql``; tables it reads without a useful index."""
    backend = getattr(backend, "sync", backend) if getattr(backend, "is_async", False) else backend
    if getattr(backend, "is_async", False):
        return []
    dialect = getattr(getattr(backend, "dialect", None), "name", "")
    postgres = dialect.startswith("postg")
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    token = _explaining.set(True)
    try:
        details = [str(row[0] if postgres else row[-1])
                   for row in backend.execute(prefix + sql, params or None).fetchall()]
    except Exception:
        return []
    finally:
        _explaining.reset(token)
    statement = scan(sql)
    columns = filter_columns(sql)
    out: list[IndexAdvice] = []
    for detail in details:
        auto = None if postgres else _SQLITE_AUTO.match(detail)
        if auto:
            table = statement.aliases.get(auto.group(1).lower(), auto.group(1).lower())
            cols = tuple(re.findall(r"(\w+)\s*(?:=|>|<|IS)", auto.group(3)))
            if cols:
                out.append(IndexAdvice(statement.spelling.get(table, table), cols, "automatic index", sql))
            continue
        match = _PG_SEQ.search(detail) if postgres else _SQLITE_SCAN.match(detail)
        if not match:
            continue
        name = match.group(1).strip('"').lower()
        table = statement.aliases.get(name, name)
        shown = statement.spelling.get(table, table)
        cols = _columns_for(table, shown, statement, columns, backend, postgres)
        if cols:
            out.append(IndexAdvice(shown, cols, "full scan", sql))
    return out


def _columns_for(table: str, shown: str, statement: Any, columns: list, backend: Any,
                 postgres: bool) -> tuple:
    """The WHERE/ON columns of ``table`` in this statement, else its ORDER BY columns.

    On PostgreSQL a sequential scan is also the planner's choice for small tables, so
    columns that already lead an index are left out.
    """
    known = None if postgres else _table_columns(backend, shown)
    indexed = _pg_indexed_columns(backend, shown) if postgres else set()
    single = len(statement.tables) == 1
    for role in ("filter", "order"):
        found: list[str] = []
        for col_role, qualifier, column in columns:
            lower = column.lower()
            if col_role != role or lower in (f.lower() for f in found):
                continue
            if qualifier is not None:
                if statement.aliases.get(qualifier, qualifier) != table:
                    continue
            elif known is None and not single:
                continue
            if (known is not None and lower not in known) or lower in indexed:
                continue
            found.append(column)
        if found:
            return tuple(found)
    return ()


_PG_INDEX_LEAD = re.compile(r"\(\s*\"?([^\s\",)]+)")


def _pg_indexed_columns(backend: Any, table: str) -> set:
    token = _explaining.set(True)
    try:
        rows = backend.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s",
                               (table,)).fetchall()
    except Exception:
        return set()
    finally:
        _explaining.reset(token)
    return {m.group(1).lower() for (indexdef,) in rows if (m := _PG_INDEX_LEAD.search(indexdef))}


def _table_columns(backend: Any, table: str) -> Optional[set]:
    token = _explaining.set(True)
    try:
        quoted = '"' + table.replace('"', '""') + '"'
        return {str(row[1]).lower() for row in backend.execute(f"PRAGMA table_info({quoted})").fetchall()}
    except Exception:
        return None
    finally:
        _explaining.reset(token)


# -- the public one-liners -------------------------------------------------------------------
def profile(all_threads: bool = False, backend: Any = None) -> Profile:
    """``with activerecord.profile() as p:`` record every statement of the block."""
    return Profile(all_threads=all_threads, backend=backend)


def slow_queries(threshold_ms: float = 100.0, all_threads: bool = False, log: bool = True) -> SlowQueryLog:
    """``with activerecord.slow_queries(threshold_ms=100) as slow:`` then ``slow.report()``."""
    return SlowQueryLog(threshold_ms, all_threads=all_threads, log=log)


def assert_queries(expected: int, include_transaction_control: bool = False,
                   all_threads: bool = False) -> QueryCountAssertion:
    """``with assert_queries(2):`` fail unless exactly two statements run in the block."""
    return QueryCountAssertion(expected, include_transaction_control, all_threads)
