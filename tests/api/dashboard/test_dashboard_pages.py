"""What each page shows, and what a read key may not do."""

from __future__ import annotations

import re
from datetime import date

from ingestd.control.access import KeyKind
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.tables import Column, ColumnType, TableSpec
from tests.api.dashboard.conftest import browser, csrf_of, load_day_with_bad_rows
from tests.api.native.conftest import ORDERS, Native

GOOD, MISSING = date(2026, 1, 5), date(2026, 1, 6)


def _text(html: str) -> str:
    """The page's words, tags and repeated spaces removed (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _fix_amounts(native: Native) -> None:
    """The fix the quarantined rows wait for: a float column the amount maps to."""
    native.services.catalog.create_table(
        native.project_id,
        TableSpec("shop", "orders", (Column("amount_exact", ColumnType.FLOAT64), *ORDERS.columns)),
        merge=True,
    )
    native.services.catalog.update_source(
        native.project_id,
        "orders",
        mapping=Mapping(
            (
                FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),
                FieldMapping("amount_exact", SourceRef(RefKind.COLUMN, "amount")),
            )
        ),
    )


def test_the_grid_shows_each_day_with_its_status_in_words_and_rows(native: Native) -> None:
    load_day_with_bad_rows(native, GOOD)
    native.run([MISSING])
    native.drain()
    client = browser(native, kind=KeyKind.READ)
    page = client.get("/", params={"end": "2026-01-07", "days": 5})
    assert page.status_code == 200
    text = _text(page.text)
    assert "orders" in text
    assert "✔ succeeded 2 rows" in text and "✖ failed 0 rows" in text
    assert 'href="/ui/days/orders/2026-01-06"' in page.text
    assert "Jan 03" in text and "Jan 07" in text and "Jan 02" not in text
    # Days with no unit are marked as such, not left blank.
    assert text.count("\u2013") >= 3  # an en dash


def test_a_failed_day_shows_its_error_code_class_and_message(native: Native) -> None:
    native.run([MISSING])
    native.drain()
    client = browser(native, kind=KeyKind.READ)
    text = _text(client.get("/ui/days/orders/2026-01-06").text)
    assert "✖ failed" in text
    assert "SOURCE_NOT_FOUND" in text and "Permanent" in text
    assert "no file matches" in text and "2026-01-06.csv" in text
    assert "attempt 1 of" in text


def test_a_day_with_quarantined_rows_shows_them_with_file_column_and_raw(native: Native) -> None:
    load_day_with_bad_rows(native, GOOD)
    client = browser(native)
    page = client.get("/ui/days/orders/2026-01-05")
    text = _text(page.text)
    assert "Quarantined rows of the newest unit (2)" in text
    assert text.count("TYPE_MISMATCH") == 2 and "2026-01-05.csv" in text
    assert "value x is not a valid int64" in text
    assert "&#34;amount&#34;:&#34;10.5&#34;" in page.text  # the raw record, escaped
    assert "Replay these rows" in text
    read = browser(native, kind=KeyKind.READ)
    assert "Replay these rows" not in _text(read.get("/ui/days/orders/2026-01-05").text)


def test_quarantine_filters_by_table_file_and_code_and_replays_after_a_fix(native: Native) -> None:
    load_day_with_bad_rows(native, GOOD)
    native.write_day(date(2026, 1, 7), "id,amount\n9,1.5\n")
    native.run([date(2026, 1, 7)])
    native.drain()
    client = browser(native)
    everything = _text(client.get("/ui/quarantine").text)
    assert "3 rows" in everything
    by_file = _text(client.get("/ui/quarantine", params={"file": "2026-01-07.csv"}).text)
    assert "1 row." in by_file and "value 1.5" in by_file and "value x" not in by_file
    assert "0 rows" in _text(client.get("/ui/quarantine", params={"code": "NOPE"}).text)
    assert "3 rows" in _text(client.get("/ui/quarantine", params={"table": "shop.orders"}).text)
    missing = client.get("/ui/quarantine", params={"table": "shop.nope"})
    assert missing.status_code == 404 and "NOT_FOUND" in missing.text

    _fix_amounts(native)
    replayed = client.post(
        "/ui/quarantine/replay", data={"table": "shop.orders", "csrf": csrf_of(client)}
    )
    assert replayed.status_code == 200, replayed.text
    text = _text(replayed.text)
    assert "Replayed 3 rows: 2 loaded, 1 still failing" in text
    assert "1 row." in _text(client.get("/ui/quarantine").text)


def test_a_read_key_sees_no_action_and_its_posts_are_refused(native: Native) -> None:
    load_day_with_bad_rows(native, GOOD)
    run = native.run([MISSING])  # still enqueued: cancelable
    read = browser(native, kind=KeyKind.READ)
    token = csrf_of(read)
    run_page = _text(read.get(f"/ui/runs/{run}").text)
    assert "Cancel this run" not in run_page
    assert "Start backfill" not in _text(read.get("/ui/sources/orders").text)
    assert "Replay" not in _text(read.get("/ui/quarantine", params={"table": "shop.orders"}).text)
    for path, data in (
        (f"/ui/runs/{run}/cancel", {}),
        ("/ui/quarantine/replay", {"table": "shop.orders"}),
        ("/ui/sources/orders/backfill", {"start": "2026-01-01", "end": "2026-01-02"}),
    ):
        response = read.post(path, data={**data, "csrf": token})
        assert response.status_code == 403, path
        assert "FORBIDDEN" in response.text
    assert not native.services.runs.get_run(native.project_id, run).cancel_requested
    _, total = native.services.runs.list_runs(native.project_id)
    assert total == 2
    console = browser(native)
    assert "Cancel this run" in _text(console.get(f"/ui/runs/{run}").text)


def test_runs_are_filtered_and_a_run_page_has_timeline_files_and_cancel(native: Native) -> None:
    done = load_day_with_bad_rows(native, GOOD)
    waiting = native.run([MISSING], trigger="backfill")
    client = browser(native)
    listed = client.get("/ui/runs").text
    assert done[:8] in listed and waiting[:8] in listed
    by_state = client.get("/ui/runs", params={"state": "enqueued", "trigger": "", "origin": ""})
    assert waiting[:8] in by_state.text and done[:8] not in by_state.text
    by_trigger = client.get("/ui/runs", params={"trigger": "manual"}).text
    assert done[:8] in by_trigger and waiting[:8] not in by_trigger
    assert done[:8] in client.get("/ui/runs", params={"origin": "cli"}).text
    assert done[:8] not in client.get("/ui/runs", params={"origin": "kusto"}).text
    assert done[:8] in client.get("/ui/runs", params={"day_from": "2026-01-05"}).text
    assert done[:8] not in client.get("/ui/runs", params={"day_from": "2026-01-06"}).text
    bad = client.get("/ui/runs", params={"day_from": "yesterday"})
    assert bad.status_code == 400 and "VALIDATION_ERROR" in bad.text

    text = _text(client.get(f"/ui/runs/{done}").text)
    assert "✔ succeeded" in text and "2026-01-05.csv 4 2 0 0 2" in text
    assert "enqueued" in text and "loading" in text  # the unit's timeline
    assert "Cancel this run" not in text  # it has ended

    page = client.get(f"/ui/runs/{waiting}").text
    assert "Cancel this run" in page and "/ui/static/progress.js" in page
    fragment = client.get(f"/ui/runs/{waiting}/progress")
    assert fragment.status_code == 200 and 'data-ended="false"' in fragment.text
    assert "<html" not in fragment.text
    cancel = client.post(f"/ui/runs/{waiting}/cancel", data={"csrf": csrf_of(client)})
    assert cancel.status_code == 303
    assert cancel.headers["location"] == f"/ui/runs/{waiting}?done=cancel"
    after = _text(client.get(cancel.headers["location"]).text)
    assert "Cancel requested" in after and "⊘ canceled" in after
    assert native.services.runs.get_run(native.project_id, waiting).state.value == "canceled"
    assert 'data-ended="true"' in client.get(f"/ui/runs/{waiting}/progress").text


def test_the_progress_fragment_shows_counts_that_move(native: Native) -> None:
    native.write_day(GOOD, "id,amount\n1,10\n")
    run = native.run([GOOD])
    client = browser(native, kind=KeyKind.READ)
    before = _text(client.get(f"/ui/runs/{run}/progress").text)
    assert "… enqueued 0 0 0 0 0" in before
    native.drain()
    after = _text(client.get(f"/ui/runs/{run}/progress").text)
    assert "✔ succeeded 1 1 0 0 0" in after


def test_sources_and_connections_and_a_backfill(native: Native) -> None:
    load_day_with_bad_rows(native, GOOD)
    client = browser(native)
    text = _text(client.get("/ui/sources").text)
    assert "orders shop.orders in" in text and "✔ yes" in text
    assert "Connections" in text and "file" in text
    source = _text(client.get("/ui/sources/orders").text)
    assert "{ds}.csv" in source and "Start backfill" in source and "Preview" in source
    started = client.post(
        "/ui/sources/orders/backfill",
        data={"start": "2026-01-05", "end": "2026-01-07", "csrf": csrf_of(client)},
    )
    assert started.status_code == 303
    run_id = started.headers["location"].rsplit("/", 1)[1]
    run = native.services.runs.get_run(native.project_id, run_id)
    assert run.trigger == "backfill" and run.origin == "dashboard"
    assert run.days == ["2026-01-05", "2026-01-06", "2026-01-07"]
    backwards = client.post(
        "/ui/sources/orders/backfill",
        data={"start": "2026-01-07", "end": "2026-01-05", "csrf": csrf_of(client)},
    )
    assert backwards.status_code == 400 and "before the start day" in backwards.text
    assert client.get("/ui/sources/nope").status_code == 404


def test_kusto_operations_show_each_blob_with_its_error(native: Native) -> None:
    headers = {"Authorization": f"Bearer {native.keys[KeyKind.CONSOLE]}"}
    made = native.client.post(
        "/v1/rest/mgmt",
        json={"db": "db", "csl": ".create table T (name:string, n:long)"},
        headers=headers,
    )
    assert made.status_code == 200, made.text
    files = native.services.settings.data_dir / "files" / "acme"
    (files / "good.csv").write_text("ann,1\nbob,2\n")
    body = {
        "blobs": [{"url": (files / "good.csv").as_uri()}, {"url": (files / "gone.csv").as_uri()}],
        "properties": {"enableTracking": True, "format": "csv"},
    }
    queued = native.client.post("/v1/rest/ingestion/queued/db/T", json=body, headers=headers)
    assert queued.status_code == 200, queued.text
    operation = queued.json()["ingestionOperationId"]
    native.drain()
    client = browser(native, kind=KeyKind.READ)
    page = client.get("/ui/kusto")
    text = _text(page.text)
    assert operation in text and "db.T" in text
    assert "good.csv" in text and "✔ succeeded" in text
    assert "gone.csv" in text and "✖ failed" in text and "Permanent" in text
    failed = native.services.runs.get_run(native.project_id, operation.rsplit(";", 1)[1]).units[1]
    assert failed.error_code is not None and failed.error_code in text
