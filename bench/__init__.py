"""Throughput and memory benchmark of ingestd against DuckDB-native SQL and dlt (run by hand)."""
