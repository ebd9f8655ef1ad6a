"""One core, two drivers: ORM operations are generators of database steps.

Every operation (save, find, a query terminal, eager loading) is written once as a
generator that yields ``Execute``/``ExecuteMany``/``Atomic`` steps and receives each
step's result. ``run`` drives such a generator on a sync backend, ``run_async`` on
an async one; SQL building, hydration and eager grouping are shared by both.
"""
from __future__ import annotations

from typing import Any, Generator, Sequence

Steps = Generator[Any, Any, Any]


class Execute:
    __slots__ = ("sql", "params")

    def __init__(self, sql: str, params: Any = None):
        self.sql, self.params = sql, params

    def run(self, backend: Any) -> Any:
        return backend.execute(self.sql, self.params)

    async def run_async(self, backend: Any) -> Any:
        return await backend.execute(self.sql, self.params)


class ExecuteMany:
    __slots__ = ("sql", "seq")

    def __init__(self, sql: str, seq: Sequence[Any]):
        self.sql, self.seq = sql, seq

    def run(self, backend: Any) -> Any:
        return backend.executemany(self.sql, self.seq)

    async def run_async(self, backend: Any) -> Any:
        return await backend.executemany(self.sql, self.seq)


class Atomic:
    """Run nested steps inside one transaction (a savepoint when nested)."""

    __slots__ = ("steps",)

    def __init__(self, steps: Steps):
        self.steps = steps

    def run(self, backend: Any) -> Any:
        with backend.transaction():
            return run(self.steps, backend)

    async def run_async(self, backend: Any) -> Any:
        async with backend.transaction():
            return await run_async(self.steps, backend)


def run(steps: Steps, backend: Any) -> Any:
    """Drive a step generator on a synchronous backend."""
    send = steps.send
    value = None
    try:
        while True:
            value = send(value).run(backend)
    except StopIteration as stop:
        return stop.value


async def run_async(steps: Steps, backend: Any) -> Any:
    """Drive a step generator on an asynchronous backend."""
    send = steps.send
    value = None
    try:
        while True:
            value = await send(value).run_async(backend)
    except StopIteration as stop:
        return stop.value
