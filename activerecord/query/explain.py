"""``query.explain()``: the database's plan for a query, readable and checkable."""
from __future__ import annotations

from typing import Any, Iterator, Optional


class QueryPlan:
    """Run it with ``backend.execute(plan)``; ``str(plan)`` and ``full_scans`` run it once."""

    def __init__(self, query: Any):
        self.query = query
        self._rows: Optional[list] = None

    def to_sql(self) -> tuple[str, tuple]:
        sql, params = self.query.to_sql()
        return self.query._dialect().explain_prefix + sql, params

    @property
    def rows(self) -> list[tuple]:
        """The raw EXPLAIN rows (SQLite: (id, parent, notused, detail); PostgreSQL: lines)."""
        if self._rows is None:
            self._rows = self.query.model.backend().execute(self).fetchall()
        return self._rows

    @property
    def details(self) -> list[str]:
        return [row[-1] for row in self.rows]

    @property
    def full_scans(self) -> list[str]:
        """Tables read row by row without any index."""
        tables = self._table_names()
        full_scan_table = self.query._dialect().full_scan_table
        scans = []
        for detail in self.details:
            table = full_scan_table(detail)
            if table in tables and table not in scans:
                scans.append(table)
        return scans

    def _table_names(self) -> set[str]:
        names = {self.query.model.__ar_meta__().table}
        for _, model, _ in self.query._joins:
            names.add(model.__ar_meta__().table)
        for _, other in self.query._set_ops:
            names.add(other.model.__ar_meta__().table)
        return names

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def __str__(self) -> str:
        return self.query._dialect().plan_text(self.rows)

    def __repr__(self) -> str:
        return f"<QueryPlan {self.to_sql()[0]!r}>"
