"""Page links: the URL of the next page keeps every query parameter and sets ``cursor``."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request


def next_link(request: Request, cursor: str | None) -> str | None:
    """The path and query of the page after this one, or None on the last page."""
    if cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{request.url.path}?{urlencode(params)}"
