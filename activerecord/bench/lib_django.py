"""Django's ORM standalone (``settings.configure``), as its documentation recommends.

``DEBUG=False`` (no query log), naive datetimes (``USE_TZ=False``), ``select_related``
for many-to-one, ``prefetch_related`` for collections, ``bulk_create`` for bulk
inserts. Django has no prepared-query API, so ``compiled_query`` is "n/a". Settings
can be configured once per process: one pair of database files per process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import django
from django.conf import settings

from .dataset import DOOMED_STATUS, TOUCHED_AT
from .suite import LibrarySuite

_configured: Optional[tuple] = None


def configure(db_path: Path, chinook_path: Optional[Path]) -> None:
    """Point Django at the two database files (once per process)."""
    global _configured
    wanted = (str(db_path), str(chinook_path) if chinook_path else None)
    if _configured is not None:
        if _configured != wanted:
            raise RuntimeError(f"Django is already configured for {_configured}; "
                               f"cannot switch to {wanted} in the same process")
        return
    databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": wanted[0],
                             "OPTIONS": {"init_command": "PRAGMA synchronous=NORMAL"}}}
    if wanted[1]:
        databases["chinook"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": wanted[1]}
    settings.configure(DEBUG=False, USE_TZ=False, DATABASES=databases, INSTALLED_APPS=[],
                       DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()
    _configured = wanted


class Suite(LibrarySuite):
    unsupported = {"compiled_query": "no prepared-query API"}

    def open(self) -> None:
        configure(self.db_path, self.chinook_path)
        from . import django_models as m
        self.m = m

    def close(self) -> None:
        from django.db import connections
        connections.close_all()
        super().close()

    # -- reads -----------------------------------------------------------------------
    def select_all_columns(self):
        users = list(self.m.User.objects.all())
        return len(users), sum(u.age for u in users)

    def select_needed_fields(self):
        users = list(self.m.User.objects.only("id", "name"))
        return len(users), sum(u.id for u in users)

    def filter_in_python(self):
        users = [u for u in self.m.User.objects.all() if u.status == "active"]
        return len(users), sum(u.id for u in users)

    def filter_in_sql(self):
        users = list(self.m.User.objects.filter(status="active"))
        return len(users), sum(u.id for u in users)

    def n_plus_one(self):
        users = list(self.m.User.objects.all())
        n_orders = id_sum = 0
        for user in users:
            orders = list(self.m.Order.objects.filter(user_id=user.id))
            n_orders += len(orders)
            id_sum += sum(o.id for o in orders)
        return len(users), n_orders, id_sum

    def includes(self):
        users = list(self.m.User.objects.prefetch_related("orders"))
        n_orders = id_sum = 0
        for user in users:
            orders = user.orders.all()
            n_orders += len(orders)
            id_sum += sum(o.id for o in orders)
        return len(users), n_orders, id_sum

    def nested_includes(self):
        users = list(self.m.User.objects.prefetch_related("orders__items"))
        n_orders = n_items = quantity = 0
        for user in users:
            for order in user.orders.all():
                n_orders += 1
                for item in order.items.all():
                    n_items += 1
                    quantity += item.quantity
        return len(users), n_orders, n_items, quantity

    def keyset_chunking(self):
        last_id = chunks = count = id_sum = 0
        while True:
            orders = list(self.m.Order.objects.filter(id__gt=last_id).order_by("id")[:self.sizes.chunk])
            if not orders:
                break
            chunks += 1
            count += len(orders)
            id_sum += sum(o.id for o in orders)
            last_id = orders[-1].id
        return chunks, count, id_sum

    def adhoc_query(self):
        found = id_sum = 0
        users = self.m.User.objects
        for address in self.data.lookup_emails:
            user = users.filter(email=address).first()
            if user:
                found += 1
                id_sum += user.id
        return found, id_sum

    def find_by_id(self):
        found = age_sum = 0
        users = self.m.User.objects
        for user_id in self.data.lookup_ids:
            user = users.get(pk=user_id)
            if user:
                found += 1
                age_sum += user.age
        return found, age_sum

    # -- writes ----------------------------------------------------------------------
    def save_loop(self):
        for row in self.new_rows:
            self.m.User(**row).save()
        return len(self.new_rows)

    def insert_many(self):
        self.m.User.objects.bulk_create([self.m.User(**row) for row in self.new_rows], batch_size=500)
        return len(self.new_rows)

    def bulk_update(self):
        return self.m.User.objects.filter(id__in=self.data.update_ids).update(
            status="active", updated_at=TOUCHED_AT)

    def bulk_delete(self):
        # QuerySet.delete() first collects related objects; _raw_delete is private API,
        # so the documented bulk delete is what users run.
        deleted, _ = self.m.User.objects.filter(status=DOOMED_STATUS).delete()
        return deleted

    # -- Chinook ---------------------------------------------------------------------
    def chinook_tracks(self):
        tracks = list(self.m.Track.objects.using("chinook")
                      .select_related("album", "genre", "media_type"))
        return (len(tracks), sum(len(t.album.title) if t.album else 0 for t in tracks),
                sum(len(t.genre.name or "") if t.genre else 0 for t in tracks),
                sum(len(t.media_type.name or "") for t in tracks))

    def chinook_artists(self):
        artists = list(self.m.Artist.objects.using("chinook").prefetch_related("albums__tracks"))
        n_albums = n_tracks = 0
        for artist in artists:
            for album in artist.albums.all():
                n_albums += 1
                n_tracks += len(album.tracks.all())
        return len(artists), n_albums, n_tracks

    def chinook_invoice_totals(self):
        from django.db.models import Sum
        rows = (self.m.Invoice.objects.using("chinook").values("billing_country")
                .annotate(total=Sum("total")).order_by())
        return sorted((row["billing_country"], round(float(row["total"]), 2)) for row in rows)

    def chinook_customer_invoices(self):
        n_invoices = n_lines = name_length = 0
        customers = self.m.Customer.objects.using("chinook")
        for customer_id in range(1, self.sizes.customers + 1):
            customer = customers.prefetch_related("invoices__lines__track").get(pk=customer_id)
            for invoice in customer.invoices.all():
                n_invoices += 1
                for line in invoice.lines.all():
                    n_lines += 1
                    name_length += len(line.track.name)
        return n_invoices, n_lines, name_length
