"""Relations between models and the eager-loading planner.

``HasMany``, ``HasOne``, ``BelongsTo`` and ``HasManyThrough`` are descriptors kept on
the model class. Reading one on a record loads it lazily and keeps it in the
record's ``_ar_relations`` dict. Loading is always done for a *set* of parent
records with one query per relation (chunked only past the dialect's variable
limit): for ``includes(...)`` the set is the query's result, and for a lazy read
it is every record of the result the record came from (its siblings), so the
plain ``for user in users: user.orders`` loop runs 2 statements, not N+1.

Everything that touches the database is a step generator (see ``execution``), so
async models drive the very same code.
"""
from __future__ import annotations

import inspect
import re
import sys
import typing
from typing import Any, Callable, Generic, Iterable, Optional, TypeVar

from . import errors, grouping, hydrate, speedups
from .execution import Execute, Steps, run
from .hydrate import Persisted
from .model import ActiveRecord
from .query.builder import ActiveQuery
from .query.compiler import Compiler
from .query.expressions import Column

T = TypeVar("T")

_set = object.__setattr__
# The instance slot holding each record's loaded relations, read without __getattr__.
_RELATIONS_SLOT = ActiveRecord.__dict__["_ar_relations"]
# Keys per query, kept well under the dialect's bound-variable limit.
_RESERVED_VARIABLES = 100


def _grouping() -> Any:
    """The grouping functions: the compiled twin when speedups are on, else the pure ones."""
    return speedups.module("grouping") or grouping


# -- global switches ---------------------------------------------------------------------
class _Settings:
    strict_loading = False
    preload_siblings = True


class _Switch:
    """The previous value of a global switch; restores it when used as a context manager."""

    def __init__(self, attr: str, previous: bool):
        self._attr, self._previous = attr, previous

    def __enter__(self) -> "_Switch":
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(_Settings, self._attr, self._previous)


def strict_loading(flag: bool = True) -> _Switch:
    """Forbid (or allow again) lazy relation loads everywhere.

    ``strict_loading(True)`` switches it on for good; ``with strict_loading():``
    switches it on for the block only.
    """
    previous = _Settings.strict_loading
    _Settings.strict_loading = bool(flag)
    return _Switch("strict_loading", previous)


def preload_siblings(flag: bool = True) -> _Switch:
    """Whether a lazy read loads the relation for every record of the same result.

    On by default; ``preload_siblings(False)`` (or ``with preload_siblings(False):``)
    makes lazy reads load only the record they are made on.
    """
    previous = _Settings.preload_siblings
    _Settings.preload_siblings = bool(flag)
    return _Switch("preload_siblings", previous)


class StrictPersisted(Persisted):
    """The persisted marker of records loaded under per-query strict loading."""

    __slots__ = ()


def mark_strict(records: list) -> None:
    """Make lazy relation reads on these records raise ``StrictLoadingError``."""
    if not records:
        return
    first = getattr(records[0], "_ar_persisted", None)
    if isinstance(first, StrictPersisted):
        return
    siblings = first.siblings if first is not None and first is not hydrate.PERSISTED else None
    marker = StrictPersisted(siblings)
    for record in records:
        if getattr(record, "_ar_persisted", None) is not None:
            _set(record, "_ar_persisted", marker)


def _is_strict(records: list) -> bool:
    return bool(records) and isinstance(getattr(records[0], "_ar_persisted", None), StrictPersisted)


# -- resolving names ---------------------------------------------------------------------
def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _singular(name: str) -> str:
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _all_models() -> list:
    out: list = []
    stack = [ActiveRecord]
    while stack:
        for sub in stack.pop().__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def _scope(cls: type) -> str:
    return cls.__qualname__.rpartition(".")[0]


def resolve_model(ref: Any, owner: type, what: str) -> type:
    """The model a relation names: a class, ``'Order'`` or ``'package.module.Order'``."""
    if isinstance(ref, typing.ForwardRef):
        ref = ref.__forward_arg__
    if isinstance(ref, type):
        if not issubclass(ref, ActiveRecord):
            raise errors.ConfigurationError(f"{what}: {ref.__name__} is not an ActiveRecord model")
        return ref
    if not isinstance(ref, str) or not ref:
        raise errors.ConfigurationError(f"{what}: the target must be a model class or its name, got {ref!r}")
    if "." in ref:
        module_name, _, class_name = ref.rpartition(".")
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = __import__(module_name, fromlist=[class_name])
            except ImportError as exc:
                raise errors.ConfigurationError(f"{what}: cannot import {module_name!r}: {exc}") from None
        found = getattr(module, class_name, None)
        if isinstance(found, type) and issubclass(found, ActiveRecord):
            return found
        raise errors.ConfigurationError(f"{what}: {ref!r} is not a model")
    candidates = [m for m in _all_models() if m.__name__ == ref]
    same_scope = [m for m in candidates
                  if m.__module__ == owner.__module__ and _scope(m) == _scope(owner)]
    if same_scope:
        return same_scope[-1]
    module = sys.modules.get(owner.__module__)
    found = getattr(module, ref, None) if module is not None else None
    if isinstance(found, type) and issubclass(found, ActiveRecord):
        return found
    same_module = [m for m in candidates if m.__module__ == owner.__module__]
    if same_module:
        return same_module[-1]
    if len({(m.__module__, m.__qualname__) for m in candidates}) == 1:
        return candidates[-1]
    if not candidates:
        raise errors.ConfigurationError(
            f"{what}: no model named {ref!r} is defined; define it, or pass the class "
            f"or a dotted path ('package.module.{ref}')")
    places = ", ".join(sorted({f"{m.__module__}.{m.__qualname__}" for m in candidates}))
    raise errors.ConfigurationError(
        f"{what}: the model name {ref!r} is ambiguous ({places}); pass the class or a dotted path")


def _hint_target(annotation: Any) -> Any:
    """The model named inside ``ClassVar[HasMany['Order']]`` (or its string form)."""
    if annotation is None:
        return None
    if isinstance(annotation, str):
        match = re.search(r"\[\s*['\"]?([\w.]+)['\"]?\s*\]\s*\]\s*$", annotation)
        return match.group(1) if match else None
    if typing.get_origin(annotation) is typing.ClassVar:
        args = typing.get_args(annotation)
        annotation = args[0] if args else None
    args = typing.get_args(annotation)
    return args[0] if args else None


def _field(model: type, name: str, what: str, role: str) -> Any:
    """A model's field (by attribute name, or by column name) for a relation."""
    meta = model.__ar_meta__()
    ci = meta.by_name.get(name) or meta.by_column.get(name)
    if ci is None:
        raise errors.ConfigurationError(
            f"{what}: {model.__name__} has no field {name!r} ({role}); fields are: "
            f"{', '.join(meta.field_names)}")
    return ci


def _single_pk(model: type, what: str) -> Any:
    meta = model.__ar_meta__()
    if len(meta.primary_key) != 1:
        raise errors.ConfigurationError(
            f"{what}: {model.__name__} has a composite primary key; pass primary_key= "
            f"naming the one field the relation joins on")
    return meta.primary_key[0]


def relation_of(model: type, name: str) -> "Relation":
    """The relation ``name`` of ``model``, or an error listing the ones it has."""
    relations = getattr(model, "__ar_relations__", None) or {}
    relation = relations.get(name) if isinstance(name, str) else None
    if relation is None:
        known = ", ".join(relations) or "none"
        raise errors.ConfigurationError(
            f"{model.__name__} has no relation {name!r}; its relations are: {known}")
    return relation


# -- relation descriptors ----------------------------------------------------------------
class Relation(Generic[T]):
    """Base of the relation descriptors; subclasses say where the keys live."""

    many = False
    # Whether a cached value must be checked against the record's current key on read.
    checks_key = False

    def __init__(self, target: Any = None, *, foreign_key: Optional[str] = None,
                 primary_key: Optional[str] = None):
        if foreign_key is not None and not isinstance(foreign_key, str):
            raise TypeError(f"foreign_key must be a field name, got {foreign_key!r}")
        self.target_ref = target
        self.foreign_key = foreign_key
        self.primary_key = primary_key
        self.owner: Optional[type] = None
        self.name: Optional[str] = None
        self._hint: Any = None
        self._resolved: Optional[tuple] = None

    def __set_name__(self, owner: type, name: str) -> None:
        if self.owner is not None:  # inherited or reused: the first owner defines the keys
            _register(owner, name, self)
            return
        self.owner, self.name = owner, name
        self._hint = owner.__dict__.get("__annotations__", {}).get(name)
        _register(owner, name, self)

    def __repr__(self) -> str:
        owner = self.owner.__name__ if self.owner else "?"
        return f"<{type(self).__name__} {owner}.{self.name}>"

    @property
    def label(self) -> str:
        return f"{self.owner.__name__ if self.owner else '?'}.{self.name}"

    @property
    def target(self) -> type:
        """The related model class (resolved on first use)."""
        return self._keys()[0]

    def _target_model(self) -> type:
        ref = self.target_ref
        if ref is None:
            ref = _hint_target(self._hint)
        if ref is None:
            ref = self._default_target_name()
        return resolve_model(ref, self.owner, self.label)  # type: ignore[arg-type]

    def _default_target_name(self) -> str:
        return _camel(_singular(self.name) if self.many else self.name)  # type: ignore[arg-type]

    def _keys(self) -> tuple:
        resolved = self._resolved
        if resolved is None:
            if self.owner is None:
                raise errors.ConfigurationError(f"{type(self).__name__} is not attached to a model class")
            resolved = self._resolved = self._resolve()
        return resolved

    def _resolve(self) -> tuple:
        """(target, parent key field, child key field, extra...) checked against the models."""
        raise NotImplementedError

    # -- reading on a record -------------------------------------------------------------
    def __get__(self, record: Any, owner: Optional[type] = None) -> Any:
        if record is None:
            return self
        try:
            loaded = _RELATIONS_SLOT.__get__(record, None)
        except AttributeError:
            loaded = None
        if loaded:
            value = loaded.get(self.name, _MISSING)
            if value is not _MISSING and (not self.checks_key or self._matches(record, value)):
                return value
        backend = type(record).backend()
        if inspect.iscoroutinefunction(getattr(backend, "execute", None)):
            raise errors.ConfigurationError(
                f"{type(record).__name__}.{self.name} is not loaded and this model is async: "
                f"use `await record.load({self.name!r})` or includes({self.name!r})")
        return run(lazy_load_steps(record, self.name), backend)  # type: ignore[arg-type]

    def _matches(self, record: Any, value: Any) -> bool:
        return True

    def stale_after(self, changed: Iterable[str]) -> bool:
        """Whether a save that changed these fields makes the loaded value stale."""
        return self._parent_key_name() in changed

    def _parent_key_name(self) -> str:
        return self._keys()[1].name

    # -- loading -------------------------------------------------------------------------
    def preload_steps(self, parents: list, filters: Iterable[Callable] = ()) -> Steps:
        """Load this relation for ``parents`` and attach it; returns the loaded records."""
        target, parent_key, child_key = self._keys()[:3]
        _require_loaded(parents, parent_key.name, self.label)
        grouping = _grouping()
        keys = grouping.distinct_keys(parents, parent_key.name)
        children: list = []
        nested: tuple = ()
        chunks = grouping.chunked(keys, _chunk_size(parents[0])) if keys else []
        for chunk in chunks:
            query = ActiveQuery(target).where(Column(target, child_key).is_in(chunk))
            query, nested = self._filtered(query, filters, child_key)
            loaded = yield from query._all_steps()
            children.extend(loaded)
        dicts = grouping.relation_dicts(parents, _RELATIONS_SLOT)
        self._attach(grouping, parents, dicts, children, parent_key.name, child_key.name)
        # Rows of distinct keys are distinct records; one chunk is already one sibling set.
        strict = _is_strict(parents)
        if len(chunks) > 1 or strict:
            _link(children, target, strict)
        if nested and children:
            yield from preload_steps(target, children, nested)
        return children

    def _filtered(self, query: ActiveQuery, filters: Iterable[Callable],
                  *required: Any) -> tuple[ActiveQuery, tuple]:
        """Apply the includes() lambdas; lift out their own includes() to run once."""
        for fn in filters:
            result = fn(query)
            if not isinstance(result, ActiveQuery):
                raise TypeError(f"the includes() filter for {self.label} must return a query "
                                f"(e.g. lambda q: q.where(...)), got {type(result).__name__}")
            query = result
        nested = query._includes
        changes: dict = {"_includes": ()}
        if query._select:
            selected = {n.column_info.name for n in query._select if isinstance(n, Column)}
            missing = tuple(Column(query.model, ci) for ci in required if ci.name not in selected)
            if missing:
                changes["_select"] = query._select + missing
        return query._clone(**changes), nested

    def _attach(self, grouping: Any, parents: list, dicts: list, children: list,
                parent_key: str, child_key: str) -> None:
        raise NotImplementedError


_MISSING = object()


def _register(owner: type, name: str, relation: Relation) -> None:
    """Add to the class's own ``__ar_relations__`` (a copy of the inherited one)."""
    own = owner.__dict__.get("__ar_relations__")
    if own is None:
        own = {}
        for base in reversed(owner.__mro__[1:]):
            own.update(base.__dict__.get("__ar_relations__") or {})
        type.__setattr__(owner, "__ar_relations__", own)
    own[name] = relation


def _require_loaded(parents: list, key: str, label: str) -> None:
    for record in parents:
        if key not in record.__dict__:
            raise errors.MissingAttributeError(
                f"cannot load {label}: the {type(record).__name__} records were loaded "
                f"without {key!r}; add it to select()")


def _chunk_size(record: Any) -> int:
    dialect = type(record).backend().dialect
    return max(1, int(dialect.max_variables) - _RESERVED_VARIABLES)


def _link(children: list, target: type, strict: bool) -> None:
    """Make the records loaded for one relation level siblings of each other."""
    if len(children) > 1 and target._has_relations():
        persisted = (StrictPersisted if strict else Persisted)(children)
        for child in children:
            _set(child, "_ar_persisted", persisted)
    elif strict:
        mark_strict(children)


class BelongsTo(Relation[T]):
    """The record this one points to: ``order.user`` via ``order.user_id``.

    Assigning a new ``order.user_id`` makes the next ``order.user`` read load the
    new target, saved or not (a save also drops the cached one).
    """

    checks_key = True

    def _matches(self, record: Any, value: Any) -> bool:
        _, fk, key = self._keys()
        # A cached None stays (a filtered includes() may have left it out on purpose).
        return value is None or value.__dict__.get(key.name) == record.__dict__.get(fk.name)

    def _resolve(self) -> tuple:
        target = self._target_model()
        fk = _field(self.owner, self.foreign_key or f"{self.name}_id", self.label,  # type: ignore[arg-type]
                    "foreign_key")
        key = (_field(target, self.primary_key, self.label, "primary_key")
               if self.primary_key else _single_pk(target, self.label))
        return target, fk, key

    def _attach(self, grouping: Any, parents: list, dicts: list, children: list,
                parent_key: str, child_key: str) -> None:
        index = grouping.index_by_key(children, child_key)
        grouping.attach_one(parents, dicts, parent_key, index, self.name)  # type: ignore[arg-type]


class HasMany(Relation[T]):
    """The records pointing to this one: ``user.orders`` via ``order.user_id``."""

    many = True

    def _resolve(self) -> tuple:
        target = self._target_model()
        owner = self.owner
        key = (_field(owner, self.primary_key, self.label, "primary_key")  # type: ignore[arg-type]
               if self.primary_key else _single_pk(owner, self.label))  # type: ignore[arg-type]
        fk = _field(target, self.foreign_key or f"{_snake(owner.__name__)}_id",  # type: ignore[union-attr]
                    self.label, "foreign_key")
        return target, key, fk

    def _attach(self, grouping: Any, parents: list, dicts: list, children: list,
                parent_key: str, child_key: str) -> None:
        groups = grouping.group_by_key(children, child_key)
        grouping.attach_many(parents, dicts, parent_key, groups, self.name)  # type: ignore[arg-type]


class HasOne(HasMany[T]):
    """The one record pointing to this one: ``user.profile`` via ``profile.user_id``."""

    many = False

    def _attach(self, grouping: Any, parents: list, dicts: list, children: list,
                parent_key: str, child_key: str) -> None:
        index = grouping.index_by_key(children, child_key)
        grouping.attach_one(parents, dicts, parent_key, index, self.name)  # type: ignore[arg-type]


class HasManyThrough(Relation[T]):
    """Records reached through a join model: ``student.courses`` via ``Enrollment``.

    ``source_foreign_key`` is the join model's field pointing at this record,
    ``target_foreign_key`` the one pointing at the target. Loaded with one joined
    query per level; a target reached from several parents is one shared instance.
    """

    many = True

    def __init__(self, target: Any = None, *, through: Any,
                 source_foreign_key: Optional[str] = None,
                 target_foreign_key: Optional[str] = None,
                 primary_key: Optional[str] = None):
        super().__init__(target, primary_key=primary_key)
        if through is None:
            raise TypeError("HasManyThrough needs through= naming the join model")
        self.through = through
        self.source_foreign_key = source_foreign_key
        self.target_foreign_key = target_foreign_key

    def _resolve(self) -> tuple:
        owner = self.owner
        target = self._target_model()
        through = resolve_model(self.through, owner, self.label)  # type: ignore[arg-type]
        key = (_field(owner, self.primary_key, self.label, "primary_key")  # type: ignore[arg-type]
               if self.primary_key else _single_pk(owner, self.label))  # type: ignore[arg-type]
        source_fk = _field(through, self.source_foreign_key or f"{_snake(owner.__name__)}_id",  # type: ignore[union-attr]
                           self.label, "source_foreign_key")
        target_fk = _field(through, self.target_foreign_key or f"{_snake(target.__name__)}_id",
                           self.label, "target_foreign_key")
        target_pk = _single_pk(target, self.label)
        return target, key, source_fk, through, target_fk, target_pk

    def preload_steps(self, parents: list, filters: Iterable[Callable] = ()) -> Steps:
        target, parent_key, source_fk, through, target_fk, target_pk = self._keys()
        _require_loaded(parents, parent_key.name, self.label)
        grouping = _grouping()
        keys = grouping.distinct_keys(parents, parent_key.name)
        owner_keys: list = []
        found: list = []
        nested: tuple = ()
        for chunk in grouping.chunked(keys, _chunk_size(parents[0])) if keys else ():
            query = ActiveQuery(target).join(
                through, Column(through, target_fk) == Column(target, target_pk)
            ).where(Column(through, source_fk).is_in(chunk))
            query, nested = self._filtered(query, filters)
            rows_keys, rows_records = yield from self._joined_steps(query, through, source_fk)
            owner_keys.extend(rows_keys)
            found.extend(rows_records)
        groups, children = grouping.group_pairs(owner_keys, found, target_pk.name)
        dicts = grouping.relation_dicts(parents, _RELATIONS_SLOT)
        grouping.attach_many(parents, dicts, parent_key.name, groups, self.name)  # type: ignore[arg-type]
        _link(children, target, strict=_is_strict(parents))
        if nested and children:
            yield from preload_steps(target, children, nested)
        return children

    def _joined_steps(self, query: ActiveQuery, through: type, source_fk: Any) -> Steps:
        """Run the join query: target columns plus the join row's owner key."""
        target = query.model
        dialect = target.backend().dialect
        columns = [n for n in query._select if isinstance(n, Column) and n.model is target] \
            if query._select else [Column(target, ci) for ci in target.__ar_meta__().columns]
        compiler = Compiler(dialect)
        link = Column(through, source_fk)
        items = [(col, None) for col in columns] + [(link, None)]
        sql = compiler.select(query, items)
        result = yield Execute(sql, compiler.params)
        rows = result.fetchall()
        plan = target._record_plan(tuple(col.column_info.name for col in columns), dialect)
        records = hydrate.hydrate_records(plan, [row[:-1] for row in rows], False)
        from_db = source_fk.codec(dialect)[1]
        keys = [row[-1] if from_db is None or row[-1] is None else from_db(row[-1]) for row in rows]
        return keys, records

    def stale_after(self, changed: Iterable[str]) -> bool:
        return self._keys()[1].name in changed


# -- the includes() planner --------------------------------------------------------------
class IncludeNode:
    """One relation to load: the filters to apply and what to load below it."""

    __slots__ = ("filters", "children")

    def __init__(self) -> None:
        self.filters: list = []
        self.children: dict[str, IncludeNode] = {}


def parse_includes(items: Iterable[Any]) -> dict[str, IncludeNode]:
    """Turn includes() arguments into a tree ``{relation: IncludeNode}``."""
    tree: dict[str, IncludeNode] = {}
    for item in items:
        _merge(tree, item)
    return tree


def _node_at(tree: dict, path: str) -> IncludeNode:
    node = None
    for part in path.split("."):
        part = part.strip()
        if not part:
            raise ValueError(f"includes(): {path!r} is not a relation path")
        node = tree.get(part)
        if node is None:
            node = tree[part] = IncludeNode()
        tree = node.children
    return node  # type: ignore[return-value]


def _merge(tree: dict, item: Any) -> None:
    if isinstance(item, str):
        _node_at(tree, item)
    elif isinstance(item, dict):
        for key, value in item.items():
            if not isinstance(key, str):
                raise TypeError(f"includes(): relation names must be strings, got {key!r}")
            if value is False:
                continue
            node = _node_at(tree, key)
            if value is True or value is None:
                continue
            if isinstance(value, (str, dict, list, tuple)):
                _merge(node.children, value)
            elif callable(value):
                node.filters.append(value)
            else:
                raise TypeError(f"includes(): the value for {key!r} must be True, a nested dict, "
                                f"relation names or a filter lambda, got {value!r}")
    elif isinstance(item, (list, tuple)):
        for sub in item:
            _merge(tree, sub)
    else:
        raise TypeError(f"includes() takes relation names, dotted paths or dicts, got {item!r}")


def preload_steps(model: type, records: list, includes: Any) -> Steps:
    """Load every relation named by includes() for ``records``: one query per relation level."""
    tree = includes if isinstance(includes, dict) and all(
        isinstance(v, IncludeNode) for v in includes.values()) else parse_includes(includes)
    if not records:
        return None
    for name, node in tree.items():
        relation = relation_of(model, name)
        children = yield from relation.preload_steps(records, node.filters)
        if node.children and children:
            yield from preload_steps(relation.target, children, node.children)
    return None


# -- lazy loading --------------------------------------------------------------------------
def _loaded_names(record: Any) -> dict:
    try:
        return _RELATIONS_SLOT.__get__(record, None) or {}
    except AttributeError:
        return {}


def _batch_for(record: Any, name: str) -> list:
    """The record plus every sibling of its result that has not loaded ``name`` yet."""
    persisted = getattr(record, "_ar_persisted", None)
    siblings = persisted.siblings if persisted is not None else None
    if not siblings or not _Settings.preload_siblings:
        return [record]
    cls = type(record)
    batch = [record]
    for other in siblings:
        if other is not record and type(other) is cls and name not in _loaded_names(other):
            batch.append(other)
    return batch


def lazy_load_steps(record: Any, name: str) -> Steps:
    """What a lazy read runs: load ``name`` for the record (and its siblings), return it."""
    relation = relation_of(type(record), name)
    persisted = getattr(record, "_ar_persisted", None)
    if persisted is not None and (_Settings.strict_loading or isinstance(persisted, StrictPersisted)):
        raise errors.StrictLoadingError(
            f"{type(record).__name__}.{name} is not loaded and strict loading forbids a lazy "
            f"load; load it with includes({name!r})")
    yield from relation.preload_steps(_batch_for(record, name), ())
    return _loaded_names(record)[name]


def load_steps(record_or_records: Any, relation: Any) -> Steps:
    """Load and attach a relation (any includes() form) explicitly.

    For one record, the siblings of its result that have not loaded it yet are
    loaded in the same query; returns the loaded value for a single plain name, else
    the records. Explicit loads are allowed under strict loading.
    """
    single = isinstance(record_or_records, ActiveRecord)
    records = [record_or_records] if single else list(record_or_records)
    if not records:
        return records
    if single and isinstance(relation, str) and "." not in relation:
        batch = _batch_for(record_or_records, relation)
        yield from relation_of(type(record_or_records), relation).preload_steps(batch, ())
        return _loaded_names(record_or_records)[relation]
    yield from preload_steps(type(records[0]), records, (relation,))
    return record_or_records


def load(record_or_records: Any, relation: Any) -> Any:
    """Sync driver of ``load_steps``."""
    first = record_or_records if isinstance(record_or_records, ActiveRecord) else \
        next(iter(record_or_records), None)
    if first is None:
        return record_or_records
    return run(load_steps(record_or_records, relation), type(first).backend())


def is_loaded(record: Any, name: str) -> bool:
    """Whether ``record.<name>`` is already loaded (reading it runs no query)."""
    return name in _loaded_names(record)
