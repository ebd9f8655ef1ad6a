"""Timing one workload: warm up, then repeat rounds and keep every duration."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Optional


def measure(run: Callable[[], Any], prepare: Optional[Callable[[], None]] = None, *,
            min_rounds: int, max_rounds: int, min_time: float,
            warmup: int = 1) -> tuple[list[float], Any]:
    """Seconds per round (``prepare`` runs untimed before each) and the last result.

    Rounds continue until there are ``min_rounds`` of them and ``min_time`` seconds
    were measured, or ``max_rounds`` is reached.
    """
    result = None
    for _ in range(warmup):
        if prepare is not None:
            prepare()
        result = run()
    times: list[float] = []
    total = 0.0
    clock = time.perf_counter
    while len(times) < max(min_rounds, 1) or (total < min_time and len(times) < max_rounds):
        if prepare is not None:
            prepare()
        started = clock()
        result = run()
        elapsed = clock() - started
        times.append(elapsed)
        total += elapsed
    return times, result


def summarize(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "mean": statistics.fmean(times), "rounds": len(times)}
