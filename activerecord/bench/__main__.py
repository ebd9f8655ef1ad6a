"""``python -m activerecord.bench``: compare activerecord with raw sqlite3 and other ORMs.

Prints tables of medians and ratios to raw sqlite3, and writes ``results.json``,
``results.md`` and ``ratios.png`` into the output directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from .catalog import DEFAULT_SIZES, QUICK_SIZES, select
from .dataset import find_chinook


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m activerecord.bench",
        description="Run the same workloads on activerecord (compiled and pure Python), raw "
                    "sqlite3, SQLAlchemy 2, peewee and Django, on the same embedded SQLite data.")
    p.add_argument("--quick", action="store_true",
                   help="small data and 3 rounds per workload (a smoke test: well under 2 minutes)")
    p.add_argument("--only", action="append", default=[], metavar="NAMES",
                   help="comma-separated workload names, groups (synthetic, chinook) and/or "
                        "libraries (sqlite3, activerecord, activerecord-pure, activerecord-all, "
                        "sqlalchemy, peewee, django); repeatable")
    p.add_argument("--output", "-o", default="bench-results", type=Path,
                   help="directory for results.json, results.md and ratios.png (default: %(default)s)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the SQLite files are created and kept (default: a temporary "
                        "directory, removed afterwards)")
    p.add_argument("--chinook", default=None,
                   help="path to chinook.sqlite (default: $ACTIVERECORD_CHINOOK or "
                        "../shared/data/chinook.sqlite); it is copied, never modified")
    p.add_argument("--no-chinook", action="store_true", help="skip the Chinook workloads")
    p.add_argument("--no-chart", action="store_true", help="do not draw ratios.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    sizes = p.add_argument_group("sizes (override the default or --quick preset)")
    for name, help_text in (("users", "users in the synthetic data"),
                            ("orders-per-user", "orders per user"),
                            ("items-per-order", "items per order"),
                            ("batch", "rows inserted/updated/deleted by the write workloads"),
                            ("lookups", "lookups per round of find_by_id and find by email"),
                            ("chunk", "keyset chunk size"),
                            ("customers", "Chinook customers loaded with invoices"),
                            ("min-rounds", "timed rounds at least"),
                            ("max-rounds", "timed rounds at most")):
        sizes.add_argument(f"--{name}", type=int, default=None, help=help_text)
    sizes.add_argument("--min-time", type=float, default=None,
                       help="keep timing a workload until this many seconds (up to max-rounds)")
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        workloads, libraries = select(args.only)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    preset = QUICK_SIZES if args.quick else DEFAULT_SIZES
    sizes = preset.replace(users=args.users, orders_per_user=args.orders_per_user,
                           items_per_order=args.items_per_order, batch=args.batch,
                           lookups=args.lookups, chunk=args.chunk, customers=args.customers,
                           min_rounds=args.min_rounds, max_rounds=args.max_rounds,
                           min_time=args.min_time)
    if sizes.users < 1 or sizes.batch < 1 or sizes.lookups < 1 or sizes.chunk < 1:
        print("error: --users, --batch, --lookups and --chunk must be at least 1", file=sys.stderr)
        return 2
    chinook = None
    if not args.no_chinook:
        try:
            chinook = find_chinook(args.chinook)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if chinook is None and any(w.group == "chinook" for w in workloads):
            print("note: Chinook database not found (looked for ../shared/data/chinook.sqlite; "
                  "pass --chinook PATH): skipping the Chinook workloads", file=sys.stderr)
    if chinook is None:
        workloads = [w for w in workloads if w.group != "chinook"]
    if not workloads:
        print("error: no workload left to run", file=sys.stderr)
        return 2

    from .report import machine_line, notes, tables, write_chart, write_json
    from .runner import run_comparison

    report = run_comparison(workloads, libraries, sizes, chinook, workdir=args.workdir,
                            progress=not args.no_progress)
    args.output.mkdir(parents=True, exist_ok=True)
    text = tables(report)
    remarks = notes(report)
    print()
    print(f"Machine: {machine_line(report)}")
    print(f"Sizes: {sizes.users} users, {sizes.orders} orders, {sizes.items} items; "
          f"batch {sizes.batch}, lookups {sizes.lookups}; {report['meta']['seconds']} s in all")
    print()
    print(text)
    for remark in remarks:
        print(f"- {remark}")
    json_path = write_json(report, args.output / "results.json")
    md_path = args.output / "results.md"
    md_path.write_text(f"Machine: {machine_line(report)}\n\n{text}\n\n"
                       + "".join(f"- {r}\n" for r in remarks))
    written = [json_path, md_path]
    if not args.no_chart:
        try:
            written.append(write_chart(report, args.output / "ratios.png"))
        except ImportError:
            print("note: matplotlib is not installed: no chart (pip install 'activerecord[bench]')",
                  file=sys.stderr)
    print()
    print("Wrote " + ", ".join(str(p) for p in written))
    return 1 if any(r.get("status") == "error" for per in report["results"].values()
                    for r in per.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
