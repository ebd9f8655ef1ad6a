"""Compiled modules built from ../../_speedups by setup.py; absent in a pure install."""
