"""SQL sources (compatibility module): see ``ingestd.dataplane.sql``."""

from __future__ import annotations

from ingestd.dataplane.sql import SQL_KINDS, Extracted, extract

__all__ = ["SQL_KINDS", "Extracted", "extract"]
