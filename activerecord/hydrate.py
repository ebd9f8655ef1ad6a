"""Result rows -> model instances, in pure Python.

Values read from the database are trusted: they are converted by each column's
``from_db`` (resolved once per select list, not per row) and placed straight into
the instance without pydantic validation. The compiled twin in ``_speedups``
produces exactly the same instances.
"""
from __future__ import annotations

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


class RecordPlan:
    """How to turn rows of one select list into instances of one model."""

    __slots__ = ("model", "names", "converters", "partial", "private_template", "json_fields",
                 "compiled")

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
    model, names, converters = plan.model, plan.names, plan.converters
    template = plan.private_template
    json_fields = plan.json_fields
    out: list = []
    persisted = Persisted(out) if track_siblings else PERSISTED
    append = out.append
    for row in rows:
        snapshot = {n: row[i] for i, n in json_fields} if json_fields else None
        if converters:
            row = list(row)
            for i, fn in converters:
                v = row[i]
                if v is not None:
                    row[i] = fn(v)
        obj = _new(model)
        values = dict(zip(names, row))
        _set(obj, "__dict__", values)
        _set(obj, "__pydantic_fields_set__", set(values))
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        if template is not None:
            init_private_attributes(obj, None)
        _set(obj, "_ar_persisted", persisted)
        if snapshot is not None:
            _set(obj, "_ar_json", snapshot)
        append(obj)
    if track_siblings and len(out) < 2:
        persisted.siblings = None
    return out


def _compiled_twin() -> Any:
    """The compiled hydration module, wired to this module's shared objects (or None)."""
    from . import speedups
    twin = speedups.module("hydration")
    for name in ("hydration", "sqlite_conn"):
        mod = speedups.module(name)
        if mod is not None:
            mod.setup(Persisted, PERSISTED, init_private_attributes)
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
