"""Row counts of a load, a file or a unit: what was read and where each row went."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.inserted + self.updated + self.rejected + self.errors

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.inserted += other.inserted
        self.updated += other.updated
        self.rejected += other.rejected
        self.errors += other.errors
