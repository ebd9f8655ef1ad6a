# cython: language_level=3, boundscheck=False, wraparound=False
"""Bulk parameter packing for ``insert_many``: records kept as dicts, not tuples.

``PackedRows`` is what ``insert_many`` hands to ``backend.executemany`` on the fast
path. The C-level connection reads ``__ar_packed__`` and binds every record column by
column into one prepared statement; any other consumer (the stdlib driver, an async
driver, a subclass logging its parameters) sees an ordinary sequence of tuples with
exactly the values the pure path would have built.
"""
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF

cdef extern from "Python.h":
    object PyObject_GenericGetDict(object o, void* context)


cdef class PackedRows:
    """A read-only sequence of parameter tuples, computed on demand from records."""
    cdef readonly list records     # one dict of field values per row
    cdef readonly tuple names      # field names, in column order
    cdef readonly tuple to_dbs     # each column's to_db converter, or None

    def __init__(self, list records, names, to_dbs):
        self.records = records
        self.names = tuple(names)
        self.to_dbs = tuple(to_dbs)
        if len(self.names) != len(self.to_dbs):
            raise ValueError("PackedRows needs one converter (or None) per column")

    @property
    def __ar_packed__(self):
        return self.records, self.names, self.to_dbs

    cdef tuple _params(self, dict record):
        cdef Py_ssize_t j, n = len(self.names)
        cdef tuple out = PyTuple_New(n)
        for j in range(n):
            v = record.get(self.names[j])
            if v is not None:
                fn = self.to_dbs[j]
                if fn is not None:
                    v = fn(v)
            Py_INCREF(v)
            PyTuple_SET_ITEM(out, j, v)
        return out

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return PackedRows(self.records[index], self.names, self.to_dbs)
        return self._params(self.records[index])

    def __iter__(self):
        for record in self.records:
            yield self._params(record)

    def __eq__(self, other):
        if isinstance(other, PackedRows):
            return list(self) == list(other)
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self):
        return repr(list(self))


def check_records(cls, list rows, frozenset fields):
    """Records of ``cls`` as their field dicts, or None if any row needs the full checks.

    The fast case of ``insert_many(instances)``: every row an exact ``cls`` instance
    with every field loaded. Anything else (dicts, subclasses, partial records) returns
    None so the caller runs its validating path with its precise error messages.
    """
    cdef list out = []
    cdef dict values
    cdef tuple names = tuple(fields)
    for row in rows:
        if type(row) is not cls:
            return None
        values = PyObject_GenericGetDict(row, NULL)   # row.__dict__, minus __getattr__ hooks
        for name in names:      # a membership test per field: no temporary set per row
            if name not in values:
                return None
        out.append(values)
    return out


def all_missing(list records, str name):
    """True when no record has a value (missing or None) for ``name``."""
    cdef dict values
    for values in records:
        if values.get(name) is not None:
            return False
    return True
