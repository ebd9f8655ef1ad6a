"""The identity map: one instance per database row within a context.

Inside ``with activerecord.identity_map():`` every model participates (unless it sets
``__identity_map__ = False``); a model with ``__identity_map__ = True`` participates
everywhere, in a weakly-held map of the current context. While a record is in the
map, ``find_by_id`` returns that same instance without a query, and queries that load
its row hand back that instance (refreshed from the row unless it has unsaved changes).

The map is context-local (``contextvars``): each thread, and each asyncio task
started outside a block, has its own, so instances are never shared across threads.
It stays coherent with writes in this process: an entry is trusted only while its
table has not been written since it was loaded (the query cache's table versions),
so after a bulk ``update``/``delete``, a raw write or a rolled-back transaction the next
``find_by_id`` reads the row again. ``save()`` keeps its own record's entry current,
``delete()`` removes it, ``reload()`` re-reads it.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional

from . import cache as _cache

_set = object.__setattr__

#: Hot-path switch: False until an identity map is used anywhere in the process.
in_use = False

_explicit: ContextVar[Optional["IdentityMap"]] = ContextVar("activerecord_identity_map", default=None)
_implicit: ContextVar[Optional["IdentityMap"]] = ContextVar("activerecord_identity_map_models",
                                                            default=None)


def enable() -> None:
    """Turn the hooks on (they cost one attribute check until then)."""
    global in_use
    if not in_use:
        _cache.ensure_tracking()
        in_use = True


def _table_stamp(model: type) -> tuple:
    return _cache.stamp((model.__ar_meta__().table.lower(),))


def _key_of(pk: Any) -> tuple:
    if isinstance(pk, tuple):
        return pk
    if isinstance(pk, list):
        return tuple(pk)
    return (pk,)


class IdentityMap:
    """Records by (model, primary key), each with the table version it was loaded under."""

    def __init__(self, weak: bool = False):
        self.weak = weak
        self._entries: dict[tuple, tuple[Any, tuple]] = {}

    def _record(self, key: tuple) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        ref = entry[0]
        return ref() if self.weak else ref

    def _put(self, key: tuple, record: Any, stamp: tuple) -> None:
        if self.weak:
            entries = self._entries

            def gone(ref: Any, key: tuple = key) -> None:
                current = entries.get(key)
                if current is not None and current[0] is ref:
                    del entries[key]

            self._entries[key] = (weakref.ref(record, gone), stamp)
        else:
            self._entries[key] = (record, stamp)

    def get(self, model: type, pk: Any) -> Optional[Any]:
        """The mapped, still-current record of ``model`` with primary key ``pk``, else None."""
        key = (model, _key_of(pk))
        entry = self._entries.get(key)
        if entry is None:
            return None
        record = entry[0]() if self.weak else entry[0]
        if record is None or record.is_new_record or record._pk_value() != key[1]:
            self._entries.pop(key, None)
            return None
        if entry[1] != _table_stamp(model):
            return None  # the table was written since: read the row again (merge refreshes it)
        return record

    def add(self, record: Any) -> None:
        """Map ``record`` (a saved record) as the instance of its row."""
        model = type(record)
        self._put((model, record._pk_value()), record, _table_stamp(model))

    def discard(self, record: Any) -> None:
        key = (type(record), record._pk_value(original=True))
        if self._record(key) is record:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def records(self) -> list:
        out = []
        for key in list(self._entries):
            record = self._record(key)
            if record is not None:
                out.append(record)
        return out

    def __len__(self) -> int:
        return len(self.records())

    def __contains__(self, record: Any) -> bool:
        return self._record((type(record), record._pk_value())) is record

    def __repr__(self) -> str:
        return f"<IdentityMap {len(self)} records{' (weak)' if self.weak else ''}>"


def current_map(model: type) -> Optional[IdentityMap]:
    """The map ``model`` uses in this context, if any."""
    setting = getattr(model, "__identity_map__", None)
    if setting is False:
        return None
    explicit = _explicit.get()
    if explicit is not None:
        return explicit
    if setting:
        implicit = _implicit.get()
        if implicit is None:
            implicit = IdentityMap(weak=True)
            _implicit.set(implicit)
        return implicit
    return None


@contextmanager
def identity_map() -> Iterator[IdentityMap]:
    """``with identity_map():`` one instance per row for every model, in this context.

    Nested blocks share the outer map. Threads and tasks started inside the block
    without a copy of its context get their own.
    """
    enable()
    outer = _explicit.get()
    if outer is not None:
        yield outer
        return
    mapping = IdentityMap()
    token = _explicit.set(mapping)
    try:
        yield mapping
    finally:
        _explicit.reset(token)
        mapping.clear()


# -- hooks called by the model and the query builder ------------------------------------
def lookup(model: type, pk: Any) -> Optional[Any]:
    """``find_by_id``: the mapped record, or None to query."""
    mapping = current_map(model)
    return None if mapping is None else mapping.get(model, pk)


def merge(records: list, query: Any) -> list:
    """Swap freshly hydrated records for the mapped instances of their rows (in place)."""
    if not records or query._options.get("identity_map") is False:
        return records
    model = type(records[0])
    mapping = current_map(model)
    if mapping is None:
        return records
    stamp = _table_stamp(model)
    for i, record in enumerate(records):
        key = (model, record._pk_value())
        existing = mapping._record(key)
        if existing is not None and existing is not record and not existing.is_new_record:
            if not existing.is_dirty and existing.__dict__ != record.__dict__:
                _set(existing, "__dict__", record.__dict__)
                _set(existing, "__pydantic_fields_set__", set(record.__dict__))
                _set(existing, "_ar_original", None)
                _set(existing, "_ar_relations", None)
            _set(existing, "_ar_persisted", record._ar_persisted)
            records[i] = existing
            record = existing
        mapping._put(key, record, stamp)
    return records


def remember(record: Any, replace: bool = True) -> None:
    """After ``save()``/``reload()``: map the record as its row's instance, version now."""
    mapping = current_map(type(record))
    if mapping is None:
        return
    if not replace:
        held = mapping._record((type(record), record._pk_value()))
        if held is not None and held is not record:
            return
    mapping.add(record)


def forget(record: Any) -> None:
    """After ``delete()``."""
    mapping = current_map(type(record))
    if mapping is not None:
        mapping.discard(record)
