"""Readers: a unit's inputs as local files, and each file as a scan DuckDB reads."""
