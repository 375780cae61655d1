"""/docs works offline: its page references only this server's own URLs, which serve the JS."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from tests.conftest import make_services


def test_docs_reference_only_local_assets_and_they_answer(tmp_path: Path) -> None:
    services = make_services(tmp_path / "data")
    try:
        with TestClient(create_app(services, background=False)) as client:
            page = client.get("/docs")
            assert page.status_code == 200
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?'([^']+)'""", page.text)
            found = [a or b for a, b in urls]
            assert found, page.text
            assert all(u.startswith("/") and not u.startswith("//") for u in found), found
            assert "http://" not in page.text and "https://" not in page.text
            js = [u for u in found if u.endswith(".js")]
            assert js
            for url in found:
                answer = client.get(url)
                assert answer.status_code == 200, url
            script = client.get(js[0])
            assert "SwaggerUIBundle" in script.text
            assert client.get("/redoc").status_code == 404
    finally:
        services.close()
