"""A payload the metadata database holds (an upload, a stream batch), written into the unit's
own staging folder before the unit loads it: the worker that runs a unit needs only its own
disk, whichever machine accepted the data.

Contract:

* ``stage_payload`` writes what ``read`` yields to ``<folder>/<name>`` through a partial file
  renamed into place, so a staged file is always whole; on any failure nothing is left.
* ``name`` is reduced to a plain file name (its extension kept, so the format it shows is
  detected as before); ``cancel`` stops the copy between chunks.
* The data plane never reads the metadata database itself: the caller (the executor) passes
  the reader, built on ``ingestd.store``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ingestd.dataplane.contract import CancelToken
from ingestd.errors import Canceled

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


class PayloadReader(Protocol):
    """Yields one stored payload's bytes in order, in bounded chunks."""

    def __call__(self) -> Iterator[bytes]: ...


def staged_name(name: str) -> str:
    """``name`` as a plain file name in a staging folder."""
    return _UNSAFE.sub("_", name.rsplit("/", 1)[-1]).lstrip(".") or "payload"


def stage_payload(
    read: PayloadReader, folder: Path, name: str, cancel: CancelToken | None = None
) -> Path:
    """Write the payload to ``folder``; returns the staged file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / staged_name(name)
    partial = target.with_name(f".{target.name}.part")
    written, complete = 0, False
    try:
        with partial.open("wb") as out:
            for chunk in read():
                if cancel is not None and cancel.canceled:
                    raise Canceled(f"{name}: canceled after {written} bytes were staged")
                out.write(chunk)
                written += len(chunk)
        partial.replace(target)
        complete = True
    finally:
        if not complete:
            partial.unlink(missing_ok=True)
    return target
