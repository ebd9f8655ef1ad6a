"""Prepared queries: SQL built once, executed many times with named parameters."""
from __future__ import annotations

from typing import Any

from .. import errors
from ..execution import run
from .compiler import BindSlot


class CompiledQuery:
    """``query.compile()``: ``execute(**params)`` binds ``BindParam`` values and runs."""

    def __init__(self, query: Any):
        self.query = query
        self.sql, self._template, self.shape = query._compile_select(query._dialect())
        self._slots = [(i, p) for i, p in enumerate(self._template) if isinstance(p, BindSlot)]
        self.param_names = frozenset(slot.name for _, slot in self._slots)

    def _bind(self, params: dict) -> list:
        if params.keys() != self.param_names:
            missing = sorted(self.param_names - params.keys())
            unknown = sorted(params.keys() - self.param_names)
            problems = []
            if missing:
                problems.append(f"missing {missing}")
            if unknown:
                problems.append(f"unknown {unknown}")
            raise errors.DatabaseError(
                f"compiled query parameters: {'; '.join(problems)}; it takes "
                f"{sorted(self.param_names) or 'no parameters'}")
        values = list(self._template)
        for i, slot in self._slots:
            value = params[slot.name]
            if value is not None and slot.to_db is not None:
                value = slot.to_db(value)
            values[i] = value
        return values

    def _steps(self, params: dict) -> Any:
        return self.query._rows_steps(self.sql, self._bind(params), self.shape)

    def execute(self, **params: Any) -> list:
        return run(self._steps(params), self.query.model.backend())

    def to_sql(self) -> tuple[str, tuple]:
        return self.sql, tuple(self._template)

    def __repr__(self) -> str:
        return f"<CompiledQuery {self.sql} params={sorted(self.param_names)}>"
