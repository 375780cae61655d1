"""``POST /ingestd/v1/sources/{name}/runs`` (start a source's run), run id prefixes, the runs
list's total, and the operator token of ``server.json`` with ``X-Ingestd-Project``."""

from __future__ import annotations

from datetime import date

from ingestd.control.access import KeyKind
from tests.api.native.conftest import V1, Native, error_of

D1, D2 = date(2026, 1, 5), date(2026, 1, 6)
TOKEN = "operator-token-" + "x" * 40


def test_a_day_starts_a_manual_run_that_the_workers_load(native: Native) -> None:
    native.write_day(D1, "id,amount\n1,10\n2,20\n")
    started = native.call(
        "POST", "/sources/orders/runs", KeyKind.INGEST, body={"day": "2026-01-05"}
    )
    assert started.status_code == 201, started.text
    run = started.json()
    assert (run["trigger"], run["origin"], run["days"]) == ("manual", "native", ["2026-01-05"])
    assert [u["state"] for u in run["units"]] == ["enqueued"]
    native.drain()
    done = native.get(f"/runs/{run['id'][:8]}").json()  # any unique start of the id
    assert done["id"] == run["id"] and done["state"] == "succeeded"
    assert done["counts"]["inserted"] == 2


def test_start_and_end_make_a_backfill_with_a_unit_per_day(native: Native) -> None:
    body = {"start": "2026-01-05", "end": "2026-01-06"}
    run = native.call("POST", "/sources/orders/runs", body=body).json()
    assert run["trigger"] == "backfill"
    assert [u["day"] for u in run["units"]] == ["2026-01-05", "2026-01-06"]
    listed = native.get("/runs").json()
    assert listed["total"] == 1 and listed["data"][0]["updated_at"]


def test_an_idempotency_key_returns_the_first_run(native: Native) -> None:
    headers = {"Authorization": f"Bearer {native.keys[KeyKind.CONSOLE]}", "Idempotency-Key": "k1"}
    first = native.client.post(
        f"{V1}/sources/orders/runs", json={"day": "2026-01-05"}, headers=headers
    )
    again = native.client.post(
        f"{V1}/sources/orders/runs", json={"day": "2026-01-05"}, headers=headers
    )
    assert first.json()["id"] == again.json()["id"]
    assert native.get("/runs").json()["total"] == 1


def test_bad_bodies_and_unknown_sources_are_refused_with_the_envelope(native: Native) -> None:
    for body in ({}, {"day": "2026-01-05", "start": "2026-01-05"}, {"start": "2026-01-05"}):
        refused = native.call("POST", "/sources/orders/runs", body=body)
        assert refused.status_code == 400, body
        assert error_of(refused)["code"] == "VALIDATION_ERROR"
    backwards = native.call(
        "POST", "/sources/orders/runs", body={"start": "2026-01-06", "end": "2026-01-05"}
    )
    assert backwards.status_code == 400
    typo = native.call("POST", "/sources/orders/runs", body={"days": "2026-01-05"})
    assert typo.status_code == 400 and error_of(typo)["field"] == "days"
    missing = native.call("POST", "/sources/nope/runs", body={"day": "2026-01-05"})
    assert missing.status_code == 404 and error_of(missing)["code"] == "NOT_FOUND"
    read_only = native.call(
        "POST", "/sources/orders/runs", KeyKind.READ, body={"day": "2026-01-05"}
    )
    assert read_only.status_code == 403
    assert native.get("/runs").json()["total"] == 0


def _as_operator(native: Native, project: str | None, token: str = TOKEN) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if project is not None:
        headers["X-Ingestd-Project"] = project
    return headers


def test_the_operator_token_acts_as_a_console_key_of_the_project_it_names(native: Native) -> None:
    other = native.services.access.create_key("other", KeyKind.CONSOLE)
    other_id = native.services.access.project_id("other")
    native.run([D1])
    # Before serve accepts a token, nothing is one.
    assert native.client.get(f"{V1}/runs", headers=_as_operator(native, "acme")).status_code == 401
    native.services.access.accept_operator_token(TOKEN)
    acme = native.client.get(f"{V1}/runs", headers=_as_operator(native, "acme"))
    assert acme.status_code == 200 and acme.json()["total"] == 1
    made = native.client.post(
        f"{V1}/keys", json={"kind": "read"}, headers=_as_operator(native, "other")
    )
    assert made.status_code == 201 and made.json()["project"] == "other"
    assert (
        native.client.get(f"{V1}/runs", headers=_as_operator(native, "other")).json()["total"] == 0
    )
    # Without the project, or with a wrong token, it is refused.
    unnamed = native.client.get(f"{V1}/runs", headers=_as_operator(native, None))
    assert unnamed.status_code == 400 and "X-Ingestd-Project" in (error_of(unnamed)["hint"] or "")
    wrong = native.client.get(f"{V1}/runs", headers=_as_operator(native, "acme", TOKEN[:-1] + "y"))
    assert wrong.status_code == 401
    unknown = native.client.get(f"{V1}/runs", headers=_as_operator(native, "nope"))
    assert unknown.status_code == 404
    # Only on the native API: the Statsig dialect does not take it.
    statsig = native.client.get(
        "/console/v1/ingestion?type=x&dataset=events", headers={"STATSIG-API-KEY": TOKEN}
    )
    assert statsig.status_code in (401, 403)
    assert native.services.runs.list_runs(other_id)[1] == 0
    del other


def test_a_key_of_one_project_cannot_name_another(native: Native) -> None:
    other = native.services.access.create_key("other", KeyKind.CONSOLE)
    native.run([D1])
    headers = {"Authorization": f"Bearer {other}", "X-Ingestd-Project": "acme"}
    refused = native.client.get(f"{V1}/runs", headers=headers)
    assert refused.status_code == 403 and error_of(refused)["code"] == "FORBIDDEN"
    started = native.client.post(
        f"{V1}/sources/orders/runs", json={"day": "2026-01-05"}, headers=headers
    )
    assert started.status_code == 403
    assert native.services.runs.list_runs(native.project_id)[1] == 1
    own = native.client.get(f"{V1}/runs", headers={**headers, "X-Ingestd-Project": "other"})
    assert own.status_code == 200 and own.json()["total"] == 0
