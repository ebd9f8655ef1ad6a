"""Presenting a run: Markdown tables, the JSON file, the bar chart of ratios."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

from .catalog import BASELINE


def _cell_ms(r: Optional[dict]) -> str:
    if r is None:
        return "-"
    if r["status"] != "ok":
        return r["status"]
    flag = "" if r.get("checksum_ok", True) else " (!)"
    return f"{r['median'] * 1000:.2f}{flag}"


def _cell_ratio(r: Optional[dict]) -> str:
    if r is None:
        return "-"
    if r["status"] != "ok":
        return r["status"]
    flag = "" if r.get("checksum_ok", True) else " (!)"
    return "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x{flag}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                            for i, w in enumerate(widths)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(row, widths))) + " |")
    return "\n".join(lines)


def tables(report: dict) -> str:
    """Two Markdown tables: medians in milliseconds, and ratios to raw sqlite3."""
    libraries = list(report["libraries"])
    results = report["results"]
    names = [w["name"] for w in report["workloads"]]
    ms = _table(["median ms per round"] + libraries,
                [[n] + [_cell_ms(results[n].get(lib)) for lib in libraries] for n in names])
    others = [lib for lib in libraries if lib != BASELINE]
    ratio = _table([f"ratio to {BASELINE} (lower is better)"] + others,
                   [[n] + [_cell_ratio(results[n].get(lib)) for lib in others] for n in names])
    return ms + "\n\n" + ratio


def notes(report: dict) -> list[str]:
    """Everything a reader of the tables must know: n/a reasons, errors, mismatches."""
    out = []
    m = report["meta"]["machine"]
    if m.get("loadavg_at_start") and m["nproc"] and m["loadavg_at_start"][0] > 0.75 * m["nproc"]:
        out.append(f"the machine was busy (load average {m['loadavg_at_start'][0]} on "
                   f"{m['nproc']} cores at the start): expect noisy numbers")
    for lib, info in report["libraries"].items():
        if lib == "activerecord" and info.get("speedups") is False:
            out.append("activerecord: the compiled extension is not built in this install, "
                       "so the 'activerecord' column ran the pure-Python path too")
    seen = set()
    for name, per_library in report["results"].items():
        for lib, r in per_library.items():
            if r["status"] in ("n/a", "error"):
                key = (lib, r["status"], r.get("reason", "").splitlines()[0] if r.get("reason") else "")
                label = name if r["status"] == "error" else None
                if r["status"] == "n/a" and key in seen:
                    continue
                seen.add(key)
                where = f"{lib} {label}" if label else f"{lib} {name}"
                out.append(f"{where}: {r['status']}: {key[2]}")
            elif not r.get("checksum_ok", True):
                out.append(f"{lib} {name}: result differs from {BASELINE} "
                           f"({r['checksum']!r}); marked (!)")
    return out


def machine_line(report: dict) -> str:
    m = report["meta"]["machine"]
    return (f"{m['cpu']}, {m['nproc']} cores, {m['implementation']} {m['python']}, "
            f"SQLite {m['sqlite']}, {m['system']}")


def write_json(report: dict, path: Path) -> Path:
    path.write_text(json.dumps(report, indent=2, default=str))
    return path


def write_chart(report: dict, path: Path) -> Path:
    """Horizontal grouped bars of each library's ratio to raw sqlite3 (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    libraries = [lib for lib in report["libraries"] if lib != BASELINE]
    titles = {w["name"]: w["title"] for w in report["workloads"]}
    names = [w["name"] for w in report["workloads"]
             if any(r.get("ratio") for r in report["results"][w["name"]].values())]
    colors = {"activerecord": "#1b7837", "activerecord-pure": "#7fbf7b", "sqlalchemy": "#762a83",
              "peewee": "#e08214", "django": "#2166ac"}
    n = max(len(libraries), 1)
    bar_h = 0.84 / n
    fig_h = max(3.0, 0.13 * len(names) * n + 1.8)
    fig, ax = plt.subplots(figsize=(11, fig_h), dpi=110)
    max_ratio = min_ratio = 1.0
    for j, lib in enumerate(libraries):
        ys, xs = [], []
        for i, name in enumerate(names):
            r = report["results"][name].get(lib) or {}
            if r.get("ratio"):
                ys.append(i + (j - (n - 1) / 2) * bar_h)
                xs.append(r["ratio"])
                max_ratio = max(max_ratio, r["ratio"])
                min_ratio = min(min_ratio, r["ratio"])
        title = report["libraries"][lib].get("title", lib)
        # Bars grow from 1 (raw sqlite3): their length on the log axis is the slowdown.
        ax.barh(ys, [x - 1 for x in xs], left=1, height=bar_h * 0.9, label=title,
                color=colors.get(lib))
        for y, x in zip(ys, xs):
            ax.text(max(x, 1.0) * 1.03, y, f"{x:.1f}", va="center", fontsize=6.5, color="#333333")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_xlim(min(0.8, min_ratio * 0.85), 10 ** math.ceil(math.log10(max_ratio * 1.6)))
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([titles[nm] for nm in names], fontsize=8.5)
    for i in range(1, len(names)):
        ax.axhline(i - 0.5, color="#dddddd", linewidth=0.6)
    ax.set_xlabel(f"median time relative to raw {BASELINE} (1 = raw sqlite3; lower is better; log scale)")
    ax.grid(axis="x", which="major", alpha=0.4)
    ax.set_title(f"activerecord benchmark: each library vs raw sqlite3\n{machine_line(report)}",
                 fontsize=9.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045 * 22 / max(fig_h, 1)), ncol=min(n, 3),
              fontsize=8.5, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
