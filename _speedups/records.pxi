# Shared by the compiled modules that build model instances (included, not imported).
#
# An instance is made exactly as hydrate.py makes it: object.__new__, then __dict__,
# __pydantic_fields_set__ (the result's one shared LoadedFields), __pydantic_extra__ =
# None, __pydantic_private__ (pydantic's own initialiser when the model has private
# attributes), the _ar_persisted slot and, for JSON columns, the _ar_json snapshot of
# the stored text -- all with object.__setattr__ semantics. Slots are written straight
# into the instance at the offset their member descriptor names (resolved once per plan);
# any attribute that is not a plain writable object slot goes through object.__setattr__.
from cpython.object cimport PyObject, PyTypeObject
from cpython.dict cimport PyDict_SetItem

cdef extern from "Python.h":
    int PyObject_GenericSetDict(object o, object value, void* context) except -1
    dict _PyDict_NewPresized(Py_ssize_t minused)

cdef extern from *:
    """
    #include "structmember.h"
    /* Offset of a writable object slot (T_OBJECT_EX member descriptor), else -1. */
    static Py_ssize_t ar_slot_offset(PyObject* descr, PyObject* model) {
        PyMemberDef* member;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        if (!PyType_Check(model) ||
                !PyType_IsSubtype((PyTypeObject*)model, PyDescr_TYPE(descr))) return -1;
        member = ((PyMemberDescrObject*)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY)) return -1;
        return member->offset;
    }
    /* What the member descriptor's setter does for a T_OBJECT_EX slot, minus the checks
       already made once per plan (the descriptor belongs to the instance's class). */
    static void ar_slot_store(PyObject* obj, Py_ssize_t offset, PyObject* value) {
        PyObject** addr = (PyObject**)((char*)obj + offset);
        PyObject* old = *addr;
        Py_INCREF(value);
        *addr = value;
        Py_XDECREF(old);
    }
    """
    Py_ssize_t ar_slot_offset(object descr, object model)
    void ar_slot_store(object obj, Py_ssize_t offset, object value)

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
cdef object _LoadedFields = None


def setup(persisted_class, persisted_marker, init_private_attributes, loaded_fields_class):
    """Receive the pure module's shared objects (called once by hydrate.py)."""
    global _Persisted, _PERSISTED, _init_private, _LoadedFields
    _Persisted, _PERSISTED, _init_private = persisted_class, persisted_marker, init_private_attributes
    _LoadedFields = loaded_fields_class


cdef class _Slot:
    """One attribute set with object.__setattr__ semantics, resolved once."""
    cdef Py_ssize_t offset     # of a plain object slot, or -1: use object.__setattr__
    cdef object name

    cdef inline int set(self, object obj, object value) except -1:
        if self.offset >= 0:
            ar_slot_store(obj, self.offset, value)
            return 0
        object.__setattr__(obj, self.name, value)
        return 0


cdef _Slot _slot_of(object model, str name):
    cdef _Slot slot = _Slot.__new__(_Slot)
    slot.name = name
    slot.offset = -1
    for klass in model.__mro__:
        if name in klass.__dict__:
            # Only a slot of the instance's own layout (a member descriptor, not shadowed).
            slot.offset = ar_slot_offset(klass.__dict__[name], model)
            break
    return slot


cdef class RecordMaker:
    """Per (model, column list): everything needed to make one instance per row."""
    cdef public object model
    cdef public tuple names
    cdef Py_ssize_t ncols
    cdef object template           # private attributes, or None
    cdef tuple json_fields         # ((index, name), ...) of JSON columns
    cdef bint has_json
    cdef _Slot s_fields_set, s_extra, s_private, s_persisted, s_json
    cdef public object extra       # module-specific per-plan data (column converters)

    cdef object make(self, dict values, object fields_set, object persisted, object snapshot):
        """One instance; ``fields_set`` is the result's shared LoadedFields."""
        obj = ar_object_new(self.model, _EMPTY_ARGS)
        PyObject_GenericSetDict(obj, values, NULL)
        self.s_fields_set.set(obj, fields_set)
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


cdef object _shared_fields(RecordMaker m):
    """The LoadedFields every full row of one result shares (as hydrate.py does)."""
    return _LoadedFields(m.names)


cdef inline dict _new_dict(Py_ssize_t n):
    return _PyDict_NewPresized(n)
