"""The dashboard in headless Chromium against a real ``ingestd serve``: sign in with the
keyboard, the grid, a failed day, a replay after a fix, live progress, a cancel, sign out.
Screenshots at 1280 and 800 px go to ``$INGESTD_TEST_ARTIFACTS`` (default tests/artifacts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dashboard_world import WAIT_SECONDS, artifacts, chromium, world

__all__ = ["chromium"]  # the fixture, used by name

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = (1280, 800)
TIMEOUT_MS = WAIT_SECONDS * 1000


def shot(page: Any, name: str) -> None:
    """Screenshots at each width; at each, the page itself never scrolls sideways (wide
    tables scroll in their own box)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts() / f"dashboard-{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(url + "/")
    assert page.url.endswith("/ui/login")
    # The key field has the focus (autofocus), so a keyboard user types at once; the test
    # fills the field itself because under load the focus can land after typing began.
    field = page.locator("input[name=key]")
    assert field.evaluate("e => e === document.activeElement")
    field.fill(key)
    field.press("Enter")
    page.wait_for_url(url + "/")


def test_an_operator_session_in_the_browser(chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with world(tmp_path) as w:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        url = w.server.url

        page.goto(url + "/ui/login")
        shot(page, "login")
        page.fill("#key", "console-not-a-key")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("not a valid ingestd API key")

        sign_in(page, url, w.server.key)
        page.goto(url + "/?days=5&end=2026-01-07")
        grid = page.locator("table.grid")
        expect(grid).to_contain_text("orders")
        expect(grid.locator("a.cell.bad")).to_contain_text("failed")
        expect(grid.locator("a.cell.ok")).to_contain_text("succeeded")
        expect(grid.locator("a.cell.ok")).to_contain_text("2 rows")
        shot(page, "grid")

        # A failed day: its error code, class and message.
        grid.locator("a.cell.bad").click()
        page.wait_for_url(re.compile(r"/ui/days/orders/2026-01-06$"))
        main = page.locator("main")
        expect(main).to_contain_text("SOURCE_NOT_FOUND")
        expect(main).to_contain_text("Permanent")
        expect(main).to_contain_text("no file matches")
        shot(page, "failed-day")

        # The day with quarantined rows, then a replay once the mapping is fixed.
        page.goto(url + "/ui/days/orders/2026-01-05")
        expect(page.locator("table.quarantine")).to_contain_text("value x is not a valid int64")
        shot(page, "quarantined-day")
        w.fix_orders()
        page.goto(url + "/ui/quarantine?table=shop.orders&file=2026-01-05.csv")
        expect(main).to_contain_text("2 rows")
        shot(page, "quarantine")
        page.get_by_role("button", name=re.compile("Replay shop.orders")).click()
        expect(page.get_by_role("status")).to_contain_text("1 loaded, 1 still failing")
        assert page.locator("#loaded").inner_text() == "1"
        shot(page, "replayed")

        # Live progress: a blob that has sent one row; the page updates by itself when the
        # rest arrives, without a reload.
        gated = w.queue_blob(w.stall.url + "/gated.csv")
        page.goto(url + "/ui/runs?origin=kusto")
        expect(main).to_contain_text(gated[:8])
        shot(page, "runs")
        page.goto(f"{url}/ui/runs/{gated}")
        progress = page.locator("#progress")
        expect(progress).to_contain_text(re.compile("started|downloading|loading"))
        shot(page, "run-running")
        page.evaluate("document.getElementById('progress').setAttribute('data-seen', 'old')")
        w.stall.release.set()
        expect(progress).to_contain_text("✔ succeeded", timeout=TIMEOUT_MS)
        expect(progress.locator("tr.total")).to_contain_text("3")
        # Same document: the box was refreshed by polling, not by navigating.
        assert page.evaluate("document.getElementById('progress').dataset.seen") == "old"
        expect(main).to_contain_text("The run has ended")
        assert page.get_by_role("button", name="Cancel this run").count() == 0
        shot(page, "run-succeeded")

        # Cancel: the one worker is busy with a blob that never ends, so a backfill started
        # from the source's page waits behind it; cancel it from its run page.
        endless = w.queue_blob(w.stall.url + "/endless.csv")
        w.wait_run(endless, "running")
        page.goto(url + "/ui/sources/orders")
        page.fill("input[name=start]", "2026-01-07")
        page.fill("input[name=end]", "2026-01-08")
        shot(page, "source")
        page.get_by_role("button", name="Start backfill").click()
        page.wait_for_url(re.compile(r"/ui/runs/[0-9a-f-]+$"))
        backfill = page.url.rsplit("/", 1)[1]
        expect(progress).to_contain_text("enqueued")
        page.get_by_role("button", name="Cancel this run").click()
        expect(page.get_by_role("status").first).to_contain_text("Cancel requested")
        expect(progress).to_contain_text("⊘ canceled")
        assert w.wait_run(backfill, "canceled")["state"] == "canceled"
        assert page.get_by_role("button", name="Cancel this run").count() == 0
        shot(page, "run-canceled")

        page.goto(url + "/ui/kusto")
        expect(main).to_contain_text("gated.csv")
        expect(main).to_contain_text("endless.csv")
        shot(page, "kusto")
        page.goto(url + "/ui/sources")
        expect(main).to_contain_text("shop.orders")
        shot(page, "sources")

        # Sign out: the session is gone, the pages ask to sign in again.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(url + "/ui/login")
        page.goto(url + "/ui/runs")
        assert page.url.endswith("/ui/login")


def test_a_read_key_in_the_browser_sees_no_action(chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with world(tmp_path) as w:
        page = chromium.new_page(viewport={"width": 800, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        sign_in(page, w.server.url, w.read_key)
        page.goto(w.server.url + "/ui/days/orders/2026-01-05")
        expect(page.locator("table.quarantine")).to_contain_text("TYPE_MISMATCH")
        assert page.get_by_role("button", name="Replay these rows").count() == 0
        page.goto(w.server.url + "/ui/sources/orders")
        assert page.get_by_role("button", name="Start backfill").count() == 0
        # Keyboard: Tab from the skip link reaches the nav, and focus is visible.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
