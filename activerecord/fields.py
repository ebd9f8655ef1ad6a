"""``Field()`` and the column metadata the ORM keeps for each model field.

``Field`` accepts every ``pydantic.Field`` argument plus the column options below.
It returns a ``FieldSpec`` that the model metaclass splits in two before pydantic
sees the class: the pydantic part becomes an ordinary ``FieldInfo`` and the column
part is kept for the ORM.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import enum
import types
import typing
import uuid
from dataclasses import dataclass, field as dc_field
from typing import Any, Callable, Optional

import pydantic
import pydantic.fields

_MISSING: Any = pydantic.fields.PydanticUndefined


class FieldSpec:
    """What ``Field()`` returns: pydantic keyword arguments plus column options."""

    __slots__ = ("pydantic_kwargs", "primary_key", "unique", "index", "column", "version")

    def __init__(self, pydantic_kwargs: dict, primary_key: bool, unique: bool,
                 index: bool, column: Optional[str], version: bool = False):
        self.pydantic_kwargs = pydantic_kwargs
        self.primary_key = primary_key
        self.unique = unique
        self.index = index
        self.column = column
        self.version = version


def Field(default: Any = _MISSING, *, primary_key: bool = False, unique: bool = False,
          index: bool = False, column: Optional[str] = None, version: bool = False,
          **kwargs: Any) -> Any:
    """Declare a model field; ``column=`` names the database column when it differs.

    ``version=True`` makes an int field the optimistic-locking counter: every UPDATE or
    DELETE of a record checks it is unchanged and bumps it (see ``StaleRecordError``).
    """
    if default is not _MISSING:
        kwargs["default"] = default
    return FieldSpec(kwargs, primary_key, unique, index, column, version)


# The storage kinds a field can have; dialects map each to a DDL type and converters.
INT, FLOAT, STR, BOOL, BYTES = "int", "float", "str", "bool", "bytes"
DATETIME, DATE, TIME, DECIMAL, UUID, ENUM, JSON = (
    "datetime", "date", "time", "decimal", "uuid", "enum", "json")

_SCALAR_KINDS = [
    (bool, BOOL), (int, INT), (float, FLOAT), (str, STR), (bytes, BYTES),
    (_dt.datetime, DATETIME), (_dt.date, DATE), (_dt.time, TIME),
    (decimal.Decimal, DECIMAL), (uuid.UUID, UUID),
]


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """Return (inner type, nullable) for ``Optional[X]`` / ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unwrap_optional(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) != len(typing.get_args(annotation))
        if len(args) == 1:
            inner, _ = unwrap_optional(args[0])
            return inner, nullable
        return annotation, nullable
    return annotation, annotation is type(None)


def kind_of(annotation: Any) -> str:
    """Classify a field's Python type into one of the storage kinds."""
    inner, _ = unwrap_optional(annotation)
    origin = typing.get_origin(inner) or inner
    if origin in (dict, list, tuple, set, frozenset) or origin is typing.Any:
        return JSON
    if isinstance(origin, type):
        if issubclass(origin, enum.Enum):
            return ENUM
        for py_type, kind in _SCALAR_KINDS:
            if issubclass(origin, py_type):
                return kind
        if issubclass(origin, pydantic.BaseModel):
            return JSON
    if typing.get_origin(inner) is typing.Literal:
        values = typing.get_args(inner)
        return INT if all(isinstance(v, int) for v in values) else STR
    raise TypeError(f"unsupported field type {annotation!r}")


@dataclass
class ColumnInfo:
    """One mapped field: its attribute name, column name and storage details."""

    name: str                     # attribute name in Python
    column: str                   # column name in the database
    annotation: Any
    kind: str
    nullable: bool
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    max_length: Optional[int] = None
    decimal_places: Optional[int] = None
    max_digits: Optional[int] = None
    enum_type: Optional[type] = None
    has_default: bool = False
    ddl_override: Optional[str] = None
    version: bool = False         # optimistic-locking counter
    _codecs: dict = dc_field(default_factory=dict, repr=False)

    def codec(self, dialect: Any) -> tuple:
        """(to_db, from_db) converters for this column on a dialect, built once."""
        codec = self._codecs.get(dialect.name)
        if codec is None:
            codec = self._codecs[dialect.name] = dialect.converters(self)
        return codec
