"""The Chinook sample database mapped as it is, shared by the tests that read it.

PascalCase tables and columns, NUMERIC money, DATETIME text, a composite key and a
self-reference. Every model derives from ``ChinookModel``, so the ``chinook`` fixture
(conftest) points all of them at a private copy of the database in one call.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar, Optional

from activerecord import ActiveRecord, BelongsTo, Field, HasMany, HasManyThrough


class ChinookModel(ActiveRecord):
    __abstract__ = True


class Artist(ChinookModel):
    __table_name__ = "Artist"
    id: int = Field(primary_key=True, column="ArtistId")
    name: Optional[str] = Field(default=None, column="Name")
    albums: ClassVar[HasMany["Album"]] = HasMany(foreign_key="artist_id")


class Album(ChinookModel):
    __table_name__ = "Album"
    id: int = Field(primary_key=True, column="AlbumId")
    title: str = Field(column="Title", max_length=160)
    artist_id: int = Field(column="ArtistId", index=True)
    artist: ClassVar[BelongsTo[Artist]] = BelongsTo(foreign_key="artist_id")
    tracks: ClassVar[HasMany["Track"]] = HasMany(foreign_key="album_id")


class Genre(ChinookModel):
    __table_name__ = "Genre"
    id: int = Field(primary_key=True, column="GenreId")
    name: Optional[str] = Field(default=None, column="Name")


class MediaType(ChinookModel):
    __table_name__ = "MediaType"
    id: int = Field(primary_key=True, column="MediaTypeId")
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
    album: ClassVar[BelongsTo[Album]] = BelongsTo(foreign_key="album_id")
    genre: ClassVar[BelongsTo[Genre]] = BelongsTo(foreign_key="genre_id")
    media_type: ClassVar[BelongsTo[MediaType]] = BelongsTo(foreign_key="media_type_id")


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
    manager: ClassVar[BelongsTo["Employee"]] = BelongsTo(foreign_key="reports_to")
    reports: ClassVar[HasMany["Employee"]] = HasMany(foreign_key="reports_to")


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


class Playlist(ChinookModel):
    __table_name__ = "Playlist"
    id: int = Field(primary_key=True, column="PlaylistId")
    name: Optional[str] = Field(default=None, column="Name")
    tracks: ClassVar[HasManyThrough[Track]] = HasManyThrough(
        through="PlaylistTrack", source_foreign_key="playlist_id", target_foreign_key="track_id")


class PlaylistTrack(ChinookModel):
    __table_name__ = "PlaylistTrack"
    playlist_id: int = Field(primary_key=True, column="PlaylistId")
    track_id: int = Field(primary_key=True, column="TrackId")
