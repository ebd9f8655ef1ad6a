"""The guide's "Caching Strategies" and "Monitoring and Profiling" examples, run as written
(imports changed to ``activerecord``), each next to its built-in one-liner."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import List

import pytest

import activerecord
from activerecord import ActiveRecord, Field, identity_map
from activerecord.cache import cache
from guide_examples import LoggedSQLiteBackend, instance_cached_user_model, query_timer


@pytest.fixture
def guide_user(backend):
    class User(ActiveRecord):
        __table_name__ = 'users'

        id: int = Field(primary_key=True)
        name: str = Field()
        email: str = Field()
        status: str = Field(default='active')

    User.create_table()
    User.insert_many([{'name': f'u{i}', 'email': f'u{i}@example.com',
                       'status': 'active' if i % 2 else 'inactive'} for i in range(6)])
    return User


# -- Query Result Caching ---------------------------------------------------------------------
def test_query_result_caching_example_and_builtin(guide_user, counter):
    User = guide_user

    class UserRepository:
        """Repository with caching for User queries."""

        @staticmethod
        @lru_cache(maxsize=128)
        def get_active_users_cached():
            """Get active users with caching."""
            return User.query().where(
                User.c.status == 'active'
            ).all()

        @staticmethod
        def clear_cache():
            """Clear the query cache."""
            UserRepository.get_active_users_cached.cache_clear()

    # Usage
    active_users = UserRepository.get_active_users_cached()
    assert len(active_users) == 3
    UserRepository.clear_cache()

    # Built in: one line, invalidated by writes, no shared instances.
    query = User.query().where(User.c.status == 'active').cache(ttl=60)
    assert len(query.all()) == 3
    counter.clear()
    assert len(query.all()) == 3
    assert counter.selects == []
    User(name='new', email='new@example.com').save()
    assert len(query.all()) == 4


# -- Model Instance Caching -------------------------------------------------------------------
def test_model_instance_caching_example_and_builtin(backend, counter):
    # The guide's example model (guide_examples.py).
    User = instance_cached_user_model()

    User.create_table()
    ann = User(name='ann', email='ann@example.com')
    ann.save()
    assert User.find_by_id_cached(ann.id) is ann
    ann.delete()
    assert User.find_by_id_cached(ann.id) is None

    # Built in: the identity map.
    bob = User(name='bob', email='bob@example.com')
    bob.save()
    with identity_map():
        first = User.find_by_id(bob.id)
        counter.clear()
        assert User.find_by_id(bob.id) is first
        assert counter.selects == []
        first.delete()
        assert User.find_by_id(bob.id) is None


# -- Cache Invalidation -------------------------------------------------------------------------
def test_cache_invalidation_product_example_and_builtin(backend, counter):
    cache.clear()

    class Product(ActiveRecord):
        __table_name__ = 'products'

        id: int = Field(primary_key=True)
        name: str = Field()
        price: float = Field()
        category_id: int = Field()

        @classmethod
        def get_by_category_cached(cls, category_id: int) -> List['Product']:
            """Get products by category with caching."""
            cache_key = f"products:category:{category_id}"

            cached = cache.get(cache_key)
            if cached is not None:
                return cached

            products = cls.query().where(
                cls.c.category_id == category_id
            ).all()

            cache.set(cache_key, products, timeout=300)  # 5 minutes
            return products

        @classmethod
        def invalidate_category_cache(cls, category_id: int):
            """Invalidate category cache when products change."""
            cache_key = f"products:category:{category_id}"
            cache.delete(cache_key)

        def save(self) -> int:
            """Save and invalidate relevant caches."""
            result = super().save()

            # Invalidate category cache
            self.invalidate_category_cache(self.category_id)
            return result

        def delete(self) -> int:
            """Delete and invalidate caches."""
            category_id = self.category_id
            result = super().delete()
            self.invalidate_category_cache(category_id)
            return result

    Product.create_table()
    Product(name='pen', price=1.5, category_id=1).save()
    assert [p.name for p in Product.get_by_category_cached(1)] == ['pen']
    counter.clear()
    cached = Product.get_by_category_cached(1)
    assert counter.selects == []
    cached[0].price = 99.0                    # a caller's change does not reach the cache
    assert Product.get_by_category_cached(1)[0].price == 1.5
    Product(name='ink', price=3.0, category_id=1).save()
    assert sorted(p.name for p in Product.get_by_category_cached(1)) == ['ink', 'pen']
    Product.get_by_category_cached(1)[0].delete()
    assert len(Product.get_by_category_cached(1)) == 1

    # Built in: no hand-written invalidation, and bulk writes are covered too.
    by_category = Product.query().where(Product.c.category_id == 1).cache(ttl=300)
    assert len(by_category.all()) == 1
    Product.query().where(Product.c.category_id == 1).update({'category_id': 2})
    assert by_category.all() == []


# -- Query Timing --------------------------------------------------------------------------------
def test_query_timing_example_and_builtin(guide_user, capsys):
    User = guide_user

    # Usage
    with query_timer():
        users = User.query().all()
    assert "Query took:" in capsys.readouterr().out
    assert len(users) == 6

    # Built in: every statement, its time, and the total.
    with activerecord.profile() as p:
        User.query().all()
    assert p.query_count == 1
    assert p.total_time == p.statements[0].duration
    assert "Profile: 1 statements (1 select)" in p.report()


# -- Query Logging ---------------------------------------------------------------------------------
def test_query_logging_example_and_builtin(tmp_path, caplog):
    db = LoggedSQLiteBackend(str(tmp_path / 'logged.db'))
    try:
        with caplog.at_level(logging.DEBUG, logger='queries'):
            db.execute('CREATE TABLE t (x INTEGER)')
            db.execute('INSERT INTO t VALUES (?)', (1,))
        logged = [r.getMessage() for r in caplog.records if r.name == 'queries']
        assert any('INSERT INTO t VALUES (?) | Params: (1,)' in m for m in logged)

        # Built in: the activerecord.sql logger has every statement with params and time.
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger='activerecord.sql'):
            db.execute('SELECT x FROM t WHERE x = ?', (1,))
        sql_logs = [r.getMessage() for r in caplog.records if r.name == 'activerecord.sql']
        assert any('SELECT x FROM t WHERE x = ?' in m and 'params=(1,)' in m for m in sql_logs)
    finally:
        logging.getLogger('queries').handlers.clear()
        db.close()


# -- Slow Query Detection ------------------------------------------------------------------------
def test_slow_query_detection_example_and_builtin(guide_user):
    User = guide_user
    SLOW_QUERY_THRESHOLD_MS = 100

    class SlowQueryDetector:
        """Detect and report slow queries."""

        def __init__(self):
            self.slow_queries = []

        def record_query(self, sql: str, duration: float):
            """Record query if it's slow."""
            if duration * 1000 > SLOW_QUERY_THRESHOLD_MS:
                self.slow_queries.append({
                    'sql': sql,
                    'duration': duration,
                    'timestamp': datetime.utcnow(),
                })

        def report(self):
            """Generate slow query report."""
            if not self.slow_queries:
                return "No slow queries detected."

            sorted_queries = sorted(
                self.slow_queries,
                key=lambda q: q['duration'],
                reverse=True
            )

            report = f"Slow Query Report ({len(self.slow_queries)} queries):\n"
            for i, q in enumerate(sorted_queries[:10], 1):
                report += f"{i}. {q['duration']*1000:.2f}ms: {q['sql']}\n"

            return report

    detector = SlowQueryDetector()
    builtin = activerecord.slow_queries(threshold_ms=SLOW_QUERY_THRESHOLD_MS, log=False)
    for sql, duration in (("SELECT a", 0.25), ("SELECT b", 0.01), ("SELECT c", 0.5)):
        detector.record_query(sql, duration)
        builtin.record_query(sql, duration)
    assert builtin.report() == detector.report()
    assert SlowQueryDetector().report() == activerecord.slow_queries().report()

    # Built in, live: every statement of the block at or over the threshold.
    with activerecord.slow_queries(threshold_ms=0, log=False) as slow:
        User.query().where(User.c.status == 'active').all()
    assert len(slow.queries) == 1
    assert slow.report().startswith("Slow Query Report (1 queries):\n1. ")
