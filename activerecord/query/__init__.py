"""Expressions -> compiler (SQL + params) -> builder terminals."""
