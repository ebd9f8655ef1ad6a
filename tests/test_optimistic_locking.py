"""Optimistic locking: ``Field(version=True)`` turns a lost update into StaleRecordError."""
from __future__ import annotations

import multiprocessing
import threading
from typing import Any, Optional

import pytest

from activerecord import ActiveRecord, Field
from activerecord.backends.sqlite import SQLiteBackend
from activerecord.errors import (ConfigurationError, MissingAttributeError, StaleRecordError)

SPAWN = multiprocessing.get_context("spawn")


class LockedDoc(ActiveRecord):
    __table_name__ = "locked_docs"
    title: str
    body: str = ""
    hits: int = 0
    version: int = Field(default=0, version=True)


class UnlockedDoc(ActiveRecord):
    __table_name__ = "unlocked_docs"
    title: str


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "locking.db")
    backend = SQLiteBackend(path, pragmas={"journal_mode": "WAL"}, timeout=30)
    for model in (LockedDoc, UnlockedDoc):
        model.configure(backend)
        model.create_table()
    yield path, backend
    backend.close()
    for model in (LockedDoc, UnlockedDoc):
        model.configure(None)


def test_version_starts_at_default_and_bumps_on_each_real_update(db):
    doc = LockedDoc(title="a")
    doc.save()
    assert doc.version == 0
    doc.title = "b"
    assert doc.save() == 1
    assert doc.version == 1
    assert doc.save() == 0             # nothing changed: no UPDATE, no bump
    assert doc.version == 1
    doc.body = "text"
    doc.save()
    assert doc.version == 2
    assert LockedDoc.find_by_id(doc.id).version == 2
    assert doc.is_dirty is False


def test_update_checks_and_increments_version_in_sql(db, counter):
    doc = LockedDoc(title="a")
    doc.save()
    counter.clear()
    doc.title = "b"
    doc.save()
    [(sql, params)] = counter.statements
    assert sql.startswith("UPDATE")
    where = sql.split(" WHERE ", 1)[1]
    assert '"version" = ?' in where and '"version" = ?' in sql.split(" WHERE ")[0]
    assert list(params) == ["b", 1, doc.id, 0]


def test_stale_save_raises_and_keeps_the_other_write(db):
    doc = LockedDoc(title="original")
    doc.save()
    mine = LockedDoc.find_by_id(doc.id)
    theirs = LockedDoc.find_by_id(doc.id)
    theirs.title = "theirs"
    theirs.save()
    mine.title = "mine"
    with pytest.raises(StaleRecordError) as info:
        mine.save()
    message = str(info.value)
    assert "LockedDoc" in message and f"id={doc.id}" in message and "version 0" in message
    stored = LockedDoc.find_by_id(doc.id)
    assert (stored.title, stored.version) == ("theirs", 1)
    # The stale record keeps its unsaved change; reload and retry succeeds.
    assert mine.is_dirty and mine.version == 0
    mine.reload()
    mine.title = "mine"
    mine.save()
    assert (LockedDoc.find_by_id(doc.id).title, LockedDoc.find_by_id(doc.id).version) == ("mine", 2)


def test_stale_delete_raises_and_keeps_the_row(db):
    doc = LockedDoc(title="a")
    doc.save()
    stale = LockedDoc.find_by_id(doc.id)
    doc.title = "changed"
    doc.save()
    with pytest.raises(StaleRecordError, match="cannot delete LockedDoc"):
        stale.delete()
    assert LockedDoc.find_by_id(doc.id).title == "changed"
    assert doc.delete() == 1
    assert LockedDoc.find_by_id(doc.id) is None


def test_saving_a_record_deleted_by_someone_else_is_stale(db):
    doc = LockedDoc(title="a")
    doc.save()
    other = LockedDoc.find_by_id(doc.id)
    other.delete()
    doc.title = "b"
    with pytest.raises(StaleRecordError):
        doc.save()
    with pytest.raises(StaleRecordError):
        doc.delete()
    assert LockedDoc.query().count() == 0


def test_stale_save_inside_a_transaction_rolls_back_the_rest(db):
    _, backend = db
    a = LockedDoc(title="a")
    a.save()
    b = LockedDoc(title="b")
    b.save()
    stale_b = LockedDoc.find_by_id(b.id)
    b.title = "b2"
    b.save()
    with pytest.raises(StaleRecordError):
        with backend.transaction():
            a.title = "a2"
            a.save()
            stale_b.title = "lost"
            stale_b.save()
    assert backend.in_transaction is False
    assert [(d.title, d.version) for d in LockedDoc.query().order_by("id")] == [("a", 0), ("b2", 1)]


def test_models_without_a_version_field_are_unchanged(db, counter):
    doc = UnlockedDoc(title="a")
    doc.save()
    other = UnlockedDoc.find_by_id(doc.id)
    other.title = "other"
    other.save()
    counter.clear()
    doc.title = "last write wins"
    assert doc.save() == 1
    assert "version" not in counter.statements[0][0]
    assert UnlockedDoc.find_by_id(doc.id).title == "last write wins"


def test_partial_record_without_the_version_cannot_be_saved_blindly(db):
    LockedDoc(title="a").save()
    partial = LockedDoc.query().select("id", "title").first()
    partial.title = "b"
    with pytest.raises(MissingAttributeError, match="version"):
        partial.save()
    assert LockedDoc.query().first().title == "a"


def test_version_field_misconfiguration_is_reported():
    class TwoVersions(ActiveRecord):
        __table_name__ = "two_versions"
        a: int = Field(default=0, version=True)
        b: int = Field(default=0, version=True)

    class TextVersion(ActiveRecord):
        __table_name__ = "text_versions"
        v: str = Field(default="", version=True)

    with pytest.raises(ConfigurationError, match="several version fields"):
        TwoVersions.__ar_meta__()
    with pytest.raises(ConfigurationError, match="TextVersion.v"):
        TextVersion.__ar_meta__()


# -- across processes ------------------------------------------------------------------

def _bump_in_child(path: str, doc_id: int, title: str) -> None:
    backend = SQLiteBackend(path, timeout=30)
    LockedDoc.configure(backend)
    doc = LockedDoc.find_by_id(doc_id)
    doc.title = title
    doc.save()
    backend.close()


def test_a_save_in_another_process_makes_this_record_stale(db):
    path, _ = db
    doc = LockedDoc(title="parent")
    doc.save()
    mine = LockedDoc.find_by_id(doc.id)
    child = SPAWN.Process(target=_bump_in_child, args=(path, doc.id, "child"))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    mine.title = "parent-again"
    with pytest.raises(StaleRecordError):
        mine.save()
    assert LockedDoc.find_by_id(doc.id).title == "child"


def _increment_with_retry(path: str, doc_id: int, times: int, results: Any) -> None:
    try:
        backend = SQLiteBackend(path, pragmas={"journal_mode": "WAL"}, timeout=30)
        LockedDoc.configure(backend)
        stale = 0
        for _ in range(times):
            while True:
                doc = LockedDoc.find_by_id(doc_id)
                doc.hits += 1
                try:
                    doc.save()
                    break
                except StaleRecordError:
                    stale += 1
        results.put(("ok", stale))
        backend.close()
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def test_concurrent_increments_from_processes_lose_no_update(db):
    path, _ = db
    doc = LockedDoc(title="counter")
    doc.save()
    results = SPAWN.Queue()
    procs = [SPAWN.Process(target=_increment_with_retry, args=(path, doc.id, 25, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [o for o in outcomes if o[0] != "ok"] == []
    final = LockedDoc.find_by_id(doc.id)
    assert final.hits == 75
    assert final.version == 75


def test_concurrent_increments_from_threads_lose_no_update(db):
    _, backend = db
    doc = LockedDoc(title="counter")
    doc.save()
    stale_seen: list[int] = []
    errors: list[str] = []

    def work() -> None:
        try:
            for _ in range(30):
                while True:
                    fresh: Optional[LockedDoc] = LockedDoc.find_by_id(doc.id)
                    fresh.hits += 1
                    try:
                        fresh.save()
                        break
                    except StaleRecordError:
                        stale_seen.append(1)
        except BaseException as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert LockedDoc.find_by_id(doc.id).hits == 120
