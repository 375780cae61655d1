"""Templating of path and query templates with the day being loaded."""

from __future__ import annotations

import string
from datetime import date

from ingestd.errors import QueryConstructionError

_FIELDS = ("ds", "ds_nodash", "yyyy", "mm", "dd", "start_ds", "end_ds")


def render(template: str, day: date, *, end_day: date | None = None) -> str:
    """Fill ``{ds}`` (YYYY-MM-DD), ``{ds_nodash}``, ``{yyyy}``, ``{mm}``, ``{dd}`` and, for
    ranges, ``{start_ds}``/``{end_ds}``. Unknown placeholders raise QueryConstructionError."""
    values = {
        "ds": day.isoformat(),
        "ds_nodash": day.strftime("%Y%m%d"),
        "yyyy": f"{day.year:04d}",
        "mm": f"{day.month:02d}",
        "dd": f"{day.day:02d}",
        "start_ds": day.isoformat(),
        "end_ds": (end_day or day).isoformat(),
    }
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as exc:
        raise QueryConstructionError(
            f"template {template!r} is malformed: {exc}", hint="write literal braces as {{ }}"
        ) from exc
    unknown = sorted(set(names) - set(_FIELDS))
    if unknown:
        raise QueryConstructionError(
            f"template {template!r} uses unknown placeholders {unknown}",
            hint=f"available: {', '.join('{' + f + '}' for f in _FIELDS)}",
        )
    return template.format(**values)
