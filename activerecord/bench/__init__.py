"""The comparison benchmark: ``python -m activerecord.bench``.

The same workloads (the performance guide's advice, plus real queries on the Chinook
database) run against activerecord (compiled and pure Python), raw stdlib
``sqlite3`` (the floor no ORM can beat), SQLAlchemy 2, peewee and Django, on the same
schema and data. The comparison libraries are imported only by their own modules,
so ``import activerecord`` never needs them; install them with the ``bench`` extra.

Layout: ``catalog`` (workloads, libraries, sizes), ``dataset`` (schema and seed
data), ``suite`` (the base every library implements), ``lib_*`` (one module per
library), ``measure`` (timing), ``worker`` (one library in one process),
``runner`` (the whole comparison), ``report`` (table, JSON, chart).
"""
