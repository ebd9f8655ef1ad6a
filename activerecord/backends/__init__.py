"""Database backends: the one place statements are executed."""
