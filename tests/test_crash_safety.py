"""A writer killed with SIGKILL mid-write leaves the database whole: all or nothing.

The child process pauses itself at a chosen statement (an observer on the backend's
one choke point) so the kill lands inside ``insert_many`` or an open transaction;
another test kills at arbitrary moments of a write loop. Afterwards the file must
pass ``PRAGMA integrity_check`` and hold only whole operations.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import time
from typing import Any

import pytest

from activerecord import ActiveRecord
from activerecord.backends.base import add_observer
from activerecord.backends.sqlite import SQLiteBackend

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

SPAWN = multiprocessing.get_context("spawn")
SEED_ROWS = 10
BULK_ROWS = 10_000


class CrashRow(ActiveRecord):
    __table_name__ = "crash_rows"
    batch: int
    value: int
    note: str = ""


def _backend(path: str, journal: str) -> SQLiteBackend:
    return SQLiteBackend(path, pragmas={"journal_mode": journal, "synchronous": "FULL"},
                         timeout=30)


def _pause_at_insert(number: int, paused: Any) -> None:
    """Make the child stop (forever, until killed) right after its Nth INSERT."""
    seen = 0

    def observer(sql: str, params: Any, seconds: float, rowcount: int) -> None:
        nonlocal seen
        if sql.startswith("INSERT"):
            seen += 1
            if seen == number:
                paused.set()
                time.sleep(300)

    add_observer(observer)


def _child(path: str, journal: str, mode: str, paused: Any) -> None:
    CrashRow.configure(_backend(path, journal))
    if mode == "insert_many":
        _pause_at_insert(7, paused)   # 7 of the 20 batches are in, not committed
        CrashRow.insert_many([{"batch": 1, "value": i} for i in range(BULK_ROWS)],
                             batch_size=500)
    elif mode == "transaction":
        backend = CrashRow.backend()
        _pause_at_insert(25, paused)
        with backend.transaction():
            CrashRow.query().update({"value": -1, "note": "half-done"})
            with backend.transaction():        # a savepoint inside
                for i in range(40):
                    CrashRow(batch=2, value=i).save()
    paused.set()   # not reached when the pause works; the parent then fails clearly


def _seed(path: str, journal: str) -> SQLiteBackend:
    backend = _backend(path, journal)
    CrashRow.configure(backend)
    CrashRow.create_table()
    CrashRow.insert_many([{"batch": 0, "value": i, "note": "seed"} for i in range(SEED_ROWS)])
    return backend


def _check_whole(path: str) -> sqlite3.Connection:
    """Open the file as a new process would, after the crash; integrity must hold."""
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return raw


def _kill_when_paused(proc: Any, paused: Any) -> None:
    assert paused.wait(60), "the child never reached the pause point"
    assert proc.is_alive(), f"the child finished instead of pausing (exit code {proc.exitcode})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
@pytest.mark.parametrize("mode", ["insert_many", "transaction"])
def test_sigkill_mid_write_leaves_nothing_half_done(tmp_path, journal, mode):
    path = str(tmp_path / "crash.db")
    backend = _seed(path, journal)
    backend.close()
    paused = SPAWN.Event()
    proc = SPAWN.Process(target=_child, args=(path, journal, mode, paused))
    proc.start()
    _kill_when_paused(proc, paused)

    raw = _check_whole(path)
    rows = raw.execute("SELECT batch, value, note FROM crash_rows ORDER BY id").fetchall()
    raw.close()
    assert rows == [(0, i, "seed") for i in range(SEED_ROWS)]

    # The ORM opens the crashed file and goes on writing.
    backend = _backend(path, journal)
    CrashRow.configure(backend)
    assert CrashRow.insert_many([{"batch": 9, "value": i} for i in range(100)]) == 100
    assert CrashRow.query().count() == SEED_ROWS + 100
    assert backend.in_transaction is False
    backend.close()
    CrashRow.configure(None)


def _write_loop(path: str, journal: str, started: Any) -> None:
    backend = _backend(path, journal)
    CrashRow.configure(backend)
    batch = backend.execute("SELECT COALESCE(MAX(batch), 0) FROM crash_rows").fetchone()[0] + 1
    while True:
        CrashRow.insert_many([{"batch": batch, "value": i} for i in range(200)], batch_size=50)
        with backend.transaction():
            CrashRow(batch=-batch, value=0).save()
            CrashRow.query().where(batch=batch).update({"note": "done"})
        started.set()
        batch += 1


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_sigkill_at_arbitrary_moments_keeps_every_operation_whole(tmp_path, journal):
    path = str(tmp_path / "loop.db")
    _seed(path, journal).close()
    rng = random.Random(1234)
    for _ in range(3):
        started = SPAWN.Event()
        proc = SPAWN.Process(target=_write_loop, args=(path, journal, started))
        proc.start()
        assert started.wait(60)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL

        raw = _check_whole(path)
        sizes = raw.execute("SELECT batch, COUNT(*), SUM(note = 'done') FROM crash_rows "
                            "WHERE batch > 0 GROUP BY batch").fetchall()
        markers = {b for (b,) in raw.execute("SELECT -batch FROM crash_rows WHERE batch < 0")}
        seeds = raw.execute("SELECT COUNT(*) FROM crash_rows WHERE batch = 0").fetchone()[0]
        raw.close()
        assert seeds == SEED_ROWS
        # Every bulk insert is whole; a batch is marked done exactly when its marker exists.
        assert all(count == 200 for _, count, _ in sizes), sizes
        assert {b for b, _, done in sizes if done == 200} == markers
        assert all(done in (0, 200) for _, _, done in sizes)
