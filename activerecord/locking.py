"""Optimistic locking: a version counter checked and bumped by every save/delete.

A model opts in with one int field declared ``Field(default=0, version=True)``.
``save()`` of a changed record then runs ``UPDATE ... WHERE pk = ? AND version = ?``
setting ``version = version + 1``; ``delete()`` adds the same check. When no row
matches, someone else changed (or deleted) the row since this record was read, and
``StaleRecordError`` is raised instead of silently overwriting their write.
"""
from __future__ import annotations

from typing import Any, Optional

from . import errors
from .query.expressions import Column, Node

_UNSET = object()


def expected_version(record: Any, version_ci: Any) -> Any:
    """The version this record was read with (an unsaved assignment does not count)."""
    original = getattr(record, "_ar_original", None) or {}
    value = original.get(version_ci.name, _UNSET)
    if value is _UNSET or not isinstance(value, (int, type(None))):
        value = record.__dict__.get(version_ci.name, _UNSET)
    if value is _UNSET:
        raise errors.MissingAttributeError(
            f"{type(record).__name__}.{version_ci.name} was not loaded, so optimistic locking "
            f"cannot check it: add {version_ci.name!r} to select() before saving or deleting")
    return value


def guard(record: Any, where: Node) -> tuple[Node, Optional[Any], Optional[Any]]:
    """(where with the version check, version read, column info) for a write of ``record``.

    Models without a version field get ``where`` back unchanged and ``None``s.
    """
    cls = type(record)
    version_ci = cls.__ar_meta__().version_column
    if version_ci is None:
        return where, None, None
    expected = expected_version(record, version_ci)
    return where & (Column(cls, version_ci) == expected), expected, version_ci


def next_version(expected: Any) -> int:
    return (expected or 0) + 1


def stale(record: Any, action: str, expected: Any) -> errors.StaleRecordError:
    cls = type(record)
    meta = cls.__ar_meta__()
    pk = ", ".join(f"{n}={record.__dict__.get(n)!r}" for n in meta.pk_names)
    name = meta.version_column.name if meta.version_column else "version"
    return errors.StaleRecordError(
        f"cannot {action} {cls.__name__}({pk}): it was changed or deleted by someone else "
        f"since it was read ({name} {expected!r} no longer matches); reload() it and retry")
