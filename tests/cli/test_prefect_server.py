"""The local Prefect server of hand runs: found or started once, reused, stopped; and a hand
run on a busy machine with a fresh Prefect home succeeds.

Most tests stand a tiny HTTP server in for `prefect server start` (it answers the health
endpoint at once), so the bookkeeping is tested in milliseconds; one test starts the real
server with every core taken. Every test stops what it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailops import prefect_server
from mailops.errors import PrefectServerError

runner = CliRunner()

STAND_IN = """
import http.server, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")
    def log_message(self, *args):
        pass
print("stand-in serving", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder whose local server is the stand-in; stopped after the test."""
    monkeypatch.setattr(prefect_server, "server_command",
                        lambda port: [sys.executable, "-c", STAND_IN, str(port)])
    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data"
    prefect_server.stop(tmp_path / "data", timeout=5)


def test_the_first_call_starts_a_server_and_the_next_finds_it(data_dir):
    homes: list[Path] = []
    first, started = prefect_server.ensure(data_dir, on_start=homes.append)
    assert started and homes == [data_dir / "prefect"]
    assert first.answers() and first.api_url == f"http://127.0.0.1:{first.port}/api"
    again, started_again = prefect_server.ensure(data_dir, on_start=homes.append)
    assert not started_again and again == first and len(homes) == 1
    assert prefect_server.find(data_dir) == first
    assert "stand-in serving" in (data_dir / "prefect" / "server.log").read_text()


def test_a_run_that_finds_the_server_being_started_says_it_waits(data_dir):
    import fcntl
    import threading

    home = data_dir / "prefect"
    home.mkdir(parents=True)
    waited: list[Path] = []
    found: list[tuple[prefect_server.LocalServer, bool]] = []
    with (home / ".server.lock").open("a") as held:  # another hand run, starting it
        fcntl.flock(held, fcntl.LOCK_EX)
        other = threading.Thread(target=lambda: found.append(
            prefect_server.ensure(data_dir, on_wait=waited.append)))
        other.start()
        deadline = time.monotonic() + 30
        while not waited and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waited == [home] and not found
    other.join(30)
    assert found and found[0][0].answers()


def test_a_recorded_server_whose_process_is_gone_is_replaced(data_dir):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (data_dir / "prefect").mkdir(parents=True)
    (data_dir / "prefect" / "server.json").write_text(json.dumps(
        {"pid": gone.pid, "port": 9, "home": str(data_dir / "prefect"),
         "started_at": "2026-01-01T00:00:00+00:00", "marker": "gone"}))
    assert prefect_server.find(data_dir) is None
    server, started = prefect_server.ensure(data_dir)
    assert started and server.pid != gone.pid and server.answers()


def test_stop_ends_the_process_and_a_later_run_starts_anew(data_dir):
    server, _ = prefect_server.ensure(data_dir)
    assert prefect_server.stop(data_dir) == server
    assert not server.alive() and not server.answers(timeout=1)
    assert prefect_server.stop(data_dir) is None
    again, started = prefect_server.ensure(data_dir)
    assert started and again.pid != server.pid and again.answers()


def test_a_server_that_cannot_start_is_one_line_saying_what_to_do(
    data_dir, monkeypatch, cli
):
    monkeypatch.setattr(prefect_server, "server_command", lambda port: [
        sys.executable, "-c", "import sys; print('no room on the disk'); sys.exit(3)"])
    with pytest.raises(PrefectServerError) as failure:
        prefect_server.ensure(data_dir)
    assert "no room on the disk" in str(failure.value)
    assert "PREFECT_API_URL" in str(failure.value)
    assert prefect_server.recorded(data_dir) is None
    result = runner.invoke(cli, ["server", "start"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("mailops: the local Prefect server stopped while starting (no "
                                "room on the disk; log: ")


def test_an_unusable_data_folder_is_one_line(tmp_path, monkeypatch, cli):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "a-file" / "data"))
    result = runner.invoke(cli, ["server", "start"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"mailops: cannot use {tmp_path}/a-file/data/prefect for a local Prefect server (Not a "
        "directory): set MAILOPS_DATA_DIR to a writable folder, or set PREFECT_API_URL to a "
        "running Prefect server, or MAILOPS_PREFECT_SERVER=temporary for Prefect's temporary "
        "server in each run"]


def test_server_commands_start_show_and_stop_it(data_dir, cli):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert runner.invoke(cli, ["server", "status"]).exit_code == 1
        started = runner.invoke(cli, ["server", "start"])
        assert started.exit_code == 0, started.output
        server = prefect_server.find(data_dir)
        assert f"started a local Prefect server at {server.url}" in started.output
        shown = json.loads(runner.invoke(cli, ["--json", "server", "status"]).output)
        assert shown["ok"] is True and shown["running"] is True and shown["url"] == server.url
    stopped = runner.invoke(cli, ["server", "stop"])
    assert stopped.exit_code == 0 and f"Stopped the local Prefect server at {server.url}" in (
        stopped.output)
    assert not server.alive()


def test_without_prefect_api_url_and_with_no_local_server_a_job_is_exit_2(
    tmp_path, monkeypatch, cli
):
    # Given no PREFECT_API_URL, and MAILOPS_PREFECT_SERVER=none (what every test has)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = runner.invoke(cli, ["report", "weekly", "--no-notify"])
    # Then one line says what to set, and nothing was started
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "mailops: configuration error: PREFECT_API_URL is not set and MAILOPS_PREFECT_SERVER "
        "is none: set PREFECT_API_URL to a Prefect server, or MAILOPS_PREFECT_SERVER to local"]
    assert not (tmp_path / "data" / "prefect").exists()


def test_the_local_server_keeps_no_secret_block(data_dir):
    """A hand run's rotated password goes to its 0600 file, not the local server's database
    (any local user may read that one); an operator's PREFECT_API_URL keeps Secret blocks."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.domains import prefect_server_configured

    server, _ = prefect_server.ensure(data_dir)
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        assert not prefect_server_configured()
    with temporary_settings(updates={PREFECT_API_URL: "http://prefect.internal:4200/api"}):
        assert prefect_server_configured()


# --- the real server on a busy machine ------------------------------------------------------


def busy_cores() -> list[subprocess.Popen[bytes]]:
    """A CPU-bound process on every core."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]


def test_a_hand_run_on_a_busy_machine_with_a_fresh_prefect_home_succeeds(
    tmp_path, weekly_env
):
    # Given every core busy, no PREFECT_API_URL, and fresh Prefect homes (the CLI's and the
    # local server's, which migrates its database first)
    environment = {name: value for name, value in os.environ.items()
                   if name != "PREFECT_API_URL"}
    environment.update(MAILOPS_PREFECT_SERVER="local", PREFECT_HOME=str(tmp_path / "home"))
    command = [sys.executable, "-m", "cli", "report", "weekly", "--week", "2026-W47",
               "--no-notify"]
    hogs = busy_cores()
    try:
        # When a person runs a job by hand
        started = time.monotonic()
        first = subprocess.run(command, env=environment, capture_output=True, text=True,
                               timeout=180)
        seconds = time.monotonic() - started
        for hog in hogs:
            hog.kill()
        # Then it succeeds (no 20 s start-up timeout), saying once where its server is
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("Weekly report 2026-W47"), first.stdout
        server = prefect_server.find(weekly_env.data_dir)
        assert server is not None, first.stderr
        assert first.stderr.splitlines()[-1] == (
            f"mailops: started a local Prefect server at {server.url} (its home is "
            f"{weekly_env.data_dir / 'prefect'}; `mailops server stop` ends it)")
        # And the next run uses the same server, silently
        second = subprocess.run(command, env=environment, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 0 and second.stderr == "", second.stderr
        assert prefect_server.find(weekly_env.data_dir) == server
        # And `mailops server stop` ends it
        stopped = subprocess.run([sys.executable, "-m", "cli", "server", "stop"],
                                 env=environment, capture_output=True, text=True, timeout=60)
        assert stopped.returncode == 0 and "Stopped the local Prefect server" in stopped.stdout
        assert not server.alive()
        print(f"first hand run with every core busy: {seconds:.0f} s")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        prefect_server.stop(weekly_env.data_dir, timeout=10)
