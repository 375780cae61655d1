"""A session of one project sees and acts on nothing of another, even by guessing ids."""

from __future__ import annotations

from datetime import date

from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.domain.origins import RunOrigin
from tests.api.dashboard.conftest import browser, csrf_of, load_day_with_bad_rows
from tests.api.native.conftest import ORDERS, Native

DAY = date(2026, 1, 5)


def _other_project(native: Native) -> tuple[int, str]:
    """Project ``rival`` with its own source ``rival_orders`` and a console key."""
    key = native.services.access.create_key("rival", KeyKind.CONSOLE)
    project = native.services.access.project_id("rival")
    files = native.services.settings.data_dir / "files" / "rival" / "orders"
    files.mkdir(parents=True)
    (files / f"{DAY.isoformat()}.csv").write_text("id,amount\n1,5\n")
    native.services.catalog.create_table(project, ORDERS)
    native.services.catalog.create_connection(
        project, "in", connection_body("file", {"root": str(files)})
    )
    native.services.catalog.create_source(
        project,
        name="rival_orders",
        table="shop.orders",
        connection="in",
        path_template="{ds}.csv",
    )
    return project, key


def test_another_projects_session_sees_none_of_acme(native: Native) -> None:
    acme_run = load_day_with_bad_rows(native, DAY)
    waiting = native.run([date(2026, 1, 6)])
    rival, key = _other_project(native)
    rival_run = native.services.runs.start_source_run(
        rival, ["rival_orders"], [DAY], trigger="manual", origin=RunOrigin.CLI
    ).id
    client = browser(native, key)

    grid = client.get("/", params={"end": "2026-01-07", "days": 5}).text
    assert "rival_orders" in grid and ">orders<" not in grid
    runs = client.get("/ui/runs").text
    assert rival_run[:8] in runs and acme_run[:8] not in runs and waiting[:8] not in runs
    sources = client.get("/ui/sources").text
    assert "rival_orders" in sources and ">orders<" not in sources
    assert "acme" not in client.get("/").text.replace("rival", "")
    quarantine = client.get("/ui/quarantine").text
    assert "0 rows" in quarantine and "TYPE_MISMATCH" not in quarantine

    # Guessed ids and names of acme's: 404 pages, as for what does not exist.
    for path in (
        f"/ui/runs/{acme_run}",
        f"/ui/runs/{acme_run}/progress",
        "/ui/days/orders/2026-01-05",
        "/ui/sources/orders",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        # The answer for a real id of acme's is the answer for an id that never existed.
        assert "does not exist" in response.text and "TYPE_MISMATCH" not in response.text
        assert "2026-01-05.csv" not in response.text
    acme_unit = native.services.runs.get_run(native.project_id, acme_run).units[0].id
    by_unit = client.get("/ui/quarantine", params={"unit": acme_unit})
    assert "0 rows" in by_unit.text and "TYPE_MISMATCH" not in by_unit.text


def test_another_projects_session_cannot_act_on_acme(native: Native) -> None:
    load_day_with_bad_rows(native, DAY)
    waiting = native.run([date(2026, 1, 6)])
    _, key = _other_project(native)
    client = browser(native, key)
    token = csrf_of(client)
    cancel = client.post(f"/ui/runs/{waiting}/cancel", data={"csrf": token})
    assert cancel.status_code == 404
    assert not native.services.runs.get_run(native.project_id, waiting).cancel_requested
    backfill = client.post(
        "/ui/sources/orders/backfill",
        data={"start": "2026-01-01", "end": "2026-01-01", "csrf": token},
    )
    assert backfill.status_code == 404
    assert native.services.runs.list_runs(native.project_id)[1] == 2
    # rival's own shop.orders has nothing quarantined; acme's rows stay where they are.
    replay = client.post("/ui/quarantine/replay", data={"table": "shop.orders", "csrf": token})
    assert replay.status_code == 200 and "Replayed 0 rows" in replay.text
    _, total = native.services.quarantine.list(native.project_id, ["shop.orders"])
    assert total == 2


def test_a_csrf_token_of_one_session_does_not_work_in_another(native: Native) -> None:
    waiting = native.run([date(2026, 1, 6)])
    _, key = _other_project(native)
    rival = browser(native, key)
    acme = browser(native)
    refused = acme.post(f"/ui/runs/{waiting}/cancel", data={"csrf": csrf_of(rival)})
    assert refused.status_code == 403
    assert not native.services.runs.get_run(native.project_id, waiting).cancel_requested
