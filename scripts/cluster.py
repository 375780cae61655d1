"""`make cluster`: one `ingestd serve` and two `ingestd worker` processes on this machine, with
demo data loaded through the workers, until Ctrl-C.

    .venv/bin/python scripts/cluster.py [--port 8000] [--host 127.0.0.1]

What it sets up, each step kept when it is already there (a second start reuses it all):

* PostgreSQL databases ``ingestd_cluster`` (metadata) and ``ingestd_cluster_data`` (the
  destination) on the local server (``--admin-url``), created when missing;
* INGESTD_SECRET_KEY and INGESTD_KUSTO_STORAGE_KEY, generated once into
  ``<data dir>/cluster-keys.json`` (mode 0600) and given to all three processes, as every
  process of a deployment across machines must get the same ones (docs/deployment.md);
* the `demo` project of `ingestd demo` (its events and orders sources, three days of files),
  and a backfill run of it, which `serve` dispatches through the local Redis
  (redis://127.0.0.1:6379/0, queue ``ingestd.cluster``) to the two workers.

All three processes share one data directory (``--data-dir``, default ``.ingestd/cluster``).
That is for this demo on one machine only: its sources read files from
``<data dir>/files/demo``, which a worker on another machine would not have (there, sources
read from object stores or databases, and each process gets a data directory of its own).

Each process's output is shown with its name in front. The three run in sessions of their own,
so Ctrl-C reaches this script alone, which stops them (SIGTERM: the workers' warm shutdown,
units in flight finish) and waits for each to exit; SIGTERM to this script does the same.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # the ingestd of this checkout, as the processes get it

import psycopg  # noqa: E402

from ingestd.control import demo  # noqa: E402
from ingestd.control.services import Services  # noqa: E402
from ingestd.domain.states import TERMINAL_UNIT_STATES  # noqa: E402
from ingestd.settings import Settings  # noqa: E402

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
KEYS_FILE = "cluster-keys.json"
WORKERS = 2


@dataclass(frozen=True)
class ClusterConfig:
    data_dir: Path
    host: str
    port: int
    admin_url: str
    metadata_db: str
    destination_db: str
    broker_url: str
    queue: str

    def database_url(self, name: str) -> str:
        base = self.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return f"{base}/{name}"


@dataclass(frozen=True)
class ClusterKeys:
    secret_key: str
    kusto_storage_key: str


def ensure_databases(config: ClusterConfig) -> None:
    with psycopg.connect(config.admin_url, autocommit=True) as conn:
        for name in (config.metadata_db, config.destination_db):
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}", flush=True)


def ensure_keys(data_dir: Path) -> ClusterKeys:
    """The deployment's two keys, generated on the first start into a file only the owner
    reads, and read from it on every later one (a new key would not decrypt what the old one
    encrypted)."""
    from cryptography.fernet import Fernet

    path = data_dir / KEYS_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "secret_key": Fernet.generate_key().decode(),
                    "kusto_storage_key": secrets.token_hex(32),
                },
                handle,
            )
    stored = json.loads(path.read_text())
    return ClusterKeys(stored["secret_key"], stored["kusto_storage_key"])


def environment(config: ClusterConfig, keys: ClusterKeys) -> dict[str, str]:
    return {
        "INGESTD_DATA_DIR": str(config.data_dir),
        "INGESTD_EXECUTOR": "celery",
        "INGESTD_BROKER_URL": config.broker_url,
        "INGESTD_BROKER_QUEUE": config.queue,
        "INGESTD_DATABASE_URL": config.database_url(config.metadata_db),
        "INGESTD_DESTINATION_URL": config.database_url(config.destination_db),
        "INGESTD_SECRET_KEY": keys.secret_key,
        "INGESTD_KUSTO_STORAGE_KEY": keys.kusto_storage_key,
        "INGESTD_WORKERS": "1",
        # The destination is this machine's PostgreSQL, which the egress policy refuses
        # (loopback) unless its network is allowed.
        "INGESTD_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
    }


class Child:
    """One ingestd process in a session of its own, its output shown with its name."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [*CLI, *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._echo = threading.Thread(target=self._show, args=(self.process.stdout,), daemon=True)
        self._echo.start()

    def _show(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for line in stream:
            print(f"{self.name:9}| {line.decode(errors='replace').rstrip()}", flush=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it has not exited within 60 s; its exit status."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._echo.join(5)
        return self.process.returncode


def wait_for_serve(serve: Child, url: str, stop: threading.Event, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while not stop.is_set():
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        if not serve.alive() or time.monotonic() > deadline:
            raise SystemExit(f"serve did not come up (exit status {serve.process.poll()})")
        time.sleep(0.2)
    raise SystemExit("stopped before serve came up")


def wait_for_workers(
    config: ClusterConfig, names: list[str], stop: threading.Event, timeout: float = 120
) -> None:
    """Until each worker answers a ping through the broker (it consumes the queue then)."""
    from celery import Celery

    app = Celery("cluster", broker=config.broker_url, set_as_current=False)
    deadline = time.monotonic() + timeout
    try:
        while not stop.is_set():
            replies = app.control.ping(destination=names, timeout=1.0)
            if {name for reply in replies for name in reply} >= set(names):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"workers did not answer through {config.broker_url}")
        raise SystemExit("stopped before the workers came up")
    finally:
        app.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=Path(".ingestd/cluster"))
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database of the PostgreSQL server to create the cluster's databases from",
    )
    parser.add_argument("--metadata-db", default="ingestd_cluster")
    parser.add_argument("--destination-db", default="ingestd_cluster_data")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", default="ingestd.cluster")
    args = parser.parse_args()
    config = ClusterConfig(
        args.data_dir.resolve(),
        args.host,
        args.port,
        args.admin_url,
        args.metadata_db,
        args.destination_db,
        args.broker_url,
        args.queue,
    )

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    ensure_databases(config)
    keys = ensure_keys(config.data_dir)
    env = environment(config, keys)
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    child_env = {**os.environ, **env, "PYTHONPATH": python_path}
    # Migrates the metadata database before the three processes start (not all at once) and
    # sets up the demo project, its sources and files, as `ingestd demo` does.
    services = Services(Settings(**_settings_fields(env)))
    setup = demo.set_up(services)
    key = demo.demo_key(services)

    url = f"http://{'127.0.0.1' if config.host in ('0.0.0.0', '::') else config.host}:{config.port}"
    host = socket.gethostname()
    names = [f"cluster-{n}@{host}" for n in range(1, WORKERS + 1)]
    children = [
        Child("serve", ["serve", "--host", config.host, "--port", str(config.port)], child_env)
    ]
    try:
        wait_for_serve(children[0], url, stop)
        for n, name in enumerate(names, start=1):
            children.append(
                Child(f"worker-{n}", ["worker", "--name", name, "--concurrency", "1"], child_env)
            )
        wait_for_workers(config, names, stop)
        # One run per source and day: each shows on its own in the dashboard's run list, and
        # the two workers take them in parallel.
        run_ids = [
            services.runs.start_source_run(setup.project_id, [source], [day], trigger="backfill").id
            for day in setup.days
            for source in setup.sources
        ]
        print(
            f"\ningestd cluster: serve on {url}, workers {', '.join(names)} "
            f"(queue {config.queue})\n"
            f"demo: {len(run_ids)} runs ({', '.join(setup.sources)} for {setup.days[0]}.."
            f"{setup.days[-1]}), sent to the workers\n"
            "A console key for project demo (Authorization: Bearer, or STATSIG-API-KEY):\n"
            f"{key}\n"
            f"Watch: curl -H 'Authorization: Bearer <key>' {url}/ingestd/v1/runs/{run_ids[0]}\n"
            f"  or the dashboard at {url}/ ; the workers: INGESTD_BROKER_URL={config.broker_url} "
            f"{sys.executable} -m celery -A ingestd.executor.celery_app inspect ping\n"
            f"Processes: {', '.join(f'{c.name} pid {c.process.pid}' for c in children)}; "
            "Ctrl-C stops all three.\n",
            flush=True,
        )
        pending = list(run_ids)
        while not stop.wait(1.0):
            dead = [c for c in children if not c.alive()]
            if dead:
                print(f"{dead[0].name} exited (status {dead[0].process.returncode}): stopping")
                return 1
            for run_id in list(pending):
                shown = services.runs.get_run(setup.project_id, run_id, history=False)
                if all(u.state in TERMINAL_UNIT_STATES for u in shown.units):
                    pending.remove(run_id)
                    units = ", ".join(f"{u.source_name} {u.day}" for u in shown.units)
                    print(
                        f"demo run {run_id} ({units}): {shown.state.value}, "
                        f"{shown.counts.read:,} rows read",
                        flush=True,
                    )
        return 0
    finally:
        services.close()
        for child in reversed(children):  # all at once, so they stop in parallel
            if child.alive():
                child.process.terminate()
        statuses = [f"{child.name} {_exit(child.stop())}" for child in reversed(children)]
        print("stopped: " + ", ".join(statuses), flush=True)


def _exit(status: int) -> str:
    return f"stopped by {signal.Signals(-status).name}" if status < 0 else f"exited {status}"


def _settings_fields(env: dict[str, str]) -> dict[str, Any]:
    """The processes' INGESTD_ variables as Settings fields (pydantic parses the strings)."""
    return {name.removeprefix("INGESTD_").lower(): value for name, value in env.items()}


if __name__ == "__main__":
    sys.exit(main())
