"""Eager-loading bookkeeping: collect keys, group children by key, attach to parents.

Small pure functions over plain Python objects, written as simple typed loops so the
same source can be compiled by Cython in pure-Python mode. Records are read through
their ``__dict__`` (field values) and the loaded-relations dict kept in the
``_ar_relations`` slot, whose descriptor the caller passes in as ``slot``.
(No ``from __future__`` import: the compiled twin includes this file verbatim, and
every annotation here is a builtin name.)
"""


def distinct_keys(records: list, name: str) -> list:
    """The distinct non-None values of field ``name``, in first-seen order."""
    seen: set = set()
    out: list = []
    for record in records:
        key = record.__dict__.get(name)
        if key is not None and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def unique_records(records: list) -> list:
    """``records`` without repeats of the same instance, order kept."""
    seen: set = set()
    out: list = []
    for record in records:
        ident = id(record)
        if ident not in seen:
            seen.add(ident)
            out.append(record)
    return out


def chunked(values: list, size: int) -> list:
    """``values`` cut into lists of at most ``size`` items."""
    if size < 1:
        size = 1
    out: list = []
    i: int = 0
    n: int = len(values)
    while i < n:
        out.append(values[i:i + size])
        i += size
    return out


def group_by_key(children: list, name: str) -> dict:
    """``{key: [children whose field name == key]}``, query order kept in each group."""
    groups: dict = {}
    for child in children:
        key = child.__dict__.get(name)
        if key is None:
            continue
        bucket = groups.get(key)
        if bucket is None:
            groups[key] = [child]
        else:
            bucket.append(child)
    return groups


def index_by_key(children: list, name: str) -> dict:
    """``{key: first child whose field name == key}``."""
    index: dict = {}
    for child in children:
        key = child.__dict__.get(name)
        if key is not None and key not in index:
            index[key] = child
    return index


def group_pairs(keys: list, children: list, identity: str) -> tuple:
    """Group ``children[i]`` under ``keys[i]`` (join-table rows).

    A child that appears under several keys is kept once: rows with the same
    ``identity`` field value share the first instance. Returns ``(groups, uniques)``.
    """
    groups: dict = {}
    seen: dict = {}
    uniques: list = []
    i: int
    for i in range(len(children)):
        child = children[i]
        ident = child.__dict__.get(identity)
        if ident is not None:
            first = seen.get(ident)
            if first is None:
                seen[ident] = child
                uniques.append(child)
            else:
                child = first
        else:
            uniques.append(child)
        key = keys[i]
        bucket = groups.get(key)
        if bucket is None:
            groups[key] = [child]
        else:
            bucket.append(child)
    return groups, uniques


def relation_dicts(records: list, slot: object) -> list:
    """Each record's loaded-relations dict, created where missing."""
    out: list = []
    for record in records:
        try:
            loaded = slot.__get__(record, None)
        except AttributeError:
            loaded = None
        if loaded is None:
            loaded = {}
            slot.__set__(record, loaded)
        out.append(loaded)
    return out


def attach_many(parents: list, dicts: list, key_name: str, groups: dict, relation: str) -> None:
    """Give each parent the list of its children (an empty list when it has none)."""
    used: set = set()
    i: int
    for i in range(len(parents)):
        key = parents[i].__dict__.get(key_name)
        bucket = groups.get(key) if key is not None else None
        if bucket is None:
            dicts[i][relation] = []
        elif key in used:
            dicts[i][relation] = list(bucket)
        else:
            used.add(key)
            dicts[i][relation] = bucket


def attach_one(parents: list, dicts: list, key_name: str, index: dict, relation: str) -> None:
    """Give each parent its one related record, or None."""
    i: int
    for i in range(len(parents)):
        key = parents[i].__dict__.get(key_name)
        dicts[i][relation] = index.get(key) if key is not None else None


def _use_compiled_twin() -> None:
    """Swap in the compiled build of this very file when speedups are enabled."""
    from . import speedups
    twin = speedups.module("grouping")
    if twin is not None:
        names = [n for n, v in globals().items() if callable(v) and not n.startswith("_")]
        for name in names:
            if hasattr(twin, name):
                globals()[name] = getattr(twin, name)


if __name__ == "activerecord.grouping":   # not when compiled as activerecord._speedups.grouping
    _use_compiled_twin()
