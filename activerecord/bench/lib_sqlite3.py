"""Raw stdlib ``sqlite3``: hand-written SQL, rows as tuples. The floor for every ORM."""
from __future__ import annotations

import sqlite3
from collections import defaultdict

from .dataset import DOOMED_STATUS, TOUCHED_AT, sql_datetime
from .suite import LibrarySuite

USER_COLUMNS = "id, name, email, status, age, created_at, updated_at"
INSERT_USER = ("INSERT INTO users (name, email, status, age, created_at, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?)")


def _in(values: list) -> str:
    return ", ".join("?" * len(values))


class Suite(LibrarySuite):
    def open(self) -> None:
        self.conn = sqlite3.connect(self.db_path, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if self.chinook_path:
            self.chinook = sqlite3.connect(self.chinook_path, isolation_level=None)

    def close(self) -> None:
        self.conn.close()
        if self.chinook_path:
            self.chinook.close()
        super().close()

    # -- reads -----------------------------------------------------------------------
    def select_all_columns(self):
        rows = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users").fetchall()
        return len(rows), sum(r[4] for r in rows)

    def select_needed_fields(self):
        rows = self.conn.execute("SELECT id, name FROM users").fetchall()
        return len(rows), sum(r[0] for r in rows)

    def filter_in_python(self):
        rows = [r for r in self.conn.execute(f"SELECT {USER_COLUMNS} FROM users").fetchall()
                if r[3] == "active"]
        return len(rows), sum(r[0] for r in rows)

    def filter_in_sql(self):
        rows = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE status = ?",
                                 ("active",)).fetchall()
        return len(rows), sum(r[0] for r in rows)

    def n_plus_one(self):
        users = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users").fetchall()
        n_orders = id_sum = 0
        for user in users:
            orders = self.conn.execute("SELECT id, user_id, total, status, created_at FROM orders "
                                       "WHERE user_id = ?", (user[0],)).fetchall()
            n_orders += len(orders)
            id_sum += sum(o[0] for o in orders)
        return len(users), n_orders, id_sum

    def _children(self, sql: str, parent_ids: list) -> dict:
        grouped = defaultdict(list)
        for row in self.conn.execute(sql % _in(parent_ids), parent_ids):
            grouped[row[1]].append(row)
        return grouped

    def includes(self):
        users = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users").fetchall()
        orders = self._children("SELECT id, user_id, total, status, created_at FROM orders "
                                "WHERE user_id IN (%s)", [u[0] for u in users])
        n_orders = id_sum = 0
        for user in users:
            mine = orders.get(user[0], ())
            n_orders += len(mine)
            id_sum += sum(o[0] for o in mine)
        return len(users), n_orders, id_sum

    def nested_includes(self):
        users = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users").fetchall()
        orders = self._children("SELECT id, user_id, total, status, created_at FROM orders "
                                "WHERE user_id IN (%s)", [u[0] for u in users])
        order_ids = [o[0] for group in orders.values() for o in group]
        items = self._children("SELECT id, order_id, product_name, quantity, price FROM items "
                               "WHERE order_id IN (%s)", order_ids)
        n_orders = n_items = quantity = 0
        for user in users:
            for order in orders.get(user[0], ()):
                n_orders += 1
                for item in items.get(order[0], ()):
                    n_items += 1
                    quantity += item[3]
        return len(users), n_orders, n_items, quantity

    def keyset_chunking(self):
        last_id = chunks = count = id_sum = 0
        while True:
            rows = self.conn.execute("SELECT id, user_id, total, status, created_at FROM orders "
                                     "WHERE id > ? ORDER BY id LIMIT ?",
                                     (last_id, self.sizes.chunk)).fetchall()
            if not rows:
                break
            chunks += 1
            count += len(rows)
            id_sum += sum(r[0] for r in rows)
            last_id = rows[-1][0]
        return chunks, count, id_sum

    def adhoc_query(self):
        found = id_sum = 0
        for address in self.data.lookup_emails:
            row = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE email = ? LIMIT 1",
                                    (address,)).fetchone()
            if row:
                found += 1
                id_sum += row[0]
        return found, id_sum

    compiled_query = adhoc_query  # the SQL text is fixed either way

    def find_by_id(self):
        found = age_sum = 0
        for user_id in self.data.lookup_ids:
            row = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?",
                                    (user_id,)).fetchone()
            if row:
                found += 1
                age_sum += row[4]
        return found, age_sum

    # -- writes ----------------------------------------------------------------------
    @staticmethod
    def _params(row: dict) -> tuple:
        return (row["name"], row["email"], row["status"], row["age"],
                sql_datetime(row["created_at"]), sql_datetime(row["updated_at"]))

    def save_loop(self):
        for row in self.new_rows:
            self.conn.execute(INSERT_USER, self._params(row))
        return len(self.new_rows)

    def insert_many(self):
        self.conn.execute("BEGIN")
        self.conn.executemany(INSERT_USER, [self._params(r) for r in self.new_rows])
        self.conn.execute("COMMIT")
        return len(self.new_rows)

    def bulk_update(self):
        ids = self.data.update_ids
        cur = self.conn.execute(f"UPDATE users SET status = ?, updated_at = ? WHERE id IN ({_in(ids)})",
                                ["active", sql_datetime(TOUCHED_AT)] + ids)
        return cur.rowcount

    def bulk_delete(self):
        return self.conn.execute("DELETE FROM users WHERE status = ?", (DOOMED_STATUS,)).rowcount

    # -- Chinook ---------------------------------------------------------------------
    def chinook_tracks(self):
        rows = self.chinook.execute(
            "SELECT t.TrackId, t.Name, t.AlbumId, t.MediaTypeId, t.GenreId, t.Composer, "
            "t.Milliseconds, t.Bytes, t.UnitPrice, a.Title, g.Name, m.Name FROM Track t "
            "LEFT JOIN Album a ON a.AlbumId = t.AlbumId LEFT JOIN Genre g ON g.GenreId = t.GenreId "
            "JOIN MediaType m ON m.MediaTypeId = t.MediaTypeId").fetchall()
        return (len(rows), sum(len(r[9] or "") for r in rows), sum(len(r[10] or "") for r in rows),
                sum(len(r[11] or "") for r in rows))

    def chinook_artists(self):
        db = self.chinook
        artists = db.execute("SELECT ArtistId, Name FROM Artist").fetchall()
        albums = defaultdict(list)
        for row in db.execute("SELECT AlbumId, Title, ArtistId FROM Album"):
            albums[row[2]].append(row)
        tracks = defaultdict(list)
        for row in db.execute("SELECT TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, "
                              "Milliseconds, Bytes, UnitPrice FROM Track"):
            tracks[row[2]].append(row)
        n_albums = n_tracks = 0
        for artist in artists:
            for album in albums.get(artist[0], ()):
                n_albums += 1
                n_tracks += len(tracks.get(album[0], ()))
        return len(artists), n_albums, n_tracks

    def chinook_invoice_totals(self):
        rows = self.chinook.execute("SELECT BillingCountry, SUM(Total) FROM Invoice "
                                    "GROUP BY BillingCountry").fetchall()
        return sorted((country, round(float(total), 2)) for country, total in rows)

    def chinook_customer_invoices(self):
        db = self.chinook
        n_invoices = n_lines = name_length = 0
        for customer_id in range(1, self.sizes.customers + 1):
            customer = db.execute("SELECT * FROM Customer WHERE CustomerId = ?", (customer_id,)).fetchone()
            invoices = db.execute("SELECT * FROM Invoice WHERE CustomerId = ?", (customer[0],)).fetchall()
            ids = [i[0] for i in invoices]
            lines = db.execute(f"SELECT * FROM InvoiceLine WHERE InvoiceId IN ({_in(ids)})", ids).fetchall()
            track_ids = sorted({line[2] for line in lines})
            tracks = {t[0]: t for t in db.execute(
                f"SELECT * FROM Track WHERE TrackId IN ({_in(track_ids)})", track_ids)}
            n_invoices += len(invoices)
            n_lines += len(lines)
            name_length += sum(len(tracks[line[2]][1]) for line in lines)
        return n_invoices, n_lines, name_length
