"""SQLAlchemy 2 ORM, written the way its documentation recommends.

Eager loading uses ``selectinload`` for collections and ``joinedload`` for
many-to-one; a fresh ``Session`` per round, so the identity map never answers a
lookup from memory; the "compiled query" is a statement built once with ``bindparam``
(SQLAlchemy then reuses its compiled form from the statement cache).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import (DateTime, ForeignKey, Numeric, String, bindparam, create_engine, delete, event,
                        func, insert, select, update)
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, joinedload, load_only, mapped_column,
                            relationship, selectinload)

from .dataset import DOOMED_STATUS, TOUCHED_AT
from .suite import LibrarySuite


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    age: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    orders: Mapped[list["Order"]] = relationship(back_populates="user")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    total: Mapped[float]
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list["Item"]] = relationship()


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    price: Mapped[float]


class ChinookBase(DeclarativeBase):
    pass


class Artist(ChinookBase):
    __tablename__ = "Artist"
    id: Mapped[int] = mapped_column("ArtistId", primary_key=True)
    name: Mapped[Optional[str]] = mapped_column("Name")
    albums: Mapped[list["Album"]] = relationship()


class Album(ChinookBase):
    __tablename__ = "Album"
    id: Mapped[int] = mapped_column("AlbumId", primary_key=True)
    title: Mapped[str] = mapped_column("Title")
    artist_id: Mapped[int] = mapped_column("ArtistId", ForeignKey("Artist.ArtistId"))
    tracks: Mapped[list["Track"]] = relationship(back_populates="album")


class Genre(ChinookBase):
    __tablename__ = "Genre"
    id: Mapped[int] = mapped_column("GenreId", primary_key=True)
    name: Mapped[Optional[str]] = mapped_column("Name")


class MediaType(ChinookBase):
    __tablename__ = "MediaType"
    id: Mapped[int] = mapped_column("MediaTypeId", primary_key=True)
    name: Mapped[Optional[str]] = mapped_column("Name")


class Track(ChinookBase):
    __tablename__ = "Track"
    id: Mapped[int] = mapped_column("TrackId", primary_key=True)
    name: Mapped[str] = mapped_column("Name")
    album_id: Mapped[Optional[int]] = mapped_column("AlbumId", ForeignKey("Album.AlbumId"))
    media_type_id: Mapped[int] = mapped_column("MediaTypeId", ForeignKey("MediaType.MediaTypeId"))
    genre_id: Mapped[Optional[int]] = mapped_column("GenreId", ForeignKey("Genre.GenreId"))
    composer: Mapped[Optional[str]] = mapped_column("Composer")
    milliseconds: Mapped[int] = mapped_column("Milliseconds")
    size_bytes: Mapped[Optional[int]] = mapped_column("Bytes")
    unit_price: Mapped[Decimal] = mapped_column("UnitPrice", Numeric(10, 2))
    album: Mapped[Optional[Album]] = relationship(back_populates="tracks")
    genre: Mapped[Optional[Genre]] = relationship()
    media_type: Mapped[MediaType] = relationship()


class Customer(ChinookBase):
    __tablename__ = "Customer"
    id: Mapped[int] = mapped_column("CustomerId", primary_key=True)
    first_name: Mapped[str] = mapped_column("FirstName")
    last_name: Mapped[str] = mapped_column("LastName")
    company: Mapped[Optional[str]] = mapped_column("Company")
    address: Mapped[Optional[str]] = mapped_column("Address")
    city: Mapped[Optional[str]] = mapped_column("City")
    state: Mapped[Optional[str]] = mapped_column("State")
    country: Mapped[Optional[str]] = mapped_column("Country")
    postal_code: Mapped[Optional[str]] = mapped_column("PostalCode")
    phone: Mapped[Optional[str]] = mapped_column("Phone")
    fax: Mapped[Optional[str]] = mapped_column("Fax")
    email: Mapped[str] = mapped_column("Email")
    support_rep_id: Mapped[Optional[int]] = mapped_column("SupportRepId")
    invoices: Mapped[list["Invoice"]] = relationship()


class Invoice(ChinookBase):
    __tablename__ = "Invoice"
    id: Mapped[int] = mapped_column("InvoiceId", primary_key=True)
    customer_id: Mapped[int] = mapped_column("CustomerId", ForeignKey("Customer.CustomerId"))
    invoice_date: Mapped[datetime] = mapped_column("InvoiceDate", DateTime)
    billing_address: Mapped[Optional[str]] = mapped_column("BillingAddress")
    billing_city: Mapped[Optional[str]] = mapped_column("BillingCity")
    billing_state: Mapped[Optional[str]] = mapped_column("BillingState")
    billing_country: Mapped[Optional[str]] = mapped_column("BillingCountry")
    billing_postal_code: Mapped[Optional[str]] = mapped_column("BillingPostalCode")
    total: Mapped[Decimal] = mapped_column("Total", Numeric(10, 2))
    lines: Mapped[list["InvoiceLine"]] = relationship()


class InvoiceLine(ChinookBase):
    __tablename__ = "InvoiceLine"
    id: Mapped[int] = mapped_column("InvoiceLineId", primary_key=True)
    invoice_id: Mapped[int] = mapped_column("InvoiceId", ForeignKey("Invoice.InvoiceId"))
    track_id: Mapped[int] = mapped_column("TrackId", ForeignKey("Track.TrackId"))
    unit_price: Mapped[Decimal] = mapped_column("UnitPrice", Numeric(10, 2))
    quantity: Mapped[int] = mapped_column("Quantity")
    track: Mapped[Track] = relationship()


def _engine(path, synchronous: bool):
    engine = create_engine(f"sqlite:///{path}")
    if synchronous:
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    return engine


class Suite(LibrarySuite):
    def open(self) -> None:
        self.engine = _engine(self.db_path, synchronous=True)
        self.chinook_engine = _engine(self.chinook_path, False) if self.chinook_path else None
        self.by_email = select(User).where(User.email == bindparam("email"))

    def close(self) -> None:
        self.engine.dispose()
        if self.chinook_engine is not None:
            self.chinook_engine.dispose()
        super().close()

    def session(self) -> Session:
        return Session(self.engine)

    # -- reads -----------------------------------------------------------------------
    def select_all_columns(self):
        with self.session() as s:
            users = s.scalars(select(User)).all()
            return len(users), sum(u.age for u in users)

    def select_needed_fields(self):
        with self.session() as s:
            users = s.scalars(select(User).options(load_only(User.id, User.name))).all()
            return len(users), sum(u.id for u in users)

    def filter_in_python(self):
        with self.session() as s:
            users = [u for u in s.scalars(select(User)).all() if u.status == "active"]
            return len(users), sum(u.id for u in users)

    def filter_in_sql(self):
        with self.session() as s:
            users = s.scalars(select(User).where(User.status == "active")).all()
            return len(users), sum(u.id for u in users)

    def n_plus_one(self):
        with self.session() as s:
            users = s.scalars(select(User)).all()
            n_orders = id_sum = 0
            for user in users:
                orders = s.scalars(select(Order).where(Order.user_id == user.id)).all()
                n_orders += len(orders)
                id_sum += sum(o.id for o in orders)
            return len(users), n_orders, id_sum

    def includes(self):
        with self.session() as s:
            users = s.scalars(select(User).options(selectinload(User.orders))).all()
            n_orders = id_sum = 0
            for user in users:
                n_orders += len(user.orders)
                id_sum += sum(o.id for o in user.orders)
            return len(users), n_orders, id_sum

    def nested_includes(self):
        with self.session() as s:
            users = s.scalars(select(User).options(
                selectinload(User.orders).selectinload(Order.items))).all()
            n_orders = n_items = quantity = 0
            for user in users:
                for order in user.orders:
                    n_orders += 1
                    for item in order.items:
                        n_items += 1
                        quantity += item.quantity
            return len(users), n_orders, n_items, quantity

    def keyset_chunking(self):
        last_id = chunks = count = id_sum = 0
        with self.session() as s:
            while True:
                orders = s.scalars(select(Order).where(Order.id > last_id).order_by(Order.id)
                                   .limit(self.sizes.chunk)).all()
                if not orders:
                    break
                chunks += 1
                count += len(orders)
                id_sum += sum(o.id for o in orders)
                last_id = orders[-1].id
                s.expunge_all()  # chunking keeps memory flat: drop what was processed
        return chunks, count, id_sum

    def adhoc_query(self):
        found = id_sum = 0
        with self.session() as s:
            for address in self.data.lookup_emails:
                user = s.scalars(select(User).where(User.email == address)).first()
                if user:
                    found += 1
                    id_sum += user.id
        return found, id_sum

    def compiled_query(self):
        found = id_sum = 0
        with self.session() as s:
            for address in self.data.lookup_emails:
                user = s.scalars(self.by_email, {"email": address}).first()
                if user:
                    found += 1
                    id_sum += user.id
        return found, id_sum

    def find_by_id(self):
        found = age_sum = 0
        for user_id in self.data.lookup_ids:
            with self.session() as s:  # a fresh identity map: every lookup hits the database
                user = s.get(User, user_id)
                if user:
                    found += 1
                    age_sum += user.age
        return found, age_sum

    # -- writes ----------------------------------------------------------------------
    def save_loop(self):
        with self.session() as s:
            for row in self.new_rows:
                s.add(User(**row))
                s.commit()
        return len(self.new_rows)

    def insert_many(self):
        with self.session() as s:
            s.execute(insert(User), self.new_rows)
            s.commit()
        return len(self.new_rows)

    def bulk_update(self):
        with self.session() as s:
            result = s.execute(update(User).where(User.id.in_(self.data.update_ids))
                               .values(status="active", updated_at=TOUCHED_AT)
                               .execution_options(synchronize_session=False))
            s.commit()
            return result.rowcount

    def bulk_delete(self):
        with self.session() as s:
            result = s.execute(delete(User).where(User.status == DOOMED_STATUS)
                               .execution_options(synchronize_session=False))
            s.commit()
            return result.rowcount

    # -- Chinook ---------------------------------------------------------------------
    def chinook_tracks(self):
        with Session(self.chinook_engine) as s:
            tracks = s.scalars(select(Track).options(
                joinedload(Track.album), joinedload(Track.genre), joinedload(Track.media_type))).all()
            return (len(tracks), sum(len(t.album.title) if t.album else 0 for t in tracks),
                    sum(len(t.genre.name or "") if t.genre else 0 for t in tracks),
                    sum(len(t.media_type.name or "") for t in tracks))

    def chinook_artists(self):
        with Session(self.chinook_engine) as s:
            artists = s.scalars(select(Artist).options(
                selectinload(Artist.albums).selectinload(Album.tracks))).all()
            n_albums = n_tracks = 0
            for artist in artists:
                for album in artist.albums:
                    n_albums += 1
                    n_tracks += len(album.tracks)
            return len(artists), n_albums, n_tracks

    def chinook_invoice_totals(self):
        with Session(self.chinook_engine) as s:
            rows = s.execute(select(Invoice.billing_country, func.sum(Invoice.total))
                             .group_by(Invoice.billing_country)).all()
            return sorted((country, round(float(total), 2)) for country, total in rows)

    def chinook_customer_invoices(self):
        n_invoices = n_lines = name_length = 0
        with Session(self.chinook_engine) as s:
            for customer_id in range(1, self.sizes.customers + 1):
                customer = s.scalars(select(Customer).where(Customer.id == customer_id).options(
                    selectinload(Customer.invoices).selectinload(Invoice.lines)
                    .selectinload(InvoiceLine.track))).one()
                for invoice in customer.invoices:
                    n_invoices += 1
                    for line in invoice.lines:
                        n_lines += 1
                        name_length += len(line.track.name)
                s.expunge_all()
        return n_invoices, n_lines, name_length
