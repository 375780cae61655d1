"""The SAS and identity tokens of the Kusto SDK storage, and ingestd's uploads (kept in the
metadata database, here an SQLite file): a clock is injected; nothing here reads the wall
clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from ingestd.control.kusto.storage.sas import SAS_LIFETIME, Signer, StorageAuthFailed
from ingestd.control.kusto.storage.uploads import KustoUploads, UploadTooLarge
from ingestd.domain.kusto_storage import Resource
from ingestd.errors import InvalidInput, NotFound
from ingestd.store.database import Store
from ingestd.store.schema import PayloadChunk, Project, StoredPayload

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _query(signer: Signer, project_id: int, resource: Resource) -> dict[str, str]:
    return dict(parse_qsl(signer.sas(project_id, resource)))


def test_a_sas_opens_its_resource_with_its_permissions_until_it_expires() -> None:
    clock = Clock()
    signer = Signer(b"server-key", clock)
    query = _query(signer, 7, Resource.SUCCESS_QUEUE)
    signer.check(query, 7, Resource.SUCCESS_QUEUE, "p")
    signer.check(query, 7, Resource.SUCCESS_QUEUE, "r")
    with pytest.raises(StorageAuthFailed):
        signer.check(query, 7, Resource.SUCCESS_QUEUE, "a")  # not granted
    with pytest.raises(StorageAuthFailed):
        signer.check(query, 8, Resource.SUCCESS_QUEUE, "p")  # another project
    with pytest.raises(StorageAuthFailed):
        signer.check(query, 7, Resource.FAILURE_QUEUE, "p")  # another resource
    clock.now = T0 + SAS_LIFETIME - timedelta(seconds=1)
    signer.check(query, 7, Resource.SUCCESS_QUEUE, "p")
    clock.now = T0 + SAS_LIFETIME
    with pytest.raises(StorageAuthFailed):
        signer.check(query, 7, Resource.SUCCESS_QUEUE, "p")


@pytest.mark.parametrize(
    ("field", "value"),
    [("sp", "rpa"), ("se", "2099-01-01T00:00:00Z"), ("si", "ingestd-project-8"), ("sig", "AA==")],
)
def test_a_tampered_sas_is_refused(field: str, value: str) -> None:
    signer = Signer(b"server-key", Clock())
    query = _query(signer, 7, Resource.SUCCESS_QUEUE)
    query[field] = value
    with pytest.raises(StorageAuthFailed):
        signer.check(query, 7 if field != "si" else 8, Resource.SUCCESS_QUEUE, "r")


def test_a_sas_of_another_server_key_is_refused() -> None:
    query = _query(Signer(b"other-key", Clock()), 7, Resource.TEMP_STORAGE)
    with pytest.raises(StorageAuthFailed):
        Signer(b"server-key", Clock()).check(query, 7, Resource.TEMP_STORAGE, "w")


def test_an_identity_token_names_its_project_and_expires() -> None:
    clock = Clock()
    signer = Signer(b"server-key", clock)
    token = signer.identity_token(7)
    signer.check_identity_token(token, 7)
    for bad in (None, 42, "", token.replace(".7.", ".8."), signer.identity_token(8)):
        with pytest.raises(StorageAuthFailed):
            signer.check_identity_token(bad, 7)
    clock.now = T0 + SAS_LIFETIME
    with pytest.raises(StorageAuthFailed):
        signer.check_identity_token(token, 7)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A metadata store with projects 1 and 2."""
    store = Store(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    store.migrate()
    with store.write() as session:
        session.add_all([Project(id=1, name="acme"), Project(id=2, name="beta")])
    yield store
    store.dispose()


def _read(uploads: KustoUploads, project_id: int, relative: str) -> bytes:
    return b"".join(uploads.open(project_id, relative).read())


def _stored_rows(store: Store) -> tuple[int, int]:
    with store.read() as session:
        return session.query(StoredPayload).count(), session.query(PayloadChunk).count()


def test_an_upload_past_the_limit_leaves_no_file(store: Store) -> None:
    uploads = KustoUploads(store, max_bytes=10)

    def upload(chunks: list[bytes]) -> None:
        with uploads.writer(1, "db__T__id__rows.csv") as writer:
            for chunk in chunks:
                writer.write(chunk)

    with pytest.raises(UploadTooLarge):
        upload([b"123456", b"789012"])
    assert _stored_rows(store) == (0, 0)
    with pytest.raises(UploadTooLarge):  # a declared size past the limit fails at once
        uploads.writer(1, "db__T__id__rows.csv", declared=11).__enter__()
    assert _stored_rows(store) == (0, 0)
    with uploads.writer(1, "db__T__id__rows.csv") as writer:
        writer.write(b"a,1\n")
    assert _read(uploads, 1, "1/db__T__id__rows.csv") == b"a,1\n"


def test_an_upload_is_invisible_until_it_completes(store: Store) -> None:
    uploads = KustoUploads(store, max_bytes=10 << 20)
    with uploads.writer(1, "rows.csv") as writer:
        writer.write(b"x" * (3 << 20))  # three chunks stored before the upload ends
        with pytest.raises(NotFound):
            uploads.open(1, "1/rows.csv")
    assert _read(uploads, 1, "1/rows.csv") == b"x" * (3 << 20)

    def interrupted() -> None:
        with uploads.writer(1, "rows.csv") as writer:
            writer.write(b"y" * (2 << 20))
            raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError):
        interrupted()
    # The failed overwrite left nothing, and the blob is still the one that completed.
    assert _read(uploads, 1, "1/rows.csv") == b"x" * (3 << 20)
    assert _stored_rows(store) == (1, 3)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "x" * 2000])
def test_blob_names_cannot_leave_the_project_directory(store: Store, name: str) -> None:
    uploads = KustoUploads(store, max_bytes=10)
    with pytest.raises(InvalidInput):
        uploads.relative(1, name)


def test_one_project_cannot_resolve_anothers_upload(store: Store) -> None:
    uploads = KustoUploads(store, max_bytes=10)
    with uploads.writer(1, "rows.csv") as writer:
        writer.write(b"a,1\n")
    with pytest.raises(NotFound):
        uploads.open(2, "1/rows.csv")
    with pytest.raises(NotFound):
        uploads.open(2, "2/rows.csv")


def test_blocks_commit_in_the_order_listed(store: Store) -> None:
    uploads = KustoUploads(store, max_bytes=100)
    for block_id, data in (("b1", b"first,"), ("b2", b"second")):
        with uploads.block_writer(1, "rows.csv", block_id) as writer:
            writer.write(data)
    with pytest.raises(InvalidInput):
        uploads.commit_blocks(1, "rows.csv", ["b2", "missing"])
    assert uploads.commit_blocks(1, "rows.csv", ["b2", "b1"]) == 12
    assert _read(uploads, 1, "1/rows.csv") == b"secondfirst,"
    assert _stored_rows(store)[0] == 1  # the blocks went once committed


def test_retention_sweeps_old_uploads_not_in_use(store: Store) -> None:
    clock = Clock()
    uploads = KustoUploads(store, max_bytes=100, clock=clock)
    clock.now = T0 - timedelta(days=4)
    for name in ("old.csv", "old-in-use.csv"):
        with uploads.writer(1, name) as writer:
            writer.write(b"a,1\n")
    with uploads.block_writer(1, "stale.csv", "b1") as writer:
        writer.write(b"a,")
    clock.now = T0
    with uploads.writer(1, "new.csv") as writer:
        writer.write(b"a,1\n")
    removed = uploads.sweep(1, older_than=T0 - timedelta(days=3), keep={"1/old-in-use.csv"})
    assert removed == 1
    with store.read() as session:
        left = sorted(session.scalars(select(StoredPayload.name)))
    assert left == ["new.csv", "old-in-use.csv"]
    assert uploads.project_ids() == [1]
