"""One library in one process: ``python -m activerecord.bench.worker CONFIG LIBRARY``.

A process per library keeps libraries from sharing warm caches or memory, lets the
pure-Python activerecord run beside the compiled one (the path is chosen at import),
and lets Django be configured once. Progress and results go to stdout as JSON lines.
"""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, Optional

from .catalog import WORKLOADS_BY_NAME, Sizes
from .measure import measure, summarize
from .suite import Unsupported, load_suite


def library_version(library: str) -> dict:
    """Version facts for the report; imports only the library being run."""
    if library == "sqlite3":
        import sqlite3
        return {"version": sqlite3.sqlite_version, "python_module": "sqlite3"}
    if library.startswith("activerecord"):
        import activerecord
        return {"version": activerecord.__version__, "speedups": activerecord.speedups_enabled()}
    if library == "sqlalchemy":
        import sqlalchemy
        return {"version": sqlalchemy.__version__}
    if library == "peewee":
        import peewee
        return {"version": peewee.__version__}
    if library == "django":
        import django
        return {"version": django.get_version()}
    return {}


def plain(value: Any) -> Any:
    """Checksums as JSON values (tuples become lists), comparable after a round trip."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def run_library(library: str, db_path: Path, chinook_path: Optional[Path], sizes: Sizes,
                workloads: list[str]) -> None:
    emit({"event": "start", "library": library, **library_version(library)})
    suite = load_suite(library, db_path, chinook_path, sizes)
    suite.open()
    try:
        for name in workloads:
            workload = WORKLOADS_BY_NAME[name]
            try:
                run, prepare = suite.workload(workload)
            except Unsupported as exc:
                emit({"event": "result", "workload": name, "status": "n/a", "reason": str(exc)})
                continue
            try:
                times, result = measure(run, prepare, min_rounds=sizes.min_rounds,
                                        max_rounds=sizes.max_rounds, min_time=sizes.min_time)
            except Exception as exc:  # one broken workload must not sink the run
                emit({"event": "result", "workload": name, "status": "error",
                      "reason": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc(limit=6)})
                continue
            finally:
                if workload.writes:
                    suite.restore()
            emit({"event": "result", "workload": name, "status": "ok", "times": times,
                  **summarize(times), "checksum": plain(result)})
    finally:
        suite.close()
    emit({"event": "done", "library": library})


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m activerecord.bench.worker CONFIG.json LIBRARY\n")
        return 2
    config = json.loads(Path(argv[0]).read_text())
    library = argv[1]
    run_library(library, Path(config["databases"][library]),
                Path(config["chinook"][library]) if config["chinook"].get(library) else None,
                Sizes(**config["sizes"]), config["workloads"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
