"""make scale-demo: the multi-machine set-up on one machine, end to end, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_scale_demo_lands_every_team_and_domain_once_from_two_workers():
    # Given nothing running: the demo starts PostgreSQL, Prefect, the pool and two workers
    # When it runs the fan-out over the medium sandbox
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale_out.py"), "demo", "--json"],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )
    # Then it succeeded, every team and domain landed once, the shards ran on two workers
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [row] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert row["problems"] == [] and row["state"] == "COMPLETED"
    assert (row["teams"], row["domains"]) == (200, 2000)
    assert sorted(s["worker"] for s in row["shards"]) == ["worker-1", "worker-2"]
    assert "stopped: the workers, the Prefect server, PostgreSQL" in done.stdout
    # ...and it left nothing behind: no folder, no PostgreSQL, no Prefect server
    assert not Path(row["folder"]).exists()
    still_running = [p for p in Path("/proc").glob("[0-9]*/cmdline")
                     if _readable(p) and row["folder"].encode() in p.read_bytes()]
    assert still_running == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{row['api_url']}/health", timeout=5, trust_env=False)


def _readable(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True
