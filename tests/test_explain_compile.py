"""query.explain() plans and query.compile() prepared queries with BindParam."""
from __future__ import annotations

import datetime as dt

import pytest

from activerecord import ActiveRecord, BindParam, CompiledQuery, DatabaseError, Field, QueryPlan
from activerecord.query import compiler as compiler_module


class Visitor(ActiveRecord):
    __table_name__ = "visitors"
    id: int = Field(primary_key=True)
    email: str = Field(unique=True)
    status: str = Field(default="active", index=True)
    name: str = ""
    seen: dt.date = dt.date(2020, 1, 1)


class Visit(ActiveRecord):
    visitor_id: int
    page: str = ""


@pytest.fixture
def data(sqlite_backend):
    Visitor.create_table()
    Visit.create_table()
    Visitor.insert_many([{"email": f"v{i}@x", "name": f"n{i}", "status": "active" if i % 2 else "gone",
                          "seen": dt.date(2020, 1, 1 + i)} for i in range(10)])
    Visit.insert_many([{"visitor_id": i % 10 + 1, "page": f"/p{i}"} for i in range(30)])
    return sqlite_backend


# -- explain -------------------------------------------------------------------------------
def test_explain_is_executable_by_backend(data):
    plan = Visitor.query().where(Visitor.c.status == "active").order_by(Visitor.c.name).explain()
    assert isinstance(plan, QueryPlan)
    rows = data.execute(plan).fetchall()
    assert rows and all(len(r) == 4 for r in rows)
    details = " | ".join(r[3] for r in rows)
    assert "idx_visitors_status" in details          # the index=True index is used
    assert "TEMP B-TREE" in details                   # ordering by an unindexed column


def test_explain_str_is_a_readable_tree(data):
    plan = Visitor.query().join(Visit, Visitor.c.id == Visit.c.visitor_id).explain()
    text = str(plan)
    lines = text.splitlines()
    assert lines[0] == "QUERY PLAN"
    assert any("visitors" in line for line in lines) and any("visits" in line for line in lines)
    assert all(line.lstrip().startswith("|--") for line in lines[1:])


def test_full_scans(data):
    assert Visitor.query().where(Visitor.c.name == "n1").explain().full_scans == ["visitors"]
    assert Visitor.query().where(Visitor.c.status == "gone").explain().full_scans == []
    assert Visitor.query().where(Visitor.c.email == "v1@x").explain().full_scans == []
    assert Visitor.query().where(Visitor.c.id == 3).explain().full_scans == []
    joined = Visitor.query().join(Visit, Visitor.c.id == Visit.c.visitor_id).where(Visitor.c.id == 2)
    assert joined.explain().full_scans == ["visits"]
    data.execute("CREATE INDEX idx_visit_visitor ON visits(visitor_id)")
    assert joined.explain().full_scans == []


def test_explain_guide_helper(data):
    def explain_query(query):
        sql = query.explain()
        return data.execute(sql).fetchall()

    plan = explain_query(Visitor.query().where(Visitor.c.status == "active").order_by(Visitor.c.name))
    assert isinstance(plan, list) and isinstance(plan[0], tuple)


def test_explain_to_sql(data):
    sql, params = Visitor.query().where(Visitor.c.name == "a").explain().to_sql()
    assert sql.startswith("EXPLAIN QUERY PLAN SELECT") and params == ("a",)


# -- compile -------------------------------------------------------------------------------
def test_compiled_query_executes_with_params(data):
    compiled = Visitor.query().where(Visitor.c.email == BindParam("email")).compile()
    assert isinstance(compiled, CompiledQuery)
    [found] = compiled.execute(email="v3@x")
    assert isinstance(found, Visitor) and found.name == "n3"
    assert compiled.execute(email="missing@x") == []
    assert compiled.execute(email="v4@x")[0].name == "n4"


def test_compiled_query_builds_sql_once(data, monkeypatch, counter):
    compiled = (Visitor.query().where((Visitor.c.status == BindParam("status"))
                                      & (Visitor.c.seen >= BindParam("since")))
                .order_by("id").limit(3).compile())

    def no_building(*args, **kwargs):  # pragma: no cover - the failing path
        raise AssertionError("SQL was built again")

    monkeypatch.setattr(compiler_module.Compiler, "select", no_building)
    monkeypatch.setattr(compiler_module.Compiler, "param", no_building)
    counter.clear()
    got = compiled.execute(status="active", since=dt.date(2020, 1, 5))
    assert [v.name for v in got] == ["n5", "n7", "n9"]
    again = compiled.execute(status="gone", since=dt.date(2020, 1, 1))
    assert [v.name for v in again] == ["n0", "n2", "n4"]
    assert len(counter.statements) == 2 and counter.statements[0][0] == counter.statements[1][0]
    assert counter.statements[0][1] == ["active", "2020-01-05", 3]   # values converted per column


def test_compiled_param_used_twice(data):
    compiled = Visitor.query().where((Visitor.c.name == BindParam("v")) | (Visitor.c.email == BindParam("v"))).compile()
    assert [x.name for x in compiled.execute(v="n2")] == ["n2"]
    assert [x.name for x in compiled.execute(v="v6@x")] == ["n6"]


def test_compiled_missing_and_unknown_params(data):
    compiled = Visitor.query().where(Visitor.c.email == BindParam("email")).compile()
    with pytest.raises(DatabaseError, match=r"missing \['email'\]"):
        compiled.execute()
    with pytest.raises(DatabaseError, match=r"unknown \['mail'\]"):
        compiled.execute(email="x", mail="y")
    with pytest.raises(DatabaseError, match="missing.*unknown"):
        compiled.execute(mail="y")


def test_compiled_hostile_value_is_bound(data):
    compiled = Visitor.query().where(Visitor.c.email == BindParam("email")).compile()
    assert compiled.execute(email="' OR 1=1 --") == []
    assert Visitor.query().count() == 10


def test_running_a_query_with_bind_params_without_compile_is_clear(data):
    query = Visitor.query().where(Visitor.c.email == BindParam("email"))
    for terminal in (query.all, query.first, query.count, query.exists, query.scalar):
        with pytest.raises(DatabaseError, match=r"BindParam placeholders \['email'\].*compile"):
            terminal()


def test_bind_param_name_must_be_identifier():
    with pytest.raises(ValueError, match="identifier"):
        BindParam("not valid")


def test_compiled_select_partial(data):
    compiled = Visitor.query().select("id", "name").where(Visitor.c.id == BindParam("id")).compile()
    [row] = compiled.execute(id=4)
    assert row.name == "n3" and row.id == 4
