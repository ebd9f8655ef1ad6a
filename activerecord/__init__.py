"""activerecord: an ActiveRecord ORM on pydantic v2, fast on SQLite.

The public names of the contract (API.md) and nothing else.
"""
from .aio import AsyncActiveQuery, AsyncActiveRecord
from .backends.base import Result
from .backends.sqlite import SQLiteBackend
from .backends.sqlite_async import AsyncSQLiteBackend
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
from .relations import BelongsTo, HasMany, HasManyThrough, HasOne, strict_loading
from .speedups import speedups_enabled
from . import cache  # noqa: E402 - the module: activerecord.cache.cache, MemoryCache
from .cache import MemoryCache
from .identity import identity_map
from .observe import assert_queries, profile, slow_queries

__version__ = "0.1.0"

__all__ = [
    "ActiveQuery", "ActiveRecord", "AsyncActiveQuery", "AsyncActiveRecord", "AsyncSQLiteBackend",
    "Avg", "BindParam", "CompiledQuery", "ConfigurationError",
    "Count", "DatabaseError", "DatabaseLockedError", "Field", "IntegrityError", "Max", "Min",
    "MissingAttributeError", "MultipleRecordsFound", "OperationalError", "QueryPlan", "Raw",
    "RecordInvalid", "RecordNotFound", "Result", "SQLiteBackend", "StaleRecordError",
    "StrictLoadingError", "Sum", "UnknownColumnError", "speedups_enabled",
    "BelongsTo", "HasMany", "HasManyThrough", "HasOne", "strict_loading",
    "cache", "MemoryCache", "identity_map", "profile", "slow_queries", "assert_queries",
]
