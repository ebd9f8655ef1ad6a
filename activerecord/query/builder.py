"""``ActiveQuery``: an immutable, generative query builder.

Every builder method returns a new query and leaves its receiver unchanged, so a
query can be kept and reused. Terminals are written once as step generators
(``_all_steps``...) and driven by the sync methods here or by ``aio``.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Iterator, Optional

import pydantic

from .. import errors
from .. import identity as _identity
from ..execution import Execute, Steps, run
from ..hydrate import Row, hydrate_records
from .compiler import BindSlot, Compiler, SelectItem
from .expressions import Alias, Column, FieldName, Func, Node, Ordering, Raw

if TYPE_CHECKING:
    from ..fields import ColumnInfo

_JOIN_KINDS = {"INNER": "JOIN", "LEFT": "LEFT JOIN"}


def _cacheable(terminal: Any) -> Any:
    """Serve a terminal's SELECTs through the query cache when ``cache(ttl=...)`` is set."""
    def steps(self: "ActiveQuery", *args: Any) -> Steps:
        if "cache_ttl" in self._options:
            from ..cache import cached_steps
            return cached_steps(terminal(self, *args), self._options["cache_ttl"])
        return terminal(self, *args)
    steps.__name__, steps.__doc__ = terminal.__name__, terminal.__doc__
    return steps
_SET_OPS = ("UNION", "UNION ALL", "INTERSECT", "EXCEPT")


class ActiveQuery:
    __slots__ = ("model", "_select", "_where", "_order", "_limit", "_offset", "_distinct",
                 "_joins", "_group_by", "_having", "_set_ops", "_includes", "_options",
                 "_compiled")

    def __init__(self, model: type):
        self.model = model
        self._select: tuple = ()
        self._where: tuple = ()
        self._order: tuple = ()
        self._limit: Optional[int] = None
        self._offset: Optional[int] = None
        self._distinct = False
        self._joins: tuple = ()
        self._group_by: tuple = ()
        self._having: tuple = ()
        self._set_ops: tuple = ()
        self._includes: tuple = ()
        self._options: dict = {}
        self._compiled: Optional[tuple] = None

    def _clone(self, **changes: Any) -> "ActiveQuery":
        # Every slot but _compiled, spelled out: a loop over __slots__ costs several times more
        # on a path each builder call takes (tests/test_hot_paths.py checks none is missed).
        new = object.__new__(type(self))
        new.model = self.model
        new._select = self._select
        new._where = self._where
        new._order = self._order
        new._limit = self._limit
        new._offset = self._offset
        new._distinct = self._distinct
        new._joins = self._joins
        new._group_by = self._group_by
        new._having = self._having
        new._set_ops = self._set_ops
        new._includes = self._includes
        new._options = self._options
        new._compiled = None
        for key, value in changes.items():
            setattr(new, key, value)
        return new

    # -- resolving names -------------------------------------------------------------
    def _models(self) -> dict[str, type]:
        models = {self.model.__name__: self.model}
        for _, model, _ in self._joins:
            models.setdefault(model.__name__, model)
        return models

    def _column(self, ref: Any) -> Node:
        """A column reference from a node, ``'field'`` or ``'Model.field'``."""
        if isinstance(ref, Node):
            return ref
        if not isinstance(ref, str):
            raise TypeError(f"expected a field name or column expression, got {ref!r}")
        model = self.model
        name = ref
        if "." in ref:
            model_name, name = ref.split(".", 1)
            model = self._models().get(model_name)  # type: ignore[assignment]
            if model is None:
                raise errors.UnknownColumnError(
                    f"{ref!r}: {model_name!r} is not a model in this query "
                    f"({', '.join(self._models())})")
        return Column(model, model.__ar_meta__().column(name))

    def _condition(self, condition: Any) -> Optional[Node]:
        if condition is None:
            return None
        if isinstance(condition, Node):
            return condition
        if isinstance(condition, dict):
            parts = []
            for key, value in condition.items():
                col = self._column(key)
                if isinstance(value, (list, tuple, set, frozenset)):
                    parts.append(col.is_in(value))  # type: ignore[union-attr]
                else:
                    parts.append(col == value)
            if not parts:
                return None
            node = parts[0]
            for part in parts[1:]:
                node = node & part
            return node
        raise TypeError(
            f"where() takes an expression such as {self.model.__name__}.c.id == 1 or a dict "
            f"of field values, got {type(condition).__name__}")

    # -- builders --------------------------------------------------------------------
    def select(self, *columns: Any) -> "ActiveQuery":
        return self._clone(_select=tuple(self._named_args(self._column(c)) for c in columns))

    def _named_args(self, node: Node) -> Node:
        """``Sum('total')`` -> ``Sum(Model.c.total)`` now, so the result keeps the field's type."""
        inner = node.inner if isinstance(node, Alias) else node
        if not isinstance(inner, Func) or not any(isinstance(a, FieldName) for a in inner.args):
            return node
        resolved = copy.copy(inner)
        resolved.args = [self._column(a.name) if isinstance(a, FieldName) else a for a in inner.args]
        return Alias(resolved, node.alias) if isinstance(node, Alias) else resolved

    def where(self, condition: Any = None, *params: Any, **equals: Any) -> "ActiveQuery":
        """AND a condition: an expression, a dict of field values, or ``field=value``."""
        if isinstance(condition, str):
            condition = Raw(condition, params)
        nodes = [n for n in (self._condition(condition), self._condition(equals or None)) if n]
        return self._clone(_where=self._where + tuple(nodes))

    def _where_any(self, condition: Any) -> "ActiveQuery":
        return self.where(condition) if condition is not None else self

    def order_by(self, *items: Any) -> "ActiveQuery":
        orders = []
        for item in items:
            if isinstance(item, Ordering):
                orders.append(item)
            elif isinstance(item, tuple):
                if len(item) != 2:
                    raise ValueError(f"order_by tuple must be (column, 'ASC'|'DESC'), got {item!r}")
                orders.append(Ordering(self._column(item[0]), str(item[1])))
            elif isinstance(item, str) and item.startswith("-"):
                orders.append(Ordering(self._column(item[1:]), "DESC"))
            elif isinstance(item, str) and " " in item.strip():
                name, direction = item.strip().rsplit(" ", 1)
                orders.append(Ordering(self._column(name.strip()), direction))
            else:
                orders.append(Ordering(self._column(item), "ASC"))
        return self._clone(_order=self._order + tuple(orders))

    def reorder(self, *items: Any) -> "ActiveQuery":
        return self._clone(_order=()).order_by(*items)

    def limit(self, n: Optional[int]) -> "ActiveQuery":
        return self._clone(_limit=_non_negative("limit", n))

    def offset(self, n: Optional[int]) -> "ActiveQuery":
        return self._clone(_offset=_non_negative("offset", n))

    def distinct(self, flag: bool = True) -> "ActiveQuery":
        return self._clone(_distinct=bool(flag))

    def join(self, model: type, on: Node, kind: str = "INNER") -> "ActiveQuery":
        if not isinstance(on, Node):
            raise TypeError(f"join() needs an ON expression such as "
                            f"{self.model.__name__}.c.id == {model.__name__}.c.{self.model.__name__.lower()}_id")
        return self._clone(_joins=self._joins + ((_JOIN_KINDS[kind.upper()], model, on),))

    def left_join(self, model: type, on: Node) -> "ActiveQuery":
        return self.join(model, on, kind="LEFT")

    def group_by(self, *columns: Any) -> "ActiveQuery":
        return self._clone(_group_by=self._group_by + tuple(self._column(c) for c in columns))

    def having(self, condition: Any) -> "ActiveQuery":
        node = self._condition(condition)
        return self._clone(_having=self._having + ((node,) if node is not None else ()))

    def _set_op(self, op: str, other: "ActiveQuery") -> "ActiveQuery":
        if not isinstance(other, ActiveQuery):
            raise TypeError(f"{op.lower()}() takes another query, got {type(other).__name__}")
        return self._clone(_set_ops=self._set_ops + ((op, other),))

    def union(self, other: "ActiveQuery", all: bool = False) -> "ActiveQuery":  # noqa: A002
        return self._set_op("UNION ALL" if all else "UNION", other)

    def union_all(self, other: "ActiveQuery") -> "ActiveQuery":
        return self._set_op("UNION ALL", other)

    def intersect(self, other: "ActiveQuery") -> "ActiveQuery":
        return self._set_op("INTERSECT", other)

    def except_(self, other: "ActiveQuery") -> "ActiveQuery":
        return self._set_op("EXCEPT", other)

    def unordered(self) -> "ActiveQuery":
        return self._clone(_order=(), _limit=None, _offset=None)

    def includes(self, *relations: Any) -> "ActiveQuery":
        """Eager-load relations: names, dotted paths, nested dicts, filtered lambdas."""
        if not relations:
            raise ValueError("includes() needs at least one relation name")
        return self._clone(_includes=self._includes + relations)

    with_ = includes

    def option(self, **options: Any) -> "ActiveQuery":
        """Per-query switches (``strict_loading``, ``preload_siblings``, ``cache_ttl``)."""
        return self._clone(_options={**self._options, **options})

    def strict_loading(self, flag: bool = True) -> "ActiveQuery":
        return self.option(strict_loading=flag)

    def preload_siblings(self, flag: bool = True) -> "ActiveQuery":
        """Whether a lazy relation read on one record loads it for all records of the result."""
        return self.option(preload_siblings=flag)

    def cache(self, ttl: Optional[float] = 60.0) -> "ActiveQuery":
        """Cache results for ``ttl`` seconds (None: until a write); writes invalidate; 0 turns off."""
        from ..cache import check_ttl
        ttl = check_ttl(ttl)
        if ttl == 0:
            return self._clone(_options={k: v for k, v in self._options.items() if k != "cache_ttl"})
        return self.option(cache_ttl=ttl)

    # -- compiling -------------------------------------------------------------------
    def _dialect(self) -> Any:
        return self.model.backend().dialect

    def _compile_select(self, dialect: Any) -> tuple[str, list, "Shape"]:
        """(sql, params, shape), built once per query and dialect."""
        compiled = self._compiled
        if compiled is None or compiled[0] is not dialect:
            c = Compiler(dialect)
            if self._select:
                items = c.select_items(self)
                sql = c.select(self, items)
                shape = Shape.of(self.model, [item for _, item in items], dialect)
            else:
                columns_sql, shape = _all_columns(self.model, dialect)
                sql = c.select(self, columns_sql=columns_sql)
            compiled = self._compiled = (dialect, sql, c.params, shape, c.has_binds)
        return compiled[1], compiled[2], compiled[3]

    def _executable(self) -> tuple[str, list, "Shape"]:
        sql, params, shape = self._compile_select(self._dialect())
        if self._compiled[4]:  # type: ignore[index]
            raise _unbound(params)
        return sql, params, shape

    def _compile_update(self, assignments: list, dialect: Any) -> tuple[str, list]:
        c = Compiler(dialect)
        return c.update(self, assignments), c.params

    def _compile_delete(self, dialect: Any) -> tuple[str, list]:
        c = Compiler(dialect)
        return c.delete(self), c.params

    def sql(self, c: Compiler) -> str:
        """Render as a subquery (``User.c.id.is_in(other_query)``)."""
        return c.select(self)

    def to_sql(self) -> tuple[str, tuple]:
        sql, params, _ = self._compile_select(self._dialect())
        return sql, tuple(params)

    def __repr__(self) -> str:
        try:
            sql, params = self.to_sql()
        except errors.ConfigurationError:
            return f"<ActiveQuery {self.model.__name__}>"
        return f"<ActiveQuery {sql} {params}>"

    # -- terminals as steps ----------------------------------------------------------
    def _all_steps(self) -> Steps:
        sql, params, shape = self._executable()
        return (yield from self._rows_steps(sql, params, shape))

    @_cacheable
    def _rows_steps(self, sql: str, params: Any, shape: "Shape") -> Steps:
        result = yield Execute(sql, params)
        records = shape.build(result, self)
        if self._includes and records and shape.plan is not None:
            from ..relations import preload_steps
            yield from preload_steps(self.model, records, self._includes)
        return records

    def _first_steps(self, order: bool = True) -> Steps:
        query = self
        if order and not self._order and not self._set_ops:
            query = query.order_by(*[Column(self.model, ci) for ci in self.model.__ar_meta__().primary_key])
        rows = yield from query.limit(1)._all_steps()
        return rows[0] if rows else None

    def _one_steps(self) -> Steps:
        rows = yield from self.limit(2)._all_steps()
        if not rows:
            raise errors.RecordNotFound(f"{self.model.__name__}: no record matches {self.to_sql()[0]}")
        if len(rows) > 1:
            raise errors.MultipleRecordsFound(
                f"{self.model.__name__}: more than one record matches {self.to_sql()[0]}")
        return rows[0]

    @_cacheable
    def _count_steps(self) -> Steps:
        dialect = self._dialect()
        c = Compiler(dialect)
        if self._distinct or self._group_by or self._set_ops or self._limit is not None \
                or self._offset is not None or self._select:
            inner = c.select(self)
            sql = f"SELECT COUNT(*) FROM ({inner}) AS {c.quote('ar_count')}"
        else:
            # ORDER BY is meaningless for a count (and an error on PostgreSQL).
            sql = c.select(self._clone(_order=()), columns_sql="COUNT(*)")
        if c.has_binds:
            raise _unbound(c.params)
        result = yield Execute(sql, c.params)
        return result.fetchone()[0]

    @_cacheable
    def _exists_steps(self) -> Steps:
        c = Compiler(self._dialect())
        sql = c.select(self._clone(_order=(), _limit=1, _offset=self._offset), columns_sql="1")
        if c.has_binds:
            raise _unbound(c.params)
        result = yield Execute(sql, c.params)
        return result.fetchone() is not None

    @_cacheable
    def _scalar_steps(self) -> Steps:
        sql, params, shape = self._executable()
        result = yield Execute(sql, params)
        row = result.fetchone()
        if row is None:
            return None
        return shape.convert_value(0, row[0])

    @_cacheable
    def _aggregate_steps(self) -> Steps:
        sql, params, shape = self._executable()
        result = yield Execute(sql, params)
        return shape.dicts(result.fetchall())

    def _update_steps(self, values: dict) -> Steps:
        if not isinstance(values, dict) or not values:
            raise ValueError(f"update() takes a non-empty dict of field values, got {values!r}")
        meta = self.model.__ar_meta__()
        assignments = []
        for key, value in values.items():
            ci = meta.column(key)
            if not isinstance(value, Node):
                value = _validate_value(self.model, ci, value)
            assignments.append((ci, value))
        dialect = self._dialect()
        c = Compiler(dialect)
        sets = []
        for ci, value in assignments:
            rhs = value.sql(c) if isinstance(value, Node) else c.param(value, ci)
            sets.append(f"{c.quote(ci.column)} = {rhs}")
        parts = [f"UPDATE {c.table(self.model)} SET {', '.join(sets)}"]
        c._restrict(parts, self, meta)
        result = yield Execute("".join(parts), c.params)
        return result.rowcount

    def _delete_steps(self) -> Steps:
        sql, params = self._compile_delete(self._dialect())
        result = yield Execute(sql, params)
        return result.rowcount

    def _batch_steps(self, size: int, after: Optional[tuple]) -> Steps:
        meta = self.model.__ar_meta__()
        pk_cols = [Column(self.model, ci) for ci in meta.primary_key]
        query = self._clone(_order=()).order_by(*pk_cols).limit(size)
        if after is not None:
            if len(pk_cols) == 1:
                query = query.where(pk_cols[0] > after[0])
            else:
                query = query.where(_row_after(pk_cols, after))
        return (yield from query._all_steps())

    # -- terminals -------------------------------------------------------------------
    def _run(self, steps: Steps) -> Any:
        return run(steps, self.model.backend())

    def all(self) -> list:
        return self._run(self._all_steps())

    def first(self) -> Any:
        return self._run(self._first_steps())

    def one(self) -> Any:
        return self._run(self._one_steps())

    def count(self) -> int:
        return self._run(self._count_steps())

    def exists(self) -> bool:
        return self._run(self._exists_steps())

    def scalar(self) -> Any:
        return self._run(self._scalar_steps())

    def aggregate(self) -> list[dict]:
        return self._run(self._aggregate_steps())

    def update(self, values: dict) -> int:
        return self._run(self._update_steps(values))

    def delete(self) -> int:
        return self._run(self._delete_steps())

    def in_batches(self, size: int = 1000) -> Iterator[list]:
        """Lists of up to ``size`` records in primary-key order, keyset-paginated."""
        size = _non_negative("in_batches size", size)
        if not size:
            raise ValueError("in_batches size must be at least 1")
        after = None
        while True:
            batch = self._run(self._batch_steps(size, after))
            if not batch:
                return
            yield batch
            if len(batch) < size:
                return
            after = batch[-1]._pk_value()

    def __iter__(self) -> Iterator[Any]:
        """Stream records: rows are fetched and hydrated in chunks, not all at once."""
        sql, params, shape = self._executable()
        result = self.model.backend().execute(sql, params)
        try:
            while True:
                chunk = result.fetchmany(256)
                if not chunk:
                    return
                yield from shape.build(chunk, self, track_siblings=False)
        finally:
            result.close()

    def explain(self) -> Any:
        from .explain import QueryPlan
        return QueryPlan(self)

    def compile(self) -> Any:
        from .compiled import CompiledQuery
        return CompiledQuery(self)


def _unbound(params: list) -> errors.DatabaseError:
    """The error for running a query whose ``BindParam`` placeholders have no values."""
    names = sorted({p.name for p in params if isinstance(p, BindSlot)})
    return errors.DatabaseError(
        f"this query has BindParam placeholders {names}; run it with "
        f"query.compile().execute({', '.join(n + '=...' for n in names)})")


def _non_negative(what: str, n: Any) -> Optional[int]:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return n


def _row_after(columns: list, after: tuple) -> Node:
    """Keyset condition ``(a, b) > (x, y)`` spelled portably."""
    cond = None
    for i, col in enumerate(columns):
        part = col > after[i]
        for j in range(i):
            part = part & (columns[j] == after[j])
        cond = part if cond is None else cond | part
    return cond  # type: ignore[return-value]


_adapters: dict = {}


def _validate_value(model: type, ci: "ColumnInfo", value: Any) -> Any:
    """Validate a bulk-update value against the field's type."""
    adapter = _adapters.get(id(ci))
    if adapter is None:
        adapter = _adapters[id(ci)] = (ci, pydantic.TypeAdapter(ci.annotation))
    try:
        return adapter[1].validate_python(value)
    except pydantic.ValidationError as exc:
        raise errors.RecordInvalid(
            f"{model.__name__}.{ci.name}: invalid value {value!r} for update(): "
            f"{exc.errors()[0]['msg']}", exc) from exc


def _all_columns(model: type, dialect: Any) -> tuple[str, "Shape"]:
    """The default select list (every column of ``model``): its SQL and Shape, built once."""
    model.__ar_meta__()
    key = ("all_columns", dialect)
    entry = model.__ar_plans__.get(key)
    if entry is None:
        c = Compiler(dialect)
        items = c.select_items(ActiveQuery(model))
        entry = model.__ar_plans__[key] = (
            ", ".join(node.sql(c) for node, _ in items),
            Shape.of(model, [item for _, item in items], dialect))
    return entry


class Shape:
    """What the rows of a select list become: records of one model, or ``Row``s."""

    __slots__ = ("plan", "items", "parts", "converters")

    def __init__(self, plan: Any, items: list, parts: list, converters: list):
        self.plan = plan              # RecordPlan when rows are records of one model
        self.items = items
        self.parts = parts            # for Rows: (name, model plan or None, indexes)
        self.converters = converters  # per column: from_db or None

    @classmethod
    def of(cls, model: type, items: list[SelectItem], dialect: Any) -> "Shape":
        converters = [it.converter_column.codec(dialect)[1] if it.converter_column else None
                      for it in items]
        if all(it.model is model for it in items):
            names = tuple(it.column_info.name for it in items)  # type: ignore[union-attr]
            return cls(model._record_plan(names, dialect), items, [], converters)
        parts: list = []
        by_model: dict = {}
        for i, it in enumerate(items):
            if it.model is not None:
                entry = by_model.get(it.model)
                if entry is None:
                    entry = by_model[it.model] = [it.model.__name__, it.model, [], []]
                    parts.append(entry)
                entry[2].append(i)
                entry[3].append(it.column_info.name)  # type: ignore[union-attr]
            else:
                parts.append([it.label, None, [i], None])
        resolved = []
        for name, part_model, indexes, names in parts:
            plan = part_model._record_plan(tuple(names), dialect) if part_model else None
            resolved.append((name, plan, indexes))
        return cls(None, items, resolved, converters)

    def build(self, rows: Any, query: ActiveQuery, track_siblings: Optional[bool] = None) -> list:
        """Rows (a list of tuples, or a backend result) as records or ``Row``s.

        A result that can ``hydrate`` (the compiled SQLite path) builds the records
        straight from its columns; any other result is read with ``fetchall()``.
        """
        hydrate = None
        if type(rows) is not list:
            hydrate = getattr(rows, "hydrate", None) if self.plan is not None else None
            if hydrate is None:
                rows = rows.fetchall()
        if self.plan is not None:
            if track_siblings is None:
                track_siblings = self.plan.model._has_relations() and \
                    query._options.get("preload_siblings", True)
            if hydrate is not None:
                records = hydrate(self.plan, track_siblings)
            else:
                records = hydrate_records(self.plan, rows, track_siblings)
            if _identity.in_use and not self.plan.partial:
                records = _identity.merge(records, query)
            if query._options.get("strict_loading"):
                from ..relations import mark_strict
                mark_strict(records)
            return records
        out = []
        for row in rows:
            values = {}
            for name, plan, indexes in self.parts:
                if plan is None:
                    values[name] = self.convert_value(indexes[0], row[indexes[0]])
                else:
                    values[name] = hydrate_records(plan, [tuple(row[i] for i in indexes)], False)[0]
            out.append(Row(values))
        return out

    def convert_value(self, index: int, value: Any) -> Any:
        fn = self.converters[index] if index < len(self.converters) else None
        return value if value is None or fn is None else fn(value)

    def dicts(self, rows: list) -> list[dict]:
        labels = [it.label for it in self.items]
        return [{label: self.convert_value(i, v) for i, (label, v) in enumerate(zip(labels, row))}
                for row in rows]
