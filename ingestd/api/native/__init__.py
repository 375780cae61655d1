"""The native REST API under ``/ingestd/v1/`` (docs/native-api.md)."""
