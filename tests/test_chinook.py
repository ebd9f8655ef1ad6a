"""Mapping a real schema as it is: the Chinook database (PascalCase columns, NUMERIC money,
DATETIME text, a composite key, a self-reference).

The models live in chinook_models.py; the ``chinook`` fixture points them at a private
copy and ``chinook_sql`` reads the same copy with plain sqlite3 for the expected answers.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from activerecord import Count, Field, Sum
from chinook_models import (
    Album, Artist, ChinookModel, Employee, Invoice, InvoiceLine, PlaylistTrack, Track,
)


def test_counts_match_the_database(chinook, chinook_sql):
    for model, table in [(Artist, "Artist"), (Album, "Album"), (Track, "Track"), (Invoice, "Invoice"),
                         (InvoiceLine, "InvoiceLine"), (PlaylistTrack, "PlaylistTrack"), (Employee, "Employee")]:
        expected = chinook_sql.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        assert model.query().count() == expected, table
    assert Track.query().count() == 3503


def test_pascal_case_columns_map_to_attributes(chinook, counter):
    counter.clear()
    track = Track.find_by_id(1)
    assert track.name == "For Those About To Rock (We Salute You)"
    assert (track.album_id, track.media_type_id, track.genre_id) == (1, 1, 1)
    assert '"Track"."TrackId"' in counter.selects[0] and '"Track"."UnitPrice"' in counter.selects[0]


def test_money_is_decimal(chinook, chinook_sql):
    invoice = Invoice.find_by_id(1)
    assert invoice.total == Decimal("1.98") and type(invoice.total) is Decimal
    assert str(invoice.total) == "1.98"
    assert Track.find_by_id(1).unit_price == Decimal("0.99")
    total = Invoice.query().select(Sum(Invoice.c.total)).scalar()
    assert type(total) is Decimal
    expected = chinook_sql.execute("SELECT round(sum(Total), 2) FROM Invoice").fetchall()[0][0]
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


def test_self_reference_by_query(chinook, chinook_sql):
    boss = Employee.find_by_id(1)
    reports = Employee.query().where(Employee.c.reports_to == boss.id).order_by("id").all()
    expected = chinook_sql.execute(
        "SELECT FirstName FROM Employee WHERE ReportsTo = 1 ORDER BY EmployeeId").fetchall()
    assert [e.first_name for e in reports] == [r[0] for r in expected] == ["Nancy", "Michael"]


def test_writes_use_column_names(chinook, chinook_sql, counter):
    artist = Artist(name="New Artist")
    counter.clear()
    artist.save()
    assert counter.statements[0][0].startswith('INSERT INTO "Artist" ("Name")')
    assert artist.id == 276
    artist.name = "Renamed"
    artist.save()
    renamed = chinook_sql.execute('SELECT "Name" FROM Artist WHERE ArtistId = 276').fetchall()
    assert renamed == [("Renamed",)]
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
