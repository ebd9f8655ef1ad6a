"""Expression nodes. Each node renders its own SQL into a ``Compiler``.

Nodes hold Python values, never SQL text built from them: values become bound
parameters, converted with the column's ``to_db`` when they are compared with a
column, and identifiers come only from model metadata and are quoted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

if TYPE_CHECKING:
    from ..fields import ColumnInfo
    from .compiler import Compiler


class Node:
    """Base of everything that renders to SQL."""

    __slots__ = ()

    def sql(self, c: "Compiler") -> str:
        raise NotImplementedError


class Expr(Node):
    """A value-producing node: supports comparison and boolean operators."""

    __slots__ = ()

    def _cmp(self, op: str, other: Any) -> "Compare":
        return Compare(self, op, as_node(other, self))

    def __eq__(self, other: Any) -> "Expr":  # type: ignore[override]
        if other is None:
            return IsNull(self, True)
        return self._cmp("=", other)

    def __ne__(self, other: Any) -> "Expr":  # type: ignore[override]
        if other is None:
            return IsNull(self, False)
        return self._cmp("<>", other)

    def __lt__(self, other: Any) -> "Compare":
        return self._cmp("<", other)

    def __le__(self, other: Any) -> "Compare":
        return self._cmp("<=", other)

    def __gt__(self, other: Any) -> "Compare":
        return self._cmp(">", other)

    def __ge__(self, other: Any) -> "Compare":
        return self._cmp(">=", other)

    __hash__ = Node.__hash__

    def __and__(self, other: Any) -> "BoolOp":
        return BoolOp("AND", [self, other])

    def __or__(self, other: Any) -> "BoolOp":
        return BoolOp("OR", [self, other])

    def __invert__(self) -> "Not":
        return Not(self)

    def __add__(self, other: Any) -> "Arith":
        return Arith(self, "+", as_node(other, self))

    def __sub__(self, other: Any) -> "Arith":
        return Arith(self, "-", as_node(other, self))

    def __mul__(self, other: Any) -> "Arith":
        return Arith(self, "*", as_node(other, self))

    def __truediv__(self, other: Any) -> "Arith":
        return Arith(self, "/", as_node(other, self))

    def is_in(self, values: Iterable[Any]) -> "Expr":
        if _is_subquery(values):
            return InSubquery(self, values, negate=False)  # type: ignore[arg-type]
        return InList(self, list(values), negate=False)

    def not_in(self, values: Iterable[Any]) -> "Expr":
        if _is_subquery(values):
            return InSubquery(self, values, negate=True)  # type: ignore[arg-type]
        return InList(self, list(values), negate=True)

    def like(self, pattern: Any) -> "Compare":
        return Compare(self, "LIKE", as_node(pattern, None))

    def not_like(self, pattern: Any) -> "Compare":
        return Compare(self, "NOT LIKE", as_node(pattern, None))

    def between(self, low: Any, high: Any) -> "Between":
        return Between(self, as_node(low, self), as_node(high, self))

    def is_null(self) -> "IsNull":
        return IsNull(self, True)

    def is_not_null(self) -> "IsNull":
        return IsNull(self, False)

    def as_(self, alias: str) -> "Alias":
        return Alias(self, alias)

    def desc(self) -> "Ordering":
        return Ordering(self, "DESC")

    def asc(self) -> "Ordering":
        return Ordering(self, "ASC")

    @property
    def label(self) -> str:
        """The key this expression gets in ``aggregate()`` rows when not aliased."""
        return "expr"


def _is_subquery(values: Any) -> bool:
    """A node or a query (``ActiveQuery`` renders itself with ``sql(compiler)``)."""
    return isinstance(values, Node) or (callable(getattr(values, "sql", None))
                                        and hasattr(values, "_compile_select"))


def as_node(value: Any, column_hint: Optional[Node]) -> Node:
    if isinstance(value, Node):
        return value
    col = column_hint.column_info if isinstance(column_hint, Column) else None
    return Param(value, col)


class Column(Expr):
    """A model field, rendered as the quoted, table-qualified column name."""

    __slots__ = ("model", "column_info")

    def __init__(self, model: type, column_info: "ColumnInfo"):
        self.model = model
        self.column_info = column_info

    @property
    def name(self) -> str:
        return self.column_info.name

    @property
    def label(self) -> str:
        return self.column_info.name

    def sql(self, c: "Compiler") -> str:
        return c.column(self.model, self.column_info)

    def __repr__(self) -> str:
        return f"{self.model.__name__}.c.{self.column_info.name}"


class FieldName(Expr):
    """A field named by a string inside an aggregate (``Sum('total')``).

    Resolved against the query it is compiled in, so ``'Order.total'`` works in joins.
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    @property
    def label(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def sql(self, c: "Compiler") -> str:
        return c.resolve_name(self.name).sql(c)

    def __repr__(self) -> str:
        return f"FieldName({self.name!r})"


class Param(Expr):
    """A bound value; converted with ``column_info.to_db`` when it has a column."""

    __slots__ = ("value", "column_info")

    def __init__(self, value: Any, column_info: Optional["ColumnInfo"] = None):
        self.value = value
        self.column_info = column_info

    def sql(self, c: "Compiler") -> str:
        return c.param(self.value, self.column_info)


class BindParam(Expr):
    """A named placeholder filled in when a compiled query executes."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"BindParam name must be an identifier, got {name!r}")
        self.name = name

    def sql(self, c: "Compiler") -> str:
        return c.bind(self.name, None)

    def __repr__(self) -> str:
        return f"BindParam({self.name!r})"


class Compare(Expr):
    __slots__ = ("left", "op", "right")

    def __init__(self, left: Node, op: str, right: Node):
        self.left, self.op, self.right = left, op, right

    def sql(self, c: "Compiler") -> str:
        left = self.left.sql(c)
        if isinstance(self.right, BindParam) and isinstance(self.left, Column):
            right = c.bind(self.right.name, self.left.column_info)
        else:
            right = self.right.sql(c)
        return f"{left} {self.op} {right}"


class Arith(Expr):
    __slots__ = ("left", "op", "right")

    def __init__(self, left: Node, op: str, right: Node):
        self.left, self.op, self.right = left, op, right

    def sql(self, c: "Compiler") -> str:
        return f"({self.left.sql(c)} {self.op} {self.right.sql(c)})"


class BoolOp(Expr):
    __slots__ = ("op", "parts")

    def __init__(self, op: str, parts: list):
        flat: list = []
        for part in parts:
            if not isinstance(part, Node):
                raise TypeError(f"cannot combine {part!r} with {op}: expected an expression")
            if isinstance(part, BoolOp) and part.op == op:
                flat.extend(part.parts)
            else:
                flat.append(part)
        self.op, self.parts = op, flat

    def sql(self, c: "Compiler") -> str:
        return "(" + f" {self.op} ".join(p.sql(c) for p in self.parts) + ")"


class Not(Expr):
    __slots__ = ("inner",)

    def __init__(self, inner: Node):
        self.inner = inner

    def sql(self, c: "Compiler") -> str:
        return f"NOT ({self.inner.sql(c)})"


class IsNull(Expr):
    __slots__ = ("inner", "positive")

    def __init__(self, inner: Node, positive: bool):
        self.inner, self.positive = inner, positive

    def sql(self, c: "Compiler") -> str:
        return f"{self.inner.sql(c)} IS {'' if self.positive else 'NOT '}NULL"


class Between(Expr):
    __slots__ = ("inner", "low", "high")

    def __init__(self, inner: Node, low: Node, high: Node):
        self.inner, self.low, self.high = inner, low, high

    def sql(self, c: "Compiler") -> str:
        return f"{self.inner.sql(c)} BETWEEN {self.low.sql(c)} AND {self.high.sql(c)}"


class InList(Expr):
    """``x IN (...)``; an empty list is false (``NOT IN`` of it is true)."""

    __slots__ = ("inner", "values", "negate")

    def __init__(self, inner: Node, values: list, negate: bool):
        self.inner, self.values, self.negate = inner, values, negate

    def sql(self, c: "Compiler") -> str:
        if not self.values:
            return "1 = 1" if self.negate else "1 = 0"
        col = self.inner.column_info if isinstance(self.inner, Column) else None
        return c.in_list(self.inner.sql(c), self.values, col, self.negate)


class InSubquery(Expr):
    __slots__ = ("inner", "query", "negate")

    def __init__(self, inner: Node, query: Node, negate: bool):
        self.inner, self.query, self.negate = inner, query, negate

    def sql(self, c: "Compiler") -> str:
        op = "NOT IN" if self.negate else "IN"
        return f"{self.inner.sql(c)} {op} ({self.query.sql(c)})"


class Alias(Expr):
    __slots__ = ("inner", "alias")

    def __init__(self, inner: Node, alias: str):
        if not isinstance(alias, str) or not alias.isidentifier():
            raise ValueError(f"alias must be an identifier, got {alias!r}")
        self.inner, self.alias = inner, alias

    @property
    def label(self) -> str:
        return self.alias

    def sql(self, c: "Compiler") -> str:
        return f"{self.inner.sql(c)} AS {c.quote(self.alias)}"


class Ordering(Node):
    __slots__ = ("inner", "direction")

    def __init__(self, inner: Node, direction: str):
        direction = direction.upper()
        if direction not in ("ASC", "DESC"):
            raise ValueError(f"order direction must be 'ASC' or 'DESC', got {direction!r}")
        self.inner, self.direction = inner, direction

    def sql(self, c: "Compiler") -> str:
        return f"{self.inner.sql(c)} {self.direction}"


class Func(Expr):
    """An SQL function call; the aggregates below are the common ones."""

    __slots__ = ("fn", "args", "distinct")
    fn_name = ""

    def __init__(self, *args: Any, distinct: bool = False):
        self.fn = self.fn_name
        self.args = [a if isinstance(a, Node) else Param(a) for a in args]
        self.distinct = distinct

    @property
    def label(self) -> str:
        if not self.args:
            return self.fn.lower()
        return f"{self.fn.lower()}_{getattr(self.args[0], 'label', 'expr')}"

    def sql(self, c: "Compiler") -> str:
        inner = ", ".join(a.sql(c) for a in self.args) if self.args else "*"
        return f"{self.fn}({'DISTINCT ' if self.distinct else ''}{inner})"

    @property
    def result_column(self) -> Optional["ColumnInfo"]:
        """Column whose converter applies to the result (MIN/MAX/SUM keep the type)."""
        return None


class Aggregate(Func):
    """An aggregate over a column given as ``Model.c.x`` or by name (``'x'``)."""

    def __init__(self, *args: Any, distinct: bool = False):
        super().__init__(*[FieldName(a) if isinstance(a, str) else a for a in args],
                         distinct=distinct)


class Count(Aggregate):
    fn_name = "COUNT"


class _TypedAggregate(Aggregate):
    @property
    def result_column(self) -> Optional["ColumnInfo"]:
        arg = self.args[0] if self.args else None
        return arg.column_info if isinstance(arg, Column) else None


class Sum(_TypedAggregate):
    fn_name = "SUM"

    @property
    def result_column(self) -> Optional["ColumnInfo"]:
        col = super().result_column
        # A SUM of booleans is a count, not a boolean.
        return col if col is not None and col.kind in ("float", "decimal") else None


class Avg(Aggregate):
    fn_name = "AVG"


class Min(_TypedAggregate):
    fn_name = "MIN"


class Max(_TypedAggregate):
    fn_name = "MAX"


class Raw(Expr):
    """Literal SQL with its own bound parameters, for what the builder lacks."""

    __slots__ = ("text", "params")

    def __init__(self, text: str, params: Iterable[Any] = ()):
        self.text, self.params = text, list(params)

    def sql(self, c: "Compiler") -> str:
        for p in self.params:
            c.params.append(p)
        return c.dialect.raw_fragment(self.text)
