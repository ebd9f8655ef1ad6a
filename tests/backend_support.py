"""Test support: point a model (or every model) at a backend for one test, then undo it.

Tests configure backends on shared classes (``ActiveRecord``, ``AsyncActiveRecord``, an
abstract base); without putting the previous backend back, one test's database would
leak into the next.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from activerecord import ActiveRecord
from activerecord.model import _Config


@contextmanager
def configured(model: type, backend: Any) -> Iterator[Any]:
    """``model.configure(backend)`` for the block; the previous backend comes back after it."""
    if model is ActiveRecord:
        previous = _Config.default_backend
        model.configure(backend)
        try:
            yield backend
        finally:
            _Config.default_backend = previous
        return
    previous = model.__dict__.get("__ar_backend__")
    model.configure(backend)
    try:
        yield backend
    finally:
        type.__setattr__(model, "__ar_backend__", previous)
