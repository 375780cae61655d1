"""`ingestd status`: the source x day grid after loading two days, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import ingestd

DAY1, DAY2, DAY3 = "2024-03-01", "2024-03-02", "2024-03-03"


def load_two_days(data_dir: Path) -> None:
    """Source `orders`: day 1 has 3 good rows and a bad one, day 2 has no file (it fails),
    day 3 is never run. Source `refunds` (empty file) only on day 1."""
    files = data_dir / "files" / "default" / "in"
    files.mkdir(parents=True)
    (files / f"orders_{DAY1}.csv").write_text("id,amount\n1,10.5\n2,x\n3,7\n4,1\n")
    (files / f"refunds_{DAY1}.csv").write_text("id,amount\n")
    ingestd(
        data_dir,
        "tables",
        "create",
        "shop.orders",
        "-c",
        "id:int64:required",
        "-c",
        "amount:float64",
    )
    ingestd(
        data_dir,
        "connections",
        "create",
        "in",
        "--kind",
        "file",
        "--config",
        json.dumps({"root": str(files)}),
    )
    for name in ("orders", "refunds"):
        ingestd(
            data_dir,
            "sources",
            "create",
            name,
            "--table",
            "shop.orders",
            "--connection",
            "in",
            "--path",
            name + "_{ds}.csv",
        )
    # Day 2 fails (exit status 1 once the CLI reports failed units; not this test's subject).
    ingestd(data_dir, "run", "orders", "--start", DAY1, "--end", DAY2, ok=False)
    ingestd(data_dir, "run", "refunds", "--day", DAY1)


def test_status_prints_each_source_and_day_with_its_status_and_rows(tmp_path: Path) -> None:
    load_two_days(tmp_path)
    result = ingestd(tmp_path, "status", "--days", "3", "--end", DAY3, "--json")
    grid = json.loads(result.stdout)
    assert grid["project"] == "default" and grid["days"] == [DAY1, DAY2, DAY3]
    by_source = {row["source"]: row["days"] for row in grid["sources"]}
    assert list(by_source) == ["orders", "refunds"]
    orders, refunds = by_source["orders"], by_source["refunds"]
    assert orders[DAY1]["status"] == "IMPORT_SUCCESSFUL" and orders[DAY1]["rows"] == 3
    assert orders[DAY1]["state"] == "succeeded" and orders[DAY1]["error_code"] is None
    assert orders[DAY2]["state"] == "failed" and orders[DAY2]["rows"] == 0
    assert orders[DAY2]["error_code"] == "SOURCE_NOT_FOUND"
    assert orders[DAY2]["status"].endswith("ERROR")
    assert orders[DAY3] is None
    assert refunds[DAY1]["status"] == "LOADED_EMPTY_DATA" and refunds[DAY1]["rows"] == 0
    assert refunds[DAY2] is None and refunds[DAY3] is None

    table = ingestd(tmp_path, "status", "--days", "3", "--end", DAY3).stdout
    lines = table.splitlines()
    assert "Daily status of project default (2024-03-01 .. 2024-03-03)" in table
    assert any(
        "Fri 03-01" in line and "Sat 03-02" in line and "Sun 03-03" in line for line in lines
    )
    orders_line = next(line for line in lines if "orders" in line)
    assert "IMPORT_SUCCESSFUL" in orders_line and orders_line.count("no run") == 1
    assert "3 rows" in table and "SOURCE_NOT_FOUND" in table and "LOADED_EMPTY_DATA" in table

    one = json.loads(
        ingestd(
            tmp_path, "status", "--days", "1", "--end", DAY1, "--source", "refunds", "--json"
        ).stdout
    )
    assert [row["source"] for row in one["sources"]] == ["refunds"] and one["days"] == [DAY1]


def test_status_refuses_bad_days_and_unknown_sources(tmp_path: Path) -> None:
    ingestd(tmp_path, "keys", "create", "--project", "default", "--kind", "read")
    zero = ingestd(tmp_path, "status", "--days", "0", ok=False)
    assert zero.returncode == 2 and "1 to 366 days" in zero.stderr
    unknown = ingestd(tmp_path, "status", "--source", "nope", ok=False)
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    bad_day = ingestd(tmp_path, "status", "--end", "March 3", ok=False)
    assert bad_day.returncode == 2 and "YYYY-MM-DD" in bad_day.stderr


def test_json_logs_of_a_cli_run_name_the_unit(tmp_path: Path) -> None:
    files = tmp_path / "files" / "default"
    files.mkdir(parents=True)
    ingestd(tmp_path, "tables", "create", "shop.orders", "-c", "id:int64")
    ingestd(
        tmp_path,
        "connections",
        "create",
        "in",
        "--kind",
        "file",
        "--config",
        json.dumps({"root": str(files)}),
    )
    ingestd(
        tmp_path,
        "sources",
        "create",
        "orders",
        "--table",
        "shop.orders",
        "--connection",
        "in",
        "--path",
        "missing_{ds}.csv",
    )
    result = ingestd(tmp_path, "run", "orders", "--day", DAY1, ok=False, log_format="json")
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [failure] = [line for line in lines if line["logger"] == "ingestd.executor"]
    assert failure["level"] == "WARNING" and "SOURCE_NOT_FOUND" in failure["message"]
    assert failure["project"] == "default" and failure["run_id"] and failure["unit_id"]
