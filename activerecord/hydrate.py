"""Result rows -> model instances, in pure Python.

Values read from the database are trusted: they are converted by each column's
``from_db`` (resolved once per select list, not per row) and placed straight into
the instance without pydantic validation. The compiled twin in ``_speedups``
produces exactly the same instances.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

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

    __slots__ = ("model", "names", "converters", "partial", "private_template")

    def __init__(self, model: type, names: Sequence[str], from_db: Sequence[Any]):
        self.model = model
        self.names = tuple(names)
        self.converters = tuple((i, fn) for i, fn in enumerate(from_db) if fn is not None)
        self.partial = len(self.names) != len(model.__ar_meta__().field_names)
        self.private_template = private_template(model)


def private_template(model: type) -> Optional[dict]:
    """Default values of the model's pydantic private attributes, if any."""
    privates = model.__private_attributes__
    if not privates:
        return None
    return {name: attr.get_default() for name, attr in privates.items()}


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
    """Build one instance per row."""
    model, names, converters = plan.model, plan.names, plan.converters
    template = plan.private_template
    out: list = []
    persisted = Persisted(out) if track_siblings else PERSISTED
    append = out.append
    for row in rows:
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
        _set(obj, "__pydantic_private__", None if template is None else _private_copy(model, template))
        _set(obj, "_ar_persisted", persisted)
        append(obj)
    if track_siblings and len(out) < 2:
        persisted.siblings = None
    return out


def _private_copy(model: type, template: dict) -> dict:
    values = dict(template)
    for name, attr in model.__private_attributes__.items():
        if attr.default_factory is not None:
            values[name] = attr.get_default()
    return values


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
