"""The base every library's workloads implement, and loading one by name.

A library module defines ``Suite(LibrarySuite)`` with one method per workload name
(see ``catalog.WORKLOADS``); each returns a small checksum of what it read or wrote,
so the runner can check that every library did the same work. A missing method, or
one raising ``Unsupported``, is reported as "n/a" with the reason.

Write workloads get their input rows and their clean-up from here, through a plain
``sqlite3`` connection, untimed, so every library starts each round from the same data.
"""
from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from typing import Any, Callable, Optional

from .catalog import LIBRARIES_BY_NAME, Sizes, Workload
from .dataset import DOOMED_STATUS, NEW_STATUS, SyntheticData, sql_datetime


class Unsupported(Exception):
    """The library has no equivalent of a workload; the message says why."""


class LibrarySuite:
    """One library's workloads over one synthetic database and one Chinook copy."""

    library: str = ""
    # Workloads the library has no equivalent for, with the reason shown as "n/a".
    unsupported: dict[str, str] = {}

    def __init__(self, db_path: Path, chinook_path: Optional[Path], sizes: Sizes):
        self.db_path = Path(db_path)
        self.chinook_path = Path(chinook_path) if chinook_path else None
        self.sizes = sizes
        self.data = SyntheticData(sizes)
        self.new_rows: list[dict] = []
        self._admin: Optional[sqlite3.Connection] = None

    # -- lifecycle (subclasses connect in open, release in close) ---------------------
    def open(self) -> None:
        """Connect the library to ``db_path`` and ``chinook_path``."""

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    # -- finding a workload ------------------------------------------------------------
    def workload(self, workload: Workload) -> tuple[Callable[[], Any], Optional[Callable[[], None]]]:
        """(run, prepare) for ``workload``; raises ``Unsupported`` when there is none."""
        if workload.group == "chinook" and self.chinook_path is None:
            raise Unsupported("Chinook database not found (pass --chinook PATH)")
        if workload.name in self.unsupported:
            raise Unsupported(self.unsupported[workload.name])
        method = getattr(self, workload.name, None)
        if method is None:
            raise Unsupported(f"{self.library} has no equivalent of {workload.name}")
        self.check(workload)
        return method, self.preparer(workload)

    def check(self, workload: Workload) -> None:
        """Raise ``Unsupported`` when a workload cannot run here (missing features)."""

    # -- untimed preparation of the write workloads ---------------------------------------
    @property
    def admin(self) -> sqlite3.Connection:
        if self._admin is None:
            self._admin = sqlite3.connect(self.db_path, isolation_level=None, timeout=30)
        return self._admin

    def preparer(self, workload: Workload) -> Optional[Callable[[], None]]:
        if workload.name in ("save_loop", "insert_many"):
            return self._prepare_inserts
        if workload.name == "bulk_delete":
            return self._prepare_doomed_rows
        return None

    def restore(self) -> None:
        """Remove every row a write workload added: the seed data is as it was."""
        self.admin.execute("DELETE FROM users WHERE status IN (?, ?)", (NEW_STATUS, DOOMED_STATUS))

    def _prepare_inserts(self) -> None:
        self.restore()
        self.new_rows = self.data.new_users(NEW_STATUS)

    def _prepare_doomed_rows(self) -> None:
        self.restore()
        rows = self.data.new_users(DOOMED_STATUS)
        admin = self.admin
        admin.execute("BEGIN")
        admin.executemany(
            "INSERT INTO users (name, email, status, age, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(r["name"], r["email"], r["status"], r["age"], sql_datetime(r["created_at"]),
              sql_datetime(r["updated_at"])) for r in rows])
        admin.execute("COMMIT")


def load_suite(library: str, db_path: Path, chinook_path: Optional[Path],
               sizes: Sizes) -> LibrarySuite:
    """Import the library's module (only now) and build its suite."""
    spec = LIBRARIES_BY_NAME.get(library)
    if spec is None:
        raise ValueError(f"unknown library {library!r}; choose from {', '.join(LIBRARIES_BY_NAME)}")
    module = importlib.import_module(f"activerecord.bench.{spec.module}")
    suite: LibrarySuite = module.Suite(db_path, chinook_path, sizes)
    suite.library = library
    return suite
