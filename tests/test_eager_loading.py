"""Eager loading: one statement per relation level, in every includes() form.

Statement counts come from the ``counter`` fixture, which sees every statement the
backend runs.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import ClassVar, Optional

import pytest

from activerecord import (
    ActiveRecord, BelongsTo, ConfigurationError, Field, HasMany, HasManyThrough, HasOne,
    MissingAttributeError,
)
from activerecord import relations
from chinook_models import Artist, Employee, Playlist, Track


class Author(ActiveRecord):
    __table_name__ = "el_authors"
    id: int = Field(primary_key=True)
    name: str
    posts: ClassVar[HasMany["Post"]] = HasMany(foreign_key="author_id")
    profile: ClassVar[HasOne["Profile"]] = HasOne(foreign_key="author_id")


class Profile(ActiveRecord):
    __table_name__ = "el_profiles"
    id: int = Field(primary_key=True)
    author_id: int
    bio: str


class Post(ActiveRecord):
    __table_name__ = "el_posts"
    id: int = Field(primary_key=True)
    author_id: Optional[int] = Field(default=None, index=True)
    title: str
    author: ClassVar[BelongsTo[Author]] = BelongsTo(foreign_key="author_id")
    comments: ClassVar[HasMany["Comment"]] = HasMany(foreign_key="post_id")
    tags: ClassVar[HasManyThrough["Tag"]] = HasManyThrough(
        through="Tagging", source_foreign_key="post_id", target_foreign_key="tag_id")


class Comment(ActiveRecord):
    __table_name__ = "el_comments"
    id: int = Field(primary_key=True)
    post_id: int = Field(index=True)
    author_id: int
    body: str
    approved: bool = True
    author: ClassVar[BelongsTo[Author]] = BelongsTo(foreign_key="author_id")
    post: ClassVar[BelongsTo[Post]] = BelongsTo(foreign_key="post_id")


class Tag(ActiveRecord):
    __table_name__ = "el_tags"
    id: int = Field(primary_key=True)
    name: str


class Tagging(ActiveRecord):
    __table_name__ = "el_taggings"
    id: int = Field(primary_key=True)
    post_id: int
    tag_id: int


N_AUTHORS = 12


@pytest.fixture
def blog(backend):
    for model in (Author, Profile, Post, Comment, Tag, Tagging):
        model.create_table()
    Author.insert_many([{"name": f"a{i}"} for i in range(N_AUTHORS)])
    Profile.insert_many([{"author_id": i, "bio": f"bio{i}"} for i in range(1, N_AUTHORS + 1, 2)])
    posts = []
    for a in range(1, N_AUTHORS + 1):
        for p in range(a % 4):                       # 0..3 posts per author
            posts.append({"author_id": a, "title": f"p{a}.{p}"})
    posts.append({"author_id": None, "title": "anonymous"})
    Post.insert_many(posts)
    comments = []
    for post in Post.query().order_by("id").all():
        for c in range(post.id % 3):
            comments.append({"post_id": post.id, "author_id": (post.id + c) % N_AUTHORS + 1,
                             "body": f"c{post.id}.{c}", "approved": c % 2 == 0})
    Comment.insert_many(comments)
    Tag.insert_many([{"name": n} for n in ("red", "green", "blue")])
    Tagging.insert_many([{"post_id": p.id, "tag_id": t}
                         for p in Post.query().all() for t in (1, 2, 3) if (p.id + t) % 2])
    return backend


def expected_posts(author_id):
    return [p.id for p in Post.query().where({"author_id": author_id}).order_by("id").all()]


# -- one query per relation level, every form ------------------------------------------------
def test_one_name(blog, counter):
    authors = Author.query().includes("posts").all()
    assert len(counter.selects) == 2
    assert len(authors) == N_AUTHORS
    for a in authors:
        assert [p.id for p in a.posts] == expected_posts(a.id)
    assert len(counter.selects) == 2 + N_AUTHORS    # only the expected_posts() queries


def test_with_is_an_alias(blog, counter):
    authors = Author.query().with_("posts").all()
    assert sum(len(a.posts) for a in authors) == Post.query().where(Post.c.author_id.is_not_null()).count()
    assert len(counter.selects) == 3


def test_several_names(blog, counter):
    posts = Post.query().includes("author", "comments", "tags").all()
    assert len(counter.selects) == 4
    for post in posts:
        assert (post.author.id if post.author else None) == post.author_id
        assert all(c.post_id == post.id for c in post.comments)
        assert len(post.comments) == post.id % 3
        assert sorted(t.id for t in post.tags) == [t for t in (1, 2, 3) if (post.id + t) % 2]
    assert len(counter.selects) == 4


def test_dotted_nesting(blog, counter):
    posts = Post.query().includes("comments.author").all()
    assert len(counter.selects) == 3
    for post in posts:
        for c in post.comments:
            assert c.author.id == c.author_id
    assert len(counter.selects) == 3


def test_nested_dicts_and_values(blog, counter):
    authors = Author.query().includes({"posts": {"comments": {"author": True}, "tags": True}}).all()
    assert len(counter.selects) == 5
    seen = sum(len(c.author.name) > 0 for a in authors for p in a.posts for c in p.comments)
    seen += sum(len(p.tags) for a in authors for p in a.posts)
    assert seen > 0
    assert len(counter.selects) == 5
    counter.clear()
    Author.query().includes({"posts": "comments"}, {"profile": True}).all()
    assert len(counter.selects) == 4
    counter.clear()
    Author.query().includes({"posts": ["comments", "tags"]}, {"profile": False}).all()
    assert len(counter.selects) == 4


def test_filtered_lambda(blog, counter):
    posts = Post.query().includes({"comments": lambda q: q.where(Comment.c.approved == True)}).all()  # noqa: E712
    assert len(counter.selects) == 2
    for post in posts:
        wanted = [c.id for c in Comment.query().where({"post_id": post.id, "approved": True}).all()]
        assert [c.id for c in post.comments] == wanted


def test_filtered_lambda_may_order_select_and_include(blog, counter):
    authors = Author.query().includes({
        "posts": lambda q: q.select("id", "title").order_by(Post.c.id.desc()).includes("comments")
    }).all()
    assert len(counter.selects) == 3
    for a in authors:
        assert [p.id for p in a.posts] == sorted(expected_posts(a.id), reverse=True)
        for p in a.posts:
            assert p.author_id == a.id                  # the key is selected even if not asked
            assert len(p.comments) == p.id % 3


def test_filtered_through(blog, counter):
    posts = Post.query().includes({"tags": lambda q: q.where(Tag.c.name != "green")}).all()
    assert len(counter.selects) == 2
    for post in posts:
        assert sorted(t.id for t in post.tags) == [t for t in (1, 3) if (post.id + t) % 2]


def test_combination_of_forms(blog, counter):
    posts = Post.query().includes(
        "author",
        {"comments": lambda q: q.where(Comment.c.approved == True)},  # noqa: E712
        "comments.author",
        {"tags": True},
        "author.profile",
    ).all()
    assert len(counter.selects) == 6
    for post in posts:
        assert all(c.approved for c in post.comments)
        for c in post.comments:
            assert c.author.id == c.author_id
        if post.author is not None:
            assert (post.author.profile is not None) == (post.author_id % 2 == 1)
    assert len(counter.selects) == 6


def test_has_one_and_belongs_to_with_missing_rows(blog, counter):
    authors = Author.query().includes("profile").order_by("id").all()
    assert [a.profile.bio if a.profile else None for a in authors] == \
        [f"bio{i}" if i % 2 else None for i in range(1, N_AUTHORS + 1)]
    assert len(counter.selects) == 2
    counter.clear()
    anonymous = Post.query().where({"title": "anonymous"}).includes("author").all()
    assert anonymous[0].author is None
    assert len(counter.selects) == 1                    # no key at all: no second query


def test_empty_results_and_childless_parents(blog, counter):
    assert Author.query().where({"name": "nobody"}).includes("posts").all() == []
    assert len(counter.selects) == 1
    counter.clear()
    childless = Author.query().where(Author.c.id.is_in([4, 8, 12])).includes("posts").all()
    assert [a.posts for a in childless] == [[], [], []]
    assert len(counter.selects) == 2


def test_query_count_does_not_grow_with_parents(blog, counter):
    for limit in (1, 5, N_AUTHORS):
        counter.clear()
        authors = Author.query().order_by("id").limit(limit).includes("posts.comments").all()
        assert len(authors) == limit
        assert len(counter.selects) <= 3
        for a in authors:
            a.posts
        assert len(counter.selects) <= 3


def test_bad_includes_are_clear_errors(blog):
    with pytest.raises(ConfigurationError, match=r"Author has no relation 'post'.*posts"):
        Author.query().includes("post").all()
    with pytest.raises(ConfigurationError, match=r"Post has no relation 'writer'"):
        Author.query().includes("posts.writer").all()
    with pytest.raises(TypeError, match="includes"):
        Author.query().includes(42).all()
    with pytest.raises(TypeError, match=r"Author\.posts.*must return a query"):
        Author.query().includes({"posts": lambda q: None}).all()
    with pytest.raises(MissingAttributeError, match=r"Author\.posts.*'id'"):
        Author.query().select("name").includes("posts").all()


# -- N+1 eliminated without includes() ------------------------------------------------------
def test_lazy_reads_load_for_the_whole_result(blog, counter):
    authors = Author.query().all()
    for a in authors:
        assert [p.id for p in a.posts] == [p.id for p in a.posts]
    assert len(counter.selects) == 2
    counter.clear()
    for a in authors:
        for p in a.posts:                               # nested lazy reads are batched too
            for c in p.comments:
                c.author
    assert len(counter.selects) == 2                    # comments, then their authors


def test_lazy_belongs_to_and_through_are_batched(blog, counter):
    posts = Post.query().all()
    names = [p.author.name if p.author else None for p in posts]
    tags = [len(p.tags) for p in posts]
    assert len(counter.selects) == 3
    assert names.count(None) == 1 and sum(tags) > 0


def test_single_record_results_load_alone(blog, counter):
    author = Author.query().where({"id": 3}).first()
    assert [p.id for p in author.posts] == expected_posts(3)
    one = Author.find_by_id(2)
    counter.clear()
    one.posts
    assert len(counter.selects) == 1


def test_preload_siblings_opt_out_per_query_and_globally(blog, counter):
    authors = Author.query().preload_siblings(False).all()
    counter.clear()
    for a in authors:
        a.posts
    assert len(counter.selects) == N_AUTHORS           # the plain N+1, as asked
    authors = Author.query().all()
    counter.clear()
    with relations.preload_siblings(False):
        for a in authors:
            a.posts
    assert len(counter.selects) == N_AUTHORS
    authors = Author.query().all()
    counter.clear()
    for a in authors:
        a.posts
    assert len(counter.selects) == 1                    # the default is back


def test_lazy_read_skips_siblings_already_loaded(blog, counter):
    authors = Author.query().order_by("id").all()
    relations.load(authors[:3], "posts")
    counter.clear()
    authors[5].posts
    assert len(counter.selects) == 1
    sql, params = counter.statements[0]
    assert len(params) == N_AUTHORS - 3


# -- large parent sets --------------------------------------------------------------------
def test_large_parent_sets_are_chunked_under_the_variable_limit(blog, counter, monkeypatch):
    dialect = Author.backend().dialect
    monkeypatch.setattr(dialect, "max_variables", 105)  # 5 keys per query
    authors = Author.query().order_by("id").all()
    counter.clear()
    authors[0].posts
    assert len(counter.selects) == math.ceil(N_AUTHORS / 5)
    for a in authors:
        assert [p.id for p in a.posts] == expected_posts(a.id)
    counter.clear()
    posts = Post.query().includes("tags", "comments").all()
    n_posts = len(posts)
    assert len(counter.selects) == 1 + 2 * math.ceil(n_posts / 5)
    for post in posts:
        assert len(post.comments) == post.id % 3
        assert sorted(t.id for t in post.tags) == [t for t in (1, 2, 3) if (post.id + t) % 2]


def test_many_parents_in_one_query(backend, counter):
    Author.create_table()
    Post.create_table()
    n = 2500                                             # more keys than one inline IN list
    Author.insert_many([{"name": f"a{i}"} for i in range(n)])
    Post.insert_many([{"author_id": i, "title": "t"} for i in range(1, n + 1, 2)])
    counter.clear()
    authors = Author.query().includes("posts").all()
    assert len(counter.selects) == 2
    assert sum(len(a.posts) for a in authors) == n // 2
    assert all(len(a.posts) == a.id % 2 for a in authors)


# -- Chinook (models in chinook_models.py) ------------------------------------------------
def test_chinook_artists_albums_tracks(chinook, chinook_sql, counter):
    artists = Artist.query().includes("albums.tracks").all()
    assert len(counter.selects) == 3
    per_artist = dict(chinook_sql.execute(
        "SELECT a.ArtistId, COUNT(t.TrackId) FROM Artist a LEFT JOIN Album al ON al.ArtistId = a.ArtistId "
        "LEFT JOIN Track t ON t.AlbumId = al.AlbumId GROUP BY a.ArtistId").fetchall())
    assert {a.id: sum(len(al.tracks) for al in a.albums) for a in artists} == per_artist
    album_titles = {a.id: sorted(al.title for al in a.albums) for a in artists}
    for artist_id, titles in album_titles.items():
        assert titles == sorted(r[0] for r in chinook_sql.execute(
            "SELECT Title FROM Album WHERE ArtistId = ?", (artist_id,)))
    assert len(counter.selects) == 3


def test_chinook_track_belongs_to(chinook, chinook_sql, counter):
    tracks = Track.query().includes("album", "genre", "media_type").all()
    assert len(counter.selects) == 4
    expected = {r[0]: r[1:] for r in chinook_sql.execute(
        "SELECT t.TrackId, al.Title, g.Name, m.Name FROM Track t LEFT JOIN Album al USING (AlbumId) "
        "LEFT JOIN Genre g USING (GenreId) JOIN MediaType m USING (MediaTypeId)")}
    got = {t.id: (t.album.title if t.album else None, t.genre.name if t.genre else None,
                  t.media_type.name) for t in tracks}
    assert got == expected
    assert len(counter.selects) == 4
    rock = [t for t in tracks if t.genre and t.genre.name == "Rock"]
    assert len({id(t.genre) for t in rock}) == 1       # one Genre instance per row, shared


def test_chinook_lazy_loop_is_two_statements(chinook, chinook_sql, counter):
    tracks = Track.query().where(Track.c.unit_price > Decimal("0.99")).all()
    names = [t.album.artist.name for t in tracks if t.album]
    assert len(counter.selects) == 3                    # tracks, albums, artists
    assert len(names) == chinook_sql.execute(
        "SELECT COUNT(*) FROM Track WHERE UnitPrice > 0.99 AND AlbumId IS NOT NULL").fetchone()[0]


def test_chinook_employee_self_reference(chinook, chinook_sql, counter):
    staff = Employee.query().includes("manager", "reports").order_by("id").all()
    assert len(counter.selects) == 3
    rows = chinook_sql.execute("SELECT EmployeeId, ReportsTo FROM Employee").fetchall()
    for e in staff:
        assert (e.manager.id if e.manager else None) == dict(rows)[e.id]
        assert sorted(r.id for r in e.reports) == sorted(i for i, boss in rows if boss == e.id)
    top = [e for e in staff if e.manager is None]
    assert len(top) == 1 and len(top[0].reports) > 0


def test_chinook_playlist_has_many_through(chinook, chinook_sql, counter):
    playlists = Playlist.query().includes({"tracks": {"genre": True}}).all()
    assert len(counter.selects) == 3
    expected = dict(chinook_sql.execute(
        "SELECT p.PlaylistId, COUNT(pt.TrackId) FROM Playlist p "
        "LEFT JOIN PlaylistTrack pt USING (PlaylistId) GROUP BY p.PlaylistId").fetchall())
    assert {p.id: len(p.tracks) for p in playlists} == expected
    genres = {t.genre.name for p in playlists for t in p.tracks if t.genre}
    assert "Rock" in genres
    assert len(counter.selects) == 3
    music = Playlist.query().where({"name": "Music"}).order_by("id").all()
    assert len(music) == 2
    counter.clear()
    music[0].tracks                                     # lazy through, batched over the result
    assert len(counter.selects) == 1
    assert all(len(p.tracks) == expected[p.id] for p in music)


def test_chinook_chunked_belongs_to(chinook, chinook_sql, counter, monkeypatch):
    monkeypatch.setattr(Track.backend().dialect, "max_variables", 200)   # 100 keys a query
    tracks = Track.query().includes("album").all()
    n_albums = chinook_sql.execute("SELECT COUNT(DISTINCT AlbumId) FROM Track").fetchone()[0]
    assert len(counter.selects) == 1 + math.ceil(n_albums / 100)
    assert all(t.album.id == t.album_id for t in tracks if t.album_id is not None)


# -- the compiled grouping twin -------------------------------------------------------------
def test_grouping_uses_the_compiled_twin_when_enabled():
    from activerecord import grouping, speedups, speedups_enabled
    if speedups_enabled():
        assert relations._grouping() is speedups.module("grouping")
        assert relations._grouping() is not grouping
    else:
        assert relations._grouping() is grouping


def test_grouping_twins_agree():
    from activerecord import grouping, speedups
    twin = speedups.loaded_module("grouping")
    if twin is None:
        pytest.skip("the compiled extension is not built in this environment")

    class Rec:
        def __init__(self, **values):
            self.__dict__.update(values)

    records = [Rec(id=i, key=(i * 7) % 5 or None) for i in range(40)]
    for mod in (grouping, twin):
        assert mod.distinct_keys(records, "key") == grouping.distinct_keys(records, "key")
        assert mod.chunked(list(range(11)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
        groups = mod.group_by_key(records, "key")
        assert {k: [r.id for r in v] for k, v in groups.items()} == \
            {k: [r.id for r in records if r.__dict__["key"] == k] for k in grouping.distinct_keys(records, "key")}
        index = mod.index_by_key(records, "key")
        assert {k: r.id for k, r in index.items()} == {k: v[0].id for k, v in groups.items()}
        pairs, uniques = mod.group_pairs([1, 1, 2], [records[3], records[4], records[3]], "id")
        assert {k: [r.id for r in v] for k, v in pairs.items()} == {1: [3, 4], 2: [3]}
        assert [r.id for r in uniques] == [3, 4]
        assert mod.unique_records([records[0], records[0], records[1]]) == [records[0], records[1]]
