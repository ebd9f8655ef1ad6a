"""Django models of the benchmark schema; import only after ``lib_django.configure``."""
from __future__ import annotations

from django.db import models


class Meta:
    app_label = "activerecord_bench"
    managed = False


class User(models.Model):
    name = models.CharField(max_length=100)
    email = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20)
    age = models.IntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta(Meta):
        db_table = "users"


class Order(models.Model):
    user = models.ForeignKey(User, models.DO_NOTHING, related_name="orders")
    total = models.FloatField()
    status = models.CharField(max_length=20)
    created_at = models.DateTimeField()

    class Meta(Meta):
        db_table = "orders"


class Item(models.Model):
    order = models.ForeignKey(Order, models.DO_NOTHING, related_name="items")
    product_name = models.CharField(max_length=100)
    quantity = models.IntegerField()
    price = models.FloatField()

    class Meta(Meta):
        db_table = "items"


class Artist(models.Model):
    id = models.AutoField(primary_key=True, db_column="ArtistId")
    name = models.CharField(max_length=120, null=True, db_column="Name")

    class Meta(Meta):
        db_table = "Artist"


class Album(models.Model):
    id = models.AutoField(primary_key=True, db_column="AlbumId")
    title = models.CharField(max_length=160, db_column="Title")
    artist = models.ForeignKey(Artist, models.DO_NOTHING, related_name="albums", db_column="ArtistId")

    class Meta(Meta):
        db_table = "Album"


class Genre(models.Model):
    id = models.AutoField(primary_key=True, db_column="GenreId")
    name = models.CharField(max_length=120, null=True, db_column="Name")

    class Meta(Meta):
        db_table = "Genre"


class MediaType(models.Model):
    id = models.AutoField(primary_key=True, db_column="MediaTypeId")
    name = models.CharField(max_length=120, null=True, db_column="Name")

    class Meta(Meta):
        db_table = "MediaType"


class Track(models.Model):
    id = models.AutoField(primary_key=True, db_column="TrackId")
    name = models.CharField(max_length=200, db_column="Name")
    album = models.ForeignKey(Album, models.DO_NOTHING, null=True, related_name="tracks",
                              db_column="AlbumId")
    media_type = models.ForeignKey(MediaType, models.DO_NOTHING, db_column="MediaTypeId")
    genre = models.ForeignKey(Genre, models.DO_NOTHING, null=True, db_column="GenreId")
    composer = models.CharField(max_length=220, null=True, db_column="Composer")
    milliseconds = models.IntegerField(db_column="Milliseconds")
    size_bytes = models.IntegerField(null=True, db_column="Bytes")
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, db_column="UnitPrice")

    class Meta(Meta):
        db_table = "Track"


class Customer(models.Model):
    id = models.AutoField(primary_key=True, db_column="CustomerId")
    first_name = models.CharField(max_length=40, db_column="FirstName")
    last_name = models.CharField(max_length=20, db_column="LastName")
    company = models.CharField(max_length=80, null=True, db_column="Company")
    address = models.CharField(max_length=70, null=True, db_column="Address")
    city = models.CharField(max_length=40, null=True, db_column="City")
    state = models.CharField(max_length=40, null=True, db_column="State")
    country = models.CharField(max_length=40, null=True, db_column="Country")
    postal_code = models.CharField(max_length=10, null=True, db_column="PostalCode")
    phone = models.CharField(max_length=24, null=True, db_column="Phone")
    fax = models.CharField(max_length=24, null=True, db_column="Fax")
    email = models.CharField(max_length=60, db_column="Email")
    support_rep_id = models.IntegerField(null=True, db_column="SupportRepId")

    class Meta(Meta):
        db_table = "Customer"


class Invoice(models.Model):
    id = models.AutoField(primary_key=True, db_column="InvoiceId")
    customer = models.ForeignKey(Customer, models.DO_NOTHING, related_name="invoices",
                                 db_column="CustomerId")
    invoice_date = models.DateTimeField(db_column="InvoiceDate")
    billing_address = models.CharField(max_length=70, null=True, db_column="BillingAddress")
    billing_city = models.CharField(max_length=40, null=True, db_column="BillingCity")
    billing_state = models.CharField(max_length=40, null=True, db_column="BillingState")
    billing_country = models.CharField(max_length=40, null=True, db_column="BillingCountry")
    billing_postal_code = models.CharField(max_length=10, null=True, db_column="BillingPostalCode")
    total = models.DecimalField(max_digits=10, decimal_places=2, db_column="Total")

    class Meta(Meta):
        db_table = "Invoice"


class InvoiceLine(models.Model):
    id = models.AutoField(primary_key=True, db_column="InvoiceLineId")
    invoice = models.ForeignKey(Invoice, models.DO_NOTHING, related_name="lines", db_column="InvoiceId")
    track = models.ForeignKey(Track, models.DO_NOTHING, db_column="TrackId")
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, db_column="UnitPrice")
    quantity = models.IntegerField(db_column="Quantity")

    class Meta(Meta):
        db_table = "InvoiceLine"
