"""Examples from the user's guide (seed/user-performance-tuning.md) that several tests run.

Copied as written, with only the imports changed (``rhosocial.activerecord...`` ->
``activerecord``); the tests that use them check what they do.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Optional

from activerecord import ActiveRecord, Field, SQLiteBackend


# ---- from the guide: Monitoring and Profiling / Query Timing ------------------------------
@contextmanager
def query_timer():
    """Context manager for timing queries."""
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    print(f"Query took: {elapsed*1000:.2f}ms")


# ---- from the guide: Caching Strategies / Model Instance Caching --------------------------
def instance_cached_user_model() -> type:
    """The guide's ``User`` with a class-level ``_cache``: a new class (and cache) per call."""
    class User(ActiveRecord):
        __table_name__ = 'users'

        id: int = Field(primary_key=True)
        name: str = Field()
        email: str = Field()

        _cache = {}

        @classmethod
        def find_by_id_cached(cls, id: int) -> Optional['User']:
            """Find user by ID with instance caching."""
            if id in cls._cache:
                return cls._cache[id]

            user = cls.find_one(cls.c.id == id)
            if user:
                cls._cache[id] = user
            return user

        def save(self) -> int:
            """Save and update cache."""
            result = super().save()
            self._cache[self.id] = self
            return result

        def delete(self) -> int:
            """Delete and remove from cache."""
            result = super().delete()
            if self.id in self._cache:
                del self._cache[self.id]
            return result

    return User


# ---- from the guide: Monitoring and Profiling / Query Logging -----------------------------
class QueryLogger:
    """Query logging middleware."""

    def __init__(self):
        self.logger = logging.getLogger('queries')
        self.logger.setLevel(logging.DEBUG)

        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter('%(asctime)s - %(message)s')
        )
        self.logger.addHandler(handler)

    def log_query(self, sql: str, params: tuple, duration: float):
        """Log query execution."""
        self.logger.debug(
            f"Query ({duration*1000:.2f}ms): {sql} | Params: {params}"
        )


# Integrate with backend
class LoggedSQLiteBackend(SQLiteBackend):
    """SQLite backend with query logging."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.logger = QueryLogger()

    def execute(self, sql: str, params=None):
        start = time.perf_counter()
        result = super().execute(sql, params)
        duration = time.perf_counter() - start

        self.logger.log_query(sql, params, duration)
        return result
