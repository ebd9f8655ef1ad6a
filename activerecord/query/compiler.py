"""Turns a query's node tree into ``(sql, params)`` for one dialect.

The compiler owns the parameter list and the quoting; nodes call back into it.
Named ``BindParam`` placeholders become slots that a compiled query fills later.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .expressions import Alias, Column, Func, Node, Ordering

if TYPE_CHECKING:
    from ..backends.dialects import Dialect
    from ..fields import ColumnInfo
    from .builder import ActiveQuery


class BindSlot:
    """Where a named parameter goes, and how to convert its value."""

    __slots__ = ("name", "to_db")

    def __init__(self, name: str, to_db: Any):
        self.name, self.to_db = name, to_db


class SelectItem:
    """One entry of a select list, as hydration needs it."""

    __slots__ = ("model", "column_info", "label", "converter_column")

    def __init__(self, model: Optional[type], column_info: Optional["ColumnInfo"], label: str,
                 converter_column: Optional["ColumnInfo"] = None):
        self.model = model                  # set when the item is a plain model column
        self.column_info = column_info
        self.label = label
        self.converter_column = converter_column or column_info


# Quoted identifiers per dialect. Quoting is pure and a query renders the same few names
# many times (every column is table-qualified), so each name is quoted once. Bounded,
# since identifiers can come from user input.
_QUOTED: dict[Any, dict[str, str]] = {}
_QUOTED_MAX = 4096


class Compiler:
    def __init__(self, dialect: "Dialect"):
        self.dialect = dialect
        self.params: list[Any] = []
        self.has_binds = False
        self.scope: Optional["ActiveQuery"] = None   # the query whose names are being rendered
        quoted = _QUOTED.get(dialect)
        if quoted is None:
            if len(_QUOTED) >= 16:    # dialects are per backend class; many means churn
                _QUOTED.clear()
            quoted = _QUOTED[dialect] = {}
        self._quoted = quoted

    def resolve_name(self, name: str) -> Node:
        """The column a string names (``Sum('total')``) in the query being compiled."""
        if self.scope is None:
            raise ValueError(f"field name {name!r} used outside a query")
        return self.scope._column(name)

    def quote(self, identifier: str) -> str:
        quoted = self._quoted.get(identifier) if type(identifier) is str else None
        if quoted is None:
            quoted = self.dialect.quote(identifier)
            if type(identifier) is str and len(self._quoted) < _QUOTED_MAX:
                self._quoted[identifier] = quoted
        return quoted

    def table(self, model: type) -> str:
        return self.quote(model.__ar_meta__().table)

    def column(self, model: type, ci: "ColumnInfo") -> str:
        return f"{self.quote(model.__ar_meta__().table)}.{self.quote(ci.column)}"

    def to_db(self, ci: Optional["ColumnInfo"]) -> Any:
        return None if ci is None else self.dialect_codec(ci)[0]

    def dialect_codec(self, ci: "ColumnInfo") -> tuple:
        return ci.codec(self.dialect)

    def param(self, value: Any, ci: Optional["ColumnInfo"]) -> str:
        if ci is not None and value is not None:
            to_db = ci.codec(self.dialect)[0]
            if to_db is not None:
                value = to_db(value)
        self.params.append(value)
        return self.dialect.placeholder

    def bind(self, name: str, ci: Optional["ColumnInfo"]) -> str:
        self.has_binds = True
        self.params.append(BindSlot(name, self.to_db(ci)))
        return self.dialect.placeholder

    def in_list(self, lhs: str, values: list, ci: Optional["ColumnInfo"], negate: bool) -> str:
        op = "NOT IN" if negate else "IN"
        to_db = self.to_db(ci)
        if to_db is not None:
            values = [v if v is None else to_db(v) for v in values]
        if len(values) > self.dialect.max_inline_in:
            return self.dialect_in_many(lhs, op, values)
        self.params.extend(values)
        marks = ", ".join([self.dialect.placeholder] * len(values))
        return f"{lhs} {op} ({marks})"

    def dialect_in_many(self, lhs: str, op: str, values: list) -> str:
        """A long IN list as one parameter, so it never hits the variable limit."""
        return self.dialect.in_many(self, lhs, op, values)

    # -- statements ------------------------------------------------------------------
    def render(self, node: Node) -> str:
        return node.sql(self)

    def select_items(self, query: "ActiveQuery") -> list[tuple[Node, SelectItem]]:
        meta = query.model.__ar_meta__()
        if not query._select:
            return [(Column(query.model, ci), SelectItem(query.model, ci, ci.name))
                    for ci in meta.columns]
        items = []
        for node in query._select:
            if isinstance(node, Column):
                items.append((node, SelectItem(node.model, node.column_info, node.label)))
            elif isinstance(node, Alias) and isinstance(node.inner, Column):
                inner = node.inner
                items.append((node, SelectItem(None, inner.column_info, node.alias)))
            else:
                inner = node.inner if isinstance(node, Alias) else node
                conv = inner.result_column if isinstance(inner, Func) else None
                items.append((node, SelectItem(None, None, node.label, conv)))
        return items

    def select(self, query: "ActiveQuery", items: Optional[list] = None,
               columns_sql: Optional[str] = None) -> str:
        outer_scope, self.scope = self.scope, query
        if columns_sql is None:
            items = items if items is not None else self.select_items(query)
            columns_sql = ", ".join(node.sql(self) for node, _ in items)
        parts = ["SELECT ", "DISTINCT " if query._distinct else "", columns_sql,
                 " FROM ", self.table(query.model)]
        for kind, model, on in query._joins:
            parts.append(f" {kind} {self.table(model)} ON {on.sql(self)}")
        self._where(parts, query._where)
        if query._group_by:
            parts.append(" GROUP BY " + ", ".join(g.sql(self) for g in query._group_by))
        if query._having:
            parts.append(" HAVING " + " AND ".join(h.sql(self) for h in query._having))
        for op, other in query._set_ops:
            parts.append(f" {op} ")
            parts.append(self.select(other.unordered()))
        self._order_limit(parts, query)
        self.scope = outer_scope
        return "".join(parts)

    def _where(self, parts: list, wheres: tuple) -> None:
        if wheres:
            if len(wheres) == 1:
                parts.append(" WHERE " + _strip_parens(wheres[0].sql(self)))
            else:
                parts.append(" WHERE " + " AND ".join(w.sql(self) for w in wheres))

    def _order_limit(self, parts: list, query: "ActiveQuery") -> None:
        if query._order and query._set_ops:
            # A compound select is ordered by its output columns, named without a table.
            parts.append(" ORDER BY " + ", ".join(
                f"{self.quote(o.inner.column_info.column)} {o.direction}"
                if isinstance(o.inner, Column) else o.sql(self) for o in query._order))
        elif query._order:
            parts.append(" ORDER BY " + ", ".join(o.sql(self) for o in query._order))
        if query._limit is not None or query._offset is not None:
            parts.append(self.dialect.limit_offset(self, query._limit, query._offset))

    def update(self, query: "ActiveQuery", assignments: list[tuple["ColumnInfo", Any]]) -> str:
        meta = query.model.__ar_meta__()
        sets = ", ".join(f"{self.quote(ci.column)} = {self.param(v, ci)}" for ci, v in assignments)
        parts = [f"UPDATE {self.table(query.model)} SET {sets}"]
        self._restrict(parts, query, meta)
        return "".join(parts)

    def delete(self, query: "ActiveQuery") -> str:
        meta = query.model.__ar_meta__()
        parts = [f"DELETE FROM {self.table(query.model)}"]
        self._restrict(parts, query, meta)
        return "".join(parts)

    def _restrict(self, parts: list, query: "ActiveQuery", meta: Any) -> None:
        """WHERE for a bulk write; joins/limits go through a primary-key subquery."""
        self.scope = query
        if query._joins or query._limit is not None or query._offset is not None or query._group_by:
            pk = meta.primary_key
            key_cols = ", ".join(self.column(query.model, ci) for ci in pk)
            sub = query.select(*[Column(query.model, ci) for ci in pk])
            lhs = key_cols if len(pk) == 1 else f"({key_cols})"
            parts.append(f" WHERE {lhs} IN ({self.select(sub)})")
        else:
            self._where(parts, query._where)


def _strip_parens(sql: str) -> str:
    if sql.startswith("(") and sql.endswith(")") and _balanced(sql[1:-1]):
        return sql[1:-1]
    return sql


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


