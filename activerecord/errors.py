"""One exception tree for everything the ORM raises about data or the database.

Driver exceptions are wrapped so callers never import sqlite3 or psycopg to catch
them; the driver's own exception stays available as ``.orig``.
"""
from __future__ import annotations


class DatabaseError(Exception):
    """Root of every error the ORM raises about the database or its records."""

    def __init__(self, message: str = "", orig: BaseException | None = None):
        super().__init__(message)
        self.orig = orig


class OperationalError(DatabaseError):
    """The database could not run a statement (bad SQL, missing table, I/O)."""


class IntegrityError(DatabaseError):
    """A constraint (unique, not null, foreign key, check) rejected a write."""


class DatabaseLockedError(OperationalError):
    """The database stayed busy or locked past the backend's timeout."""


class RecordNotFound(DatabaseError):
    """A query that must return a record returned none."""


class MultipleRecordsFound(DatabaseError):
    """A query that must return exactly one record returned several."""


class MissingAttributeError(DatabaseError, AttributeError):
    """A partial record (``select('id', ...)``) was asked for a column it did not load."""


class ConfigurationError(DatabaseError):
    """A model, relation or backend is set up wrongly (no backend, bad relation...)."""


class UnknownColumnError(DatabaseError, ValueError):
    """An identifier that is not a column of the model was used in a query or write."""


class RecordInvalid(DatabaseError, ValueError):
    """A record (or a row given to a bulk write) failed validation; nothing was written."""


class StaleRecordError(DatabaseError):
    """An optimistic-locking save found the row changed by someone else."""


class StrictLoadingError(DatabaseError):
    """A lazy relation load was attempted while strict loading forbids it."""
