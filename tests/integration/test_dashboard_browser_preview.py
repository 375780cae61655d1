"""The preview page in headless Chromium: a day with errors, shown and committed nowhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.dashboard_world import WAIT_SECONDS, chromium, world
from tests.integration.test_dashboard_browser import shot, sign_in

__all__ = ["chromium"]  # the fixture, used by name

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
]


def test_a_preview_with_errors_in_the_browser(chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with world(tmp_path) as w:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(WAIT_SECONDS * 1000)
        sign_in(page, w.server.url, w.read_key)
        page.goto(w.server.url + "/ui/sources/orders")
        page.fill("input[name=day]", "2026-01-05")
        page.get_by_role("button", name="Preview").click()
        main = page.locator("main")
        expect(main).to_contain_text("Nothing was committed")
        expect(main).to_contain_text("2 valid, 2 with errors")
        expect(page.locator("table.errors")).to_contain_text("amount")
        shot(page, "preview")
