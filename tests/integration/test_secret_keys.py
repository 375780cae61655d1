"""The keys that encrypt secrets at rest: the key file, rotation, and migration 0006."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from ingestd.control.secret_keys import rotate_key
from ingestd.domain.connections import connection_body
from ingestd.errors import ConnectionConfigError, InvalidInput
from ingestd.settings import Settings
from ingestd.store.database import MIGRATIONS, Store
from ingestd.store.secret_box import SecretBox, generate_key, read_key_file
from tests.conftest import make_services

SECRET = "pw-4f9c1e-rotation"


def _connection(data_dir: Path, **settings: object) -> None:
    svc = make_services(data_dir, **settings)
    try:
        project_id = svc.access.ensure_project("acme")
        settings_ = {"host": "h", "database": "d", "user": "u"}
        body = connection_body("postgres", settings_, {"password": SECRET})
        svc.catalog.create_connection(project_id, "pg", body)
    finally:
        svc.close()


def _secrets(data_dir: Path, **settings: object) -> dict[str, str]:
    svc = make_services(data_dir, **settings)
    try:
        return svc.catalog.connection_secrets(svc.access.project_id("acme"), "pg")
    finally:
        svc.close()


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _connection(data)
    key_file = data / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_bytes()
    assert _secrets(data) == {"password": SECRET}
    assert key_file.read_bytes() == first  # a second start reuses it
    assert SECRET.encode() not in (data / "metadata.sqlite").read_bytes()


def test_rotation_re_encrypts_every_row_and_retires_the_old_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _connection(data)
    (old,) = read_key_file(data / "secret.key")
    with Store(f"sqlite:///{data / 'metadata.sqlite'}").engine.connect() as conn:
        before = conn.execute(text("SELECT sealed_secrets FROM connections")).scalar()
    done = rotate_key(Settings(data_dir=data))
    assert (done.connections, done.key_file) == (1, True)
    (new,) = read_key_file(data / "secret.key")
    assert new != old
    assert _secrets(data) == {"password": SECRET}
    # The row is now sealed under the new key only: the old key alone cannot open it.
    with Store(f"sqlite:///{data / 'metadata.sqlite'}").engine.connect() as conn:
        after = conn.execute(text("SELECT sealed_secrets FROM connections")).scalar()
    assert isinstance(before, str) and isinstance(after, str) and after != before
    with pytest.raises(ConnectionConfigError):
        SecretBox([old]).open(after)
    assert json.loads(SecretBox([new]).open(after)) == {"password": SECRET}


def test_rotation_with_the_setting_uses_its_first_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old, new = generate_key().decode(), generate_key().decode()
    _connection(data, secret_key=old)
    with pytest.raises(InvalidInput, match="one key"):
        rotate_key(Settings(data_dir=data, secret_key=old))  # type: ignore[arg-type]
    done = rotate_key(Settings(data_dir=data, secret_key=f"{new},{old}"))  # type: ignore[arg-type]
    assert (done.connections, done.key_file) == (1, False)
    assert _secrets(data, secret_key=new) == {"password": SECRET}
    assert not (data / "secret.key").exists()  # the setting wins: no key file is made
    with pytest.raises(ConnectionConfigError, match="cannot be decrypted"):
        _secrets(data, secret_key=old)


def _alembic(store: Store, action: str, revision: str, box: SecretBox) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["secret_box"] = box
        getattr(command, action)(config, revision)


def test_migration_0006_encrypts_plain_rows(database_url: str) -> None:
    box = SecretBox([generate_key()])
    store = Store(database_url, box)
    try:
        _alembic(store, "upgrade", "0005", box)
        with store.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', :t)"),
                {"t": "2026-01-01 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO connections (project_id, name, kind, config, secrets, "
                    "created_at, updated_at) VALUES (1, 'pg', 'postgres', '{}', :s, :t, :t)"
                ),
                {"s": json.dumps({"password": SECRET}), "t": "2026-01-01 00:00:00"},
            )
        store.migrate()
        with store.engine.connect() as conn:
            sealed = conn.execute(text("SELECT sealed_secrets FROM connections")).scalar()
            columns = conn.execute(text("SELECT * FROM connections")).keys()
        assert "secrets" not in columns
        assert isinstance(sealed, str) and SECRET not in sealed
        assert json.loads(box.open(sealed)) == {"password": SECRET}
        if database_url.startswith("sqlite:///"):
            # Dropped in place with secure_delete on: no page of the file keeps the plain text.
            database = Path(database_url.removeprefix("sqlite:///"))
            for path in (database, database.with_name(database.name + "-wal")):
                assert not path.exists() or SECRET.encode() not in path.read_bytes()
        _alembic(store, "downgrade", "0005", box)
        with store.engine.connect() as conn:
            plain = conn.execute(text("SELECT secrets FROM connections")).scalar()
        value = json.loads(plain) if isinstance(plain, str) else plain  # JSON text or JSONB
        assert value == {"password": SECRET}
    finally:
        store.dispose()


def test_the_cli_rotates_the_key_file_and_prints_a_new_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ingestd.cli.main import app

    data = tmp_path / "data"
    _connection(data)
    before = read_key_file(data / "secret.key")
    rotated = CliRunner().invoke(app, ["--data-dir", str(data), "secrets", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert "Re-encrypted the secrets of 1 connection(s)" in rotated.output
    assert read_key_file(data / "secret.key") != before
    assert SECRET not in rotated.output and before[0].decode() not in rotated.output
    assert _secrets(data) == {"password": SECRET}
    made = CliRunner().invoke(app, ["secrets", "generate-key"])
    assert made.exit_code == 0
    SecretBox([made.output.strip().splitlines()[-1].encode()])  # a usable Fernet key
