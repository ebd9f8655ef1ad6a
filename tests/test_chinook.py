"""Mapping a real schema as it is: the Chinook database (PascalCase columns, NUMERIC money,
DATETIME text, a composite key, a self-reference)."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Optional

import pytest

from activerecord import ActiveRecord, Count, Field, SQLiteBackend, Sum


class ChinookModel(ActiveRecord):
    __abstract__ = True


class Artist(ChinookModel):
    __table_name__ = "Artist"
    id: int = Field(primary_key=True, column="ArtistId")
    name: Optional[str] = Field(default=None, column="Name")


class Album(ChinookModel):
    __table_name__ = "Album"
    id: int = Field(primary_key=True, column="AlbumId")
    title: str = Field(column="Title", max_length=160)
    artist_id: int = Field(column="ArtistId", index=True)


class Genre(ChinookModel):
    __table_name__ = "Genre"
    id: int = Field(primary_key=True, column="GenreId")
    name: Optional[str] = Field(default=None, column="Name")


class Track(ChinookModel):
    __table_name__ = "Track"
    id: int = Field(primary_key=True, column="TrackId")
    name: str = Field(column="Name")
    album_id: Optional[int] = Field(default=None, column="AlbumId")
    media_type_id: int = Field(column="MediaTypeId")
    genre_id: Optional[int] = Field(default=None, column="GenreId")
    composer: Optional[str] = Field(default=None, column="Composer")
    milliseconds: int = Field(column="Milliseconds")
    size: Optional[int] = Field(default=None, column="Bytes")
    unit_price: Decimal = Field(column="UnitPrice", max_digits=10, decimal_places=2)


class Employee(ChinookModel):
    __table_name__ = "Employee"
    id: int = Field(primary_key=True, column="EmployeeId")
    last_name: str = Field(column="LastName")
    first_name: str = Field(column="FirstName")
    title: Optional[str] = Field(default=None, column="Title")
    reports_to: Optional[int] = Field(default=None, column="ReportsTo")
    birth_date: Optional[dt.datetime] = Field(default=None, column="BirthDate")
    hire_date: Optional[dt.datetime] = Field(default=None, column="HireDate")
    email: Optional[str] = Field(default=None, column="Email")


class Invoice(ChinookModel):
    __table_name__ = "Invoice"
    id: int = Field(primary_key=True, column="InvoiceId")
    customer_id: int = Field(column="CustomerId")
    invoice_date: dt.datetime = Field(column="InvoiceDate")
    billing_city: Optional[str] = Field(default=None, column="BillingCity")
    billing_country: Optional[str] = Field(default=None, column="BillingCountry")
    total: Decimal = Field(column="Total", max_digits=10, decimal_places=2)


class InvoiceLine(ChinookModel):
    __table_name__ = "InvoiceLine"
    id: int = Field(primary_key=True, column="InvoiceLineId")
    invoice_id: int = Field(column="InvoiceId")
    track_id: int = Field(column="TrackId")
    unit_price: Decimal = Field(column="UnitPrice", max_digits=10, decimal_places=2)
    quantity: int = Field(column="Quantity")


class PlaylistTrack(ChinookModel):
    __table_name__ = "PlaylistTrack"
    playlist_id: int = Field(primary_key=True, column="PlaylistId")
    track_id: int = Field(primary_key=True, column="TrackId")


@pytest.fixture
def chinook(chinook_path):
    db = SQLiteBackend(str(chinook_path))
    ChinookModel.configure(db)
    yield db
    db.close()
    type.__setattr__(ChinookModel, "__ar_backend__", None)


def raw(path, sql, params=()):
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_counts_match_the_database(chinook, chinook_path):
    for model, table in [(Artist, "Artist"), (Album, "Album"), (Track, "Track"), (Invoice, "Invoice"),
                         (InvoiceLine, "InvoiceLine"), (PlaylistTrack, "PlaylistTrack"), (Employee, "Employee")]:
        assert model.query().count() == raw(chinook_path, f"SELECT count(*) FROM {table}")[0][0], table
    assert Track.query().count() == 3503


def test_pascal_case_columns_map_to_attributes(chinook, counter):
    counter.clear()
    track = Track.find_by_id(1)
    assert track.name == "For Those About To Rock (We Salute You)"
    assert (track.album_id, track.media_type_id, track.genre_id) == (1, 1, 1)
    assert '"Track"."TrackId"' in counter.selects[0] and '"Track"."UnitPrice"' in counter.selects[0]


def test_money_is_decimal(chinook, chinook_path):
    invoice = Invoice.find_by_id(1)
    assert invoice.total == Decimal("1.98") and type(invoice.total) is Decimal
    assert str(invoice.total) == "1.98"
    assert Track.find_by_id(1).unit_price == Decimal("0.99")
    total = Invoice.query().select(Sum(Invoice.c.total)).scalar()
    assert type(total) is Decimal
    expected = raw(chinook_path, "SELECT round(sum(Total), 2) FROM Invoice")[0][0]
    assert total == Decimal(str(expected))


def test_datetime_text_is_datetime(chinook):
    invoice = Invoice.find_by_id(1)
    assert invoice.invoice_date == dt.datetime(2021, 1, 1) and type(invoice.invoice_date) is dt.datetime
    boss = Employee.find_by_id(1)
    assert boss.birth_date == dt.datetime(1962, 2, 18) and boss.reports_to is None
    later = Invoice.query().where(Invoice.c.invoice_date >= dt.datetime(2025, 1, 1)).count()
    assert 0 < later < 412


def test_composite_key_playlist_track(chinook):
    pt = PlaylistTrack.find_by_id((1, 3402))
    assert pt is not None and (pt.playlist_id, pt.track_id) == (1, 3402)
    assert PlaylistTrack.find_by_id((1, 999999)) is None
    assert pt.delete() == 1
    assert PlaylistTrack.find_by_id((1, 3402)) is None
    assert PlaylistTrack(playlist_id=1, track_id=3402).save() == 1
    assert PlaylistTrack.query().where({"playlist_id": 1}).count() > 1


def test_self_reference_by_query(chinook, chinook_path):
    boss = Employee.find_by_id(1)
    reports = Employee.query().where(Employee.c.reports_to == boss.id).order_by("id").all()
    expected = raw(chinook_path, "SELECT FirstName FROM Employee WHERE ReportsTo = 1 ORDER BY EmployeeId")
    assert [e.first_name for e in reports] == [r[0] for r in expected] == ["Nancy", "Michael"]


def test_writes_use_column_names(chinook, chinook_path, counter):
    artist = Artist(name="New Artist")
    counter.clear()
    artist.save()
    assert counter.statements[0][0].startswith('INSERT INTO "Artist" ("Name")')
    assert artist.id == 276
    artist.name = "Renamed"
    artist.save()
    assert raw(chinook_path, 'SELECT "Name" FROM Artist WHERE ArtistId = 276') == [("Renamed",)]
    track = Track.find_by_id(1)
    track.unit_price = Decimal("1.29")
    counter.clear()
    track.save()
    assert 'SET "UnitPrice" = ?' in counter.statements[0][0]
    assert Track.find_by_id(1).unit_price == Decimal("1.29")
    assert Track.query().where(Track.c.unit_price == Decimal("1.29")).count() >= 1


def test_join_and_group_on_real_schema(chinook):
    top = (Album.query().join(Artist, Album.c.artist_id == Artist.c.id)
           .select(Artist.c.name, Count(Album.c.id).as_("albums"))
           .group_by(Artist.c.name).order_by(Count(Album.c.id).desc()).limit(1).all())
    assert (top[0].Artist.name, top[0].albums) == ("Iron Maiden", 21)
    lines = (InvoiceLine.query().join(Track, InvoiceLine.c.track_id == Track.c.id)
             .where(InvoiceLine.c.invoice_id == 1).select(Track.c.name, InvoiceLine.c.unit_price)
             .order_by(InvoiceLine.c.id).all())
    assert [r.Track.name for r in lines] == ["Balls to the Wall", "Restless and Wild"]
    assert all(r.InvoiceLine.unit_price == Decimal("0.99") for r in lines)


def test_in_batches_over_real_table(chinook):
    seen = 0
    last = 0
    for batch in Track.query().where(Track.c.genre_id == 1).in_batches(500):
        assert batch[0].id > last
        last = batch[-1].id
        seen += len(batch)
    assert seen == Track.query().where({"genre_id": 1}).count()


def test_explain_on_real_indexes(chinook):
    assert Album.query().where(Album.c.artist_id == 1).explain().full_scans == []
    assert Track.query().where(Track.c.composer == "AC/DC").explain().full_scans == ["Track"]


class InvoiceDay(ChinookModel):
    """The same table read with a date field: DATETIME text narrows to a date."""
    __table_name__ = "Invoice"
    id: int = Field(primary_key=True, column="InvoiceId")
    invoice_date: dt.date = Field(column="InvoiceDate")
    total: float = Field(column="Total")


def test_datetime_text_read_as_date_and_money_as_float(chinook):
    invoice = InvoiceDay.find_by_id(2)
    assert invoice.invoice_date == dt.date(2021, 1, 2) and type(invoice.invoice_date) is dt.date
    assert invoice.total == 3.96 and type(invoice.total) is float
