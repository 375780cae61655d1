"""Scratch folders under the staging root, owned by the process that made them.

A load or a replay works in its own folder and removes it when done. A process killed midway
(SIGKILL, OOM, power) cannot, so each folder carries its owner's pid, and the next data plane
to start on the same root removes the folders whose owner is gone. The retried unit starts
afresh in a new folder; nothing in an orphan is ever read again.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

_OWNED = re.compile(r"^(?:unit|replay)-(\d+)-[0-9a-f]{32}$")


def new_folder(root: Path, kind: str) -> Path:
    """Create ``<root>/<kind>-<pid>-<random>`` for this process's use."""
    folder = root / f"{kind}-{os.getpid()}-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def remove_orphans(root: Path) -> list[Path]:
    """Remove the scratch folders of processes that no longer run; return what was removed.
    A folder whose pid runs (this process, another worker, or a stranger who reused the pid)
    stays: only a dead owner's folder is certainly unused."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        match = _OWNED.match(entry.name)
        if match is None or not entry.is_dir() or _alive(int(match.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True
