"""Copies of ``deleteAfterDownload`` blobs, kept in the metadata database (``store.payloads``,
kind ``retained_blob``, named by the unit) from their download until their unit has ended.

Once a blob is deleted at its source, the copy is the only one: a later attempt of the unit,
on whichever worker, stages it from here rather than from a disk it may not share with the
worker that downloaded it.
"""

from __future__ import annotations

from pathlib import Path

from ingestd.dataplane.readers.staged_payloads import PayloadReader
from ingestd.domain.clock import Clock, system_clock
from ingestd.store import payloads
from ingestd.store.database import Store
from ingestd.store.payloads import CHUNK_BYTES, PayloadKey

KIND = "retained_blob"


class RetainedBlobs:
    def __init__(self, store: Store, *, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock

    def find(self, project_id: int, unit_id: str) -> PayloadReader | None:
        """The copy an earlier attempt of the unit kept, if it kept one."""
        found = payloads.find(self.store, PayloadKey(project_id, KIND, unit_id))
        if found is None:
            return None
        shown = f"the retained copy of unit {unit_id}'s blob"
        return lambda: payloads.chunks(self.store, found, shown)

    def keep(self, project_id: int, unit_id: str, path: Path) -> None:
        """Store the downloaded blob ``path`` as the unit's copy (before its source is
        deleted: the copy is complete once this returns)."""
        key = PayloadKey(project_id, KIND, unit_id)
        with payloads.writing(self.store, key, now=self.clock) as writer, path.open("rb") as src:
            while chunk := src.read(CHUNK_BYTES):
                writer.write(chunk)

    def sweep(self, *, keep: str) -> int:
        """Drop the copies of units that have ended, except unit ``keep``'s."""
        return payloads.drop_of_ended_units(self.store, KIND, keep=keep)
