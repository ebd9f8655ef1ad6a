"""The guide's "Async Optimization" examples, as written (only the model base changed).

The guide's functions below are copied from seed/user-performance-tuning.md; the
models they use are async models, run on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import ClassVar, Dict, List

import pytest

from activerecord import AsyncActiveRecord, Field, HasMany


class User(AsyncActiveRecord):
    __table_name__ = 'users'

    id: int = Field(primary_key=True)
    name: str = Field(max_length=100)
    email: str = Field(max_length=255, unique=True)
    status: str = Field(default='active', index=True)
    created_at: datetime = Field(default_factory=datetime.utcnow)
    orders: ClassVar[HasMany['Order']] = HasMany(foreign_key='user_id')


class Order(AsyncActiveRecord):
    __table_name__ = 'orders'

    id: int = Field(primary_key=True)
    user_id: int = Field(index=True)
    total: float = 0.0


class UserPreference(AsyncActiveRecord):
    __table_name__ = 'user_preferences'

    id: int = Field(primary_key=True)
    user_id: int = Field(index=True)
    theme: str = 'light'


# ---- from the guide: Concurrent Query Execution ---------------------------------------
async def load_user_data(user_id: int):
    """Load user data with concurrent queries."""
    # These queries can run in parallel
    user, orders, preferences = await asyncio.gather(
        User.find_by_id(user_id),
        Order.query().where(Order.c.user_id == user_id).all(),
        UserPreference.query().where(
            UserPreference.c.user_id == user_id
        ).first(),
    )

    return {
        'user': user,
        'orders': orders,
        'preferences': preferences,
    }


# ---- from the guide: Batch Async Operations --------------------------------------------
async def bulk_create_users(users_data: List[Dict]) -> List[User]:
    """Create multiple users concurrently."""
    async def create_one(data):
        user = User(**data)
        await user.save()
        return user

    # Create all users concurrently
    users = await asyncio.gather(
        *[create_one(data) for data in users_data]
    )
    return users


@pytest.fixture
def guide_db(async_backend):
    """The guide's tables on each async backend (SQLite, then PostgreSQL)."""
    async def setup():
        for model in (User, Order, UserPreference):
            await model.create_table()

    asyncio.run(setup())
    return async_backend


def test_bulk_create_users_then_load_user_data(guide_db, counter):
    async def main():
        users = await bulk_create_users(
            [{'name': f'user{i}', 'email': f'user{i}@example.com'} for i in range(50)])
        target = users[7]
        await Order.insert_many([{'user_id': target.id, 'total': t} for t in (5.0, 7.5)]
                                + [{'user_id': users[8].id, 'total': 1.0}])
        await UserPreference(user_id=target.id, theme='dark').save()
        counter.clear()
        data = await load_user_data(target.id)
        missing = await load_user_data(10_000)
        return users, target, data, missing

    users, target, data, missing = asyncio.run(main())
    assert len(users) == 50 and all(isinstance(u, User) for u in users)
    assert len({u.id for u in users}) == 50 and not any(u.is_new_record for u in users)
    assert data['user'] == target and data['user'].email == 'user7@example.com'
    assert sorted(o.total for o in data['orders']) == [5.0, 7.5]
    assert data['preferences'].theme == 'dark'
    assert len(counter.selects) == 6            # three per call, one per gathered query
    assert missing == {'user': None, 'orders': [], 'preferences': None}


def test_bulk_create_users_reports_a_bad_row(guide_db):
    async def main():
        await bulk_create_users([{'name': 'a', 'email': 'dup@example.com'}])
        await bulk_create_users([{'name': 'b', 'email': 'dup@example.com'}])

    from activerecord import IntegrityError
    with pytest.raises(IntegrityError, match="users.email"):
        asyncio.run(main())


def test_eager_loading_with_async_models(guide_db, counter):
    async def main():
        users = await bulk_create_users(
            [{'name': f'u{i}', 'email': f'u{i}@example.com'} for i in range(5)])
        await Order.insert_many([{'user_id': u.id, 'total': float(i)}
                                 for i, u in enumerate(users) for _ in range(2)])
        counter.clear()
        return await User.query().includes('orders').order_by('id').all()

    users = asyncio.run(main())
    assert [len(u.orders) for u in users] == [2] * 5
    assert len(counter.selects) == 2
