"""Fixtures of the pytest-benchmark comparison suites (``test_workloads_bench.py``).

The workloads are the ones ``python -m activerecord.bench`` runs (``activerecord.bench``);
this file only provides seeded databases and opened library suites. Sizes come from
``ACTIVERECORD_BENCH_PRESET`` (``quick``, the default here, or ``default``).
All fixture names start with ``bench_`` so other suites in this directory are unaffected.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from activerecord.bench.catalog import DEFAULT_SIZES, QUICK_SIZES, Sizes
from activerecord.bench.dataset import copy_database, find_chinook, seed
from activerecord.bench.suite import LibrarySuite, load_suite

# activerecord runs whichever path this process imported: run the suite once more with
# ACTIVERECORD_PURE_PYTHON=1 to measure the pure-Python path.
REQUIRES = {"sqlalchemy": "sqlalchemy", "peewee": "peewee", "django": "django"}


def activerecord_variant() -> str:
    from activerecord import speedups_enabled
    return "activerecord" if speedups_enabled() else "activerecord-pure"


@pytest.fixture(scope="session")
def bench_sizes() -> Sizes:
    preset = os.environ.get("ACTIVERECORD_BENCH_PRESET", "quick")
    if preset not in ("quick", "default"):
        raise pytest.UsageError(f"ACTIVERECORD_BENCH_PRESET must be 'quick' or 'default', got {preset!r}")
    return QUICK_SIZES if preset == "quick" else DEFAULT_SIZES


@pytest.fixture(scope="session")
def bench_chinook() -> Path | None:
    return find_chinook()


@pytest.fixture(scope="session")
def bench_suites(tmp_path_factory, bench_sizes, bench_chinook):
    """``get(library)``: that library's suite, opened once, on its own database copies."""
    workdir = tmp_path_factory.mktemp("bench")
    base = seed(workdir / "seed.sqlite", bench_sizes)
    opened: dict[str, LibrarySuite] = {}

    def get(library: str) -> LibrarySuite:
        if library in opened:
            return opened[library]
        if library in REQUIRES:
            pytest.importorskip(REQUIRES[library], reason=f"{library} is not installed "
                                "(pip install 'activerecord[bench]')")
        name = activerecord_variant() if library == "activerecord" else library
        db = copy_database(base, workdir / f"{name}.sqlite")
        chinook = copy_database(bench_chinook, workdir / f"chinook-{name}.sqlite") \
            if bench_chinook else None
        suite = load_suite(name, db, chinook, bench_sizes)
        suite.open()
        opened[library] = suite
        return suite

    yield get
    for suite in opened.values():
        suite.close()
