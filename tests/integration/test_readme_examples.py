"""Every shell example of README.md runs as written against a served instance.

The blocks fenced as ``sh``, ``bash`` or ``console`` (there, the lines after a ``$ `` prompt)
run in order with ``bash -e -o pipefail``, in a directory laid out as a checkout after
``make run``: ``.venv/bin/ingestd`` and ``.venv/bin/python`` (also on PATH, as in an
activated virtualenv), the demo data in ``.ingestd``, a console key of project ``demo`` and
``ingestd serve`` on a free port. As the README tells users, ``$INGESTD_URL`` is the server's
URL and ``$KEY`` that key. A block is skipped only when an HTML comment starting with
``<!-- not-run`` stands right before it, saying why (it serves forever, needs another
machine, or sets the variables the test sets itself).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.serving import serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(sh|bash|console)\s*$")


@dataclass(frozen=True)
class Block:
    line: int
    """1-based line of the opening fence."""
    script: str
    run: bool


def blocks(text: str) -> list[Block]:
    """The shell blocks of ``text``, each marked whether it runs."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        body = lines[i + 1 : end]
        if fence.group(1) == "console":
            body = [line[2:] for line in body if line.startswith("$ ")]
        found.append(Block(i + 1, "\n".join(body) + "\n", not _marked_not_run(lines, i)))
        i = end + 1
    return found


def _marked_not_run(lines: list[str], fence: int) -> bool:
    """Whether the lines right above ``fence`` are a comment starting ``<!-- not-run``."""
    j = fence - 1
    if j < 0 or not lines[j].rstrip().endswith("-->"):
        return False
    while j >= 0 and "<!--" not in lines[j]:
        j -= 1
    return j >= 0 and lines[j].lstrip().startswith("<!-- not-run")


def test_the_extraction_finds_the_blocks_and_the_marks() -> None:
    text = (
        "x\n```sh\necho a\n```\n<!-- not-run: why,\nover two lines -->\n```bash\nexit 1\n```\n"
        "```console\n$ echo b\nb\n```\n```python\nraise\n```\n"
    )
    assert blocks(text) == [
        Block(2, "echo a\n", True),
        Block(7, "exit 1\n", False),
        Block(10, "echo b\n", True),
    ]


def _checkout(where: Path) -> dict[str, str]:
    """A directory like a checkout after ``make run``; the environment to run blocks in."""
    bin_dir = where / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    ingestd = bin_dir / "ingestd"
    ingestd.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c 'from ingestd.cli.main import run; run()' \"$@\"\n"
    )
    ingestd.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INGESTD_") and k not in ("KEY", "PYTHONPATH")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
    )
    return env


def _sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.timeout(900)  # a demo load, a server and some twenty CLI processes, on a busy CI
def test_every_shell_example_of_the_readme_runs_against_a_served_instance(
    tmp_path: Path,
) -> None:
    every = blocks(README.read_text())
    runnable = [b for b in every if b.run]
    assert len(runnable) >= 3, "the README's examples were not found"
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    env = _checkout(checkout)
    # What `make run` does before it serves.
    made = _sh(
        "ingestd demo >/dev/null\ningestd keys create --project demo --kind console", checkout, env
    )
    assert made.returncode == 0, made.stdout + made.stderr
    key = made.stdout.strip().splitlines()[-1]
    with serving(checkout / ".ingestd") as server:
        env.update(INGESTD_URL=server.url, KEY=key)
        outputs = []
        for block in runnable:
            done = _sh(block.script, checkout, env)
            assert done.returncode == 0, (
                f"README.md line {block.line}: exit {done.returncode}\n{block.script}\n"
                f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
            )
            outputs.append(done.stdout)
    everything = "\n".join(outputs)
    assert '"status":"ok"' in everything.replace(" ", "")  # curl $INGESTD_URL/healthz
    assert "backfill" in everything  # ingestd runs list --project demo
    assert "succeeded" in everything  # ingestd run ...
    assert "Quarantine of demo" in everything
