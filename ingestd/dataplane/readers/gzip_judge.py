"""A gzip file's decompression limits, judged beside the reader that decodes it.

DuckDB decodes gzip itself and knows no limit on what a file expands to, so every gzip input
is also decoded by ``decompress.measure_gzip`` through its meter (``LocalFile.meter``). That
pass used to run first, to the end, before the reader started, so the load waited for a whole
extra decode (1-1.5 s of an 18-20 s load of a 5M-row gzip CSV, docs/performance.md). It now
runs in a thread while the reader works. It is the faster of the two (zlib into nothing
against parsing into rows), so a bomb is still refused after a few MiB of output; when it
refuses, it interrupts the reader, and the block raises the limit's error instead of the
interruption. Should the pass itself fail (the file cannot be read), that is the error too:
no file is taken as judged when it was not. The block never ends before the pass has: a file
that crosses a limit or is corrupt fails its load even if the reader finished first, and
whatever decodes the file after the block (the line-by-line fallbacks, which decode without a
meter) decodes a file already judged. A canceled unit stops the pass at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ingestd.dataplane.readers import decompress
from ingestd.dataplane.readers.files import LocalFile
from ingestd.errors import Canceled


@contextmanager
def judged_beside(
    file: LocalFile, interrupt: Callable[[], None], *, partial: bool = False
) -> Iterator[None]:
    """Run the block (which reads ``file``) while its limits are judged; ``interrupt`` stops
    the reader (a DuckDB cursor's ``interrupt``). ``partial``: the block reads only the start
    of the file (a preview), so once it ends normally the rest is not judged."""
    meter = file.meter
    if meter is None:
        yield
        return
    verdict: list[Exception] = []
    """DecompressionLimit or CorruptCompression, or whatever else stopped the pass."""
    stop = threading.Event()

    def judge() -> None:
        try:
            decompress.measure_gzip(file.path, meter, stop)
        except Exception as exc:  # noqa: BLE001 - not handled: the block's thread raises it
            verdict.append(exc)
            interrupt()

    thread = threading.Thread(target=judge, name="ingestd-gzip-judge", daemon=True)
    thread.start()
    try:
        yield
    except BaseException as exc:
        if isinstance(exc, Canceled) and not verdict:
            stop.set()  # the unit is stopping: no verdict is needed, and waiting for one is slow
        thread.join()
        if verdict:
            raise verdict[0] from None
        raise
    if partial:
        stop.set()
    thread.join()
    if verdict:
        raise verdict[0]
