"""The Azure Storage resources ingestd serves to the Kusto ingest SDKs (docs/kusto-sdk.md)."""
