# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``activerecord.hydrate.hydrate_records``: rows (tuples) -> instances.

Used for rows that did not come from the C-level SQLite connection (async backends,
psycopg, cached results). Same API, same instances, same values and types.
"""
include "records.pxi"

from cpython.list cimport PyList_GET_SIZE
from cpython.dict cimport PyDict_Size


cdef tuple _converter_array(object plan, Py_ssize_t ncols):
    """``plan.converters`` as one entry per column (None where there is none)."""
    convs = [None] * ncols
    for i, fn in plan.converters:
        if i < ncols:
            convs[i] = fn
    return tuple(convs)


def _pure_like(plan, row):
    """Rows whose length differs from the select list: exactly the pure semantics."""
    if plan.converters:
        row = list(row)
        for i, fn in plan.converters:
            v = row[i]
            if v is not None:
                row[i] = fn(v)
    return dict(zip(plan.names, row))


def hydrate_records(plan, rows, bint track_siblings):
    """Build one instance per row (see ``activerecord.hydrate.hydrate_records``)."""
    cdef RecordMaker m = _maker_of(plan)
    cdef tuple names = m.names
    cdef Py_ssize_t ncols = m.ncols, j
    cdef tuple convs = _converter_array(plan, ncols) if plan.converters else None
    cdef list out = []
    cdef dict values
    cdef object seq, v, fn, snapshot
    persisted = _persisted_for(out, track_siblings)
    shared = _shared_fields(m)
    for row in rows:
        if type(row) is tuple or type(row) is list:
            seq = row
        else:
            seq = tuple(row)
        snapshot = {n: seq[i] for i, n in m.json_fields} if m.has_json else None
        if len(seq) != ncols:
            values = _pure_like(plan, seq)
        else:
            values = _new_dict(ncols)
            for j in range(ncols):
                v = seq[j]
                if convs is not None and v is not None:
                    fn = convs[j]
                    if fn is not None:
                        v = fn(v)
                PyDict_SetItem(values, names[j], v)
        out.append(m.make(values, shared if PyDict_Size(values) == ncols else _LoadedFields(values),
                          persisted, snapshot))
    if track_siblings and PyList_GET_SIZE(out) < 2:
        persisted.siblings = None
    return out
