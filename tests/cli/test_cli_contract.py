"""The CLI's contract (DESIGN.md "Interfaces"): exit codes 0/1/2, the parser's own usage
errors, global options before or after the subcommand, --json, run id prefixes, keys shown
only by prefix, and a serve that refuses a busy port or data directory in one line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer

from ingestd.cli.context import console, err_console
from ingestd.cli.main import execute
from ingestd.errors import Unauthenticated
from tests.conftest import make_services
from tests.integration.serving import free_port, serving

DAY = "2024-03-01"


@pytest.fixture(autouse=True)
def eighty_columns() -> Iterator[None]:
    """The consoles as in an 80-column terminal, whatever runs the tests."""
    saved = console.size, err_console.size
    console.size = err_console.size = (80, 25)
    yield
    console.size, err_console.size = saved


class Cli:
    def __init__(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data = data
        self.capsys = capsys

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        got = execute([*args])
        out, err = self.capsys.readouterr()
        assert got == code, f"exit {got} (wanted {code})\n{out}\n{err}"
        assert "internal error" not in err and "Traceback" not in err
        return out, err

    def here(self, *args: str, code: int = 0) -> tuple[str, str]:
        """With the data directory given after the subcommand."""
        return self(*args, "--data-dir", str(self.data), code=code)

    def orders_source(self) -> None:
        files = self.data / "files" / "default" / "in"
        files.mkdir(parents=True)
        (files / f"orders_{DAY}.csv").write_text("id,amount\n1,10.5\n2,x\n3,7\n")
        d = ["--data-dir", str(self.data)]
        self(
            *d, "tables", "create", "shop.orders", "-c", "id:int64:required", "-c", "amount:float64"
        )
        self(
            *d,
            "connections",
            "create",
            "in",
            "--kind",
            "file",
            "--config",
            json.dumps({"root": str(files)}),
        )
        self(
            *d,
            "sources",
            "create",
            "orders",
            "--table",
            "shop.orders",
            "--connection",
            "in",
            "--path",
            "orders_{ds}.csv",
        )


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "data", capsys)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "--port", "x"], "Invalid value for '--port'"),
        (["serve", "--prot", "8000"], "No such option: --prot"),
        (["runs", "lst"], "No such command 'lst'"),
        (["keys", "create", "--project", "acme"], "Missing option '--kind'"),
        (["keys", "create", "--project", "acme", "--kind", "admin"], "'admin'"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
    ids=["bad-int", "typo-option", "typo-command", "missing-option", "bad-choice", "no-command"],
)
def test_usage_errors_print_the_parsers_message_and_exit_2(
    cli: Cli, args: list[str], words: str
) -> None:
    _, err = cli.here(*args, code=2) if args[0] != "nosuch" else cli(*args, code=2)
    assert words in err and "Usage: ingestd" in err
    assert "internal error" not in err  # the handler knows typer's bundled click classes


def test_global_options_work_before_and_after_the_subcommand(cli: Cli) -> None:
    out, _ = cli.here("keys", "create", "--project", "acme", "--kind", "read")
    key = out.splitlines()[-1]
    after = json.loads(cli.here("keys", "list", "--json")[0])
    before = json.loads(cli("--json", "--data-dir", str(cli.data), "keys", "list")[0])
    mixed = json.loads(cli("--data-dir", str(cli.data), "keys", "list", "--json")[0])
    assert after == before == mixed
    assert [(k["project"], k["kind"], k["prefix"]) for k in after] == [("acme", "read", key[:16])]


def test_run_exits_0_when_all_succeeded_and_1_when_a_unit_failed(cli: Cli) -> None:
    cli.orders_source()
    out, _ = cli.here("run", "orders", "--day", DAY)
    assert "succeeded" in out
    # No file for the day: the unit fails (SOURCE_NOT_FOUND); the table is still printed.
    out, _ = cli.here("run", "orders", "--day", "2024-03-02", code=1)
    assert "Run " in out and "─" in out  # the table of counts is printed
    out, _ = cli.here("run", "orders", "--start", DAY, "--end", "2024-03-02", code=1)
    runs = json.loads(cli.here("runs", "list", "--json")[0])["runs"]
    assert [r["state"] for r in runs] == ["partially_succeeded", "failed", "succeeded"]
    newest = json.loads(cli.here("runs", "show", runs[0]["id"], "--json")[0])
    assert [(u["state"], (u["error"] or {}).get("code")) for u in newest["units"]] == [
        ("succeeded", None),
        ("failed", "SOURCE_NOT_FOUND"),
    ]
    cli.here("run", "orders", "--day", "2024-03-40", code=2)


def test_lists_and_shows_print_json_and_show_takes_a_unique_id_prefix(cli: Cli) -> None:
    cli.orders_source()
    cli.here("run", "orders", "--day", DAY)
    page = json.loads(cli.here("runs", "list", "--json")[0])
    assert page["total"] == 1
    (run,) = page["runs"]
    assert run["state"] == "succeeded" and run["counts"]["read"] == 3
    assert run["counts"]["errors"] == 1 and run["days"] == [DAY]
    shown = json.loads(cli.here("runs", "show", run["id"][:8], "--json")[0])
    assert shown["id"] == run["id"]
    (unit,) = shown["units"]
    assert unit["files"][0]["counts"]["inserted"] == 2 and unit["history"]
    quarantine = json.loads(cli.here("quarantine", "list", "--json")[0])
    assert [r["code"] for r in quarantine["rows"]] == ["TYPE_MISMATCH"]
    assert quarantine["rows"][0]["column"] == "amount"
    tables = json.loads(cli.here("tables", "list", "--json")[0])
    assert tables[0]["name"] == "shop.orders" and tables[0]["columns"][0]["required"]
    sources = json.loads(cli.here("sources", "list", "--json")[0])
    assert sources[0]["name"] == "orders" and sources[0]["mode"] == "append"
    connections = json.loads(cli.here("connections", "list", "--json")[0])
    assert connections[0]["kind"] == "file" and connections[0]["has_secrets"] is False
    assert json.loads(cli.here("projects", "list", "--json")[0])[0]["project"] == "default"
    assert json.loads(cli.here("streams", "list", "--json")[0]) == []
    # The table in 80 columns shows the whole id, on one line.
    table, _ = cli.here("runs", "list")
    assert any(run["id"] in line for line in table.splitlines()), table


def test_an_ambiguous_or_unknown_prefix_exits_2_naming_the_candidates(cli: Cli) -> None:
    cli.orders_source()
    ids: list[str] = []
    while len({i[0] for i in ids}) == len(ids):  # until two ids share a first character
        out, _ = cli.here("run", "orders", "--day", DAY, "--no-wait")
        ids.append(out.split()[1].rstrip(":"))
    first = ids[-1][0]
    _, err = cli.here("runs", "show", first, code=2)
    candidates = [i for i in ids if i.startswith(first)]
    assert "more than one run" in err.replace("\n", " ")
    assert all(c in err.replace("\n", "") for c in candidates[:5])
    cli.here("runs", "show", "zzzz", code=2)


def test_keys_list_never_shows_a_whole_key_and_revoke_takes_a_prefix(cli: Cli) -> None:
    keys = [
        cli.here("keys", "create", "--project", p, "--kind", "console")[0].splitlines()[-1]
        for p in ("acme", "acme", "beta")
    ]
    table, _ = cli.here("keys", "list")
    listed = cli.here("keys", "list", "--project", "acme", "--json")[0]
    for key in keys:
        assert key not in table and key not in listed
        assert key[8:20] not in table + listed  # no more than the stored prefix
    assert [k["prefix"] for k in json.loads(listed)] == [keys[0][:16], keys[1][:16]]
    _, err = cli.here("keys", "revoke", "console-", code=2)
    assert keys[0][:16] in err and keys[2][:16] in err
    cli.here("keys", "revoke", keys[2][:16], "--project", "acme", code=2)  # not acme's
    out, _ = cli.here("keys", "revoke", keys[0][:14])
    assert keys[0][:16] in out
    services = make_services(cli.data)
    try:
        with pytest.raises(Unauthenticated):
            services.access.authenticate(keys[0])
        assert services.access.authenticate(keys[1]).project == "acme"
        remaining = services.access.list_keys("acme")
        assert [k.prefix for k in remaining] == [keys[1][:16]]
        assert remaining[0].last_used_at is not None  # the authenticate above
    finally:
        services.close()
    cli.here("keys", "revoke", code=2)  # neither a prefix nor --project


def test_a_commands_bad_parameter_is_shown_as_the_parser_shows_its_own(cli: Cli) -> None:
    # typer.BadParameter is typer's bundled click class, not the click package's: the handler
    # catches that class (a handler for click.ClickException would let it through as an
    # internal error).
    assert not issubclass(typer.BadParameter, click.ClickException)
    _, err = cli.here("keys", "revoke", code=2)
    assert "Usage: ingestd keys revoke" in err
    assert "Invalid value for PREFIX: give the PREFIX of a key" in err


def test_serve_refuses_a_busy_port_in_one_line_before_saying_it_serves(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out, err = cli(
            "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(cli.data), code=2
        )
    assert "serving on" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # the error, and its hint
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port" in lines[1]


def test_a_second_serve_on_one_data_directory_is_refused_in_one_line(cli: Cli) -> None:
    with serving(cli.data):
        out, err = cli.here("serve", "--port", str(free_port()), code=2)
    assert "serving on" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert "another ingestd process is using the data directory" in lines[0]
    assert "--data-dir" in lines[1]
