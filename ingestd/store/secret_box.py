"""Secrets at rest: what the metadata database keeps of a secret is its Fernet ciphertext.

The keys come from ``INGESTD_SECRET_KEY`` (comma-separated Fernet keys, the first encrypts, all
decrypt) or, when that is unset, from ``<data dir>/secret.key`` (one key a line, same rule),
which the first start creates with mode 0600. ``MultiFernet`` is what makes rotation safe: while
a rotation runs, the old key still decrypts what the new one has not re-encrypted yet
(docs/security/secrets.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ingestd.errors import ConnectionConfigError, InvalidInput
from ingestd.settings import Settings

KEY_FILE_NAME = "secret.key"


class SecretBox:
    """Encrypts and decrypts secrets with an ordered list of keys (the first encrypts)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise InvalidInput("no secret key was given", hint="set INGESTD_SECRET_KEY")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as exc:
            # The message never shows the key: Fernet's own says only "must be 32 url-safe...".
            raise InvalidInput(
                "a secret key is not a Fernet key (32 url-safe base64-encoded bytes)",
                hint="make one with `ingestd secrets generate-key`",
            ) from exc
        self.key_count = len(keys)

    def seal(self, plain: str) -> str:
        """The ciphertext of ``plain`` under the first key (a Fernet token, ASCII)."""
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, token: str) -> str:
        """The plain text of a token sealed with any of the keys."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise ConnectionConfigError(
                "a stored secret cannot be decrypted with the configured secret keys",
                hint="INGESTD_SECRET_KEY or <data dir>/secret.key must hold the key it was "
                "sealed with (during a rotation, keep the old key listed after the new one)",
            ) from exc

    def reseal(self, token: str) -> str:
        """The token re-encrypted under the first key (rotation)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise ConnectionConfigError(
                "a stored secret cannot be decrypted with the configured secret keys"
            ) from exc


def generate_key() -> bytes:
    return Fernet.generate_key()


def parse_keys(text: str) -> list[bytes]:
    """Keys separated by commas or newlines, blanks ignored, in order."""
    return [part.strip().encode() for part in text.replace("\n", ",").split(",") if part.strip()]


def read_key_file(path: Path) -> list[bytes]:
    try:
        return parse_keys(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read the secret key file {path}: {exc.strerror}") from exc


def ensure_key_file(path: Path) -> list[bytes]:
    """The keys of ``path``; the file is created with one new key and mode 0600 if it does not
    exist. O_CREAT|O_EXCL: two processes starting at once cannot both create it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(fd, "wb") as out:
        out.write(generate_key() + b"\n")
    return read_key_file(path)


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Replace the key file atomically (a new 0600 file renamed over the old one)."""
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(b"".join(key + b"\n" for key in keys))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def secret_keys(settings: Settings) -> list[bytes]:
    """``INGESTD_SECRET_KEY`` if set, else the key file (created on first start)."""
    if settings.secret_key is not None:
        return parse_keys(settings.secret_key.get_secret_value())
    return ensure_key_file(settings.secret_key_file)


def open_secret_box(settings: Settings) -> SecretBox:
    return SecretBox(secret_keys(settings))
