# cython: language_level=3, boundscheck=False, wraparound=False
"""An SQLite connection on the C API, with the small interface SQLiteBackend uses.

``Connection.execute(sql, params)`` returns a ``Cursor`` (fetchone/fetchmany/fetchall,
iteration, rowcount, lastrowid, description, close) that behaves like the stdlib's;
``executemany`` binds each parameter set into one prepared statement. Statements are
prepared once per SQL text and connection (``sqlite3_prepare_v3``) and reused.

Errors are the stdlib's own ``sqlite3`` exception classes, chosen by SQLite result
code exactly as the stdlib chooses them and carrying ``sqlite_errorcode`` /
``sqlite_errorname``, so the backend translates both paths the same way.

A cursor can also hydrate: ``Cursor.hydrate(plan, track_siblings)`` steps the rows
straight into model instances without building tuples.
"""
include "records.pxi"

import sqlite3 as _stdlib
from datetime import datetime as _datetime

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.long cimport PyLong_FromLongLong
from cpython.float cimport PyFloat_FromDouble, PyFloat_AS_DOUBLE
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM, PyTuple_GET_SIZE
from cpython.list cimport PyList_GET_SIZE
from cpython.dict cimport PyDict_Size
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.string cimport strcmp, strlen
from libc.limits cimport INT_MAX
from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    int PyGILState_Check() nogil
    ctypedef struct PyThreadState
    PyThreadState* PyEval_SaveThread() nogil
    void PyEval_RestoreThread(PyThreadState*) nogil

cdef extern from "datetime.h":
    pass
from cpython.datetime cimport (import_datetime, datetime_new, PyDateTime_CheckExact,
                               PyDateTime_GET_YEAR, PyDateTime_GET_MONTH, PyDateTime_GET_DAY,
                               PyDateTime_DATE_GET_HOUR, PyDateTime_DATE_GET_MINUTE,
                               PyDateTime_DATE_GET_SECOND, PyDateTime_DATE_GET_MICROSECOND,
                               datetime_tzinfo)

import_datetime()

cdef extern from "sqlite3.h" nogil:
    ctypedef struct sqlite3
    ctypedef struct sqlite3_stmt
    ctypedef long long sqlite3_int64
    ctypedef void (*sqlite3_destructor_type)(void*)
    sqlite3_destructor_type SQLITE_TRANSIENT
    sqlite3_destructor_type SQLITE_STATIC
    int sqlite3_clear_bindings(sqlite3_stmt*)
    int SQLITE_OK, SQLITE_ROW, SQLITE_DONE, SQLITE_BUSY, SQLITE_LOCKED
    int SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
    int SQLITE_OPEN_READWRITE, SQLITE_OPEN_CREATE, SQLITE_OPEN_URI, SQLITE_PREPARE_PERSISTENT
    int sqlite3_open_v2(const char*, sqlite3**, int, const char*)
    int sqlite3_close_v2(sqlite3*)
    int sqlite3_busy_handler(sqlite3*, int(*)(void*, int) noexcept nogil, void*)
    int sqlite3_sleep(int)
    int sqlite3_prepare_v3(sqlite3*, const char*, int, unsigned int, sqlite3_stmt**, const char**)
    int sqlite3_step(sqlite3_stmt*)
    int sqlite3_reset(sqlite3_stmt*)
    int sqlite3_finalize(sqlite3_stmt*)
    int sqlite3_bind_parameter_count(sqlite3_stmt*)
    const char* sqlite3_bind_parameter_name(sqlite3_stmt*, int)
    int sqlite3_bind_int64(sqlite3_stmt*, int, sqlite3_int64)
    int sqlite3_bind_double(sqlite3_stmt*, int, double)
    int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, sqlite3_destructor_type)
    int sqlite3_bind_blob(sqlite3_stmt*, int, const void*, int, sqlite3_destructor_type)
    int sqlite3_bind_null(sqlite3_stmt*, int)
    int sqlite3_column_count(sqlite3_stmt*)
    const char* sqlite3_column_name(sqlite3_stmt*, int)
    int sqlite3_column_type(sqlite3_stmt*, int)
    sqlite3_int64 sqlite3_column_int64(sqlite3_stmt*, int)
    double sqlite3_column_double(sqlite3_stmt*, int)
    const unsigned char* sqlite3_column_text(sqlite3_stmt*, int)
    const void* sqlite3_column_blob(sqlite3_stmt*, int)
    int sqlite3_column_bytes(sqlite3_stmt*, int)
    int sqlite3_changes(sqlite3*)
    int sqlite3_total_changes(sqlite3*)
    int sqlite3_get_autocommit(sqlite3*)
    int sqlite3_limit(sqlite3*, int, int)
    void sqlite3_interrupt(sqlite3*)
    sqlite3_int64 sqlite3_last_insert_rowid(sqlite3*)
    const char* sqlite3_errmsg(sqlite3*)
    int sqlite3_extended_errcode(sqlite3*)
    int sqlite3_stmt_readonly(sqlite3_stmt*)

# -- errors: the stdlib's classes, chosen the way the stdlib chooses them ---------------------
_PRIMARY_NAMES = ("ERROR", "INTERNAL", "PERM", "ABORT", "BUSY", "LOCKED", "NOMEM", "READONLY",
                  "INTERRUPT", "IOERR", "CORRUPT", "NOTFOUND", "FULL", "CANTOPEN", "PROTOCOL",
                  "EMPTY", "SCHEMA", "TOOBIG", "CONSTRAINT", "MISMATCH", "MISUSE", "NOLFS",
                  "AUTH", "FORMAT", "RANGE", "NOTADB", "NOTICE", "WARNING")


def _error_names():
    names = {}
    for attr in dir(_stdlib):
        for primary in _PRIMARY_NAMES:
            if attr == "SQLITE_" + primary or attr.startswith("SQLITE_" + primary + "_"):
                value = getattr(_stdlib, attr)
                if isinstance(value, int):
                    names.setdefault(value, attr)
    return names


cdef dict _ERROR_NAMES = _error_names()
_OPERATIONAL = {1, 3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 17}   # ERROR PERM ABORT BUSY ...


cdef object _exception_class(int code):
    cdef int primary = code & 0xFF
    if primary in (2, 12):          # INTERNAL, NOTFOUND
        return _stdlib.InternalError
    if primary == 7:                # NOMEM
        return MemoryError
    if primary in _OPERATIONAL:
        return _stdlib.OperationalError
    if primary == 11:               # CORRUPT
        return _stdlib.DatabaseError
    if primary == 18:               # TOOBIG
        return _stdlib.DataError
    if primary in (19, 20):         # CONSTRAINT, MISMATCH
        return _stdlib.IntegrityError
    if primary in (21, 25):         # MISUSE, RANGE
        return _stdlib.InterfaceError
    return _stdlib.DatabaseError


cdef object _sqlite_error(sqlite3* db):
    """The stdlib-style exception for the connection's last error."""
    cdef int code = sqlite3_extended_errcode(db)
    message = (<bytes>sqlite3_errmsg(db)).decode("utf-8", "replace")
    cls = _exception_class(code)
    exc = cls(message)
    if cls is not MemoryError:
        exc.sqlite_errorcode = code
        exc.sqlite_errorname = _ERROR_NAMES.get(code, "unknown")
    return exc


cdef object _closed_database():
    return _stdlib.ProgrammingError("Cannot operate on a closed database.")


# -- busy waits release the GIL --------------------------------------------------------------
cdef int[12] _DELAYS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100]
cdef int[12] _TOTALS = [0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228]


cdef int _busy_wait(void* arg, int count) noexcept nogil:
    """SQLite's own busy-timeout schedule, sleeping without holding the GIL."""
    cdef int timeout = <int><size_t>arg
    cdef int delay, prior
    if count < 12:
        delay = _DELAYS[count]
        prior = _TOTALS[count]
    else:
        delay = 100
        prior = _TOTALS[11] + delay * (count - 11)
    if prior + delay > timeout:
        delay = timeout - prior
        if delay <= 0:
            return 0
    cdef PyThreadState* saved
    if PyGILState_Check():
        saved = PyEval_SaveThread()
        sqlite3_sleep(delay)
        PyEval_RestoreThread(saved)
    else:
        sqlite3_sleep(delay)
    return 1


# -- SQL text helpers ------------------------------------------------------------------------
cdef const char* _skip_blank(const char* p) noexcept:
    """Skip whitespace and SQL comments."""
    while True:
        if p[0] in (c' ', c'\t', c'\n', c'\r', c'\f'):
            p += 1
        elif p[0] == c'-' and p[1] == c'-':
            while p[0] and p[0] != c'\n':
                p += 1
        elif p[0] == c'/' and p[1] == c'*':
            p += 2
            while p[0] and not (p[0] == c'*' and p[1] == c'/'):
                p += 1
            if p[0]:
                p += 2
        else:
            return p


cdef bint _starts_with(const char* p, const char* word) noexcept:
    cdef int i = 0
    while word[i]:
        if p[i] == 0 or (p[i] | 0x20) != word[i]:
            return False
        i += 1
    return True


cdef bint _is_dml(const char* sql) noexcept:
    cdef const char* p = _skip_blank(sql)
    return (_starts_with(p, b"insert") or _starts_with(p, b"update")
            or _starts_with(p, b"delete") or _starts_with(p, b"replace"))


# -- statements ------------------------------------------------------------------------------
cdef class Statement:
    """One prepared statement; owned by its connection's cache or by one cursor."""
    cdef sqlite3_stmt* st
    cdef sqlite3* db
    cdef bint in_use
    cdef bint cached
    cdef bint is_dml
    cdef bint readonly
    cdef int nparams
    cdef object description   # cached; checked against the column names on reuse
    cdef tuple description_names   # the same names as UTF-8 bytes, for the check
    cdef object __weakref__

    def __dealloc__(self):
        if self.st != NULL:
            sqlite3_finalize(self.st)
            self.st = NULL

    cdef void finalize(self) noexcept:
        if self.st != NULL:
            sqlite3_finalize(self.st)
            self.st = NULL

    cdef void release(self) noexcept:
        """Reset after use: back to the cache, or finalized when it was not cached."""
        if self.st != NULL:
            if self.cached:
                sqlite3_reset(self.st)
            else:
                sqlite3_finalize(self.st)
                self.st = NULL
        self.in_use = False

    cdef object get_description(self):
        cdef int n = sqlite3_column_count(self.st), i
        cdef const char* name
        desc = self.description
        if n == 0:
            return None
        cdef tuple known = self.description_names
        if desc is not None and PyTuple_GET_SIZE(known) == n:
            for i in range(n):
                name = sqlite3_column_name(self.st, i)
                if name == NULL or strcmp(name, PyBytes_AS_STRING(known[i])) != 0:
                    break
            else:
                return desc
        items = []
        raw = []
        for i in range(n):
            name = sqlite3_column_name(self.st, i)
            raw.append(<bytes>name if name != NULL else b"")
            items.append(((<bytes>name).decode("utf-8") if name != NULL else None,
                          None, None, None, None, None, None))
        self.description = tuple(items)
        self.description_names = tuple(raw)
        return self.description

    cdef int bind(self, object params) except -1:
        cdef int i, n = self.nparams
        cdef const char* pname
        if params is None:
            params = ()
        if type(params) is tuple or type(params) is list:
            if len(params) != n:
                raise _stdlib.ProgrammingError(
                    f"Incorrect number of bindings supplied. The current statement uses {n}, "
                    f"and there are {len(params)} supplied.")
            for i in range(n):
                _bind_value(self, i + 1, params[i])
        elif isinstance(params, dict) or (not isinstance(params, (str, bytes))
                                           and hasattr(params, "keys")
                                           and hasattr(params, "__getitem__")):
            for i in range(n):
                pname = sqlite3_bind_parameter_name(self.st, i + 1)
                if pname == NULL:
                    raise _stdlib.ProgrammingError(
                        f"Binding {i + 1} has no name, but you supplied a dictionary "
                        f"(which has only names).")
                key = (<bytes>(pname + 1)).decode("utf-8")
                try:
                    value = params[key]
                except KeyError:
                    raise _stdlib.ProgrammingError(
                        f"You did not supply a value for binding parameter "
                        f"{(<bytes>pname).decode('utf-8')}.") from None
                _bind_value(self, i + 1, value)
        elif hasattr(params, "__len__") and hasattr(params, "__getitem__"):
            return self.bind(tuple(params))
        else:
            raise _stdlib.ProgrammingError("parameters are of unsupported type")
        return 0


cdef object _adapt = _stdlib.adapt
cdef object _PrepareProtocol = _stdlib.PrepareProtocol


cdef int _bind_value(Statement stmt, int i, object v) except -1:
    """Bind one value as the stdlib does (adapters consulted for non-basic types)."""
    cdef int rc
    cdef int overflow = 0
    cdef long long n
    cdef Py_ssize_t size
    cdef const char* text
    cdef Py_buffer view
    cdef sqlite3_stmt* st = stmt.st
    t = type(v)
    if v is None:
        rc = sqlite3_bind_null(st, i)
    elif t is int or t is bool:
        n = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        rc = sqlite3_bind_int64(st, i, n)
    elif t is float:
        rc = sqlite3_bind_double(st, i, PyFloat_AS_DOUBLE(v))
    elif t is str:
        text = PyUnicode_AsUTF8AndSize(v, &size)
        if size > INT_MAX:
            raise OverflowError("string longer than INT_MAX bytes")
        rc = sqlite3_bind_text(st, i, text, <int>size, SQLITE_TRANSIENT)
    elif t is bytes:
        size = PyBytes_GET_SIZE(v)
        if size > INT_MAX:
            raise OverflowError("BLOB longer than INT_MAX bytes")
        rc = sqlite3_bind_blob(st, i, PyBytes_AS_STRING(v), <int>size, SQLITE_TRANSIENT)
    else:
        adapted = _adapt(v, _PrepareProtocol, v)
        if isinstance(adapted, int):
            n = PyLong_AsLongLongAndOverflow(adapted, &overflow)
            if overflow:
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
            rc = sqlite3_bind_int64(st, i, n)
        elif isinstance(adapted, float):
            rc = sqlite3_bind_double(st, i, float(adapted))
        elif isinstance(adapted, str):
            text = PyUnicode_AsUTF8AndSize(adapted, &size)
            if size > INT_MAX:
                raise OverflowError("string longer than INT_MAX bytes")
            rc = sqlite3_bind_text(st, i, text, <int>size, SQLITE_TRANSIENT)
        else:
            try:
                PyObject_GetBuffer(adapted, &view, PyBUF_SIMPLE)
            except TypeError:
                raise _stdlib.ProgrammingError(
                    f"Error binding parameter {i}: type '{type(v).__name__}' is not supported") from None
            try:
                if view.len > INT_MAX:
                    raise OverflowError("BLOB longer than INT_MAX bytes")
                rc = sqlite3_bind_blob(st, i, view.buf, <int>view.len, SQLITE_TRANSIENT)
            finally:
                PyBuffer_Release(&view)
    if rc != SQLITE_OK:
        raise _sqlite_error(stmt.db)
    return 0


# -- reading columns -------------------------------------------------------------------------
cdef object _column(Statement stmt, int i):
    cdef sqlite3_stmt* st = stmt.st
    cdef int kind = sqlite3_column_type(st, i)
    cdef const char* text
    cdef int size
    if kind == SQLITE_INTEGER:
        return PyLong_FromLongLong(sqlite3_column_int64(st, i))
    if kind == SQLITE_FLOAT:
        return PyFloat_FromDouble(sqlite3_column_double(st, i))
    if kind == SQLITE_TEXT:
        text = <const char*>sqlite3_column_text(st, i)
        size = sqlite3_column_bytes(st, i)
        try:
            return PyUnicode_DecodeUTF8(text, size, NULL)
        except UnicodeDecodeError:
            name = (<bytes>sqlite3_column_name(st, i)).decode("utf-8", "replace")
            shown = text[:size].decode("utf-8", "replace")
            raise _stdlib.OperationalError(
                f"Could not decode to UTF-8 column '{name}' with text '{shown}'") from None
    if kind == SQLITE_BLOB:
        size = sqlite3_column_bytes(st, i)
        return PyBytes_FromStringAndSize(<const char*>sqlite3_column_blob(st, i), size)
    return None


cdef tuple _row(Statement stmt, int ncols):
    cdef tuple row = PyTuple_New(ncols)
    cdef int i
    for i in range(ncols):
        v = _column(stmt, i)
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, i, v)
    return row


# Converter kinds the hydrator applies in C; anything else calls the converter.
cdef enum:
    CONV_NONE = 0
    CONV_CALL = 1
    CONV_FLOAT = 2
    CONV_BOOL = 3
    CONV_DATETIME = 4
    CONV_JSON = 5       # converted by calling; the stored value is kept as the snapshot

cdef object _float_from_db = None
cdef object _datetime_from_db = None
cdef object _fromisoformat = _datetime.fromisoformat


_DATETIME_TEXTS = ("2024-02-29 13:05:09", "2024-02-29T13:05:09.000007", "0001-01-01 00:00:00",
                   "9999-12-31 23:59:59.999999", "2023-02-28 00:00:00.500000")


def set_converters(float_from_db, datetime_from_db):
    """The dialect's converters the hydrator may apply in C (identity-checked later).

    Each is probed first: one whose results differ from the C version keeps being
    called, so a changed dialect can never make the two paths disagree.
    """
    global _float_from_db, _datetime_from_db
    _float_from_db = _datetime_from_db = None
    try:
        if all(type(float_from_db(v)) is float and float_from_db(v) == v for v in (1.5, -0.0, 1e308)):
            _float_from_db = float_from_db
        for text in _DATETIME_TEXTS:
            raw = text.encode("utf-8")
            expected = datetime_from_db(text)
            if type(expected) is not _datetime or expected != _parse_datetime(raw, len(raw)):
                return
        _datetime_from_db = datetime_from_db
    except Exception:
        return


cdef inline int _digits(const char* p, int n) noexcept:
    cdef int v = 0, i
    for i in range(n):
        if p[i] < c'0' or p[i] > c'9':
            return -1
        v = v * 10 + (p[i] - c'0')
    return v


cdef int[13] _MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cdef inline int _days_in_month(int y, int m) noexcept:
    if m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return 29
    return _MONTH_DAYS[m]


cdef object _parse_datetime(const char* p, int size):
    """'YYYY-MM-DD HH:MM:SS[.ffffff]' in C; every other form goes to fromisoformat."""
    cdef int y, mo, d, h, mi, s, us = 0
    if (size == 19 or size == 26) and p[4] == c'-' and p[7] == c'-' and (p[10] == c' ' or p[10] == c'T') \
            and p[13] == c':' and p[16] == c':' and (size == 19 or p[19] == c'.'):
        y = _digits(p, 4); mo = _digits(p + 5, 2); d = _digits(p + 8, 2)
        h = _digits(p + 11, 2); mi = _digits(p + 14, 2); s = _digits(p + 17, 2)
        if size == 26:
            us = _digits(p + 20, 6)
        if y >= 1 and 1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and 0 <= h <= 23 \
                and 0 <= mi <= 59 and 0 <= s <= 59 and us >= 0:
            return datetime_new(y, mo, d, h, mi, s, us, None)
    return _fromisoformat(PyUnicode_DecodeUTF8(p, size, NULL))


cdef object _converted(Statement stmt, int i, int conv, object fn):
    """Column i converted exactly as ``fn(value)`` would (None stays None)."""
    cdef sqlite3_stmt* st = stmt.st
    cdef int kind = sqlite3_column_type(st, i)
    if kind == SQLITE_NULL:
        return None
    if conv == CONV_FLOAT and kind == SQLITE_FLOAT:
        return PyFloat_FromDouble(sqlite3_column_double(st, i))
    if conv == CONV_BOOL and kind == SQLITE_INTEGER:
        return sqlite3_column_int64(st, i) != 0
    if conv == CONV_DATETIME and kind == SQLITE_TEXT:
        return _parse_datetime(<const char*>sqlite3_column_text(st, i), sqlite3_column_bytes(st, i))
    return fn(_column(stmt, i))


cdef class _ColumnPlan:
    """Per plan: each column's converter and how to apply it."""
    cdef tuple fns
    cdef int* kinds
    cdef Py_ssize_t n

    def __dealloc__(self):
        if self.kinds != NULL:
            PyMem_Free(self.kinds)


cdef _ColumnPlan _column_plan(RecordMaker maker, object plan):
    cached = maker.extra
    if cached is not None:
        return <_ColumnPlan>cached
    cdef _ColumnPlan cp = _ColumnPlan.__new__(_ColumnPlan)
    cp.n = maker.ncols
    fns = [None] * cp.n
    for i, fn in plan.converters:
        if i < cp.n:
            fns[i] = fn
    cp.fns = tuple(fns)
    cp.kinds = <int*>PyMem_Malloc(sizeof(int) * (cp.n + 1))
    if cp.kinds == NULL:
        raise MemoryError()
    json_columns = {i for i, _ in maker.json_fields}
    for i in range(cp.n):
        fn = fns[i]
        if i in json_columns:
            cp.kinds[i] = CONV_JSON
        elif fn is None:
            cp.kinds[i] = CONV_NONE
        elif fn is _float_from_db:
            cp.kinds[i] = CONV_FLOAT
        elif fn is bool:
            cp.kinds[i] = CONV_BOOL
        elif fn is _datetime_from_db:
            cp.kinds[i] = CONV_DATETIME
        else:
            cp.kinds[i] = CONV_CALL
    maker.extra = cp
    return cp


# -- bulk packing: values bound column by column straight from records ------------------------
cdef enum:
    PACK_VALUE = 0      # bind as is
    PACK_CALL = 1       # bind to_db(value)
    PACK_DATETIME = 2   # naive datetime formatted in C (verified equal to to_db)
    PACK_INT = 3        # to_db is int: an exact int or bool binds as the integer it is

cdef object _format_datetime(object v):
    cdef char buf[40]
    cdef int n = _format_datetime_into(v, buf)
    return PyUnicode_DecodeUTF8(buf, n, NULL)


cdef inline void _put_digits(char* p, int value, int width) noexcept:
    """``value`` as exactly ``width`` decimal digits, zero-padded (value < 10**width)."""
    cdef int i
    for i in range(width - 1, -1, -1):
        p[i] = <char>(c'0' + value % 10)
        value //= 10


cdef int _format_datetime_into(object v, char* buf) noexcept:
    """'YYYY-MM-DD HH:MM:SS[.ffffff]' of a datetime into ``buf`` (40 bytes); the length.

    Written digit by digit: snprintf costs more than the rest of binding a row. Every
    field is in range by construction (year 1..9999), so the widths are exact.
    """
    cdef int us = PyDateTime_DATE_GET_MICROSECOND(v)
    _put_digits(buf, PyDateTime_GET_YEAR(v), 4)
    buf[4] = c'-'
    _put_digits(buf + 5, PyDateTime_GET_MONTH(v), 2)
    buf[7] = c'-'
    _put_digits(buf + 8, PyDateTime_GET_DAY(v), 2)
    buf[10] = c' '
    _put_digits(buf + 11, PyDateTime_DATE_GET_HOUR(v), 2)
    buf[13] = c':'
    _put_digits(buf + 14, PyDateTime_DATE_GET_MINUTE(v), 2)
    buf[16] = c':'
    _put_digits(buf + 17, PyDateTime_DATE_GET_SECOND(v), 2)
    if not us:
        return 19
    buf[19] = c'.'
    _put_digits(buf + 20, us, 6)
    return 26


_DATETIME_PROBES = (_datetime(2024, 2, 29, 13, 5, 9), _datetime(1, 1, 1, 0, 0, 0, 7),
                    _datetime(9999, 12, 31, 23, 59, 59, 999999))


cdef int _pack_kind(object to_db):
    """How a column's to_db is applied; a datetime formatter proven equal runs in C."""
    if to_db is None:
        return PACK_VALUE
    if to_db is int:
        return PACK_INT
    try:
        for probe in _DATETIME_PROBES:
            if to_db(probe) != _format_datetime(probe):
                return PACK_CALL
    except Exception:
        return PACK_CALL
    return PACK_DATETIME


cdef class _PackedBinds:
    """Memory that values of one packed executemany are bound from without copying.

    Text is bound SQLITE_STATIC (SQLite keeps a pointer instead of a copy), so what it
    points at must outlive the step: each column's current str is held here (a busy
    wait releases the GIL, so a record could be changed meanwhile), and formatted
    datetimes go to a per-column buffer. ``done()`` clears the bindings before any of
    it is released.
    """
    cdef PyObject** held      # one owned str per column, or NULL
    cdef char* text           # 32 bytes per column for formatted datetimes
    cdef Py_ssize_t n
    cdef Statement stmt

    def __dealloc__(self):
        self.done()

    cdef int setup(self, Statement stmt, Py_ssize_t n) except -1:
        self.stmt = stmt
        self.n = n
        self.held = <PyObject**>PyMem_Calloc(n + 1, sizeof(PyObject*))
        self.text = <char*>PyMem_Malloc(32 * (n + 1))
        if self.held == NULL or self.text == NULL:
            raise MemoryError()
        return 0

    cdef void hold(self, Py_ssize_t j, object v) noexcept:
        cdef PyObject* old = self.held[j]
        Py_INCREF(v)
        self.held[j] = <PyObject*>v
        Py_XDECREF(old)

    cdef void done(self) noexcept:
        cdef Py_ssize_t j
        if self.stmt is not None and self.stmt.st != NULL:
            sqlite3_clear_bindings(self.stmt.st)
        self.stmt = None
        if self.held != NULL:
            for j in range(self.n):
                Py_XDECREF(self.held[j])
            PyMem_Free(self.held)
            self.held = NULL
        if self.text != NULL:
            PyMem_Free(self.text)
            self.text = NULL


cdef int _bind_packed(Statement stmt, dict record, tuple names, int* kinds, tuple to_dbs,
                      _PackedBinds binds) except -1:
    cdef Py_ssize_t j, n = PyTuple_GET_SIZE(names)
    cdef Py_ssize_t size
    cdef int kind
    cdef const char* utf8
    cdef char* buf
    for j in range(n):
        v = record.get(names[j])
        kind = kinds[j]
        if v is not None and kind != PACK_VALUE:
            if kind == PACK_DATETIME and PyDateTime_CheckExact(v) and datetime_tzinfo(v) is None:
                # The text to_db would return, formatted into this column's buffer.
                buf = binds.text + 32 * j
                size = _format_datetime_into(v, buf)
                if sqlite3_bind_text(stmt.st, <int>j + 1, buf, <int>size, SQLITE_STATIC) != SQLITE_OK:
                    raise _sqlite_error(stmt.db)
                continue
            if kind == PACK_INT and (type(v) is bool or type(v) is int):
                pass    # int(v) binds the same integer as v itself
            else:
                v = to_dbs[j](v)
        if type(v) is str:
            utf8 = PyUnicode_AsUTF8AndSize(v, &size)
            if size > INT_MAX:
                raise OverflowError("string longer than INT_MAX bytes")
            binds.hold(j, v)
            if sqlite3_bind_text(stmt.st, <int>j + 1, utf8, <int>size, SQLITE_STATIC) != SQLITE_OK:
                raise _sqlite_error(stmt.db)
            continue
        _bind_value(stmt, j + 1, v)
    return 0


# -- connection ------------------------------------------------------------------------------
cdef class Connection:
    """A connection opened by this module (never the stdlib's handle)."""
    cdef sqlite3* db
    cdef dict cache
    cdef public int cache_size
    cdef int timeout_ms
    cdef object live      # uncached statements still in use, finalized on close
    cdef object __weakref__

    def __cinit__(self):
        self.db = NULL

    def __init__(self, str database, double timeout=5.0, bint uri=False, int cached_statements=512):
        cdef int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        cdef int rc
        cdef bytes path = database.encode("utf-8")
        cdef const char* cpath = path
        if uri:
            flags |= SQLITE_OPEN_URI
        with nogil:
            rc = sqlite3_open_v2(cpath, &self.db, flags, NULL)
        if rc != SQLITE_OK:
            if self.db == NULL:
                raise MemoryError()
            exc = _sqlite_error(self.db)
            sqlite3_close_v2(self.db)
            self.db = NULL
            raise exc
        self.timeout_ms = <int>(timeout * 1000.0) if timeout > 0 else 0
        sqlite3_busy_handler(self.db, _busy_wait, <void*><size_t>self.timeout_ms)
        self.cache = {}
        self.cache_size = cached_statements
        import weakref
        self.live = weakref.WeakSet()

    def __dealloc__(self):
        if self.db != NULL:
            sqlite3_close_v2(self.db)
            self.db = NULL

    @property
    def closed(self):
        return self.db == NULL

    def close(self):
        """Finalize every statement and close; a cursor left open then reports a closed database."""
        if self.db == NULL:
            return
        for stmt in list(self.cache.values()) + list(self.live):
            (<Statement>stmt).finalize()
        self.cache.clear()
        sqlite3_close_v2(self.db)
        self.db = NULL

    @property
    def total_changes(self):
        if self.db == NULL:
            raise _closed_database()
        return sqlite3_total_changes(self.db)

    @property
    def in_transaction(self):
        if self.db == NULL:
            raise _closed_database()
        return sqlite3_get_autocommit(self.db) == 0

    def setlimit(self, int category, int limit):
        """Set a run-time limit (sqlite3.SQLITE_LIMIT_*); returns the previous value."""
        if self.db == NULL:
            raise _closed_database()
        cdef int previous = sqlite3_limit(self.db, category, limit)
        if previous < 0:
            raise _stdlib.ProgrammingError("'category' is out of bounds")
        return previous

    def getlimit(self, int category):
        """A run-time limit's current value."""
        return self.setlimit(category, -1)

    def interrupt(self):
        """Abort any statement running on this connection (from another thread)."""
        if self.db == NULL:
            raise _closed_database()
        sqlite3_interrupt(self.db)

    def cached_statement_count(self):
        """How many prepared statements the cache holds (tests check it stays bounded)."""
        return len(self.cache)

    cdef Statement _statement(self, str sql):
        """A prepared statement for ``sql``, from the cache when it is free."""
        cdef Statement stmt = self.cache.get(sql)
        if stmt is not None and not stmt.in_use and stmt.st != NULL:
            stmt.in_use = True
            return stmt
        if self.db == NULL:
            raise _closed_database()
        cdef Py_ssize_t size
        cdef const char* text = PyUnicode_AsUTF8AndSize(sql, &size)
        cdef const char* tail = NULL
        cdef sqlite3_stmt* st = NULL
        cdef int rc
        if size > INT_MAX:
            raise _stdlib.DataError("query string is too large")
        with nogil:
            rc = sqlite3_prepare_v3(self.db, text, <int>size + 1, SQLITE_PREPARE_PERSISTENT, &st, &tail)
        if rc != SQLITE_OK:
            raise _sqlite_error(self.db)
        if tail != NULL and _skip_blank(tail)[0] != 0:
            sqlite3_finalize(st)
            raise _stdlib.ProgrammingError("You can only execute one statement at a time.")
        stmt = Statement.__new__(Statement)
        stmt.st = st
        stmt.db = self.db
        stmt.in_use = True
        stmt.is_dml = _is_dml(text)
        stmt.readonly = st == NULL or sqlite3_stmt_readonly(st) != 0
        stmt.nparams = sqlite3_bind_parameter_count(st) if st != NULL else 0
        if st != NULL and sql not in self.cache:
            if len(self.cache) >= self.cache_size:
                oldest = next(iter(self.cache))
                evicted = <Statement>self.cache.pop(oldest)
                evicted.cached = False
                if not evicted.in_use:
                    evicted.finalize()
                else:
                    self.live.add(evicted)
            stmt.cached = True
            self.cache[sql] = stmt
        elif st != NULL:
            self.live.add(stmt)
        return stmt

    def execute(self, str sql, params=()):
        """Prepare (or reuse), bind, and step to the first row."""
        cdef Statement stmt = self._statement(sql)
        cdef Cursor cur = Cursor.__new__(Cursor)
        cdef int rc
        cur.conn = self
        cur.stmt = stmt
        cur.lastrowid = None
        cur.done = True
        if stmt.st == NULL:     # empty SQL or only a comment
            stmt.in_use = False
            cur.rowcount = -1
            cur.stmt = None
            return cur
        try:
            stmt.bind(params)
        except BaseException:
            stmt.release()
            cur.stmt = None
            raise
        with nogil:
            rc = sqlite3_step(stmt.st)
        cur.rowcount = 0 if stmt.is_dml else -1
        if rc == SQLITE_ROW:
            cur.done = False
            cur.ncols = sqlite3_column_count(stmt.st)
        elif rc == SQLITE_DONE:
            if stmt.is_dml:
                cur.rowcount = sqlite3_changes(self.db)
            cur.ncols = sqlite3_column_count(stmt.st)
        else:
            exc = _sqlite_error(self.db)
            stmt.release()
            cur.stmt = None
            raise exc
        cur.description = stmt.get_description()
        cur.lastrowid = sqlite3_last_insert_rowid(self.db)
        if cur.done:
            stmt.release()
            cur.stmt = None
        return cur

    def executemany(self, str sql, seq_of_params):
        """Run one statement for each parameter set; packed records bind column by column."""
        cdef Statement stmt = self._statement(sql)
        cdef Cursor cur = Cursor.__new__(Cursor)
        cdef int rc
        cdef long rowcount
        cdef int* kinds = NULL
        cdef _PackedBinds binds = None
        cur.conn = self
        cur.done = True
        cur.lastrowid = None
        cur.description = None
        try:
            if stmt.st == NULL:
                cur.rowcount = -1
                return cur
            if stmt.readonly:
                raise _stdlib.ProgrammingError("executemany() can only execute DML statements.")
            rowcount = 0 if stmt.is_dml else -1
            packed = getattr(seq_of_params, "__ar_packed__", None)
            if packed is not None:
                records, names, to_dbs = packed
                kinds = _pack_kinds(to_dbs)
                binds = _PackedBinds.__new__(_PackedBinds)
                binds.setup(stmt, len(names))
                for record in records:
                    _bind_packed(stmt, record, names, kinds, to_dbs, binds)
                    rc = _step_once(stmt)
                    if stmt.is_dml:
                        rowcount += sqlite3_changes(self.db)
            else:
                for params in seq_of_params:
                    stmt.bind(params)
                    rc = _step_once(stmt)
                    if stmt.is_dml:
                        rowcount += sqlite3_changes(self.db)
            cur.rowcount = rowcount
            return cur
        finally:
            if kinds != NULL:
                PyMem_Free(kinds)
            if binds is not None:
                binds.done()    # bindings cleared before the memory they point at goes
            stmt.release()


cdef int* _pack_kinds(tuple to_dbs) except NULL:
    cdef Py_ssize_t j, n = PyTuple_GET_SIZE(to_dbs)
    cdef int* kinds = <int*>PyMem_Malloc(sizeof(int) * (n + 1))
    if kinds == NULL:
        raise MemoryError()
    for j in range(n):
        kinds[j] = _pack_kind(to_dbs[j])
    return kinds


cdef int _step_once(Statement stmt) except -1:
    """Step an executemany statement to completion and reset it for the next set."""
    cdef int rc = sqlite3_step(stmt.st)
    if rc == SQLITE_DONE:
        sqlite3_reset(stmt.st)
        return rc
    if rc == SQLITE_ROW:
        sqlite3_reset(stmt.st)
        raise _stdlib.ProgrammingError("executemany() can only execute DML statements.")
    exc = _sqlite_error(stmt.db)
    sqlite3_reset(stmt.st)
    raise exc


# -- cursor ----------------------------------------------------------------------------------
cdef class Cursor:
    """Rows of one execution; the statement goes back to the cache when done or closed."""
    cdef Connection conn
    cdef Statement stmt
    cdef bint done
    cdef bint closed
    cdef int ncols
    cdef public object rowcount
    cdef public object lastrowid
    cdef public object description

    def __dealloc__(self):
        if self.stmt is not None:
            self.stmt.release()
            self.stmt = None

    cdef int _check(self) except -1:
        if self.closed:
            raise _stdlib.ProgrammingError("Cannot operate on a closed cursor.")
        if self.stmt is not None and self.stmt.st == NULL:
            self.stmt = None
            self.done = True
            raise _closed_database()
        return 0

    cdef void _finish(self) noexcept:
        self.done = True
        if self.stmt is not None:
            self.stmt.release()
            self.stmt = None

    cdef int _advance(self) except -1:
        """Step past the current row; finishes (and releases) at the end or on error."""
        cdef int rc = sqlite3_step(self.stmt.st)
        if rc == SQLITE_ROW:
            return 1
        if rc == SQLITE_DONE:
            if self.stmt.is_dml:
                self.rowcount = sqlite3_changes(self.conn.db)
            self._finish()
            return 0
        exc = _sqlite_error(self.conn.db)
        self._finish()
        raise exc

    cdef object _next_row(self):
        if self.done:
            return None
        row = _row(self.stmt, self.ncols)
        self._advance()
        return row

    def fetchone(self):
        self._check()
        return self._next_row()

    def fetchmany(self, size=256):
        self._check()
        cdef list out = []
        cdef Py_ssize_t n = size
        while n > 0 and not self.done:
            out.append(self._next_row())
            n -= 1
        return out

    def fetchall(self):
        self._check()
        cdef list out = []
        cdef int ncols = self.ncols
        while not self.done:
            out.append(_row(self.stmt, ncols))
            self._advance()
        return out

    def __iter__(self):
        return self

    def __next__(self):
        self._check()
        row = self._next_row()
        if row is None:
            raise StopIteration
        return row

    def close(self):
        self._finish()
        self.closed = True

    def hydrate(self, plan, bint track_siblings):
        """Every remaining row as an instance of ``plan.model`` (see hydrate.py)."""
        self._check()
        cdef RecordMaker m = _maker_of(plan)
        cdef _ColumnPlan cp = _column_plan(m, plan)
        cdef list out = []
        cdef tuple names = m.names
        cdef tuple fns = cp.fns
        cdef int* kinds = cp.kinds
        cdef Py_ssize_t ncols = m.ncols, j
        cdef dict values
        cdef Statement stmt
        cdef bint has_json = m.has_json
        cdef int kind
        snapshot = None
        persisted = _persisted_for(out, track_siblings)
        shared = _shared_fields(m)
        if not self.done and ncols != self.ncols:
            rows = self.fetchall()
            from activerecord.hydrate import hydrate_records
            return hydrate_records(plan, rows, track_siblings)
        stmt = self.stmt
        while not self.done:
            values = _new_dict(ncols)
            if has_json:
                snapshot = {}
            for j in range(ncols):
                kind = kinds[j]
                if kind == CONV_NONE:
                    PyDict_SetItem(values, names[j], _column(stmt, <int>j))
                elif kind == CONV_JSON:
                    raw = _column(stmt, <int>j)
                    snapshot[names[j]] = raw
                    PyDict_SetItem(values, names[j], raw if raw is None or fns[j] is None else fns[j](raw))
                else:
                    PyDict_SetItem(values, names[j], _converted(stmt, <int>j, kind, fns[j]))
            out.append(m.make(values, shared if PyDict_Size(values) == ncols
                              else _LoadedFields(values), persisted, snapshot))
            self._advance()
        if track_siblings and PyList_GET_SIZE(out) < 2:
            persisted.siblings = None
        return out
