"""Where the processes of one `ingestd serve` keep their HTTP metrics (INGESTD_API_PROCESSES
> 1), so that ``/metrics`` from any of them reports the requests all of them answered.

prometheus_client's multiprocess mode: every process writes its metric values to files of
one directory, and an exposition sums them. The library decides where values live when it is
first imported, from the environment variable ``PROMETHEUS_MULTIPROC_DIR``; so this module
imports nothing of it, and the serve process sets the variable before the app (and with it
prometheus_client) is imported, for itself and for the API processes it starts.

The processes of one serve are on one machine by construction; ``ingestd worker`` processes,
which may be elsewhere, serve no HTTP and count nothing here.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def shared_metrics_dir(data_dir: Path) -> Path:
    """Make this serve process's empty metrics directory and name it in the environment."""
    if "prometheus_client" in sys.modules and os.environ.get(VARIABLE) is None:
        raise RuntimeError(
            "prometheus_client was imported before the metrics directory was chosen; "
            "its values would stay in this process's memory"
        )
    # One directory per serve process: a file left by an earlier one (killed, or one whose pid
    # this one reuses) would add its counts to ours.
    path = data_dir / "run" / f"metrics-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[VARIABLE] = str(path)
    return path


def multiprocess_dir() -> Path | None:
    """The directory the processes share, or None for one process's own counts."""
    found = os.environ.get(VARIABLE)
    return Path(found) if found else None
