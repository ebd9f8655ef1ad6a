"""Which path is active: the compiled extension or pure Python.

The compiled modules live in ``activerecord._speedups`` when the build produced
them. ``ACTIVERECORD_PURE_PYTHON=1`` forces the pure path even when they exist.
"""
from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import Optional

log = logging.getLogger("activerecord")

# Every compiled module the build is expected to produce.
MODULES: tuple[str, ...] = ()

_loaded: dict[str, ModuleType] = {}
_enabled = False


def _load() -> bool:
    if os.environ.get("ACTIVERECORD_PURE_PYTHON", "") not in ("", "0"):
        log.debug("activerecord: ACTIVERECORD_PURE_PYTHON is set; using the pure-Python path")
        return False
    if not MODULES:
        log.debug("activerecord: no compiled extension in this build; using the pure-Python path")
        return False
    try:
        for name in MODULES:
            _loaded[name] = importlib.import_module(f"activerecord._speedups.{name}")
    except ImportError as exc:
        _loaded.clear()
        log.debug("activerecord: compiled extension unavailable (%s); using the pure-Python path", exc)
        return False
    return True


_enabled = _load()


def speedups_enabled() -> bool:
    """True when the compiled extension is in use."""
    return _enabled


def module(name: str) -> Optional[ModuleType]:
    """The compiled module ``name``, or None on the pure-Python path."""
    return _loaded.get(name)
