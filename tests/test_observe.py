"""Observability: profile(), slow_queries(), assert_queries(), EXPLAIN-based index advice."""
from __future__ import annotations

import logging
import threading

import pytest

import activerecord
from activerecord import ActiveRecord, Field, HasMany, assert_queries, profile, slow_queries
from activerecord.backends import base
from activerecord.observe import SlowQueryLog, _dispatch, index_advice


class Member(ActiveRecord):
    __table_name__ = "obs_members"
    name: str
    status: str = "active"
    tags = HasMany("Tag", foreign_key="member_id")


class Tag(ActiveRecord):
    __table_name__ = "obs_tags"
    member_id: int
    label: str


class Indexed(ActiveRecord):
    __table_name__ = "obs_indexed"
    status: str = Field(default="active", index=True)


@pytest.fixture
def members(backend):
    for model in (Member, Tag, Indexed):
        model.create_table()
    Member.insert_many([{"name": f"m{i}", "status": "active" if i % 2 else "idle"} for i in range(6)])
    Tag.insert_many([{"member_id": 1, "label": "x"}, {"member_id": 2, "label": "y"}])
    return backend


def test_profile_records_every_statement(members):
    with profile() as p:
        Member.query().where(Member.c.status == "active").all()
        m = Member.find_by_id(1)
        m.name = "renamed"
        m.save()
        members.execute(f"DELETE FROM obs_tags WHERE member_id = {members.dialect.placeholder}", (2,))
    assert p.query_count == 4
    assert [s.verb for s in p.statements] == ["SELECT", "SELECT", "UPDATE", "DELETE"]
    select, _, update, delete = p.statements
    assert select.params == ["active"] or tuple(select.params) == ("active",)
    assert select.rows in (None, 3)    # SQLite knows a SELECT's row count only after fetching
    assert update.rows == 1 and delete.rows == 1
    assert all(s.duration >= 0 for s in p.statements)
    assert p.total_time == pytest.approx(sum(s.duration for s in p.statements))
    assert p.counts() == {"SELECT": 2, "UPDATE": 1, "DELETE": 1}
    report = p.report()
    assert report.startswith("Profile: 4 statements (2 select, 1 update, 1 delete)")
    assert 'DELETE FROM obs_tags WHERE member_id = ' in report
    assert _dispatch not in base._observers


def test_profile_flags_repeated_statements(members):
    with profile() as p:
        for i in range(1, 4):
            Member.find_by_id(i)
    sql, times, _ = p.repeated()[0]
    assert times == 3 and sql.startswith("SELECT")
    assert "Repeated statements (possible N+1 queries):" in p.report()


def test_profiles_in_other_threads_do_not_mix(members):
    seen = {}

    def other() -> None:
        with profile() as theirs:
            Member.query().count()
            Member.query().count()
        seen["theirs"] = theirs.query_count

    with profile() as mine, profile(all_threads=True) as everything:
        Member.query().all()
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert mine.query_count == 1
    assert seen["theirs"] == 2
    assert everything.query_count == 3


def test_nested_profiles_both_record(members):
    with profile() as outer:
        Member.query().count()
        with profile() as inner:
            Member.query().count()
    assert (outer.query_count, inner.query_count) == (2, 1)


def test_index_warning_names_the_column_an_index_would_serve(members):
    with profile() as p:
        Member.query().where(Member.c.status == "idle").all()
        Indexed.query().where(Indexed.c.status == "idle").all()
        Member.query().all()                       # a full scan by nature: nothing to flag
    messages = [w.message for w in p.index_warnings]
    assert messages == ["obs_members: full scan; an index on obs_members(status) would serve it"]
    assert "Index warnings:" in p.report()
    members.execute("CREATE INDEX obs_members_status ON obs_members(status)")
    with profile() as after:
        Member.query().where(Member.c.status == "idle").all()
    assert after.index_warnings == []
    assert "Index warnings:" not in after.report()


def test_index_warning_for_order_by_and_joins(members):
    by_name = index_advice('SELECT * FROM "obs_members" AS m ORDER BY m."name"', (), members)
    assert [(a.table, a.columns) for a in by_name] == [("obs_members", ("name",))]
    joined = Member.query().join(Tag, Tag.c.member_id == Member.c.id).where(Tag.c.label == "x")
    sql, params = joined.to_sql()
    advice = index_advice(sql, params, members)
    assert advice and advice[0].table == "obs_tags"
    assert set(advice[0].columns) <= {"member_id", "label"} and advice[0].columns


def test_index_warning_on_chinook(chinook_path):
    db = activerecord.SQLiteBackend(str(chinook_path))
    try:
        advice = index_advice('SELECT * FROM "Track" WHERE "Composer" = ?', ("AC/DC",), db)
        assert [a.message for a in advice] == [
            "Track: full scan; an index on Track(Composer) would serve it"]
        assert index_advice('SELECT * FROM "Track" WHERE "TrackId" = ?', (1,), db) == []
    finally:
        db.close()


def test_slow_queries_threshold_and_report(members, caplog):
    with slow_queries(threshold_ms=10 ** 9) as none:
        Member.query().all()
    assert none.report() == "No slow queries detected."
    assert none.seen == 1
    with caplog.at_level(logging.WARNING, logger="activerecord.slow"):
        with slow_queries(threshold_ms=0) as everything:
            Member.query().all()
            Member.query().count()
    assert len(everything.queries) == 2
    assert everything.report().startswith("Slow Query Report (2 queries):\n1. ")
    assert any("slow query" in r.getMessage() for r in caplog.records)


def test_slow_query_report_lists_slowest_first_like_the_guide():
    log = SlowQueryLog(threshold_ms=100, log=False)
    log.record_query("SELECT fast", 0.050)
    log.record_query("SELECT slow", 0.300)
    log.record_query("SELECT slower", 0.450)
    assert log.report() == ("Slow Query Report (2 queries):\n"
                            "1. 450.00ms: SELECT slower\n"
                            "2. 300.00ms: SELECT slow\n")
    assert log.queries[0].as_dict()["duration"] == 0.3
    with pytest.raises(ValueError, match="threshold_ms"):
        slow_queries(threshold_ms=-1)


def test_assert_queries_passes_on_the_exact_count(members):
    with assert_queries(2):
        Member.find_by_id(1)
        Member.query().count()
    with assert_queries(0):
        pass


def test_assert_queries_failure_lists_the_statements(members):
    with pytest.raises(AssertionError) as info:
        with assert_queries(1):
            Member.find_by_id(1)
            Member.find_by_id(2)
    message = str(info.value)
    assert message.startswith("expected 1 query, 2 were executed:")
    assert message.count('FROM "obs_members"') == 2
    assert "params=(2, 1)" in message or "params=(2," in message


def test_assert_queries_ignores_transaction_control_unless_asked(members):
    with assert_queries(1):
        Member.insert_many([{"name": "x"}])
    with assert_queries(3, include_transaction_control=True):
        Member.insert_many([{"name": "y"}])


def test_assert_queries_as_decorator_and_does_not_hide_errors(members):
    @assert_queries(1)
    def one_query() -> int:
        return Member.query().count()

    assert one_query() == 6
    with pytest.raises(KeyError):
        with assert_queries(5):
            raise KeyError("from the block")


def test_eager_loading_count_is_asserted(members):
    with assert_queries(2):
        members_with_tags = Member.query().includes("tags").all()
        assert sum(len(m.tags) for m in members_with_tags) == 2


def test_nothing_is_observed_when_nothing_is_active(members):
    with profile():
        pass
    assert _dispatch not in base._observers
