"""The embedded DuckDB destination (the default)."""
