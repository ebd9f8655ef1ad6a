"""Per-model metadata (table, columns, primary key) and the DDL built from it.

Built lazily on first use, after pydantic has resolved every annotation, so models
may refer to each other across modules in any order.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from . import fields as F
from .errors import ConfigurationError, UnknownColumnError
from .fields import ColumnInfo, FieldSpec

if TYPE_CHECKING:
    from .backends.dialects import Dialect


def default_table_name(class_name: str) -> str:
    """``User`` -> ``users``, ``OrderItem`` -> ``order_items``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", class_name).lower()
    return snake + "s"


def _constraint(metadata: list, name: str) -> Any:
    for item in metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


class ModelMeta:
    """What the ORM knows about one model class."""

    def __init__(self, model: type):
        self.model = model
        self.table: str = model.__dict__.get("__table_name__") or getattr(
            model, "__table_name__", None) or default_table_name(model.__name__)
        specs: dict[str, FieldSpec] = getattr(model, "__ar_specs__", {})
        mapping: dict[str, str] = getattr(model, "__mapping__", None) or {}
        self.columns: list[ColumnInfo] = []
        for name, info in model.model_fields.items():
            spec = specs.get(name)
            annotation = info.annotation
            inner, nullable = F.unwrap_optional(annotation)
            try:
                kind = F.kind_of(annotation)
            except TypeError as exc:
                raise ConfigurationError(
                    f"{model.__name__}.{name}: {exc}; supported are int, float, str, bool, "
                    "bytes, datetime, date, time, Decimal, UUID, Enum, dict/list (JSON)") from None
            column = (spec.column if spec and spec.column else None) or info.alias or name
            ci = ColumnInfo(
                name=name, column=column, annotation=annotation, kind=kind, nullable=nullable,
                primary_key=bool(spec and spec.primary_key), unique=bool(spec and spec.unique),
                index=bool(spec and spec.index),
                max_length=_constraint(info.metadata, "max_length"),
                max_digits=_constraint(info.metadata, "max_digits"),
                decimal_places=_constraint(info.metadata, "decimal_places"),
                enum_type=inner if kind == F.ENUM else None,
                has_default=not info.is_required(),
                ddl_override=mapping.get(name) or mapping.get(column),
                version=bool(spec and spec.version),
            )
            self.columns.append(ci)
        unknown = set(mapping) - {c.name for c in self.columns} - {c.column for c in self.columns}
        if unknown:
            raise ConfigurationError(
                f"{model.__name__}.__mapping__ names unknown fields {sorted(unknown)}")
        self.by_name: dict[str, ColumnInfo] = {c.name: c for c in self.columns}
        self.by_column: dict[str, ColumnInfo] = {c.column: c for c in self.columns}
        self.primary_key: list[ColumnInfo] = [c for c in self.columns if c.primary_key]
        if not self.primary_key:
            raise ConfigurationError(f"{model.__name__} has no primary key")
        pk = self.primary_key
        self.autoincrement = len(pk) == 1 and pk[0].kind == F.INT
        self.field_names: tuple[str, ...] = tuple(self.by_name)
        self.pk_names: tuple[str, ...] = tuple(c.name for c in pk)
        self.json_names: tuple[str, ...] = tuple(c.name for c in self.columns if c.kind == F.JSON)
        self.version_column: Optional[ColumnInfo] = self._version_column()

    def _version_column(self) -> Optional[ColumnInfo]:
        """The optimistic-locking counter (``Field(version=True)``), checked once here."""
        versions = [c for c in self.columns if c.version]
        if len(versions) > 1:
            raise ConfigurationError(f"{self.model.__name__} has several version fields "
                                     f"{[c.name for c in versions]}; use one")
        if versions and (versions[0].kind != F.INT or versions[0].primary_key):
            raise ConfigurationError(f"{self.model.__name__}.{versions[0].name}: a version field "
                                     "must be a non-key int, e.g. version: int = Field(default=0, "
                                     "version=True)")
        return versions[0] if versions else None

    def column(self, name: str) -> ColumnInfo:
        """Look up a field by attribute name (or column name); clear error otherwise."""
        ci = self.by_name.get(name) if isinstance(name, str) else None
        if ci is None and isinstance(name, str):
            ci = self.by_column.get(name)
        if ci is None:
            raise UnknownColumnError(
                f"{self.model.__name__} has no field {name!r}; fields are: "
                f"{', '.join(self.field_names)}")
        return ci

    # -- DDL -------------------------------------------------------------------------
    def create_table_sql(self, dialect: "Dialect", if_not_exists: bool = True) -> list[str]:
        q = dialect.quote
        defs = []
        single_auto_pk = self.autoincrement
        override_has_pk = False
        for ci in self.columns:
            if ci.ddl_override:
                defs.append(f"{q(ci.column)} {ci.ddl_override}")
                override_has_pk |= ci.primary_key and "PRIMARY KEY" in ci.ddl_override.upper()
                continue
            if ci.primary_key and single_auto_pk:
                defs.append(dialect.autoincrement_pk_ddl(ci))
                continue
            parts = [q(ci.column), dialect.column_type(ci)]
            if not ci.nullable:
                parts.append("NOT NULL")
            if ci.unique:
                parts.append("UNIQUE")
            defs.append(" ".join(parts))
        if not single_auto_pk and not override_has_pk:
            defs.append("PRIMARY KEY (" + ", ".join(q(c.column) for c in self.primary_key) + ")")
        exists = "IF NOT EXISTS " if if_not_exists else ""
        statements = [f"CREATE TABLE {exists}{q(self.table)} (\n  " + ",\n  ".join(defs) + "\n)"]
        for ci in self.columns:
            if ci.index and not ci.unique:
                statements.append(
                    f"CREATE INDEX {exists}{q(f'idx_{self.table}_{ci.column}')} "
                    f"ON {q(self.table)} ({q(ci.column)})")
        return statements

    def drop_table_sql(self, dialect: "Dialect", if_exists: bool = True) -> str:
        return f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{dialect.quote(self.table)}"
