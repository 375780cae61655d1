"""`ingestd keys revoke` ends the project's OAuth clients and tokens too, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.errors import Unauthenticated
from tests.cli.test_cli import ingestd
from tests.conftest import make_services


def test_keys_revoke_ends_the_projects_oauth_clients_and_tokens(tmp_path: Path) -> None:
    ingestd(tmp_path, "keys", "create", "--project", "acme", "--kind", "console")
    lines = ingestd(
        tmp_path, "oauth", "create-client", "--project", "acme", "--kind", "read"
    ).stdout.splitlines()
    client_id = next(line for line in lines if line.startswith("client_id: ")).split(": ")[1]
    secret = lines[-1]
    services = make_services(tmp_path)
    try:
        token = services.oauth.issue_token(client_id, secret).access_token
        assert services.oauth.authenticate(token).project == "acme"

        ingestd(tmp_path, "keys", "revoke", "--project", "acme")

        with pytest.raises(Unauthenticated):
            services.oauth.authenticate(token)
        with pytest.raises(Unauthenticated):
            services.oauth.issue_token(client_id, secret)
    finally:
        services.close()
