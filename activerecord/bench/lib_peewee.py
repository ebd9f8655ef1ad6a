"""peewee, written the way its documentation recommends.

Collections are eager-loaded with ``prefetch()``, many-to-one relations with a join
selecting every model; bulk inserts go through ``insert_many`` in chunks inside one
transaction. peewee has no prepared-query API, so ``compiled_query`` is "n/a".
"""
from __future__ import annotations

import peewee as pw

from .dataset import DOOMED_STATUS, TOUCHED_AT
from .suite import LibrarySuite

synthetic_db = pw.DatabaseProxy()
chinook_db = pw.DatabaseProxy()


class User(pw.Model):
    id = pw.AutoField()
    name = pw.CharField(max_length=100)
    email = pw.CharField(max_length=255, unique=True)
    status = pw.CharField(max_length=20)
    age = pw.IntegerField()
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        database = synthetic_db
        table_name = "users"


class Order(pw.Model):
    id = pw.AutoField()
    user = pw.ForeignKeyField(User, backref="orders", column_name="user_id")
    total = pw.FloatField()
    status = pw.CharField(max_length=20)
    created_at = pw.DateTimeField()

    class Meta:
        database = synthetic_db
        table_name = "orders"


class Item(pw.Model):
    id = pw.AutoField()
    order = pw.ForeignKeyField(Order, backref="items", column_name="order_id")
    product_name = pw.CharField(max_length=100)
    quantity = pw.IntegerField()
    price = pw.FloatField()

    class Meta:
        database = synthetic_db
        table_name = "items"


class ChinookModel(pw.Model):
    class Meta:
        database = chinook_db


class Artist(ChinookModel):
    id = pw.AutoField(column_name="ArtistId")
    name = pw.CharField(null=True, column_name="Name")

    class Meta:
        table_name = "Artist"


class Album(ChinookModel):
    id = pw.AutoField(column_name="AlbumId")
    title = pw.CharField(column_name="Title")
    artist = pw.ForeignKeyField(Artist, backref="albums", column_name="ArtistId")

    class Meta:
        table_name = "Album"


class Genre(ChinookModel):
    id = pw.AutoField(column_name="GenreId")
    name = pw.CharField(null=True, column_name="Name")

    class Meta:
        table_name = "Genre"


class MediaType(ChinookModel):
    id = pw.AutoField(column_name="MediaTypeId")
    name = pw.CharField(null=True, column_name="Name")

    class Meta:
        table_name = "MediaType"


class Track(ChinookModel):
    id = pw.AutoField(column_name="TrackId")
    name = pw.CharField(column_name="Name")
    album = pw.ForeignKeyField(Album, null=True, backref="tracks", column_name="AlbumId")
    media_type = pw.ForeignKeyField(MediaType, column_name="MediaTypeId")
    genre = pw.ForeignKeyField(Genre, null=True, column_name="GenreId")
    composer = pw.CharField(null=True, column_name="Composer")
    milliseconds = pw.IntegerField(column_name="Milliseconds")
    size_bytes = pw.IntegerField(null=True, column_name="Bytes")
    unit_price = pw.DecimalField(max_digits=10, decimal_places=2, column_name="UnitPrice")

    class Meta:
        table_name = "Track"


class Customer(ChinookModel):
    id = pw.AutoField(column_name="CustomerId")
    first_name = pw.CharField(column_name="FirstName")
    last_name = pw.CharField(column_name="LastName")
    company = pw.CharField(null=True, column_name="Company")
    address = pw.CharField(null=True, column_name="Address")
    city = pw.CharField(null=True, column_name="City")
    state = pw.CharField(null=True, column_name="State")
    country = pw.CharField(null=True, column_name="Country")
    postal_code = pw.CharField(null=True, column_name="PostalCode")
    phone = pw.CharField(null=True, column_name="Phone")
    fax = pw.CharField(null=True, column_name="Fax")
    email = pw.CharField(column_name="Email")
    support_rep_id = pw.IntegerField(null=True, column_name="SupportRepId")

    class Meta:
        table_name = "Customer"


class Invoice(ChinookModel):
    id = pw.AutoField(column_name="InvoiceId")
    customer = pw.ForeignKeyField(Customer, backref="invoices", column_name="CustomerId")
    invoice_date = pw.DateTimeField(column_name="InvoiceDate")
    billing_address = pw.CharField(null=True, column_name="BillingAddress")
    billing_city = pw.CharField(null=True, column_name="BillingCity")
    billing_state = pw.CharField(null=True, column_name="BillingState")
    billing_country = pw.CharField(null=True, column_name="BillingCountry")
    billing_postal_code = pw.CharField(null=True, column_name="BillingPostalCode")
    total = pw.DecimalField(max_digits=10, decimal_places=2, column_name="Total")

    class Meta:
        table_name = "Invoice"


class InvoiceLine(ChinookModel):
    id = pw.AutoField(column_name="InvoiceLineId")
    invoice = pw.ForeignKeyField(Invoice, backref="lines", column_name="InvoiceId")
    track = pw.ForeignKeyField(Track, column_name="TrackId")
    unit_price = pw.DecimalField(max_digits=10, decimal_places=2, column_name="UnitPrice")
    quantity = pw.IntegerField(column_name="Quantity")

    class Meta:
        table_name = "InvoiceLine"


class Suite(LibrarySuite):
    unsupported = {"compiled_query": "no prepared-query API"}

    def open(self) -> None:
        self.db = pw.SqliteDatabase(str(self.db_path), pragmas={"synchronous": 1})
        synthetic_db.initialize(self.db)
        self.db.connect()
        self.chinook = None
        if self.chinook_path:
            self.chinook = pw.SqliteDatabase(str(self.chinook_path))
            chinook_db.initialize(self.chinook)
            self.chinook.connect()

    def close(self) -> None:
        self.db.close()
        if self.chinook is not None:
            self.chinook.close()
        super().close()

    # -- reads -----------------------------------------------------------------------
    def select_all_columns(self):
        users = list(User.select())
        return len(users), sum(u.age for u in users)

    def select_needed_fields(self):
        users = list(User.select(User.id, User.name))
        return len(users), sum(u.id for u in users)

    def filter_in_python(self):
        users = [u for u in User.select() if u.status == "active"]
        return len(users), sum(u.id for u in users)

    def filter_in_sql(self):
        users = list(User.select().where(User.status == "active"))
        return len(users), sum(u.id for u in users)

    def n_plus_one(self):
        users = list(User.select())
        n_orders = id_sum = 0
        for user in users:
            orders = list(Order.select().where(Order.user == user.id))
            n_orders += len(orders)
            id_sum += sum(o.id for o in orders)
        return len(users), n_orders, id_sum

    def includes(self):
        users = pw.prefetch(User.select(), Order.select())
        n_orders = id_sum = 0
        for user in users:
            n_orders += len(user.orders)
            id_sum += sum(o.id for o in user.orders)
        return len(users), n_orders, id_sum

    def nested_includes(self):
        users = pw.prefetch(User.select(), Order.select(), Item.select())
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
            orders = list(Order.select().where(Order.id > last_id).order_by(Order.id)
                          .limit(self.sizes.chunk))
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
            user = User.get_or_none(User.email == address)
            if user:
                found += 1
                id_sum += user.id
        return found, id_sum

    def find_by_id(self):
        found = age_sum = 0
        for user_id in self.data.lookup_ids:
            user = User.get_by_id(user_id)
            if user:
                found += 1
                age_sum += user.age
        return found, age_sum

    # -- writes ----------------------------------------------------------------------
    def save_loop(self):
        for row in self.new_rows:
            User(**row).save()
        return len(self.new_rows)

    def insert_many(self):
        with self.db.atomic():
            for chunk in pw.chunked(self.new_rows, 500):
                User.insert_many(chunk).execute()
        return len(self.new_rows)

    def bulk_update(self):
        return (User.update(status="active", updated_at=TOUCHED_AT)
                .where(User.id.in_(self.data.update_ids)).execute())

    def bulk_delete(self):
        return User.delete().where(User.status == DOOMED_STATUS).execute()

    # -- Chinook ---------------------------------------------------------------------
    def chinook_tracks(self):
        tracks = list(Track.select(Track, Album, Genre, MediaType)
                      .join_from(Track, Album, pw.JOIN.LEFT_OUTER)
                      .join_from(Track, Genre, pw.JOIN.LEFT_OUTER)
                      .join_from(Track, MediaType))
        return (len(tracks), sum(len(t.album.title) if t.album else 0 for t in tracks),
                sum(len(t.genre.name or "") if t.genre else 0 for t in tracks),
                sum(len(t.media_type.name or "") for t in tracks))

    def chinook_artists(self):
        artists = pw.prefetch(Artist.select(), Album.select(), Track.select())
        n_albums = n_tracks = 0
        for artist in artists:
            for album in artist.albums:
                n_albums += 1
                n_tracks += len(album.tracks)
        return len(artists), n_albums, n_tracks

    def chinook_invoice_totals(self):
        rows = (Invoice.select(Invoice.billing_country, pw.fn.SUM(Invoice.total).alias("total"))
                .group_by(Invoice.billing_country).tuples())
        return sorted((country, round(float(total), 2)) for country, total in rows)

    def chinook_customer_invoices(self):
        n_invoices = n_lines = name_length = 0
        for customer_id in range(1, self.sizes.customers + 1):
            customer = pw.prefetch(Customer.select().where(Customer.id == customer_id),
                                   Invoice.select(), InvoiceLine.select(), Track.select())[0]
            for invoice in customer.invoices:
                n_invoices += 1
                for line in invoice.lines:
                    n_lines += 1
                    name_length += len(line.track.name)
        return n_invoices, n_lines, name_length
