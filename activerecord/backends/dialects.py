"""What differs between databases, as data and a few small methods.

A dialect knows how to quote identifiers, which placeholder to use, which DDL type
stores each field kind and how Python values convert to and from storage. Models,
queries and the compiler ask the dialect; they never test which database they run on.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import re
import uuid
from typing import Any, Callable, Optional

import pydantic
import pydantic_core

from .. import fields as F
from ..fields import ColumnInfo

Converter = Optional[Callable[[Any], Any]]


def _json_default(value: Any) -> Any:
    return pydantic_core.to_jsonable_python(value)


def json_dumps(value: Any) -> Any:
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, default=_json_default, separators=(",", ":"))


class Dialect:
    """Base dialect: ANSI quoting; subclasses fill in types and conversions."""

    name = "ansi"
    placeholder = "?"
    # Largest IN (...) list rendered with one placeholder per value.
    max_inline_in = 1000
    # Largest number of bound variables in one statement.
    max_variables = 32766
    insert_returning = False
    ddl_types: dict[str, str] = {}

    def quote(self, identifier: str) -> str:
        if not isinstance(identifier, str) or not identifier or "\x00" in identifier:
            raise ValueError(f"invalid SQL identifier: {identifier!r}")
        return '"' + identifier.replace('"', '""') + '"'

    def column_type(self, col: ColumnInfo) -> str:
        if col.kind == F.STR and col.max_length:
            return f"VARCHAR({int(col.max_length)})"
        if col.kind == F.DECIMAL and col.max_digits is not None:
            return f"NUMERIC({int(col.max_digits)},{int(col.decimal_places or 0)})"
        if col.kind == F.ENUM:
            values = [m.value for m in col.enum_type]  # type: ignore[union-attr]
            return self.ddl_types[F.INT if all(isinstance(v, int) for v in values) else F.STR]
        return self.ddl_types[col.kind]

    def autoincrement_pk_ddl(self, col: ColumnInfo) -> str:
        return f"{self.quote(col.column)} INTEGER PRIMARY KEY"

    def converters(self, col: ColumnInfo) -> tuple[Converter, Converter]:
        """(to_db, from_db) for a column; None means the value passes unchanged."""
        raise NotImplementedError

    def in_many(self, compiler: Any, lhs: str, op: str, values: list) -> str:
        """``lhs IN`` a list too long to inline, as a single bound parameter."""
        raise NotImplementedError

    def limit_offset(self, compiler: Any, limit: Optional[int], offset: Optional[int]) -> str:
        """`` LIMIT ? OFFSET ?`` (SQLite needs a LIMIT, -1 = none, before any OFFSET)."""
        sql = f" LIMIT {compiler.param(-1 if limit is None else int(limit), None)}"
        if offset is not None:
            sql += f" OFFSET {compiler.param(int(offset), None)}"
        return sql

    def raw_fragment(self, text: str) -> str:
        """A user's SQL fragment (``where('age > ?', 18)``) in this dialect's placeholders."""
        return text

    # -- EXPLAIN ---------------------------------------------------------------------
    explain_prefix = "EXPLAIN QUERY PLAN "

    def full_scan_table(self, detail: str) -> Optional[str]:
        """The table a plan line reads row by row without an index, else None."""
        match = _SQLITE_SCAN.match(detail)
        if match and "USING" not in match.group(2):
            return match.group(1)
        return None

    def plan_text(self, rows: list) -> str:
        """EXPLAIN QUERY PLAN rows (id, parent, notused, detail) as an indented tree."""
        children: dict[int, list] = {}
        for row in rows:
            children.setdefault(row[1], []).append(row)
        lines = ["QUERY PLAN"]

        def walk(parent: int, depth: int) -> None:
            for row in children.get(parent, []):
                lines.append("  " * depth + "|--" + row[-1])
                walk(row[0], depth + 1)

        walk(0, 0)
        return "\n".join(lines)


_SQLITE_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(.*)$")


def _enum_converters(enum_type: type) -> tuple[Converter, Converter]:
    def to_db(v: Any) -> Any:
        return v.value if isinstance(v, enum.Enum) else v
    return to_db, enum_type


def _decimal_from_db(places: Optional[int]) -> Callable[[Any], decimal.Decimal]:
    quantum = decimal.Decimal(1).scaleb(-places) if places is not None else None

    def from_db(v: Any) -> decimal.Decimal:
        d = decimal.Decimal(repr(v)) if isinstance(v, float) else decimal.Decimal(v)
        return d.quantize(quantum) if quantum is not None and d.is_finite() else d
    return from_db


def _json_from_db(col: ColumnInfo) -> Callable[[Any], Any]:
    inner, _ = F.unwrap_optional(col.annotation)
    try:
        plain = inner in (dict, list) or inner is Any or (
            getattr(inner, "__origin__", None) in (dict, list)
            and all(a in (str, int, float, bool, Any) for a in inner.__args__))
    except TypeError:
        plain = False
    if plain:
        return json.loads
    adapter = pydantic.TypeAdapter(inner)
    return adapter.validate_json


def _datetime_from_db(v: Any) -> _dt.datetime:
    if isinstance(v, str):
        return _dt.datetime.fromisoformat(v)
    return _dt.datetime.fromtimestamp(v)


def _date_from_db(v: Any) -> _dt.date:
    if len(v) > 10:
        return _dt.datetime.fromisoformat(v).date()
    return _dt.date.fromisoformat(v)


def _float_from_db(v: Any) -> float:
    return float(v)


class SQLiteDialect(Dialect):
    name = "sqlite"

    def in_many(self, compiler: Any, lhs: str, op: str, values: list) -> str:
        if any(isinstance(v, (bytes, bytearray, memoryview)) for v in values):
            raise ValueError(f"an IN list of {len(values)} blobs is too long; split it")
        # json_each cuts a string at a NUL character: bind such values one by one.
        with_nul = [v for v in values if isinstance(v, str) and "\x00" in v]
        if not with_nul:
            compiler.params.append(json.dumps(values))
            return f"{lhs} {op} (SELECT value FROM json_each({self.placeholder}))"
        if len(with_nul) > self.max_inline_in:
            raise ValueError(f"an IN list with {len(with_nul)} strings containing NUL "
                             "characters is too long; split it")
        compiler.params.append(json.dumps([v for v in values if not (isinstance(v, str) and "\x00" in v)]))
        compiler.params.extend(with_nul)
        rows = ", ".join([f"({self.placeholder})"] * len(with_nul))
        return f"{lhs} {op} (SELECT value FROM json_each({self.placeholder}) UNION ALL VALUES {rows})"
    placeholder = "?"
    max_variables = 32766
    ddl_types = {
        F.INT: "INTEGER", F.FLOAT: "REAL", F.STR: "TEXT", F.BOOL: "BOOLEAN",
        F.BYTES: "BLOB", F.DATETIME: "DATETIME", F.DATE: "DATE", F.TIME: "TIME",
        F.DECIMAL: "NUMERIC", F.UUID: "CHAR(36)", F.JSON: "JSON",
    }

    def converters(self, col: ColumnInfo) -> tuple[Converter, Converter]:
        kind = col.kind
        if kind in (F.INT, F.STR):
            return None, None
        if kind == F.FLOAT:
            return None, _float_from_db
        if kind == F.BOOL:
            return int, bool
        if kind == F.BYTES:
            return bytes, None
        if kind == F.DATETIME:
            return (lambda v: v.isoformat(" ") if isinstance(v, _dt.datetime) else v), _datetime_from_db
        if kind == F.DATE:
            return (lambda v: v.isoformat() if isinstance(v, _dt.date) else v), _date_from_db
        if kind == F.TIME:
            return (lambda v: v.isoformat() if isinstance(v, _dt.time) else v), _dt.time.fromisoformat
        if kind == F.DECIMAL:
            return (lambda v: str(v) if isinstance(v, decimal.Decimal) else v), _decimal_from_db(col.decimal_places)
        if kind == F.UUID:
            return (lambda v: str(v) if isinstance(v, uuid.UUID) else v), uuid.UUID
        if kind == F.ENUM:
            return _enum_converters(col.enum_type)  # type: ignore[arg-type]
        if kind == F.JSON:
            return json_dumps, _json_from_db(col)
        raise TypeError(f"no SQLite storage for field kind {kind!r}")
