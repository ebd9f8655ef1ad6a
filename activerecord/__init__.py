"""activerecord: an ActiveRecord ORM on pydantic v2, fast on SQLite.

The public names of the contract (API.md) and nothing else.
"""
from .backends.base import Result
from .backends.sqlite import SQLiteBackend
from .errors import (
    ConfigurationError,
    DatabaseError,
    DatabaseLockedError,
    IntegrityError,
    MissingAttributeError,
    MultipleRecordsFound,
    OperationalError,
    RecordInvalid,
    RecordNotFound,
    StaleRecordError,
    StrictLoadingError,
    UnknownColumnError,
)
from .fields import Field
from .model import ActiveRecord
from .query.builder import ActiveQuery
from .query.compiled import CompiledQuery
from .query.expressions import Avg, BindParam, Count, Max, Min, Raw, Sum
from .query.explain import QueryPlan
from .speedups import speedups_enabled

__version__ = "0.1.0"

__all__ = [
    "ActiveQuery", "ActiveRecord", "Avg", "BindParam", "CompiledQuery", "ConfigurationError",
    "Count", "DatabaseError", "DatabaseLockedError", "Field", "IntegrityError", "Max", "Min",
    "MissingAttributeError", "MultipleRecordsFound", "OperationalError", "QueryPlan", "Raw",
    "RecordInvalid", "RecordNotFound", "Result", "SQLiteBackend", "StaleRecordError",
    "StrictLoadingError", "Sum", "UnknownColumnError", "speedups_enabled",
]
