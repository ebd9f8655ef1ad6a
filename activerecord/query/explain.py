"""``query.explain()``: the database's plan for a query, readable and checkable."""
from __future__ import annotations

import re
from typing import Any, Iterator, Optional

_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(.*)$")


class QueryPlan:
    """Run it with ``backend.execute(plan)``; ``str(plan)`` and ``full_scans`` run it once."""

    def __init__(self, query: Any):
        self.query = query
        self._rows: Optional[list] = None

    def to_sql(self) -> tuple[str, tuple]:
        sql, params = self.query.to_sql()
        return "EXPLAIN QUERY PLAN " + sql, params

    @property
    def rows(self) -> list[tuple]:
        """The raw EXPLAIN QUERY PLAN rows: (id, parent, notused, detail)."""
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
        scans = []
        for detail in self.details:
            match = _SCAN.match(detail)
            if match and "USING" not in match.group(2) and match.group(1) in tables:
                if match.group(1) not in scans:
                    scans.append(match.group(1))
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
        children: dict[int, list] = {}
        for row in self.rows:
            children.setdefault(row[1], []).append(row)
        lines = ["QUERY PLAN"]

        def walk(parent: int, depth: int) -> None:
            for row in children.get(parent, []):
                lines.append("  " * depth + "|--" + row[-1])
                walk(row[0], depth + 1)

        walk(0, 0)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<QueryPlan {self.to_sql()[0]!r}>"
