"""Stress run: many writers, injected faults and hostile input, then count what was lost.

    python benchmarks/stress.py                      # defaults: about a minute
    python benchmarks/stress.py --duration 20 --threads 8 --processes 4 --faults 30 \
        --hostile 5000 --out /tmp/stress.md

A write operation is one commit: a single-row save(), a transaction of 5 saves, or an
insert_many of 20 rows, in turn; "rows/s" counts rows, "commits/s" operations.

Phases (each on a fresh SQLite file in WAL mode, through the ORM only):
  threads     N threads, one backend, writing for --duration seconds
  processes   P spawned processes, one backend each, writing for --duration seconds
  optimistic  P processes incrementing one version-locked counter, retrying on stale
  faults      SIGKILL of a bulk-writing child at random moments, and exceptions
              injected between insert_many batches; the file must stay whole
  hostile     random hostile strings as values and as field names
Every phase ends with a check: rows counted against writes acknowledged, ids unique,
PRAGMA integrity_check. The report is Markdown (stdout, and --out when given).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activerecord import ActiveRecord, Field, speedups_enabled  # noqa: E402
from activerecord.backends.base import add_observer, remove_observer  # noqa: E402
from activerecord.backends.sqlite import SQLiteBackend  # noqa: E402
from activerecord.errors import (DatabaseLockedError, StaleRecordError,  # noqa: E402
                                 UnknownColumnError)

SPAWN = multiprocessing.get_context("spawn")
WAL = {"journal_mode": "WAL", "synchronous": "NORMAL"}


class StressWrite(ActiveRecord):
    __table_name__ = "stress_writes"
    writer: str = Field(index=True)
    seq: int
    payload: str = ""


class StressCounter(ActiveRecord):
    __table_name__ = "stress_counters"
    hits: int = 0
    version: int = Field(default=0, version=True)


def _backend(path: str, timeout: float = 30.0) -> SQLiteBackend:
    backend = SQLiteBackend(path, pragmas=WAL, timeout=timeout)
    for model in (StressWrite, StressCounter):
        model.configure(backend)
    return backend


def _write_for(backend: SQLiteBackend, writer: str, seconds: float) -> dict:
    """Mixed writes until the time is up; returns rows acknowledged and errors seen."""
    ids: list[int] = []
    rows = ops = locked = 0
    seq = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            kind = ops % 3
            if kind == 0:
                record = StressWrite(writer=writer, seq=seq, payload="p" * (seq % 64))
                record.save()
                ids.append(record.id)
                seq += 1
            elif kind == 1:
                saved = []
                with backend.transaction():
                    for _ in range(5):
                        record = StressWrite(writer=writer, seq=seq)
                        record.save()
                        saved.append(record.id)
                        seq += 1
                ids.extend(saved)   # only once committed
            else:
                StressWrite.insert_many([{"writer": writer, "seq": seq + i} for i in range(20)])
                seq += 20
            rows = seq
            ops += 1
            if ops % 10 == 0:
                StressWrite.query().where(writer=writer).count()
        except DatabaseLockedError:
            locked += 1
            seq = rows   # the failed operation wrote nothing
    return {"writer": writer, "rows": rows, "ops": ops, "locked": locked, "ids": ids,
            "retries": backend.busy_retries}


def _process_writer(path: str, writer: str, seconds: float, start: Any, out: Any) -> None:
    backend = _backend(path)
    start.wait(60)
    out.put(_write_for(backend, writer, seconds))
    backend.close()


def _verify_writes(path: str, results: list[dict]) -> dict:
    backend = _backend(path)
    acknowledged = sum(r["rows"] for r in results)
    stored = StressWrite.query().count()
    dupes = backend.execute("SELECT COUNT(*) FROM (SELECT writer, seq FROM stress_writes "
                            "GROUP BY writer, seq HAVING COUNT(*) > 1)").fetchone()[0]
    ids = [i for r in results for i in r["ids"]]
    missing = 0
    for r in results:
        have = {e.seq for e in StressWrite.query().where(writer=r["writer"]).select("seq")}
        missing += len(set(range(r["rows"])) - have)
    integrity = backend.execute("PRAGMA integrity_check").fetchone()[0]
    backend.close()
    return {"acknowledged": acknowledged, "stored": stored, "missing": missing,
            "duplicate_rows": dupes, "duplicate_ids": len(ids) - len(set(ids)),
            "integrity": integrity}


def phase_threads(workdir: Path, threads: int, seconds: float) -> dict:
    path = str(workdir / "threads.db")
    backend = _backend(path)
    StressWrite.create_table()
    results: list[dict] = []
    started = time.perf_counter()
    workers = [threading.Thread(target=lambda n=n: results.append(
        _write_for(backend, f"t{n}", seconds))) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    retries = backend.busy_retries
    backend.close()
    check = _verify_writes(path, results)
    return {"writers": f"{threads} threads", "seconds": elapsed, "retries": retries,
            "ops": sum(r["ops"] for r in results),
            "locked": sum(r["locked"] for r in results), **check}


def phase_processes(workdir: Path, processes: int, seconds: float) -> dict:
    path = str(workdir / "processes.db")
    _backend(path)
    StressWrite.create_table()
    start, out = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=_process_writer, args=(path, f"p{n}", seconds, start, out))
             for n in range(processes)]
    for p in procs:
        p.start()
    time.sleep(1.0)   # let the interpreters start before the clock does
    started = time.perf_counter()
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join(60)
    check = _verify_writes(path, results)
    return {"writers": f"{processes} processes", "seconds": elapsed,
            "ops": sum(r["ops"] for r in results),
            "retries": sum(r["retries"] for r in results),
            "locked": sum(r["locked"] for r in results), **check}


def _increment(path: str, counter_id: int, seconds: float, start: Any, out: Any) -> None:
    _backend(path)
    start.wait(60)
    done = stale = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        record = StressCounter.find_by_id(counter_id)
        record.hits += 1
        try:
            record.save()
            done += 1
        except StaleRecordError:
            stale += 1
    out.put((done, stale))


def phase_optimistic(workdir: Path, processes: int, seconds: float) -> dict:
    path = str(workdir / "optimistic.db")
    _backend(path)
    StressCounter.create_table()
    counter = StressCounter()
    counter.save()
    start, out = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=_increment, args=(path, counter.id, seconds, start, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(1.0)
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(60)
    final = StressCounter.find_by_id(counter.id)
    acknowledged = sum(d for d, _ in results)
    return {"processes": processes, "increments": acknowledged,
            "stale_retries": sum(s for _, s in results), "final": final.hits,
            "lost": acknowledged - final.hits}


def _bulk_loop(path: str, started: Any) -> None:
    backend = _backend(path)
    batch = backend.execute("SELECT COALESCE(MAX(seq), 0) FROM stress_writes").fetchone()[0] + 1
    while True:
        StressWrite.insert_many([{"writer": "bulk", "seq": batch, "payload": str(i)}
                                 for i in range(500)], batch_size=100)
        started.set()
        batch += 1


class _Fault:
    def __init__(self, after: int):
        self.after, self.seen = after, 0

    def __call__(self, sql: str, *_: Any) -> None:
        if sql.startswith("INSERT"):
            self.seen += 1
            if self.seen == self.after:
                raise RuntimeError("injected fault")


def phase_faults(workdir: Path, kills: int) -> dict:
    path = str(workdir / "faults.db")
    backend = _backend(path)
    StressWrite.create_table()
    rng = random.Random(42)
    survived_kills = 0
    for _ in range(kills):
        started = SPAWN.Event()
        proc = SPAWN.Process(target=_bulk_loop, args=(path, started))
        proc.start()
        started.wait(60)
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        raw = sqlite3.connect(path)
        ok = raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = raw.execute("SELECT COUNT(*) FROM (SELECT seq FROM stress_writes WHERE "
                              "writer = 'bulk' GROUP BY seq HAVING COUNT(*) <> 500)").fetchone()[0]
        raw.close()
        survived_kills += ok and partial == 0
    before = StressWrite.query().count()
    survived_exc = 0
    for n in range(kills):
        fault = _Fault(rng.randint(1, 5))
        add_observer(fault)
        try:
            StressWrite.insert_many([{"writer": "exc", "seq": i} for i in range(500)],
                                    batch_size=100)
        except RuntimeError:
            pass
        finally:
            remove_observer(fault)
        survived_exc += StressWrite.query().count() == before and not backend.in_transaction
    backend.close()
    return {"sigkills": kills, "sigkills_survived": survived_kills,
            "exceptions": kills, "exceptions_survived": survived_exc}


FRAGMENTS = ["'", '"', ";", "--", "/*", "\x00", "\\", "?", "%s", " OR 1=1", "DROP TABLE x",
             "writer", "seq", "-seq", "seq DESC", "StressWrite.seq", "Other.x", "💥", "\u202e"]


def _hostile_string(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.5:
            parts.append(rng.choice(FRAGMENTS))
        else:
            cp = rng.randint(0, 0x10FFFF)
            parts.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "x")
    return "".join(parts)


def phase_hostile(workdir: Path, count: int) -> dict:
    path = str(workdir / "hostile.db")
    backend = _backend(path)
    StressWrite.create_table()
    StressWrite.insert_many([{"writer": "seed", "seq": i} for i in range(3)])
    fields = set(StressWrite.__ar_meta__().field_names)
    rng = random.Random(7)
    tried = bound_ok = refused_ok = unexpected = 0
    for _ in range(count):
        s = _hostile_string(rng)
        tried += 1
        record = StressWrite(writer=s, seq=-1)
        record.save()
        found = StressWrite.find_one({"writer": s, "id": record.id})
        if found is not None and found.writer == s and record.delete() == 1:
            bound_ok += 1
        else:
            unexpected += 1
        if s in fields or s.startswith("StressWrite."):
            continue
        calls = [lambda: StressWrite.query().where({s: 1}).all(),
                 lambda: StressWrite.insert_many([{s: 1}]),
                 lambda: StressWrite.query().update({s: 1}),
                 lambda: StressWrite.query().order_by(s).all(),
                 lambda: StressWrite.query().select(s).all()]
        for call in calls:
            tried += 1
            try:
                call()
            except (UnknownColumnError, ValueError):
                refused_ok += 1
                continue
            if call is calls[3] and s.lstrip("-").split(" ")[0] in fields:
                refused_ok += 1   # a legitimate ordering such as '-seq'
            else:
                unexpected += 1
    intact = StressWrite.query().count() == 3 and backend.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'stress_writes'").fetchone()[0] == 1
    backend.close()
    return {"tried": tried, "values_bound_ok": bound_ok, "identifiers_refused": refused_ok,
            "unexpected": unexpected, "table_intact": intact}


def report(args: argparse.Namespace, results: dict) -> str:
    lines = ["# Stress run", "", f"`python benchmarks/stress.py --duration {args.duration} "
             f"--threads {args.threads} --processes {args.processes} --faults {args.faults} "
             f"--hostile {args.hostile}` (SQLite {sqlite3.sqlite_version}, WAL, "
             f"synchronous=NORMAL, {os.cpu_count()} cores, "
             f"{'compiled extension' if speedups_enabled() else 'pure-Python path'})", "",
             "| writers | rows/s held | commits/s | rows acknowledged | rows stored | missing | "
             "duplicate rows/ids | busy retries | DatabaseLockedError | integrity |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in ("threads", "processes"):
        r = results[key]
        lines.append(f"| {r['writers']} | {r['acknowledged'] / r['seconds']:.0f} | "
                     f"{r['ops'] / r['seconds']:.0f} | "
                     f"{r['acknowledged']} | {r['stored']} | {r['missing']} | "
                     f"{r['duplicate_rows']}/{r['duplicate_ids']} | {r['retries']} | "
                     f"{r['locked']} | {r['integrity']} |")
    o, f, h = results["optimistic"], results["faults"], results["hostile"]
    lines += ["", f"Optimistic locking: {o['processes']} processes made {o['increments']} "
              f"increments ({o['stale_retries']} stale retries); counter = {o['final']}; "
              f"lost updates: {o['lost']}.",
              f"Faults: {f['sigkills']} SIGKILLs mid-insert_many, {f['sigkills_survived']} left "
              f"the file whole (integrity ok, no partial batch); {f['exceptions']} exceptions "
              f"injected between batches, {f['exceptions_survived']} fully rolled back.",
              f"Hostile input: {h['tried']} calls with random hostile strings; "
              f"{h['values_bound_ok']} values round-tripped as bound parameters, "
              f"{h['identifiers_refused']} identifier uses refused or legitimate, "
              f"{h['unexpected']} unexpected; table intact: {h['table_intact']}."]
    lost = (sum(results[k]["missing"] + results[k]["duplicate_rows"] for k in ("threads", "processes"))
            + o["lost"] + (f["sigkills"] - f["sigkills_survived"])
            + (f["exceptions"] - f["exceptions_survived"]) + h["unexpected"])
    lines += ["", f"**Anything lost or wrong: {lost}**"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per write phase")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--faults", type=int, default=10)
    parser.add_argument("--hostile", type=int, default=2000)
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ar-stress-") as tmp:
        workdir = Path(tmp)
        results = {
            "threads": phase_threads(workdir, args.threads, args.duration),
            "processes": phase_processes(workdir, args.processes, args.duration),
            "optimistic": phase_optimistic(workdir, args.processes, args.duration / 2),
            "faults": phase_faults(workdir, args.faults),
            "hostile": phase_hostile(workdir, args.hostile),
        }
    text = report(args, results)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if "Anything lost or wrong: 0**" in text else 1


if __name__ == "__main__":
    sys.exit(main())
