"""``ActiveRecord``: a pydantic model that is also a table row.

The metaclass prepares the class body before pydantic sees it: ``Field()`` specs are
split into pydantic's part and the column part, primary keys become optional until
saved, a model without a primary key gets an implicit ``id``, and unannotated class
attributes (``_cache = {}``, ``FIND_BY_EMAIL = None``) stay plain class attributes.

Every database operation is a step generator (see ``execution``), so the async
models in ``aio`` reuse all of it; the sync methods here just drive it.
"""
from __future__ import annotations

import copy as _copy
import json
import sys
import threading
import typing
from types import FunctionType
from typing import Any, ClassVar, Iterable, Optional, TypeVar

import pydantic
import pydantic.fields
from pydantic import BaseModel, ConfigDict
from pydantic._internal._decorators import PydanticDescriptorProxy
from pydantic._internal._model_construction import ModelMetaclass as _PydanticMeta
from pydantic.fields import ModelPrivateAttr

from . import errors, locking, speedups
from . import identity as _identity
from .backends.dialects import json_dumps
from .execution import Atomic, Execute, ExecuteMany, Steps, run
from .fields import FieldSpec
from .hydrate import PERSISTED, LoadedFields, RecordPlan, hydrate_records, own_fields_set
from .query.builder import ActiveQuery
from .query.compiler import BindSlot
from .query.expressions import BindParam, Column, Node
from .schema import ModelMeta, default_table_name

T = TypeVar("T", bound="ActiveRecord")

_set = object.__setattr__
_UNLOADED = object()

# Kept on the class as they are; pydantic must not see them as fields.
_PASS_THROUGH = (FunctionType, classmethod, staticmethod, property, ModelPrivateAttr,
                 PydanticDescriptorProxy)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.replace("typing.", "").startswith("ClassVar")
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


def _optional(annotation: Any, module: Optional[str]) -> Any:
    """``Optional[annotation]``, evaluating a string annotation when it can."""
    if isinstance(annotation, str):
        namespace = vars(sys.modules[module]) if module in sys.modules else {}
        try:
            annotation = eval(annotation, dict(namespace))  # noqa: S307 - class annotation
        except Exception:
            return annotation
    return Optional[annotation]


class ColumnSet:
    """``User.c``: column references for building expressions."""

    def __init__(self, model: type):
        self._model = model
        self._cache: dict[str, Column] = {}

    def __getattr__(self, name: str) -> Column:
        if name.startswith("__"):
            raise AttributeError(name)
        col = self._cache.get(name)
        if col is None:
            meta = self._model.__ar_meta__()
            ci = meta.by_name.get(name)
            if ci is None:
                raise AttributeError(
                    f"{self._model.__name__} has no field {name!r}; fields are: "
                    f"{', '.join(meta.field_names)}")
            col = self._cache[name] = Column(self._model, ci)
        return col

    def __iter__(self) -> Iterable[Column]:
        return iter([getattr(self, n) for n in self._model.__ar_meta__().field_names])

    def __dir__(self) -> list[str]:
        return list(self._model.__ar_meta__().field_names)


class ModelMetaclass(_PydanticMeta):
    def __new__(mcs, name: str, bases: tuple, ns: dict, **kwargs: Any) -> type:
        if not any(isinstance(b, ModelMetaclass) for b in bases):
            return super().__new__(mcs, name, bases, ns, **kwargs)
        annotations: dict = dict(ns.get("__annotations__", {}))
        plain = {k: v for k, v in ns.items()
                 if not (k.startswith("__") and k.endswith("__")) and k not in annotations
                 and not isinstance(v, _PASS_THROUGH)}
        for key in plain:
            del ns[key]

        specs: dict[str, FieldSpec] = {}
        for base in reversed(bases):
            specs.update(getattr(base, "__ar_specs__", {}))
        for key, annotation in annotations.items():
            if _is_classvar(annotation) or key.startswith("_"):
                continue
            value = ns.get(key, pydantic.fields.PydanticUndefined)
            if isinstance(value, FieldSpec):
                specs[key] = value
                ns[key] = pydantic.Field(**value.pydantic_kwargs)
            else:
                specs[key] = FieldSpec({}, False, False, False, None)

        abstract = ns.get("__abstract__", False)
        if not abstract and ns.get("__table_name__") is None and all(
                getattr(b, "__table_name__", None) is None for b in bases):
            # So ``User.__table_name__`` reads 'users' without being declared.
            ns["__table_name__"] = default_table_name(name)
        if not abstract and not any(s.primary_key for s in specs.values()):
            if "id" in specs:
                specs["id"].primary_key = True
            else:
                specs = {"id": FieldSpec({}, True, False, False, None), **specs}
                annotations = {"id": Optional[int], **annotations}
                ns["id"] = None
        for key, spec in specs.items():
            if spec.primary_key and key in annotations:
                kw = spec.pydantic_kwargs
                if "default" not in kw and "default_factory" not in kw:
                    annotations[key] = _optional(annotations[key], ns.get("__module__"))
                    kw["default"] = None
                    ns[key] = pydantic.Field(**kw)
        ns["__annotations__"] = annotations
        ns["__ar_specs__"] = specs
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        for key, value in plain.items():
            type.__setattr__(cls, key, value)
            set_name = getattr(value, "__set_name__", None)
            if set_name is not None:
                set_name(cls, key)
        type.__setattr__(cls, "c", ColumnSet(cls))
        type.__setattr__(cls, "__ar_meta_cache__", None)
        if getattr(cls, "__identity_map__", None):
            _identity.enable()
        return cls


class _Config:
    default_backend: Any = None
    lock = threading.Lock()


class ActiveRecord(BaseModel, metaclass=ModelMetaclass):
    """Base class of every model: a class is a table, an instance is a row."""

    __slots__ = ("_ar_persisted", "_ar_original", "_ar_relations", "_ar_json")
    model_config = ConfigDict(validate_assignment=True, protected_namespaces=(),
                              arbitrary_types_allowed=True)

    __table_name__: ClassVar[Optional[str]] = None
    __mapping__: ClassVar[Optional[dict]] = None
    __ar_specs__: ClassVar[dict] = {}
    __ar_backend__: ClassVar[Any] = None
    __ar_meta_cache__: ClassVar[Optional[ModelMeta]] = None
    __ar_plans__: ClassVar[Optional[dict]] = None
    c: ClassVar[ColumnSet]
    __query_class__: ClassVar[type] = ActiveQuery

    # -- class setup -------------------------------------------------------------
    @classmethod
    def __ar_meta__(cls) -> ModelMeta:
        meta = cls.__dict__.get("__ar_meta_cache__")
        if meta is None:
            with _Config.lock:
                meta = cls.__dict__.get("__ar_meta_cache__")
                if meta is None:
                    if not cls.__pydantic_complete__:
                        cls.model_rebuild()
                    meta = ModelMeta(cls)
                    type.__setattr__(cls, "__ar_plans__", {})
                    type.__setattr__(cls, "__ar_meta_cache__", meta)
        return meta

    @classmethod
    def configure(cls, backend: Any) -> None:
        """Set the backend: on ``ActiveRecord`` for every model, else for this model."""
        if cls is ActiveRecord or cls.__dict__.get("__abstract__"):
            if cls is ActiveRecord:
                _Config.default_backend = backend
                return
        type.__setattr__(cls, "__ar_backend__", backend)

    @classmethod
    def backend(cls) -> Any:
        for klass in cls.__mro__:
            backend = klass.__dict__.get("__ar_backend__")
            if backend is not None:
                return backend
        if _Config.default_backend is None:
            raise errors.ConfigurationError(
                f"{cls.__name__} has no backend: call ActiveRecord.configure(SQLiteBackend(...)) "
                f"or {cls.__name__}.configure(...) first")
        return _Config.default_backend

    @classmethod
    def _record_plan(cls, names: tuple, dialect: Any) -> RecordPlan:
        """Hydration plan for a column list, built once per (columns, dialect)."""
        cls.__ar_meta__()
        key = (names, dialect.name)
        plan = cls.__ar_plans__.get(key)  # type: ignore[union-attr]
        if plan is None:
            meta = cls.__ar_meta__()
            from_db = [meta.by_name[n].codec(dialect)[1] for n in names]
            plan = cls.__ar_plans__[key] = RecordPlan(cls, names, from_db)  # type: ignore[index]
        return plan

    @classmethod
    def _has_relations(cls) -> bool:
        return bool(getattr(cls, "__ar_relations__", None))

    # -- DDL ---------------------------------------------------------------------
    @classmethod
    def create_table(cls, if_not_exists: bool = True) -> None:
        return run(cls._create_table_steps(if_not_exists), cls.backend())

    @classmethod
    def _create_table_steps(cls, if_not_exists: bool = True) -> Steps:
        backend = cls.backend()
        for sql in cls.__ar_meta__().create_table_sql(backend.dialect, if_not_exists):
            yield Execute(sql)

    @classmethod
    def drop_table(cls, if_exists: bool = True) -> None:
        return run(cls._drop_table_steps(if_exists), cls.backend())

    @classmethod
    def _drop_table_steps(cls, if_exists: bool = True) -> Steps:
        yield Execute(cls.__ar_meta__().drop_table_sql(cls.backend().dialect, if_exists))

    # -- finders -----------------------------------------------------------------
    @classmethod
    def query(cls: type[T]) -> "ActiveQuery":
        """A new query over this model's table."""
        return cls.__query_class__(cls)

    @classmethod
    def _pk_condition(cls, pk: Any) -> Any:
        meta = cls.__ar_meta__()
        keys = meta.primary_key
        if len(keys) == 1:
            if isinstance(pk, (tuple, list)):
                if len(pk) != 1:
                    raise ValueError(f"{cls.__name__} has a single primary key; got {pk!r}")
                pk = pk[0]
            return Column(cls, keys[0]) == pk
        if not isinstance(pk, (tuple, list)) or len(pk) != len(keys):
            raise ValueError(
                f"{cls.__name__} has a composite primary key ({', '.join(meta.pk_names)}); "
                f"pass a tuple of {len(keys)} values, got {pk!r}")
        cond = None
        for ci, value in zip(keys, pk):
            part = Column(cls, ci) == value
            cond = part if cond is None else cond & part
        return cond

    @classmethod
    def find_by_id(cls: type[T], pk: Any) -> Optional[T]:
        return run(cls._find_by_id_steps(pk), cls.backend())

    @classmethod
    def _find_by_id_steps(cls, pk: Any) -> Steps:
        if pk is None:
            return None
        if _identity.in_use:
            mapped = _identity.lookup(cls, pk)
            if mapped is not None:
                return mapped
        if not isinstance(pk, (tuple, list, Node)):
            finder = cls._pk_finder(cls.backend().dialect)
            if finder is not None:
                return (yield from finder.steps(pk))
        return (yield from cls.query().where(cls._pk_condition(pk))._first_steps(order=False))

    @classmethod
    def _pk_finder(cls, dialect: Any) -> Optional["_PkFinder"]:
        """find_by_id's prepared statement for this dialect (None: use the general path)."""
        cls.__ar_meta__()
        key = ("find_by_id", dialect, cls.__query_class__)
        plans = cls.__ar_plans__
        finder = plans.get(key, _UNLOADED)  # type: ignore[union-attr]
        if finder is _UNLOADED:
            finder = plans[key] = _PkFinder.build(cls, dialect)  # type: ignore[index]
        return finder

    @classmethod
    def find_one(cls: type[T], condition: Any = None) -> Optional[T]:
        return run(cls.query()._where_any(condition)._first_steps(order=False), cls.backend())

    @classmethod
    def find_all(cls: type[T], condition: Any = None) -> list[T]:
        return run(cls.query()._where_any(condition)._all_steps(), cls.backend())

    # -- bulk insert -------------------------------------------------------------
    @classmethod
    def insert_many(cls, rows: Iterable[Any], batch_size: Optional[int] = None) -> int:
        """Validate every row, then insert all of them in one transaction; returns the count.

        Rows go out as one executemany() per batch, so instances passed in do not
        get their primary keys set (use ``save()`` when the ids are needed).
        """
        return run(cls._insert_many_steps(rows, batch_size), cls.backend())

    @classmethod
    def _insert_many_steps(cls, rows: Iterable[Any], batch_size: Optional[int]) -> Steps:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        records = cls._validated_rows(rows)
        if not records:
            return 0
        dialect = cls.backend().dialect
        sql, params = cls._insert_params(records, dialect)
        size = batch_size or len(params)
        return (yield Atomic(_insert_batches(sql, params, size)))

    @classmethod
    def _validated_rows(cls, rows: Iterable[Any]) -> list[dict]:
        if isinstance(rows, (dict, BaseModel)) or not hasattr(rows, "__iter__"):
            raise TypeError(f"{cls.__name__}.insert_many() takes a list of dicts or "
                            f"{cls.__name__} instances, got {type(rows).__name__}")
        packing = speedups.module("packing")
        if packing is not None and type(rows) is list:
            # Compiled check of the common case (complete instances); else the loop below.
            complete = packing.check_records(cls, rows, frozenset(cls.__ar_meta__().field_names))
            if complete is not None:
                return complete
        out = []
        fields = frozenset(cls.__ar_meta__().field_names)
        for i, row in enumerate(rows):
            if isinstance(row, cls):
                values = row.__dict__
                if not values.keys() >= fields:
                    raise ValueError(f"{cls.__name__}.insert_many() row {i} is a partial "
                                     f"record missing {sorted(fields - values.keys())}")
                out.append(values)
            elif isinstance(row, dict):
                unknown = [k for k in row if k not in cls.model_fields]
                if unknown:
                    raise errors.UnknownColumnError(
                        f"{cls.__name__}.insert_many() row {i} has unknown fields "
                        f"{sorted(map(str, unknown))}; fields are: "
                        f"{', '.join(cls.__ar_meta__().field_names)}")
                try:
                    out.append(cls.model_validate(row).__dict__)
                except pydantic.ValidationError as exc:
                    raise errors.RecordInvalid(
                        f"{cls.__name__}.insert_many() row {i} is invalid: {exc}", exc) from exc
            else:
                raise TypeError(f"{cls.__name__}.insert_many() row {i} is a "
                                f"{type(row).__name__}; expected a dict or {cls.__name__}")
        return out

    @classmethod
    def _insert_params(cls, records: list[dict], dialect: Any) -> tuple[str, list[tuple]]:
        meta = cls.__ar_meta__()
        columns = meta.columns
        packing = speedups.module("packing")
        if meta.autoincrement and (packing.all_missing(records, meta.pk_names[0]) if packing else
                                   all(r.get(meta.pk_names[0]) is None for r in records)):
            columns = [c for c in columns if not c.primary_key]
        codecs = [(c.name, c.codec(dialect)[0]) for c in columns]
        if packing is not None and not any(c.kind == "json" for c in columns):
            # Converted and bound column by column when the statement runs; a JSON value
            # can fail to convert, so those rows are converted here as on the pure path.
            params = packing.PackedRows(records, [n for n, _ in codecs], [f for _, f in codecs])
            q = dialect.quote
            sql = (f"INSERT INTO {q(meta.table)} ({', '.join(q(c.column) for c in columns)}) "
                   f"VALUES ({', '.join([dialect.placeholder] * len(columns))})")
            return sql, params
        params = _pack_params(records, codecs)
        q = dialect.quote
        sql = (f"INSERT INTO {q(meta.table)} ({', '.join(q(c.column) for c in columns)}) "
               f"VALUES ({', '.join([dialect.placeholder] * len(columns))})")
        return sql, params

    # -- instance state ----------------------------------------------------------
    @property
    def is_new_record(self) -> bool:
        return getattr(self, "_ar_persisted", None) is None

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Changed fields as ``{field: (old, new)}``; a new record reports every set field."""
        values = self.__dict__
        if self.is_new_record:
            return {k: (None, v) for k, v in values.items() if v is not None}
        original = getattr(self, "_ar_original", None) or {}
        changes = {k: (None if old is _UNLOADED else old, values.get(k))
                   for k, old in original.items() if old is _UNLOADED or old != values.get(k)}
        snapshot = getattr(self, "_ar_json", None)
        if snapshot:
            # JSON values mutated in place: compare with the text last read or written.
            for name, stored in snapshot.items():
                if name not in original and name in values:
                    old = json.loads(stored) if isinstance(stored, (str, bytes)) else stored
                    if old != _as_json(values[name]):
                        changes[name] = (old, values[name])
        return changes

    @property
    def is_dirty(self) -> bool:
        return self.is_new_record or bool(self.changes)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(getattr(self, "__pydantic_fields_set__", None)) is LoadedFields:
            own_fields_set(self)   # shared by a loaded result: copy before pydantic adds to it
        if name in self.__pydantic_fields__ and getattr(self, "_ar_persisted", None) is not None:
            original = getattr(self, "_ar_original", None)
            if original is None:
                original = {}
                _set(self, "_ar_original", original)
            if name not in original:
                original[name] = self.__dict__.get(name, _UNLOADED)
                try:
                    super().__setattr__(name, value)
                except BaseException:
                    del original[name]
                    raise
                return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name in type(self).__pydantic_fields__:
            raise errors.MissingAttributeError(
                f"{type(self).__name__}.{name} was not loaded: the query selected only "
                f"{', '.join(self.__dict__)}; add {name!r} to select() to read it")
        return super().__getattr__(name)  # type: ignore[misc]

    def _mark_saved(self) -> None:
        _set(self, "_ar_persisted", PERSISTED if self.is_new_record else self._ar_persisted)
        _set(self, "_ar_original", None)
        meta = type(self).__ar_meta__()
        if meta.json_names:
            values = self.__dict__
            _set(self, "_ar_json", {n: json_dumps(values[n]) for n in meta.json_names
                                    if n in values and values[n] is not None} or None)

    def _pk_value(self, original: bool = False) -> tuple:
        meta = type(self).__ar_meta__()
        orig = (getattr(self, "_ar_original", None) or {}) if original else {}
        values = []
        for name in meta.pk_names:
            value = orig.get(name, _UNLOADED)
            if value is _UNLOADED:
                value = self.__dict__.get(name)
            values.append(value)
        return tuple(values)

    # -- copying keeps the persisted state ---------------------------------------
    def __copy__(self: T) -> T:
        clone = super().__copy__()
        self._copy_state_to(clone, deep=False)
        return clone

    def __deepcopy__(self: T, memo: Optional[dict] = None) -> T:
        clone = super().__deepcopy__(memo)
        self._copy_state_to(clone, deep=True)
        return clone

    def _copy_state_to(self, clone: Any, deep: bool) -> None:
        own_fields_set(clone)   # model_copy(update=...) adds to the clone's set
        _set(clone, "_ar_persisted", None if self.is_new_record else PERSISTED)
        original = getattr(self, "_ar_original", None)
        _set(clone, "_ar_original", (_copy.deepcopy(original) if deep else dict(original))
             if original else None)
        snapshot = getattr(self, "_ar_json", None)
        _set(clone, "_ar_json", dict(snapshot) if snapshot else None)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["__pydantic_fields_set__"] = set(state["__pydantic_fields_set__"])
        state["_ar_persisted"] = not self.is_new_record
        state["_ar_original"] = getattr(self, "_ar_original", None)
        state["_ar_json"] = getattr(self, "_ar_json", None)
        return state

    def __setstate__(self, state: dict) -> None:
        persisted = state.pop("_ar_persisted", False)
        original = state.pop("_ar_original", None)
        snapshot = state.pop("_ar_json", None)
        super().__setstate__(state)
        _set(self, "_ar_persisted", PERSISTED if persisted else None)
        _set(self, "_ar_original", original)
        _set(self, "_ar_json", snapshot)

    # -- hooks -------------------------------------------------------------------
    def before_save(self) -> None:
        """Called before every save; raise to abort it."""

    def after_save(self) -> None:
        """Called after a successful save."""

    def before_delete(self) -> None:
        """Called before delete; raise to abort it."""

    def after_delete(self) -> None:
        """Called after a successful delete."""

    # -- writes ------------------------------------------------------------------
    def save(self) -> int:
        """Insert a new record or UPDATE its changed columns; returns rows affected."""
        return run(self._save_steps(), type(self).backend())

    def _save_steps(self) -> Steps:
        cls = type(self)
        meta = cls.__ar_meta__()
        dialect = cls.backend().dialect
        q = dialect.quote
        self.before_save()
        if self.is_new_record:
            values = self.__dict__
            columns = [c for c in meta.columns if c.name in values
                       and not (c.primary_key and meta.autoincrement and values[c.name] is None)]
            params = [_to_db(c, values[c.name], dialect) for c in columns]
            if columns:
                sql = (f"INSERT INTO {q(meta.table)} ({', '.join(q(c.column) for c in columns)}) "
                       f"VALUES ({', '.join([dialect.placeholder] * len(columns))})")
            else:
                sql = f"INSERT INTO {q(meta.table)} DEFAULT VALUES"
            needs_id = meta.autoincrement and values.get(meta.pk_names[0]) is None
            if needs_id and dialect.insert_returning:
                sql += f" RETURNING {q(meta.primary_key[0].column)}"
            result = yield Execute(sql, params)
            if needs_id:
                new_id = result.fetchone()[0] if dialect.insert_returning else result.lastrowid
                values[meta.pk_names[0]] = new_id
                own_fields_set(self).add(meta.pk_names[0])
            affected = 1
            changed = set(values)
        else:
            changes = self.changes
            if not changes:
                affected = 0
                changed = set()
            else:
                where = cls._pk_condition(self._pk_value(original=True))
                where, expected, version_ci = locking.guard(self, where)
                if version_ci is not None:
                    changes[version_ci.name] = (expected, locking.next_version(expected))
                query = cls.query().where(where)
                assignments = [(meta.by_name[name], new) for name, (_, new) in changes.items()]
                sql, params = query._compile_update(assignments, dialect)
                result = yield Execute(sql, params)
                affected = result.rowcount
                changed = set(changes)
                if version_ci is not None:
                    if affected == 0:
                        raise locking.stale(self, "save", expected)
                    self.__dict__[version_ci.name] = changes[version_ci.name][1]
        self._mark_saved()
        if _identity.in_use:
            _identity.remember(self)
        self._forget_stale_relations(changed)
        self.after_save()
        return affected

    def _forget_stale_relations(self, changed: set) -> None:
        loaded = getattr(self, "_ar_relations", None)
        if not loaded or not changed:
            return
        relations = getattr(type(self), "__ar_relations__", {})
        for name in list(loaded):
            relation = relations.get(name)
            if relation is None or relation.stale_after(changed):
                del loaded[name]

    def delete(self) -> int:
        """Delete this record's row; returns rows affected."""
        return run(self._delete_steps(), type(self).backend())

    def _delete_steps(self) -> Steps:
        cls = type(self)
        if self.is_new_record:
            raise errors.DatabaseError(f"cannot delete a {cls.__name__} that was never saved")
        self.before_delete()
        dialect = cls.backend().dialect
        where, expected, version_ci = locking.guard(self, cls._pk_condition(self._pk_value(original=True)))
        sql, params = cls.query().where(where)._compile_delete(dialect)
        result = yield Execute(sql, params)
        if version_ci is not None and result.rowcount == 0:
            raise locking.stale(self, "delete", expected)
        _set(self, "_ar_persisted", None)
        if _identity.in_use:
            _identity.forget(self)
        self.after_delete()
        return result.rowcount

    def reload(self: T) -> T:
        """Re-read every column from the database, dropping unsaved changes."""
        return run(self._reload_steps(), type(self).backend())

    def _reload_steps(self) -> Steps:
        cls = type(self)
        if self.is_new_record:
            raise errors.RecordNotFound(f"cannot reload a {cls.__name__} that was never saved")
        pk = self._pk_value(original=True)
        fresh = yield from cls.query().option(identity_map=False).where(
            cls._pk_condition(pk))._first_steps(order=False)
        if fresh is None:
            raise errors.RecordNotFound(f"{cls.__name__} with primary key {pk!r} no longer exists")
        _set(self, "__dict__", fresh.__dict__)
        _set(self, "__pydantic_fields_set__", set(fresh.__dict__))
        _set(self, "_ar_original", None)
        _set(self, "_ar_relations", None)
        _set(self, "_ar_json", getattr(fresh, "_ar_json", None))
        if _identity.in_use:
            _identity.remember(self, replace=False)
        return self


def _as_json(value: Any) -> Any:
    """A JSON field's value in plain JSON form (dicts, lists...), for comparing."""
    return json.loads(json_dumps(value))


def _to_db(ci: Any, value: Any, dialect: Any) -> Any:
    if value is None:
        return None
    to_db = ci.codec(dialect)[0]
    return value if to_db is None else to_db(value)


class _PkFinder:
    """``find_by_id`` on a single-column key: the query compiled once, bound per call.

    Runs exactly what the general path runs (same SQL, one Execute through the backend,
    the same Shape.build with identity map and strict marks), minus building and
    compiling a query per call. Only for models whose ``query()`` and query class are
    the stock ones: an override may add scopes that depend on the moment.
    """

    __slots__ = ("query", "sql", "params", "index", "to_db", "shape")

    @classmethod
    def build(cls, model: type, dialect: Any) -> Optional["_PkFinder"]:
        meta = model.__ar_meta__()
        query_class = model.__query_class__
        stock = (getattr(model.query, "__func__", None) is ActiveRecord.query.__func__
                 and isinstance(query_class, type) and issubclass(query_class, ActiveQuery)
                 and all(getattr(query_class, name) is getattr(ActiveQuery, name)
                         for name in _FINDER_METHODS))
        if len(meta.primary_key) != 1 or not stock:
            return None
        query = model.query().where(Column(model, meta.primary_key[0]) == BindParam("pk")).limit(1)
        sql, params, shape = query._compile_select(dialect)
        slots = [i for i, p in enumerate(params) if isinstance(p, BindSlot)]
        if len(slots) != 1 or shape.plan is None:
            return None
        finder = cls()
        finder.query, finder.sql, finder.params, finder.shape = query, sql, list(params), shape
        finder.index, finder.to_db = slots[0], params[slots[0]].to_db
        return finder

    def steps(self, pk: Any) -> Steps:
        to_db = self.to_db
        params = self.params.copy()
        params[self.index] = pk if to_db is None else to_db(pk)
        result = yield Execute(self.sql, params)
        records = self.shape.build(result, self.query)
        return records[0] if records else None


# What the general find_by_id path calls on the query; overriding any keeps it general.
_FINDER_METHODS = ("__init__", "_clone", "where", "limit", "_compile_select", "_first_steps",
                   "_all_steps", "_rows_steps", "_executable")


def _pack_params(records: list[dict], codecs: list) -> list[tuple]:
    """One parameter tuple per record: each column's value through its to_db (None stays None).

    Converted column by column (list comprehensions, far cheaper than a generator per
    row); if a conversion fails, the rows are redone one by one so the error raised is
    the one the first bad row gives, as before.
    """
    if codecs:
        try:
            columns = []
            for name, to_db in codecs:
                column = [values.get(name) for values in records]
                if to_db is not None:
                    column = [v if v is None else to_db(v) for v in column]
                columns.append(column)
            return list(zip(*columns))
        except Exception:
            pass
    return [tuple(v if (v := values.get(name)) is None or to_db is None else to_db(v)
                  for name, to_db in codecs) for values in records]


def _insert_batches(sql: str, params: list, size: int) -> Steps:
    for start in range(0, len(params), size):
        yield ExecuteMany(sql, params[start:start + size])
    return len(params)
