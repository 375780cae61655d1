"""Rules only the Kusto (Azure Data Explorer) dialect has: queued and streaming
ingestion, tables and mappings, the blob units, the storage emulation."""
