"""The error tree, wrapped driver errors, and clear messages for bad input."""
from __future__ import annotations

import sqlite3
from typing import Optional

import pydantic
import pytest

import activerecord
from activerecord import (ActiveRecord, ConfigurationError, DatabaseError, DatabaseLockedError,
                          Field, IntegrityError, MissingAttributeError, MultipleRecordsFound,
                          OperationalError, RecordInvalid, RecordNotFound, SQLiteBackend,
                          UnknownColumnError)
from backend_support import configured


class Gadget(ActiveRecord):
    name: str = Field(unique=True)
    size: Optional[int] = None


def test_every_error_derives_from_database_error():
    for exc in (IntegrityError, DatabaseLockedError, OperationalError, RecordNotFound,
                MultipleRecordsFound, MissingAttributeError, ConfigurationError,
                UnknownColumnError, RecordInvalid):
        assert issubclass(exc, DatabaseError), exc
    assert issubclass(DatabaseLockedError, OperationalError)
    assert issubclass(MissingAttributeError, AttributeError)   # getattr(..., default) works
    assert issubclass(UnknownColumnError, ValueError)


def test_orig_is_kept():
    original = sqlite3.IntegrityError("x")
    err = IntegrityError("wrapped", original)
    assert err.orig is original and str(err) == "wrapped"
    assert DatabaseError("plain").orig is None


def test_integrity_error_not_null(sqlite_backend):
    backend = sqlite_backend
    backend.execute("CREATE TABLE strict_t (a TEXT NOT NULL)")
    with pytest.raises(IntegrityError) as info:
        backend.execute("INSERT INTO strict_t VALUES (NULL)")
    assert isinstance(info.value.orig, sqlite3.IntegrityError)
    assert "NOT NULL" in str(info.value)


def test_foreign_key_violation_is_integrity_error(tmp_path):
    b = SQLiteBackend(str(tmp_path / "fk.db"), pragmas={"foreign_keys": "ON"})
    b.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    b.execute("CREATE TABLE c (pid INTEGER REFERENCES p(id))")
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        b.execute("INSERT INTO c VALUES (5)")
    b.close()


def test_missing_table_is_operational_error(sqlite_backend):
    with pytest.raises(OperationalError, match="gadgets"):
        Gadget.query().all()


def test_no_backend_configured_is_clear():
    with configured(ActiveRecord, None):
        with pytest.raises(ConfigurationError, match="configure"):
            Gadget.query().all()


def test_record_not_found_and_multiple(backend):
    Gadget.create_table()
    with pytest.raises(RecordNotFound, match="Gadget"):
        Gadget.query().one()
    Gadget(name="a").save()
    Gadget(name="b").save()
    with pytest.raises(MultipleRecordsFound, match="Gadget"):
        Gadget.query().one()


def test_missing_attribute_names_the_field(backend):
    Gadget.create_table()
    Gadget(name="a", size=3).save()
    partial = Gadget.query().select("id").one()
    with pytest.raises(MissingAttributeError) as info:
        partial.size
    assert "size" in str(info.value) and "Gadget" in str(info.value)
    assert getattr(partial, "size", "fallback") == "fallback"
    with pytest.raises(AttributeError):
        partial.no_such_attribute


def test_unknown_names_are_named(backend):
    Gadget.create_table()
    with pytest.raises(UnknownColumnError, match="colour"):
        Gadget.query().select("colour")
    with pytest.raises(UnknownColumnError, match="colour"):
        Gadget.query().order_by("colour")
    with pytest.raises(UnknownColumnError, match="colour"):
        Gadget.query().update({"colour": 1})
    with pytest.raises(UnknownColumnError, match="colour"):
        Gadget.insert_many([{"name": "x", "colour": 1}])
    with pytest.raises(UnknownColumnError, match="'Nope'"):
        Gadget.query().select("Nope.name")


def test_invalid_values_name_the_field(backend):
    Gadget.create_table()
    with pytest.raises(pydantic.ValidationError, match="size"):
        Gadget(name="a", size="big")
    with pytest.raises(RecordInvalid, match="size"):
        Gadget.query().update({"size": "big"})
    with pytest.raises(RecordInvalid, match="row 1"):
        Gadget.insert_many([{"name": "ok"}, {"name": "bad", "size": "big"}])


def test_bad_builder_arguments(backend):
    Gadget.create_table()
    with pytest.raises(ValueError, match="limit"):
        Gadget.query().limit(-1)
    with pytest.raises(ValueError, match="offset"):
        Gadget.query().offset("3")
    with pytest.raises(ValueError, match="DESC"):
        Gadget.query().order_by((Gadget.c.name, "SIDEWAYS"))
    with pytest.raises(TypeError, match="ON"):
        Gadget.query().join(Gadget, "gadgets.id = gadgets.id")
    with pytest.raises(ValueError, match="alias"):
        Gadget.c.name.as_("bad alias; --")


def test_errors_exported_at_top_level():
    for name in ("DatabaseError", "IntegrityError", "DatabaseLockedError", "RecordNotFound",
                 "MultipleRecordsFound", "MissingAttributeError"):
        assert name in activerecord.__all__ and hasattr(activerecord, name)
