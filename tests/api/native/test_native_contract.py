"""The native API's contract: /openapi.json documents every status the tests observe, errors
use one envelope, 405s carry Allow, out-of-range input is a 400 in every dialect."""

from __future__ import annotations

import pytest

from ingestd.control.access import KeyKind
from tests.api.native.conftest import Native, error_of

OBSERVED = {
    ("get", "/ingestd/v1/projects"): {"200", "401"},
    ("get", "/ingestd/v1/projects/{name}"): {"200", "404"},
    ("get", "/ingestd/v1/keys"): {"200", "403"},
    ("post", "/ingestd/v1/keys"): {"201", "400", "403"},
    ("delete", "/ingestd/v1/keys/{prefix}"): {"200", "404"},
    ("get", "/ingestd/v1/connections"): {"200"},
    ("get", "/ingestd/v1/connections/{name}"): {"200", "404"},
    ("post", "/ingestd/v1/connections"): {"201", "400", "403", "409"},
    ("delete", "/ingestd/v1/connections/{name}"): {"204", "409"},
    ("get", "/ingestd/v1/tables"): {"200"},
    ("get", "/ingestd/v1/tables/{name}"): {"200", "404"},
    ("get", "/ingestd/v1/sources"): {"200", "400"},
    ("get", "/ingestd/v1/sources/{name}"): {"200", "404"},
    ("get", "/ingestd/v1/sources/{name}/preview"): {"200", "400", "401", "404", "422"},
    ("post", "/ingestd/v1/sources/preview"): {"200", "400", "403", "404", "422"},
    ("get", "/ingestd/v1/runs"): {"200", "400"},
    ("get", "/ingestd/v1/runs/{run_id}"): {"200", "404"},
    ("post", "/ingestd/v1/runs/{run_id}/cancel"): {"200", "403"},
    ("post", "/ingestd/v1/units/{unit_id}/cancel"): {"200", "404", "409"},
    ("get", "/ingestd/v1/status"): {"200", "400"},
    ("get", "/ingestd/v1/quarantine"): {"200", "404"},
    ("post", "/ingestd/v1/quarantine/replay"): {"200", "400", "403", "404"},
    ("post", "/ingestd/v1/sources/{name}/runs"): {"201", "400", "403", "404"},
    ("get", "/ingestd/v1/readiness"): {"200", "503"},
    ("get", "/ingestd/v1/workers"): {"200"},
}
"""Per operation, the statuses the tests in tests/api/native observe it answer."""


def test_openapi_documents_every_observed_status_of_every_native_operation(
    native: Native,
) -> None:
    schema = native.client.get("/openapi.json").json()
    operations = {
        (method, path): op
        for path, item in schema["paths"].items()
        if path.startswith("/ingestd/v1/")
        for method, op in item.items()
    }
    assert set(operations) == set(OBSERVED)
    missing = {
        key: sorted(statuses - set(operations[key]["responses"]))
        for key, statuses in OBSERVED.items()
        if not statuses <= set(operations[key]["responses"])
    }
    assert not missing, missing
    for key, op in operations.items():
        for status, response in op["responses"].items():
            if status.startswith("4") and status != "422":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (key, status)
    assert "ingestd key" in schema["components"]["securitySchemes"]


def test_readiness_needs_no_key_and_names_its_checks(native: Native) -> None:
    response = native.client.get("/ingestd/v1/readiness")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": [
            {"name": "metadata", "ok": True, "code": None},
            {"name": "destination", "ok": True, "code": None},
        ],
    }


def test_unknown_paths_and_methods_answer_in_the_envelope_with_allow(native: Native) -> None:
    unknown = native.get("/nowhere")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "NOT_FOUND"
    wrong = native.call("PUT", "/connections")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, POST"
    assert error_of(wrong)["code"] == "METHOD_NOT_ALLOWED"
    statsig = native.client.put("/console/v1/ingestion")
    assert statsig.status_code == 405
    assert statsig.headers["Allow"] == "DELETE, GET, PATCH, POST"
    assert set(statsig.json()) == {"status", "message"}


BIG = "2352468481829821665132064196788224"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/console/v1/ingestion/runs", {"page": BIG}),
        (
            "/console/v1/ingestion/status",
            {"page": BIG, "startDate": "2026-01-01", "endDate": "2026-01-02"},
        ),
        ("/api/workflow/runs", {"limit": BIG}),
        ("/api/workflow/runs", {"next_token": "bzoyMzUyNDY4NDgxODI5ODIxNjY1MTMyMDY0MTk2Nzg4MjI0"}),
        ("/ingestd/v1/runs", {"limit": BIG}),
        ("/ingestd/v1/status", {"start": "2026-01-01", "end": "2026-01-02", "limit": BIG}),
        ("/ingestd/v1/quarantine", {"cursor": "WyJvZmZzZXQiLDIzNTI0Njg0ODE4Mjk4MjE2NjVd"}),
    ],
    ids=[
        "statsig-runs-page",
        "statsig-status-page",
        "amperity-limit",
        "amperity-token-offset",
        "native-runs-limit",
        "native-status-limit",
        "native-quarantine-offset",
    ],
)
def test_out_of_range_numbers_are_400_never_500(
    native: Native, path: str, params: dict[str, str]
) -> None:
    key = native.keys[KeyKind.CONSOLE]
    headers = {
        "STATSIG-API-KEY": key,
        "Authorization": f"Bearer {key}",
        "amperity-tenant": "acme",
        "api-version": "2024-04-01",
    }
    response = native.client.get(path, params=params, headers=headers)
    assert response.status_code == 400, response.text
