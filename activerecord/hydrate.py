"""Result rows -> model instances, in pure Python.

Values read from the database are trusted: they are converted by each column's
``from_db`` (resolved once per select list, not per row) and placed straight into
the instance without pydantic validation. The compiled twin in ``_speedups``
produces exactly the same instances.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Optional, Sequence

# Pydantic's own initialiser, so defaults and default factories behave exactly as on __init__.
from pydantic._internal._model_construction import init_private_attributes

_new = object.__new__
_set = object.__setattr__


class Persisted:
    """Marks a record as loaded from (or written to) the database.

    Records hydrated from one multi-row result share one ``Persisted`` that lists
    them all, so a lazy relation read on one of them can load it for all of them.
    """

    __slots__ = ("siblings", "__weakref__")

    def __init__(self, siblings: Optional[list] = None):
        self.siblings = siblings


PERSISTED = Persisted()


class LoadedFields(set):
    """The field names of loaded records, ONE set shared by every record of a result.

    Building a set per row is a large part of hydration's cost, so the records of one
    result share this one. It is copy-on-write: ``ActiveRecord.__setattr__`` (and
    copying/pickling) give the record a private plain ``set`` before pydantic adds to
    it, so pydantic's own paths never see it mutated. Mutating it directly (through
    ``model_fields_set``) would change every sibling, so that raises instead.
    """

    __slots__ = ()

    def _shared(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the fields set of a loaded record is shared with the other records "
                        "of its result; assign the attribute instead of editing model_fields_set")

    add = discard = remove = pop = clear = update = _shared
    difference_update = intersection_update = symmetric_difference_update = _shared
    __ior__ = __iand__ = __isub__ = __ixor__ = _shared

    def __repr__(self) -> str:
        return repr(set(self))

    def __reduce__(self) -> Any:
        return (set, (list(self),))


def own_fields_set(obj: Any) -> set:
    """The record's ``__pydantic_fields_set__`` as a private, mutable set (copy-on-write)."""
    fields_set = obj.__pydantic_fields_set__
    if type(fields_set) is LoadedFields:
        fields_set = set(fields_set)
        _set(obj, "__pydantic_fields_set__", fields_set)
    return fields_set


class RecordPlan:
    """How to turn rows of one select list into instances of one model."""

    __slots__ = ("model", "names", "converters", "partial", "private_template", "json_fields",
                 "compiled", "builder")

    def __init__(self, model: type, names: Sequence[str], from_db: Sequence[Any]):
        self.model = model
        self.names = tuple(names)
        self.converters = tuple((i, fn) for i, fn in enumerate(from_db) if fn is not None)
        meta = model.__ar_meta__()
        self.partial = len(self.names) != len(meta.field_names)
        self.private_template = private_template(model)
        # JSON columns keep their stored text so in-place mutation is seen as a change.
        self.json_fields = tuple((i, n) for i, n in enumerate(self.names)
                                 if meta.by_name[n].kind == "json")
        self.compiled: Optional[dict] = None  # the compiled hydrators' per-plan data
        self.builder: Optional[Any] = None    # the pure path's generated row loop


def private_template(model: type) -> Optional[dict]:
    """The model's pydantic private attributes, or None when it has none."""
    return dict(model.__private_attributes__) or None


def new_record(model: type, values: dict, persisted: Persisted,
               private: Optional[dict]) -> Any:
    obj = _new(model)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", private)
    _set(obj, "_ar_persisted", persisted)
    return obj


def hydrate_records(plan: RecordPlan, rows: Iterable[tuple], track_siblings: bool) -> list:
    """Build one instance per row (the compiled twin when speedups are enabled)."""
    if _compiled is not None and _speedups.speedups_enabled():
        return _compiled.hydrate_records(plan, rows, track_siblings)
    return pure_hydrate_records(plan, rows, track_siblings)


def pure_hydrate_records(plan: RecordPlan, rows: Iterable[tuple], track_siblings: bool) -> list:
    """Build one instance per row, in pure Python."""
    out: list = []
    persisted = Persisted(out) if track_siblings else PERSISTED
    builder = plan.builder
    if builder is None:
        builder = plan.builder = _row_builder(plan)
    builder(rows, out, persisted, LoadedFields(plan.names))
    if track_siblings and len(out) < 2:
        persisted.siblings = None
    return out


def _record_of(plan: RecordPlan, row: Any, persisted: Persisted) -> Any:
    """One instance, the general way: rows of any length (zip semantics), any converters."""
    json_fields = plan.json_fields
    snapshot = {n: row[i] for i, n in json_fields} if json_fields else None
    if plan.converters:
        row = list(row)
        for i, fn in plan.converters:
            v = row[i]
            if v is not None:
                row[i] = fn(v)
    obj = _new(plan.model)
    values = dict(zip(plan.names, row))
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", LoadedFields(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    if plan.private_template is not None:
        init_private_attributes(obj, None)
    _set(obj, "_ar_persisted", persisted)
    if snapshot is not None:
        _set(obj, "_ar_json", snapshot)
    return obj


def _slot_setter(model: type, name: str) -> Any:
    """``f(obj, value)`` with exactly object.__setattr__'s effect, minus its lookup per call."""
    for klass in model.__mro__:
        descr = klass.__dict__.get(name)
        if descr is not None:
            if type(descr).__name__ in ("member_descriptor", "getset_descriptor"):
                return descr.__set__    # what object.__setattr__ would find and call
            break
    return lambda obj, value: _set(obj, name, value)


def _row_builder(plan: RecordPlan) -> Any:
    """A loop specialised to the plan: unpacks each row into locals, converts, builds the record.

    Generated once per plan (like dataclasses' __init__) because a dict display and
    local variables are far cheaper per row than zip(), indexing and a converter loop.
    It makes exactly what ``_record_of`` makes; a row of another length goes there.
    """
    from .backends import dialects   # the converters it can inline; imported late (cycle)

    n = len(plan.names)
    env: dict[str, Any] = {
        "new": _new, "model": plan.model, "record_of": _record_of, "plan": plan,
        "LoadedFields": LoadedFields, "init_private": init_private_attributes,
        "fromisoformat": _dt.datetime.fromisoformat,
        "set_dict": _slot_setter(plan.model, "__dict__"),
        "set_fields": _slot_setter(plan.model, "__pydantic_fields_set__"),
        "set_extra": _slot_setter(plan.model, "__pydantic_extra__"),
        "set_private": _slot_setter(plan.model, "__pydantic_private__"),
        "set_persisted": _slot_setter(plan.model, "_ar_persisted"),
        "set_json": _slot_setter(plan.model, "_ar_json"),
    }
    local = [f"v{i}" for i in range(n)]
    body = []
    if plan.json_fields:
        body.append("snapshot = {" + ", ".join(f"{name!r}: v{i}" for i, name in plan.json_fields) + "}")
    for i, fn in plan.converters:
        if i >= n:
            continue
        env[f"c{i}"] = fn
        if fn is dialects._float_from_db:
            call = f"float(v{i})"
        elif fn is dialects._datetime_from_db:
            call = f"fromisoformat(v{i}) if type(v{i}) is str else c{i}(v{i})"
        else:
            call = f"c{i}(v{i})"
        body.append(f"if v{i} is not None: v{i} = {call}")
    values = "{" + ", ".join(f"{name!r}: v{i}" for i, name in enumerate(plan.names)) + "}"
    body += ["obj = new(model)",
             f"set_dict(obj, {values})",
             "set_fields(obj, fields_set)",
             "set_extra(obj, None)",
             "set_private(obj, None)"]
    if plan.private_template is not None:
        body.append("init_private(obj, None)")
    body.append("set_persisted(obj, persisted)")
    if plan.json_fields:
        body.append("set_json(obj, snapshot)")
    body.append("append(obj)")
    targets = (", ".join(local) + ("," if n == 1 else "")) if n else "()"
    source = "\n".join([
        "def build(rows, out, persisted, fields_set):",
        "    append = out.append",
        "    for row in rows:",
        "        try:",
        f"            {targets} = row",
        "        except (ValueError, TypeError):",
        "            append(record_of(plan, row, persisted))",
        "            continue",
        *("        " + line for line in body)])
    exec(compile(source, f"<hydrate {plan.model.__name__}>", "exec"), env)  # noqa: S102
    return env["build"]


def _compiled_twin() -> Any:
    """The compiled hydration module, wired to this module's shared objects (or None)."""
    from . import speedups
    twin = speedups.module("hydration")
    for name in ("hydration", "sqlite_conn"):
        mod = speedups.module(name)
        if mod is not None:
            mod.setup(Persisted, PERSISTED, init_private_attributes, LoadedFields)
    return twin


from . import speedups as _speedups  # noqa: E402 - after the classes the twin receives
_compiled = _compiled_twin()


class Row:
    """A result row that is not a single model: joined models by class name, plus labels."""

    __slots__ = ("__dict__",)

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return list(self.__dict__.values())[key]
        return self.__dict__[key]

    def _asdict(self) -> dict:
        return dict(self.__dict__)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Row) and other.__dict__ == self.__dict__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Row({inner})"
