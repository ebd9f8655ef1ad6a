# Shared by the compiled modules that build model instances (included, not imported).
#
# An instance is made exactly as hydrate.py makes it: object.__new__, then __dict__,
# __pydantic_fields_set__, __pydantic_extra__ = None, __pydantic_private__ (pydantic's
# own initialiser when the model has private attributes), the _ar_persisted slot and,
# for JSON columns, the _ar_json snapshot of the stored text -- all set through the
# class's own descriptors (object.__setattr__ semantics), looked up once per plan.
from cpython.object cimport PyObject, PyTypeObject
from cpython.dict cimport PyDict_SetItem
from cpython.set cimport PySet_New

cdef extern from "Python.h":
    int PyObject_GenericSetDict(object o, object value, void* context) except -1
    ctypedef int (*descrsetfunc)(PyObject*, PyObject*, PyObject*) except -1
    dict _PyDict_NewPresized(Py_ssize_t minused)

cdef extern from *:
    """
    /* object.__new__(type): the same C function, called without a Python frame. */
    static PyObject* ar_object_new(PyObject* type, PyObject* args) {
        return PyBaseObject_Type.tp_new((PyTypeObject*)type, args, NULL);
    }
    """
    object ar_object_new(object type, object args)

cdef tuple _EMPTY_ARGS = ()

# Set by hydrate.py (setup()): the Persisted class, the shared PERSISTED marker and
# pydantic's private-attribute initialiser, so these modules never import the package.
cdef object _Persisted = None
cdef object _PERSISTED = None
cdef object _init_private = None


def setup(persisted_class, persisted_marker, init_private_attributes):
    """Receive the pure module's shared objects (called once by hydrate.py)."""
    global _Persisted, _PERSISTED, _init_private
    _Persisted, _PERSISTED, _init_private = persisted_class, persisted_marker, init_private_attributes


cdef class _Slot:
    """One attribute set with object.__setattr__ semantics, resolved once."""
    cdef object descr
    cdef descrsetfunc setter
    cdef object name

    cdef int set(self, object obj, object value) except -1:
        if self.setter != NULL:
            return self.setter(<PyObject*>self.descr, <PyObject*>obj, <PyObject*>value)
        object.__setattr__(obj, self.name, value)
        return 0


cdef _Slot _slot_of(object model, str name):
    cdef _Slot slot = _Slot.__new__(_Slot)
    slot.name = name
    descr = None
    for klass in model.__mro__:
        if name in klass.__dict__:
            descr = klass.__dict__[name]
            break
    if descr is not None and type(descr).__name__ == "member_descriptor":
        slot.descr = descr
        descr_type = type(descr)
        slot.setter = <descrsetfunc>(<PyTypeObject*>descr_type).tp_descr_set
    return slot


cdef class RecordMaker:
    """Per (model, column list): everything needed to make one instance per row."""
    cdef public object model
    cdef public tuple names
    cdef Py_ssize_t ncols
    cdef object field_set          # frozenset(names), copied into each instance
    cdef object template           # private attributes, or None
    cdef tuple json_fields         # ((index, name), ...) of JSON columns
    cdef bint has_json
    cdef _Slot s_fields_set, s_extra, s_private, s_persisted, s_json
    cdef public object extra       # module-specific per-plan data (column converters)

    cdef object make(self, dict values, object persisted, object snapshot):
        obj = ar_object_new(self.model, _EMPTY_ARGS)
        PyObject_GenericSetDict(obj, values, NULL)
        self.s_fields_set.set(obj, PySet_New(self.field_set))
        self.s_extra.set(obj, None)
        self.s_private.set(obj, None)
        if self.template is not None:
            _init_private(obj, None)
        self.s_persisted.set(obj, persisted)
        if snapshot is not None:
            self.s_json.set(obj, snapshot)
        return obj


cdef RecordMaker _maker_of(object plan):
    """The RecordMaker kept on the plan (built on first use)."""
    makers = plan.compiled
    if makers is None:
        makers = plan.compiled = {}
    maker = makers.get(RecordMaker)
    if maker is not None:
        return <RecordMaker>maker
    cdef RecordMaker m = RecordMaker.__new__(RecordMaker)
    model = plan.model
    m.model = model
    m.names = tuple(plan.names)
    m.ncols = len(m.names)
    m.field_set = frozenset(m.names)
    m.template = plan.private_template
    m.json_fields = tuple(getattr(plan, "json_fields", ()))
    m.has_json = len(m.json_fields) > 0
    m.s_json = _slot_of(model, "_ar_json")
    m.s_fields_set = _slot_of(model, "__pydantic_fields_set__")
    m.s_extra = _slot_of(model, "__pydantic_extra__")
    m.s_private = _slot_of(model, "__pydantic_private__")
    m.s_persisted = _slot_of(model, "_ar_persisted")
    makers[RecordMaker] = m
    return m


cdef object _persisted_for(list out, bint track_siblings):
    return _Persisted(out) if track_siblings else _PERSISTED


cdef inline dict _new_dict(Py_ssize_t n):
    return _PyDict_NewPresized(n)
