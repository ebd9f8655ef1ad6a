"""activerecord, written the way the performance guide shows.

Which path runs (compiled extension or pure Python) is fixed when ``activerecord``
is imported; the runner starts the pure variant in a process with
``ACTIVERECORD_PURE_PYTHON=1``. Relations come from ``activerecord.relations``;
while that module is missing the eager-loading workloads report "n/a".
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Optional

from activerecord import ActiveRecord, BindParam, Field, SQLiteBackend, Sum

from .dataset import DOOMED_STATUS, TOUCHED_AT
from .suite import LibrarySuite, Unsupported

try:
    from activerecord import BelongsTo, HasMany
    RELATIONS: Optional[str] = None
except ImportError as exc:  # relations are built separately; degrade to "n/a"
    RELATIONS = f"activerecord relations are not importable ({exc})"

NEEDS_RELATIONS = {"includes", "nested_includes", "chinook_tracks", "chinook_artists",
                   "chinook_customer_invoices"}


class BenchUser(ActiveRecord):
    __table_name__ = "users"
    id: int = Field(primary_key=True)
    name: str
    email: str
    status: str = "active"
    age: int
    created_at: datetime
    updated_at: datetime
    if RELATIONS is None:
        orders: ClassVar[HasMany["BenchOrder"]] = HasMany("BenchOrder", foreign_key="user_id")


class BenchOrder(ActiveRecord):
    __table_name__ = "orders"
    id: int = Field(primary_key=True)
    user_id: int
    total: float
    status: str
    created_at: datetime
    if RELATIONS is None:
        items: ClassVar[HasMany["BenchItem"]] = HasMany("BenchItem", foreign_key="order_id")


class BenchItem(ActiveRecord):
    __table_name__ = "items"
    id: int = Field(primary_key=True)
    order_id: int
    product_name: str
    quantity: int
    price: float


class ChinookArtist(ActiveRecord):
    __table_name__ = "Artist"
    id: int = Field(primary_key=True, column="ArtistId")
    name: Optional[str] = Field(None, column="Name")
    if RELATIONS is None:
        albums: ClassVar[HasMany["ChinookAlbum"]] = HasMany("ChinookAlbum", foreign_key="artist_id")


class ChinookAlbum(ActiveRecord):
    __table_name__ = "Album"
    id: int = Field(primary_key=True, column="AlbumId")
    title: str = Field(column="Title")
    artist_id: int = Field(column="ArtistId")
    if RELATIONS is None:
        tracks: ClassVar[HasMany["ChinookTrack"]] = HasMany("ChinookTrack", foreign_key="album_id")


class ChinookGenre(ActiveRecord):
    __table_name__ = "Genre"
    id: int = Field(primary_key=True, column="GenreId")
    name: Optional[str] = Field(None, column="Name")


class ChinookMediaType(ActiveRecord):
    __table_name__ = "MediaType"
    id: int = Field(primary_key=True, column="MediaTypeId")
    name: Optional[str] = Field(None, column="Name")


class ChinookTrack(ActiveRecord):
    __table_name__ = "Track"
    id: int = Field(primary_key=True, column="TrackId")
    name: str = Field(column="Name")
    album_id: Optional[int] = Field(None, column="AlbumId")
    media_type_id: int = Field(column="MediaTypeId")
    genre_id: Optional[int] = Field(None, column="GenreId")
    composer: Optional[str] = Field(None, column="Composer")
    milliseconds: int = Field(column="Milliseconds")
    size_bytes: Optional[int] = Field(None, column="Bytes")
    unit_price: Decimal = Field(column="UnitPrice")
    if RELATIONS is None:
        album: ClassVar[BelongsTo["ChinookAlbum"]] = BelongsTo("ChinookAlbum", foreign_key="album_id")
        genre: ClassVar[BelongsTo["ChinookGenre"]] = BelongsTo("ChinookGenre", foreign_key="genre_id")
        media_type: ClassVar[BelongsTo["ChinookMediaType"]] = BelongsTo(
            "ChinookMediaType", foreign_key="media_type_id")


class ChinookCustomer(ActiveRecord):
    __table_name__ = "Customer"
    id: int = Field(primary_key=True, column="CustomerId")
    first_name: str = Field(column="FirstName")
    last_name: str = Field(column="LastName")
    company: Optional[str] = Field(None, column="Company")
    address: Optional[str] = Field(None, column="Address")
    city: Optional[str] = Field(None, column="City")
    state: Optional[str] = Field(None, column="State")
    country: Optional[str] = Field(None, column="Country")
    postal_code: Optional[str] = Field(None, column="PostalCode")
    phone: Optional[str] = Field(None, column="Phone")
    fax: Optional[str] = Field(None, column="Fax")
    email: str = Field(column="Email")
    support_rep_id: Optional[int] = Field(None, column="SupportRepId")
    if RELATIONS is None:
        invoices: ClassVar[HasMany["ChinookInvoice"]] = HasMany("ChinookInvoice", foreign_key="customer_id")


class ChinookInvoice(ActiveRecord):
    __table_name__ = "Invoice"
    id: int = Field(primary_key=True, column="InvoiceId")
    customer_id: int = Field(column="CustomerId")
    invoice_date: datetime = Field(column="InvoiceDate")
    billing_address: Optional[str] = Field(None, column="BillingAddress")
    billing_city: Optional[str] = Field(None, column="BillingCity")
    billing_state: Optional[str] = Field(None, column="BillingState")
    billing_country: Optional[str] = Field(None, column="BillingCountry")
    billing_postal_code: Optional[str] = Field(None, column="BillingPostalCode")
    total: Decimal = Field(column="Total")
    if RELATIONS is None:
        lines: ClassVar[HasMany["ChinookInvoiceLine"]] = HasMany("ChinookInvoiceLine", foreign_key="invoice_id")


class ChinookInvoiceLine(ActiveRecord):
    __table_name__ = "InvoiceLine"
    id: int = Field(primary_key=True, column="InvoiceLineId")
    invoice_id: int = Field(column="InvoiceId")
    track_id: int = Field(column="TrackId")
    unit_price: Decimal = Field(column="UnitPrice")
    quantity: int = Field(column="Quantity")
    if RELATIONS is None:
        track: ClassVar[BelongsTo["ChinookTrack"]] = BelongsTo("ChinookTrack", foreign_key="track_id")


SYNTHETIC_MODELS = (BenchUser, BenchOrder, BenchItem)
CHINOOK_MODELS = (ChinookArtist, ChinookAlbum, ChinookGenre, ChinookMediaType, ChinookTrack,
                  ChinookCustomer, ChinookInvoice, ChinookInvoiceLine)


class Suite(LibrarySuite):
    def open(self) -> None:
        self.backend = SQLiteBackend(str(self.db_path), pragmas={"synchronous": "NORMAL"})
        for model in SYNTHETIC_MODELS:
            model.configure(self.backend)
        self.chinook_backend = None
        if self.chinook_path:
            self.chinook_backend = SQLiteBackend(str(self.chinook_path))
            for model in CHINOOK_MODELS:
                model.configure(self.chinook_backend)
        self.find_by_email = BenchUser.query().where(
            BenchUser.c.email == BindParam("email")).compile()

    def close(self) -> None:
        self.backend.close()
        if self.chinook_backend is not None:
            self.chinook_backend.close()
        super().close()

    def check(self, workload) -> None:
        if RELATIONS is not None and workload.name in NEEDS_RELATIONS:
            raise Unsupported(RELATIONS)

    # -- reads -----------------------------------------------------------------------
    def select_all_columns(self):
        users = BenchUser.query().all()
        return len(users), sum(u.age for u in users)

    def select_needed_fields(self):
        users = BenchUser.query().select("id", "name").all()
        return len(users), sum(u.id for u in users)

    def filter_in_python(self):
        users = [u for u in BenchUser.query().all() if u.status == "active"]
        return len(users), sum(u.id for u in users)

    def filter_in_sql(self):
        users = BenchUser.query().where(BenchUser.c.status == "active").all()
        return len(users), sum(u.id for u in users)

    def n_plus_one(self):
        users = BenchUser.query().all()
        n_orders = id_sum = 0
        for user in users:
            orders = BenchOrder.query().where(BenchOrder.c.user_id == user.id).all()
            n_orders += len(orders)
            id_sum += sum(o.id for o in orders)
        return len(users), n_orders, id_sum

    def includes(self):
        users = BenchUser.query().includes("orders").all()
        n_orders = id_sum = 0
        for user in users:
            n_orders += len(user.orders)
            id_sum += sum(o.id for o in user.orders)
        return len(users), n_orders, id_sum

    def nested_includes(self):
        users = BenchUser.query().includes({"orders": {"items": True}}).all()
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
        while True:
            orders = (BenchOrder.query().where(BenchOrder.c.id > last_id)
                      .order_by(BenchOrder.c.id).limit(self.sizes.chunk).all())
            if not orders:
                break
            chunks += 1
            count += len(orders)
            id_sum += sum(o.id for o in orders)
            last_id = orders[-1].id
        return chunks, count, id_sum

    def adhoc_query(self):
        found = id_sum = 0
        for address in self.data.lookup_emails:
            user = BenchUser.find_one(BenchUser.c.email == address)
            if user:
                found += 1
                id_sum += user.id
        return found, id_sum

    def compiled_query(self):
        found = id_sum = 0
        for address in self.data.lookup_emails:
            result = self.find_by_email.execute(email=address)
            user = result[0] if result else None
            if user:
                found += 1
                id_sum += user.id
        return found, id_sum

    def find_by_id(self):
        found = age_sum = 0
        for user_id in self.data.lookup_ids:
            user = BenchUser.find_by_id(user_id)
            if user:
                found += 1
                age_sum += user.age
        return found, age_sum

    # -- writes ----------------------------------------------------------------------
    def save_loop(self):
        for row in self.new_rows:
            BenchUser(**row).save()
        return len(self.new_rows)

    def insert_many(self):
        return BenchUser.insert_many(self.new_rows)

    def bulk_update(self):
        return BenchUser.query().where(BenchUser.c.id.is_in(self.data.update_ids)).update(
            {"status": "active", "updated_at": TOUCHED_AT})

    def bulk_delete(self):
        return BenchUser.query().where(BenchUser.c.status == DOOMED_STATUS).delete()

    # -- Chinook ---------------------------------------------------------------------
    def chinook_tracks(self):
        tracks = ChinookTrack.query().includes("album", "genre", "media_type").all()
        return (len(tracks), sum(len(t.album.title) if t.album else 0 for t in tracks),
                sum(len(t.genre.name or "") if t.genre else 0 for t in tracks),
                sum(len(t.media_type.name or "") for t in tracks))

    def chinook_artists(self):
        artists = ChinookArtist.query().includes({"albums": {"tracks": True}}).all()
        n_albums = n_tracks = 0
        for artist in artists:
            for album in artist.albums:
                n_albums += 1
                n_tracks += len(album.tracks)
        return len(artists), n_albums, n_tracks

    def chinook_invoice_totals(self):
        rows = (ChinookInvoice.query()
                .select(ChinookInvoice.c.billing_country, Sum(ChinookInvoice.c.total).as_("total"))
                .group_by(ChinookInvoice.c.billing_country).aggregate())
        return sorted((row["billing_country"], round(float(row["total"]), 2)) for row in rows)

    def chinook_customer_invoices(self):
        n_invoices = n_lines = name_length = 0
        for customer_id in range(1, self.sizes.customers + 1):
            customer = (ChinookCustomer.query().where(ChinookCustomer.c.id == customer_id)
                        .includes({"invoices": {"lines": {"track": True}}}).first())
            for invoice in customer.invoices:
                n_invoices += 1
                for line in invoice.lines:
                    n_lines += 1
                    name_length += len(line.track.name)
        return n_invoices, n_lines, name_length
