"""The whole comparison: seed once, run each library in its own process, collect.

Libraries run one after another (never in parallel, which would make them compete
for the two cores), each on its own copy of the same seeded file.
"""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .catalog import BASELINE, Library, Sizes, Workload
from .dataset import copy_database, project_root, seed


def machine() -> dict:
    """Where the numbers come from: CPU, cores, Python, SQLite."""
    import sqlite3
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "nproc": os.cpu_count(), "loadavg_at_start": load, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "system": f"{platform.system()} {platform.machine()}",
            "sqlite": sqlite3.sqlite_version}


def missing_requirement(library: Library) -> Optional[str]:
    if library.requires and importlib.util.find_spec(library.requires) is None:
        return (f"{library.requires} is not installed "
                f"(pip install 'activerecord[bench]' installs every compared library)")
    return None


def _worker_env(library: Library) -> dict:
    env = dict(os.environ)
    root = str(project_root())
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if library.pure_python:
        env["ACTIVERECORD_PURE_PYTHON"] = "1"
    else:
        env.pop("ACTIVERECORD_PURE_PYTHON", None)
    return env


def run_worker(library: Library, config_path: Path, on_event: Callable[[dict], None],
               log_path: Path) -> int:
    """Run one library's process, passing each JSON line it prints to ``on_event``."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "activerecord.bench.worker", str(config_path), library.name],
            stdout=subprocess.PIPE, stderr=log, text=True, env=_worker_env(library))
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                on_event(json.loads(line))
        return proc.wait()


def run_comparison(workloads: list[Workload], libraries: list[Library], sizes: Sizes,
                   chinook: Optional[Path], workdir: Optional[Path] = None,
                   progress: bool = True) -> dict:
    """Run every (library, workload) pair and return the report dictionary."""
    started = time.time()
    host = machine()
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="activerecord-bench-")
        workdir = Path(own_tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        base = seed(workdir / "seed.sqlite", sizes)
        needs_chinook = chinook is not None and any(w.group == "chinook" for w in workloads)
        config: dict[str, Any] = {"sizes": sizes.as_dict(), "workloads": [w.name for w in workloads],
                                  "databases": {}, "chinook": {}}
        for lib in libraries:
            config["databases"][lib.name] = str(copy_database(base, workdir / f"{lib.name}.sqlite"))
            if needs_chinook:
                config["chinook"][lib.name] = str(copy_database(
                    chinook, workdir / f"chinook-{lib.name}.sqlite"))  # type: ignore[arg-type]
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config))

        results: dict[str, dict[str, dict]] = {w.name: {} for w in workloads}
        library_info: dict[str, dict] = {}
        bar = _progress_bar(len(workloads) * len(libraries), progress)
        for lib in libraries:
            library_info[lib.name] = {"title": lib.title}
            reason = missing_requirement(lib)
            if reason:
                for w in workloads:
                    results[w.name][lib.name] = {"status": "n/a", "reason": reason}
                bar.update(len(workloads))
                continue
            bar.set_description(lib.name)

            def on_event(event: dict, lib: Library = lib) -> None:
                if event["event"] == "start":
                    library_info[lib.name].update(
                        {k: v for k, v in event.items() if k not in ("event", "library")})
                    if event.get("speedups") is False and not lib.pure_python:
                        library_info[lib.name]["title"] += " [extension not built: ran pure Python]"
                elif event["event"] == "result":
                    results[event["workload"]][lib.name] = {
                        k: v for k, v in event.items() if k not in ("event", "workload")}
                    bar.update(1)

            log_path = workdir / f"{lib.name}.log"
            code = run_worker(lib, config_path, on_event, log_path)
            if code != 0:
                tail = log_path.read_text()[-2000:]
                for w in workloads:
                    if lib.name not in results[w.name]:
                        results[w.name][lib.name] = {
                            "status": "error", "reason": f"worker exited with {code}: {tail}"}
                        bar.update(1)
        bar.close()
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()

    _add_ratios_and_checks(results)
    return {
        "meta": {"machine": host, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                 "seconds": round(time.time() - started, 1), "sizes": sizes.as_dict(),
                 "baseline": BASELINE, "chinook": str(chinook) if chinook else None,
                 "command": " ".join(["python -m activerecord.bench"] + sys.argv[1:])},
        "libraries": library_info,
        "workloads": [{"name": w.name, "title": w.title, "group": w.group} for w in workloads],
        "results": results,
    }


def _add_ratios_and_checks(results: dict) -> None:
    """Ratio of each median to raw sqlite3's; a checksum that differs is flagged."""
    for per_library in results.values():
        ok = {name: r for name, r in per_library.items() if r.get("status") == "ok"}
        reference = ok.get(BASELINE) or next(iter(ok.values()), None)
        base = ok.get(BASELINE)
        for r in ok.values():
            r["ratio"] = r["median"] / base["median"] if base and base["median"] > 0 else None
            r["checksum_ok"] = reference is None or r["checksum"] == reference["checksum"]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        sys.stderr.write("tqdm is not installed: running without a progress bar\n")
        return _NoBar()
    return tqdm(total=total, unit="workload", file=sys.stderr, dynamic_ncols=True)
