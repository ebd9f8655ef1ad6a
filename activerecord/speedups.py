"""Which path is active: the compiled extension or pure Python.

The compiled modules live in ``activerecord._speedups`` when the build produced
them. ``ACTIVERECORD_PURE_PYTHON=1`` forces the pure path even when they exist;
a missing or broken extension falls back to it with one DEBUG log line.

Every user of a compiled module asks ``speedups_enabled()`` (or ``module(name)``)
at call time, so ``pure_python()`` can switch one process to the pure path: the
differential tests run both paths side by side with it.
"""
from __future__ import annotations

import importlib
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional

log = logging.getLogger("activerecord")

# Every compiled module the build is expected to produce (sources: _speedups/<name>.pyx).
MODULES: tuple[str, ...] = ("sqlite_conn", "hydration", "packing", "grouping")

_PACKAGE = Path(__file__).resolve().parent
_SOURCES = _PACKAGE.parent / "_speedups"
# Files a module's .pyx includes, so compiled into it too.
_ALSO_COMPILED = {"grouping": [_PACKAGE / "grouping.py"],
                  "sqlite_conn": [_SOURCES / "records.pxi"],
                  "hydration": [_SOURCES / "records.pxi"]}


def _stale(name: str, built: Optional[str]) -> bool:
    """In a source checkout: was the module's source edited after it was compiled?"""
    pyx = _SOURCES / f"{name}.pyx"
    if built is None or not pyx.exists():
        return False
    sources = [pyx, *_ALSO_COMPILED.get(name, [])]
    built_at = os.path.getmtime(built)
    return any(p.exists() and p.stat().st_mtime > built_at for p in sources)

_loaded: dict[str, ModuleType] = {}
_enabled = False
_available = False


def _load() -> bool:
    if os.environ.get("ACTIVERECORD_PURE_PYTHON", "") not in ("", "0"):
        log.debug("activerecord: ACTIVERECORD_PURE_PYTHON is set; using the pure-Python path")
        return False
    if not MODULES:
        log.debug("activerecord: no compiled extension in this build; using the pure-Python path")
        return False
    try:
        for name in MODULES:
            mod = importlib.import_module(f"activerecord._speedups.{name}")
            if _stale(name, getattr(mod, "__file__", None)):
                raise ImportError(f"{name} is older than its sources; rebuild with "
                                  "`python setup.py build_ext --inplace`")
            _loaded[name] = mod
    except ImportError as exc:
        _loaded.clear()
        log.debug("activerecord: compiled extension unavailable (%s); using the pure-Python path", exc)
        return False
    return True


_enabled = _available = _load()


def speedups_enabled() -> bool:
    """True when the compiled extension is in use."""
    return _enabled


def module(name: str) -> Optional[ModuleType]:
    """The compiled module ``name``, or None on the pure-Python path."""
    return _loaded.get(name) if _enabled else None


def loaded_module(name: str) -> Optional[ModuleType]:
    """The compiled module ``name`` if it was imported, whichever path is active."""
    return _loaded.get(name)


@contextmanager
def pure_python(flag: bool = True) -> Iterator[None]:
    """Internal switch: use the pure path inside the block (new connections included).

    Connections opened before the switch keep their driver; open a new backend inside
    the block to run it fully on the pure path.
    """
    global _enabled
    previous = _enabled
    _enabled = _available and not flag
    try:
        yield
    finally:
        _enabled = previous
