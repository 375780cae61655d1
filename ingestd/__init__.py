"""ingestd: a self-hosted data-ingestion service with exact row accounting."""

__version__ = "0.1.0"
