"""Every workload of ``activerecord.bench`` for every library, under pytest-benchmark.

    python -m pytest benchmarks/test_workloads_bench.py --benchmark-only --benchmark-group-by=group

Each workload is a benchmark group, so pytest-benchmark prints the libraries side by
side. After timing, each result is checked against raw sqlite3's: a library that did
less work than the others fails instead of looking fast.
"""
from __future__ import annotations

import pytest

from activerecord.bench.catalog import WORKLOADS, Workload
from activerecord.bench.suite import Unsupported

# "activerecord" is whichever path this process imported (see benchmarks/conftest.py).
LIBRARIES = ("sqlite3", "activerecord", "sqlalchemy", "peewee", "django")

_reference: dict[str, object] = {}


def _run_once(suite, workload: Workload) -> object:
    run, prepare = suite.workload(workload)
    if prepare is not None:
        prepare()
    try:
        return run()
    finally:
        if workload.writes:
            suite.restore()


def reference(bench_suites, workload: Workload) -> object:
    """What raw sqlite3 returns for the workload: the answer every library must give."""
    if workload.name not in _reference:
        _reference[workload.name] = _run_once(bench_suites("sqlite3"), workload)
    return _reference[workload.name]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_workload(benchmark, bench_suites, bench_sizes, workload: Workload, library: str):
    suite = bench_suites(library)
    try:
        run, prepare = suite.workload(workload)
    except Unsupported as exc:
        pytest.skip(f"{library} {workload.name}: n/a: {exc}")
    benchmark.group = workload.name
    benchmark.extra_info.update(library=suite.library, workload=workload.title)
    try:
        result = benchmark.pedantic(run, setup=prepare, rounds=bench_sizes.min_rounds,
                                    warmup_rounds=1, iterations=1)
    finally:
        if workload.writes:
            suite.restore()
    assert result == reference(bench_suites, workload), (
        f"{library} {workload.name} returned {result!r}; raw sqlite3 returned "
        f"{reference(bench_suites, workload)!r}")
