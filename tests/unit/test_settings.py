"""Settings: env prefix, validation with clear messages, every field documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ingestd.settings import Settings


def test_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.metadata_url == f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    assert settings.destination_path == tmp_path / "warehouse.duckdb"
    assert settings.allowed_file_roots == (tmp_path / "files",)


def test_environment_variables_use_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INGESTD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INGESTD_WORKERS", "5")
    monkeypatch.setenv("INGESTD_FILE_ROOTS", f"{tmp_path}/a, {tmp_path}/b")
    monkeypatch.setenv("INGESTD_FETCH_ALLOWED_NETWORKS", "127.0.0.0/8")
    settings = Settings()
    assert settings.workers == 5
    assert settings.allowed_file_roots == (tmp_path / "a", tmp_path / "b")
    assert str(settings.fetch_allowed_networks[0]) == "127.0.0.0/8"


@pytest.mark.parametrize(
    ("field", "value"),
    [("workers", 0), ("database_url", "mysql://x"), ("memory_limit", "lots"), ("port", 70000)],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == (field,)


def test_every_setting_is_documented() -> None:
    for variable, _default, description in Settings.describe():
        assert variable.startswith("INGESTD_") and len(description) > 20, variable
