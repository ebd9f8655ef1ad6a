"""Smoke test of the benchmark command: tiny data, activerecord and raw sqlite3 only.

No timing assertions: the run must finish, every activerecord workload must return
what raw sqlite3 returns, and the JSON, Markdown and PNG must be written.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from activerecord.bench.catalog import WORKLOADS, select

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--quick", "--users", "12", "--orders-per-user", "2", "--items-per-order", "2",
        "--batch", "5", "--lookups", "5", "--chunk", "4", "--customers", "2",
        "--min-rounds", "1", "--max-rounds", "1", "--no-progress"]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ACTIVERECORD_PURE_PYTHON"}
    return subprocess.run([sys.executable, "-m", "activerecord.bench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_quick_run_writes_table_json_and_chart(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: the chart cannot be "
                        "drawn (pip install 'activerecord[bench]')")
    out = tmp_path / "results"
    proc = run_bench(*TINY, "--only", "activerecord-all,sqlite3", "--output", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    report = json.loads((out / "results.json").read_text())
    assert set(report["libraries"]) == {"sqlite3", "activerecord", "activerecord-pure"}
    assert report["libraries"]["activerecord-pure"]["speedups"] is False
    assert report["meta"]["machine"]["nproc"] >= 1
    assert report["meta"]["sizes"]["users"] == 12
    ran = [w["name"] for w in report["workloads"]]
    synthetic = [w.name for w in WORKLOADS if w.group == "synthetic"]
    assert ran[:len(synthetic)] == synthetic
    for name in ran:
        per_library = report["results"][name]
        assert set(per_library) == {"sqlite3", "activerecord", "activerecord-pure"}, name
        base = per_library["sqlite3"]
        assert base["status"] == "ok" and base["ratio"] == pytest.approx(1.0), (name, base)
        for lib in ("activerecord", "activerecord-pure"):
            r = per_library[lib]
            assert r["status"] == "ok", (name, lib, r)
            assert r["rounds"] == 1 and len(r["times"]) == 1 and r["median"] > 0
            assert r["checksum"] == base["checksum"], (name, lib, r["checksum"], base["checksum"])
            assert r["checksum_ok"] is True
            assert r["ratio"] == pytest.approx(r["median"] / base["median"])

    assert "| select_all_columns" in proc.stdout and "ratio to sqlite3" in proc.stdout
    assert (out / "results.md").read_text().count("| find_by_id") == 2
    png = (out / "ratios.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_unknown_only_name_is_a_clear_error(tmp_path):
    proc = run_bench(*TINY, "--only", "find_by_id,mongoose", "--output", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown name 'mongoose'" in proc.stderr and "find_by_id" in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_only_selects_workloads_and_libraries_independently():
    workloads, libraries = select(["find_by_id,chinook", "sqlite3"])
    assert [w.name for w in workloads][0] == "find_by_id"
    assert {w.group for w in workloads[1:]} == {"chinook"}
    assert [lib.name for lib in libraries] == ["sqlite3"]
    workloads, libraries = select(["activerecord-all"])
    assert len(workloads) == len(WORKLOADS)
    assert [lib.name for lib in libraries] == ["activerecord", "activerecord-pure"]
