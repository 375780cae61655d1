"""``/ui/workers`` and ``/ingestd/v1/workers``: who runs units now, and the queue, shown to any
key without naming any project's units. (The Celery mode's census, with real worker
processes, is tested in tests/integration/cluster/test_cluster.py.)"""

from __future__ import annotations

import re
from datetime import date

from ingestd.control.access import KeyKind
from tests.api.dashboard.conftest import browser
from tests.api.native.conftest import Native

DAY = date(2026, 1, 5)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_unit_under_a_live_lease_shows_its_process_and_the_queue(native: Native) -> None:
    native.write_day(DAY, "id,amount\n1,2\n")
    native.run([DAY, date(2026, 1, 6)])
    claim = native.services.runs.claim_next("vm:4242:abcdef/w0", 60)
    assert claim is not None

    answer = native.get("/workers", kind=KeyKind.READ)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "executor": "local",
        "broker_reachable": None,
        "workers": [
            {"name": "vm:4242:abcdef", "concurrency": None, "running": 1, "answered": False}
        ],
    }

    page = browser(native, kind=KeyKind.READ).get("/ui/workers")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Executor local" in text
    assert "1 unit waiting" in text and "1 running" in text
    assert "vm:4242:abcdef" in text and "local pool" in text
    assert claim.unit_id not in page.text  # which unit, and whose, is not shown


def test_with_nothing_running_the_page_says_so(native: Native) -> None:
    page = browser(native, kind=KeyKind.READ).get("/ui/workers")
    assert page.status_code == 200
    assert "No worker is running a unit now" in _text(page.text)
    assert native.get("/workers", kind=KeyKind.READ).json()["workers"] == []
