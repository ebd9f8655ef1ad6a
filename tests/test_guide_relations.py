"""The guide's "Avoid N+1 Queries" and "Eager Loading" examples, run as written.

Only the imports differ from the guide. Each example's printed output is checked
against the data, and its statement count against what eager loading promises.
"""
from __future__ import annotations

from typing import ClassVar, Optional

import pytest

from activerecord import ActiveRecord, BelongsTo, Field, HasMany, HasManyThrough
from guide_examples import query_timer


class User(ActiveRecord):
    __table_name__ = "users"
    id: int = Field(primary_key=True)
    name: str
    email: str = Field(max_length=255)
    orders: ClassVar[HasMany["Order"]] = HasMany(foreign_key="user_id")


class Order(ActiveRecord):
    __table_name__ = "orders"
    id: int = Field(primary_key=True)
    user_id: int = Field(index=True)
    total: float
    created_at: str
    user: ClassVar[BelongsTo[User]] = BelongsTo(foreign_key="user_id")
    items: ClassVar[HasMany["OrderItem"]] = HasMany(foreign_key="order_id")


class OrderItem(ActiveRecord):
    __table_name__ = "order_items"
    id: int = Field(primary_key=True)
    order_id: int = Field(index=True)
    product_name: str
    quantity: int


class Author(ActiveRecord):
    __table_name__ = "authors"
    id: int = Field(primary_key=True)
    name: str
    books: ClassVar[HasMany["Book"]] = HasMany(foreign_key="author_id")


class Book(ActiveRecord):
    __table_name__ = "books"
    id: int = Field(primary_key=True)
    author_id: int
    title: str
    categories: ClassVar[HasManyThrough["Category"]] = HasManyThrough(
        through="BookCategory", source_foreign_key="book_id", target_foreign_key="category_id")


class Category(ActiveRecord):
    __table_name__ = "categories"
    id: int = Field(primary_key=True)
    name: str


class BookCategory(ActiveRecord):
    __table_name__ = "book_categories"
    id: int = Field(primary_key=True)
    book_id: int
    category_id: Optional[int] = None


N_USERS = 6


@pytest.fixture
def shop(backend):
    for model in (User, Order, OrderItem):
        model.create_table()
    User.insert_many([{"name": f"user{i}", "email": f"user{i}@example.com"} for i in range(N_USERS)])
    orders = []
    for uid in range(1, N_USERS + 1):
        for k in range(uid % 3):
            orders.append({"user_id": uid, "total": uid * 10.0 + k,
                           "created_at": "2023-06-01" if k == 0 else "2024-03-01"})
    Order.insert_many(orders)
    OrderItem.insert_many([{"order_id": o.id, "product_name": f"prod{o.id}.{j}", "quantity": j + 1}
                           for o in Order.query().all() for j in range(o.id % 2 + 1)])
    return backend


@pytest.fixture
def library(backend):
    for model in (Author, Book, Category, BookCategory):
        model.create_table()
    Author.insert_many([{"name": n} for n in ("Ann", "Bo", "Cy")])
    Book.insert_many([{"author_id": 1, "title": "A1"}, {"author_id": 1, "title": "A2"},
                      {"author_id": 2, "title": "B1"}])
    Category.insert_many([{"name": "fiction"}, {"name": "poetry"}])
    BookCategory.insert_many([{"book_id": 1, "category_id": 1}, {"book_id": 1, "category_id": 2},
                              {"book_id": 3, "category_id": 2}])
    return backend


def order_counts():
    return {u.id: Order.query().where(Order.c.user_id == u.id).count() for u in User.query().all()}


def expected_user_lines(recent_only=False):
    lines = []
    for u in User.query().order_by("id").all():
        q = Order.query().where(Order.c.user_id == u.id)
        if recent_only:
            q = q.where(Order.c.created_at > '2024-01-01')
        lines.append(f"User {u.name} has {q.count()} {'recent ' if recent_only else ''}orders")
    return lines


# -- Avoid N+1 Queries ----------------------------------------------------------------------
def test_the_n_plus_1_problem_as_written(shop, counter, capsys):
    # ❌ N+1 Problem - queries for orders for each user
    users = User.query().all()
    for user in users:
        orders = Order.query().where(Order.c.user_id == user.id).all()
        print(f"User {user.name} has {len(orders)} orders")
    assert len(counter.selects) == 1 + N_USERS
    assert capsys.readouterr().out.splitlines() == expected_user_lines()


def test_plain_lazy_loop_is_two_statements_not_n_plus_1(shop, counter, capsys):
    users = User.query().all()
    for user in users:
        orders = user.orders
        print(f"User {user.name} has {len(orders)} orders")
    assert len(counter.selects) == 2
    assert capsys.readouterr().out.splitlines() == expected_user_lines()


def test_solution_1_eager_loading_with_includes(shop, counter, capsys):
    # ✅ Solution 1: Use eager loading with includes
    users = User.query().includes('orders').all()
    for user in users:
        orders = user.orders  # Already loaded
        print(f"User {user.name} has {len(orders)} orders")
    assert len(counter.selects) == 2
    assert capsys.readouterr().out.splitlines() == expected_user_lines()


def test_solution_2_join(shop, counter, capsys):
    # ✅ Solution 2: Use JOIN to fetch all data at once
    results = User.query().join(
        Order, User.c.id == Order.c.user_id
    ).select(
        User.c.id, User.c.name, Order.c.id, Order.c.total
    ).all()

    for row in results:
        print(f"User {row.User.name} has order {row.Order.id}")
    assert len(counter.selects) == 1
    expected = sorted(f"User {o.user.name} has order {o.id}" for o in Order.query().all())
    assert sorted(capsys.readouterr().out.splitlines()) == expected


# -- Eager Loading --------------------------------------------------------------------------
def test_includes_with_select(shop, counter, capsys):
    # Load users with their orders (1-to-many)
    users = User.query().includes('orders').all()

    for user in users:
        # Orders are pre-loaded
        for order in user.orders:
            print(order.total)
    assert len(counter.selects) == 2
    expected = [str(o.total) for u in User.query().order_by("id").all()
                for o in Order.query().where(Order.c.user_id == u.id).order_by("id").all()]
    assert capsys.readouterr().out.splitlines() == expected


def test_includes_with_filters(shop, counter, capsys):
    # Load users with only their recent orders
    users = User.query().includes({
        'orders': lambda q: q.where(Order.c.created_at > '2024-01-01')
    }).all()

    for user in users:
        recent_orders = user.orders
        print(f"User {user.name} has {len(recent_orders)} recent orders")
    assert len(counter.selects) == 2
    assert capsys.readouterr().out.splitlines() == expected_user_lines(recent_only=True)


def test_multiple_includes(shop, counter, capsys):
    # Load orders with their items and the user who placed them
    orders = Order.query().includes('items', 'user').all()

    for order in orders:
        print(f"Order {order.id} by {order.user.name}")
        for item in order.items:
            print(f"  - {item.product_name}: {item.quantity}")
    assert len(counter.selects) == 3
    expected = []
    for o in Order.query().order_by("id").all():
        expected.append(f"Order {o.id} by {User.find_by_id(o.user_id).name}")
        expected += [f"  - {i.product_name}: {i.quantity}"
                     for i in OrderItem.query().where({"order_id": o.id}).order_by("id").all()]
    assert capsys.readouterr().out.splitlines() == expected


def test_nested_includes(library, counter, capsys):
    # Load authors with their books and book categories
    authors = Author.query().includes({
        'books': {
            'categories': True
        }
    }).all()

    for author in authors:
        for book in author.books:
            for category in book.categories:
                print(f"{author.name}: {book.title} [{category.name}]")
    assert len(counter.selects) == 3
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "Ann: A1 [fiction]", "Ann: A1 [poetry]", "Bo: B1 [poetry]"]


def test_query_timer_with_includes(shop, counter, capsys):
    # Usage
    with query_timer():
        users = User.query().includes('orders').all()
    assert capsys.readouterr().out.startswith("Query took: ")
    assert len(counter.selects) == 2
    assert {u.id: len(u.orders) for u in users} == order_counts()
