"""The PostgreSQL destination through the whole service: settings select it, units load into it
with the same counts, quarantine and ledger as DuckDB, replays and event counts read it, and
concurrent loads into one table land exactly once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from ingestd.dataplane.contract import CancelToken, LoadRequest, LoadResult, Progress
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
    redact,
    to_pyformat,
)
from ingestd.dataplane.destinations.postgres.schema import LOCK_SQL, table_lock
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.connections import connection_body
from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef, identity_mapping
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import Canceled, FailureClass, FetchNotAllowed, IngestdError, UnitError
from ingestd.services import Services
from ingestd.settings import Settings
from tests.conftest import make_services
from tests.unit.dataplane.harness import PEOPLE, PEOPLE_ROWS, csv_text, empty_postgres

pytestmark = pytest.mark.postgres

DAY = date(2024, 3, 1)
KINDS = ["duckdb", "postgres"]


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


LOCAL_NETWORKS = "127.0.0.1/32,::1/128"


def _services(kind: str, root: Path, pg_url: str) -> Services:
    url = pg_url if kind == "postgres" else None
    # The test server is local: its addresses must be allowed explicitly (egress policy).
    return make_services(
        root / kind,
        destination_url=url,
        fetch_allowed_networks=LOCAL_NETWORKS,
        retry_base_seconds=0.01,
        lease_seconds=2,
    )


@pytest.fixture
def pg_services(tmp_path: Path, pg_url: str) -> Iterator[Services]:
    svc = _services("postgres", tmp_path, pg_url)
    yield svc
    svc.close()


def _drain(services: Services) -> None:
    pool = services.pool(workers=1)
    while pool.run_once():
        pass


def test_the_destination_url_selects_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path, destination_url=pg_url, fetch_allowed_networks=LOCAL_NETWORKS
    )
    assert settings.destination_kind == "postgresql"
    assert Settings(data_dir=tmp_path).destination_kind == "duckdb"
    services = Services(settings)
    try:
        assert isinstance(services.warehouse, PostgresDestination)
        assert services.warehouse.url.startswith("postgresql+psycopg://")
    finally:
        services.close()


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("", "127.0.0.1"),  # loopback, not listed
        ("", "localhost"),
        ("", "10.1.2.3"),  # private
        ("", "%2Fvar%2Frun%2Fpostgresql"),  # a local socket is judged as loopback
        ("0.0.0.0/0", "169.254.169.254"),  # cloud metadata: only an exact listing opens it
        ("127.0.0.1/32", "[::1]"),  # 127.0.0.1 is allowed, ::1 is not
    ],
    ids=["loopback", "localhost", "private", "socket", "metadata", "other-loopback"],
)
def test_a_destination_the_egress_policy_refuses_is_never_connected_to(
    tmp_path: Path, allowed: str, host: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        destination_url=f"postgresql+psycopg://ingestd:pw-9f3k@{host}:5432/data",
        fetch_allowed_networks=allowed,
    )
    services = Services(settings)
    try:
        with pytest.raises(FetchNotAllowed) as caught:
            services.warehouse  # noqa: B018 - opening it is the act under test
    finally:
        services.close()
    assert caught.value.code == "FETCH_NOT_ALLOWED"
    assert "refused to connect to the destination at" in caught.value.message
    assert "pw-9f3k" not in str(caught.value)


def test_an_unknown_destination_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(destination_url="mysql://db/x")
    assert info.value.errors()[0]["loc"] == ("destination_url",)


def test_placeholders_are_translated_outside_literals() -> None:
    assert to_pyformat("SELECT '?', \"a?\" FROM t WHERE x LIKE 'a%' AND y = ? -- why?\n") == (
        "SELECT '?', \"a?\" FROM t WHERE x LIKE 'a%%' AND y = %s -- why?\n"
    )


def _replay_scenario(services: Services) -> dict[str, Any]:
    """tests/integration/test_replay.py's scenario: a bad mapping, a fix, a replay, a rerun."""
    project_id = services.access.ensure_project("acme")
    orders = TableSpec(
        "shop",
        "orders",
        (Column("id", ColumnType.INT64, nullable=False), Column("amount", ColumnType.INT64)),
    )
    services.catalog.create_table(project_id, orders)
    folder = services.settings.data_dir / "files" / "acme" / "orders"
    folder.mkdir(parents=True)
    (folder / f"{DAY}.csv").write_text('id,amount\n1,10\n2,10.5\n3,7\n4,x\n5,"a,b\n')
    services.catalog.create_connection(
        project_id, "in", connection_body("file", {"root": str(folder)})
    )
    services.catalog.create_source(
        project_id, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="manual")
    _drain(services)
    listed, total = services.quarantine.list(project_id, ["shop.orders"], limit=2)
    services.catalog.create_table(
        project_id,
        TableSpec(
            "shop",
            "orders",
            (Column("amount_exact", ColumnType.FLOAT64), *orders.columns),
        ),
        merge=True,
    )
    services.catalog.update_source(
        project_id,
        "orders",
        mapping=Mapping(
            (
                FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),
                FieldMapping("amount_exact", SourceRef(RefKind.COLUMN, "amount")),
            )
        ),
    )
    replayed = services.replay.replay(project_id, "shop.orders")
    warehouse = services.warehouse
    outcome = {
        "listed": [(q.line, q.record, q.column, q.code) for q in listed],
        "total": total,
        "replayed": replayed,
        "rows": warehouse.query(
            "SELECT id, amount, amount_exact FROM acme__shop.orders ORDER BY id"
        ),
        "quarantine": warehouse.query(
            "SELECT file, line, record, column_name, code, message, raw "
            "FROM _ingestd.quarantine ORDER BY id"
        ),
        "ledger": warehouse.query(
            "SELECT read, inserted, updated, rejected, errors, fingerprint, files "
            "FROM _ingestd.ledger WHERE load_key LIKE ?",
            ["source:%"],
        ),
    }
    services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="backfill")
    _drain(services)
    outcome["after_rerun"] = warehouse.query("SELECT count(*) FROM acme__shop.orders")
    return outcome


def test_a_replay_gives_what_it_gives_on_duckdb(tmp_path: Path, pg_url: str) -> None:
    outcomes = {}
    for kind in KINDS:
        services = _services(kind, tmp_path, pg_url)
        try:
            outcomes[kind] = _replay_scenario(services)
        finally:
            services.close()
    duck, pg = outcomes["duckdb"], outcomes["postgres"]
    assert pg["rows"] == [(1, 10, None), (2, None, 10.5), (3, 7, None)]
    assert pg["total"] == 3 and len(pg["listed"]) == 2
    assert pg["after_rerun"] == [(3,)]
    # The ledger's files are JSON text in both; jsonb orders an object's keys its own way.
    assert [(*r[:6], _json(r[6])) for r in pg["ledger"]] == [
        (*r[:6], _json(r[6])) for r in duck["ledger"]
    ]
    assert pg["ledger"][0][:5] == (5, 3, 0, 0, 2)
    for key in ("listed", "total", "replayed", "rows", "quarantine", "after_rerun"):
        assert pg[key] == duck[key], key


def _json(text: str) -> Any:
    return json.loads(text)


def test_event_counts_and_tags_read_postgresql(pg_services: Services) -> None:
    services = pg_services
    project_id = services.access.ensure_project("acme")
    root = services.settings.data_dir / "files" / "acme"
    services.catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    services.catalog.create_connection(
        project_id, "files", connection_body("file", {"root": str(root)})
    )
    services.catalog.create_source(
        project_id,
        name="events",
        table="statsig.events",
        connection="files",
        path_template="events/{ds}/*.csv",
        mapping=mapping_from_column_mapping(
            "Events", {"unit_id": "user", "event_name": "event", "timestamp": "ts"}
        ),
        dataset="events",
    )
    start = 1_709_251_200
    rows = [(f"u{i}", f"e{i % 2}", start + i) for i in range(7)] + [("u9", "e1", "soon")]
    (root / "events" / str(DAY)).mkdir(parents=True)
    (root / "events" / str(DAY) / "a.csv").write_text(csv_text(["user", "event", "ts"], rows))
    services.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    _drain(services)

    assert not services.datasets.event_counts(services.warehouse, project_id, DAY, DAY, event="x")
    counts = services.datasets.event_counts(services.warehouse, project_id, DAY, DAY)
    assert [(c.day, c.event, c.count) for c in counts] == [(DAY, "e0", 4), (DAY, "e1", 3)]
    assert all(c.last_updated is not None for c in counts)
    [row], total = services.quarantine.list(project_id, ["statsig.events"])
    assert (total, row.record, row.column, row.code) == (1, 8, "timestamp", "INVALID_TIMESTAMP")
    assert not services.warehouse.tag_exists(
        services.catalog.get_table(project_id, "statsig.events"), "ingest-by:x"
    )


# -- concurrent loads ---------------------------------------------------------------------------

ACCOUNTS = TableSpec(
    "crm",
    "accounts",
    (Column("id", ColumnType.INT64, nullable=False), Column("plan", ColumnType.STRING)),
    primary_key=("id",),
    project="test",
)


def _concurrently(
    tmp_path: Path, url: str, loads: list[tuple[str, list[tuple[int, str]], LoadMode]]
) -> list[LoadResult]:
    """Run the loads in threads, each through its own destination (as separate processes
    would), all staged before any commits: every commit then competes for the table."""
    staged = threading.Barrier(len(loads))
    results: list[LoadResult | BaseException] = [RuntimeError("not run")] * len(loads)

    def run(index: int, key: str, rows: list[tuple[int, str]], mode: LoadMode) -> None:
        root = tmp_path / f"loader-{index}"
        path = root / "in.csv"
        root.mkdir()
        path.write_text(csv_text(["id", "plan"], rows))
        warehouse = PostgresDestination(url, memory_limit="256MB", spill_dir=root / "spill")

        def wait_for_the_others(progress: Progress) -> None:
            if progress.phase == "reading" and progress.files_done == progress.files_total:
                staged.wait(timeout=60)

        request = LoadRequest(
            key, key, "run", ACCOUNTS, identity_mapping(ACCOUNTS), (path,), (path.name,), mode=mode
        )
        try:
            plane = DataPlane(warehouse, root / "staging")
            results[index] = plane.load(request, progress=wait_for_the_others)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            results[index] = exc
        finally:
            warehouse.close()

    threads = [threading.Thread(target=run, args=(i, *load)) for i, load in enumerate(loads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, LoadResult)]


def test_concurrent_appends_into_one_table_all_land(tmp_path: Path, pg_url: str) -> None:
    loads = [
        (f"k{i}", [(i * 1000 + n, "free") for n in range(500)], LoadMode.APPEND) for i in range(3)
    ]
    # The same load key twice at once (a redelivered unit): its rows must not double.
    loads.append(("k0", loads[0][1], LoadMode.APPEND))

    results = _concurrently(tmp_path, pg_url, loads)

    assert [r.counts.inserted for r in results] == [500, 500, 500, 500]
    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        assert warehouse.query("SELECT count(*), count(DISTINCT id) FROM test__crm.accounts") == [
            (1500, 1500)
        ]
        assert warehouse.query(
            "SELECT load_key, inserted FROM _ingestd.ledger ORDER BY load_key"
        ) == [("k0", 500), ("k1", 500), ("k2", 500)]
    finally:
        warehouse.close()


def test_concurrent_upserts_count_each_key_once(tmp_path: Path, pg_url: str) -> None:
    first = [(n, "free") for n in range(0, 600)]
    second = [(n, "pro") for n in range(300, 900)]

    a, b = _concurrently(
        tmp_path, pg_url, [("a", first, LoadMode.UPSERT), ("b", second, LoadMode.UPSERT)]
    )

    # Whichever committed second saw the first's keys: 300 of its rows update.
    assert a.counts.inserted + b.counts.inserted == 900
    assert sorted([a.counts.updated, b.counts.updated]) == [0, 300]
    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        [(rows, keys, pro)] = warehouse.query(
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE plan = 'pro') "
            "FROM test__crm.accounts"
        )
        assert rows == keys == 900
        assert pro == (600 if b.counts.updated else 300)
    finally:
        warehouse.close()


def test_both_destinations_store_the_same_values(tmp_path: Path, pg_url: str) -> None:
    table = TableSpec(
        "demo",
        "typed",
        (
            Column("id", ColumnType.INT64, nullable=False),
            Column("s", ColumnType.STRING),
            Column("f", ColumnType.FLOAT64),
            Column("b", ColumnType.BOOL),
            Column("d", ColumnType.DATE),
            Column("t", ColumnType.TIMESTAMP),
            Column("j", ColumnType.JSON),
            Column("e", ColumnType.EPOCH_SECONDS),
        ),
        project="test",
    )
    rows = [
        (
            1,
            'a "quoted", multi\nline\\ text',
            "0.1",
            "true",
            "2024-02-29",
            "2024-02-29 23:59:59.999999",
            '{"a": [1, null, "x"]}',
            "1704067200",
        ),
        (2, "", "-0", "false", "0001-01-01", "1970-01-01T00:00:00+05:30", "[]", "-1"),
        (3, None, "nan", None, "9999-12-31", None, '"\\u00e9"', None),
        (4, "\\.", "-inf", "0", None, "2024-01-01", "null", "9223372036854775807"),
        (5, "Zoë ☃ 𝄞", "1e308", "yes", None, None, None, "2024-01-01T00:00:00Z"),
    ]
    path = tmp_path / "typed.csv"
    path.write_text(csv_text([c.name for c in table.columns], rows))
    loaded = {}
    for kind in KINDS:
        root = tmp_path / kind
        if kind == "duckdb":
            warehouse: DuckDBDestination | PostgresDestination = DuckDBDestination(
                root / "w.duckdb", memory_limit="256MB", spill_dir=root / "spill"
            )
        else:
            warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=root / "spill")
        try:
            request = LoadRequest(
                "k", "u", "r", table, identity_mapping(table), (path,), (path.name,)
            )
            result = DataPlane(warehouse, root / "staging").load(request)
            assert result.counts.inserted == 5
            loaded[kind] = [
                tuple(_comparable(v) for v in row)
                for row in warehouse.query(
                    "SELECT id, s, f, b, d, t, j, e FROM test__demo.typed ORDER BY id"
                )
            ]
        finally:
            warehouse.close()
    assert loaded["postgres"] == loaded["duckdb"]
    assert loaded["postgres"][1][2] == "-0.0"


def _comparable(value: Any) -> Any:
    """Floats by their repr (NaN equals NaN, -0.0 differs from 0.0), JSON text by its value."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and (value[:1] in ("{", "[", '"') or value == "null"):
        try:
            return ("json", _json(value))
        except ValueError:
            return value
    return value


# -- connections: encoding, secrets, cancel while waiting ------------------------------------


@pytest.fixture
def latin1_url(postgres_url: str) -> Iterator[str]:
    """A database in LATIN1 (a server whose default encoding is not UTF8), dropped after."""
    admin, name = postgres_url.rsplit("/", 1)[0], f"ingestd_latin1_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(psycopg_conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    yield f"{admin}/{name}"
    with psycopg.connect(psycopg_conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_text_arrives_intact_in_a_database_that_is_not_utf8(
    tmp_path: Path, latin1_url: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(csv_text(["id", "name", "score"], PEOPLE_ROWS), encoding="utf-8")
    warehouse = PostgresDestination(latin1_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        request = LoadRequest(
            "k", "u", "r", PEOPLE, identity_mapping(PEOPLE), (path,), (path.name,)
        )
        DataPlane(warehouse, tmp_path / "staging").load(request)
        assert warehouse.query("SELECT id, name, score FROM test__demo.people ORDER BY id") == (
            PEOPLE_ROWS
        )
    finally:
        warehouse.close()
    # What another client sees: the characters, not their UTF-8 bytes as Latin-1.
    conninfo = psycopg_conninfo(latin1_url)
    with psycopg.connect(conninfo, client_encoding="utf8") as conn:
        names = conn.execute("SELECT name FROM test__demo.people ORDER BY id").fetchall()
    assert [n for (n,) in names] == [r[1] for r in PEOPLE_ROWS]
    # A character LATIN1 lacks: the load fails for good and writes nothing.
    snowman = tmp_path / "snowman.csv"
    snowman.write_text(csv_text(["id", "name", "score"], [(4, "☃", 1)]), encoding="utf-8")
    warehouse = PostgresDestination(latin1_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        request = LoadRequest(
            "k2", "u", "r", PEOPLE, identity_mapping(PEOPLE), (snowman,), (snowman.name,)
        )
        with pytest.raises(UnitError) as refused:
            DataPlane(warehouse, tmp_path / "staging").load(request)
        assert refused.value.code == "MALFORMED_RECORDS"
        assert refused.value.failure_class is FailureClass.PERMANENT
        assert warehouse.query("SELECT count(*) FROM test__demo.people") == [(3,)]
        assert warehouse.ledger_entry("test", "k2") is None
    finally:
        warehouse.close()


@pytest.fixture
def impatient_url(postgres_url: str) -> Iterator[str]:
    """A database whose sessions default to a 1 ms statement timeout, dropped after."""
    admin, name = postgres_url.rsplit("/", 1)[0], f"ingestd_impatient_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(psycopg_conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f"ALTER DATABASE \"{name}\" SET statement_timeout = '1ms'")
    yield f"{admin}/{name}"
    with psycopg.connect(psycopg_conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_server_statement_timeout_does_not_cut_a_load_short(
    tmp_path: Path, impatient_url: str
) -> None:
    path = tmp_path / "people.csv"
    rows = [(i, f"name {i}", i / 4) for i in range(20_000)]
    path.write_text(csv_text(["id", "name", "score"], rows))
    warehouse = PostgresDestination(
        impatient_url, memory_limit="256MB", spill_dir=tmp_path / "spill"
    )
    try:
        request = LoadRequest(
            "k", "u", "r", PEOPLE, identity_mapping(PEOPLE), (path,), (path.name,)
        )
        DataPlane(warehouse, tmp_path / "staging").load(request)
        assert warehouse.query("SELECT count(*) FROM test__demo.people") == [(20_000,)]
    finally:
        warehouse.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres:Pa55-w0rd@127.0.0.1:1/test",
        "postgresql+psycopg://postgres@127.0.0.1:1/test?password=Pa55-w0rd",
        "postgresql+psycopg://postgres:Pa55%zzw0rd@127.0.0.1:5432/test",
    ],
    ids=["unreachable", "password-parameter", "bad-percent-encoding"],
)
def test_a_failed_connection_never_shows_the_password(tmp_path: Path, url: str) -> None:
    with pytest.raises(IngestdError) as caught:
        PostgresDestination(url, memory_limit="256MB", spill_dir=tmp_path / "spill")

    error = caught.value
    shown = [str(error), repr(error), redact(url)]
    shown += [str(e) for e in (error.__cause__, error.__context__) if e is not None]
    for text in shown:
        assert "Pa55" not in text, text
    assert "127.0.0.1" in str(error)


def test_a_cancel_while_waiting_for_the_table_commits_nothing(tmp_path: Path, pg_url: str) -> None:
    """An upsert stages its rows, then waits for the table's lock (another load holds it): a
    cancel during the wait must not be followed by a commit."""
    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    plane = DataPlane(warehouse, tmp_path / "staging")
    path = tmp_path / "accounts.csv"
    path.write_text(csv_text(["id", "plan"], [(1, "free"), (2, "free")]))

    def request(key: str) -> LoadRequest:
        return LoadRequest(
            key,
            key,
            "run",
            ACCOUNTS,
            identity_mapping(ACCOUNTS),
            (path,),
            (path.name,),
            mode=LoadMode.UPSERT,
        )

    token = CancelToken()
    outcome: list[object] = []
    try:
        plane.load(request("first"))
        path.write_text(csv_text(["id", "plan"], [(2, "pro"), (3, "pro")]))
        with psycopg.connect(psycopg_conninfo(pg_url)) as other:
            other.execute(LOCK_SQL, [table_lock(ACCOUNTS)])

            def load() -> None:
                try:
                    outcome.append(plane.load(request("second"), cancel=token))
                except BaseException as exc:  # noqa: BLE001 - checked below
                    outcome.append(exc)

            loader = threading.Thread(target=load)
            loader.start()
            deadline = time.monotonic() + 30
            while not other.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'ingestd:%%' "
                "AND wait_event = 'advisory'"
            ).fetchall():
                assert time.monotonic() < deadline, "the load never waited for the lock"
                time.sleep(0.05)
            token.cancel()
            other.rollback()  # releases the lock
            loader.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], Canceled), outcome
        assert warehouse.query("SELECT id, plan FROM test__crm.accounts ORDER BY id") == [
            (1, "free"),
            (2, "free"),
        ]
        assert warehouse.ledger_entry("test", "second") is None
    finally:
        warehouse.close()


# -- failure classes -------------------------------------------------------------------------


@pytest.fixture
def restricted_url(tmp_path: Path, pg_url: str) -> Iterator[str]:
    """``pg_url`` as a role that may connect but create nothing (the bookkeeping schema is
    made first, by the owner)."""
    PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill").close()
    role = f"ingestd_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(psycopg_conninfo(pg_url), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA _ingestd TO "{role}"')
    yield pg_url.replace("://postgres@", f"://{role}@", 1)
    with psycopg.connect(psycopg_conninfo(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')


def _load_accounts(warehouse: PostgresDestination, root: Path, rows: list[tuple[int, str]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "accounts.csv"
    path.write_text(csv_text(["id", "plan"], rows))
    request = LoadRequest(
        "k", "u", "r", ACCOUNTS, identity_mapping(ACCOUNTS), (path,), (path.name,)
    )
    DataPlane(warehouse, root / "staging").load(request)


def test_what_a_retry_cannot_fix_fails_for_good(
    tmp_path: Path, pg_url: str, restricted_url: str
) -> None:
    spill = tmp_path / "spill"
    with pytest.raises(UnitError) as unreachable:
        PostgresDestination(
            "postgresql+psycopg://postgres@127.0.0.1:1/x", memory_limit="256MB", spill_dir=spill
        )
    with pytest.raises(UnitError) as no_database:
        PostgresDestination(f"{pg_url}_missing", memory_limit="256MB", spill_dir=spill)
    restricted = PostgresDestination(restricted_url, memory_limit="256MB", spill_dir=spill)
    try:
        with pytest.raises(UnitError) as no_privilege:
            _load_accounts(restricted, tmp_path / "restricted", [(1, "free")])
    finally:
        restricted.close()
    owner = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=spill)
    try:
        _load_accounts(owner, tmp_path / "first", [(1, "free")])
        owner.query(
            "ALTER TABLE test__crm.accounts ADD CONSTRAINT no_banned CHECK (plan <> 'banned')"
        )
        with pytest.raises(UnitError) as constraint:
            _load_accounts(owner, tmp_path / "second", [(2, "banned")])
    finally:
        owner.close()

    assert unreachable.value.failure_class is FailureClass.TRANSIENT
    for refused in (no_database, no_privilege, constraint):
        assert refused.value.code == "DESTINATION_REFUSED", refused.value
        assert refused.value.failure_class is FailureClass.PERMANENT
    assert "does not exist" in str(no_database.value)
    assert "permission denied" in str(no_privilege.value)
    assert "no_banned" in str(constraint.value)
