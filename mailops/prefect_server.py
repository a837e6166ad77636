"""The local Prefect server that hand runs share, kept running in the background.

Without `PREFECT_API_URL`, Prefect starts a temporary server for every process that runs a
flow: 18 s of every `mailops <job>` on a 2-core machine, more with a fresh Prefect home, and
a 20 s start-up timeout that a loaded machine misses. Instead, the first hand run starts
`prefect server start` as a detached process (its own session, so the terminal's Ctrl-C and
hang-up do not reach it) with its own home under the data folder (`<data>/prefect`: its
database and `server.log`), on 127.0.0.1 and a free port, waits for its health endpoint, and
records it in `<data>/prefect/server.json`; later runs find it there, alive and answering.

    server, started = ensure(Path("data"))   # found, or started and waited for
    server.api_url                           # http://127.0.0.1:PORT/api
    stop(Path("data"))                       # what `mailops server stop` does

Not `prefect server start --background`: in Prefect 3.9 it pipes the server's output to the
command that started it, which exits at once, and the server dies of SIGPIPE at its first
log line (seen here 3 to 18 s after the start, before it ever answered).

This module starts a process and talks HTTP to it: the library still imports no Prefect.
A lock file makes two hand runs started at once share one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from mailops.errors import PrefectServerError
from mailops.ports import free_port
from mailops.process import start_marker

HOME = "prefect"  # the server's PREFECT_HOME, under the data folder
STATE_FILE = "server.json"
LOCK_FILE = ".server.lock"
LOG_FILE = "server.log"
HOST = "127.0.0.1"
# A fresh home migrates its database first: 20 to 50 s on an idle 2-core machine, minutes
# with every core taken. Waiting long is cheap; failing a first run is not.
STARTUP_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class LocalServer:
    """A local Prefect server mailops started: its process, port and home."""

    pid: int
    port: int
    home: str
    started_at: str
    marker: str | None = None  # the process's start marker (mailops.process), against pid reuse

    @property
    def url(self) -> str:
        """The UI's address."""
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """What PREFECT_API_URL is set to for a hand run."""
        return f"{self.url}/api"

    @property
    def log_file(self) -> Path:
        return Path(self.home) / LOG_FILE

    def alive(self) -> bool:
        """Whether the recorded process still runs (the same process, not a reused pid)."""
        return start_marker(self.pid) == self.marker

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the API's health endpoint answers 200 now."""
        try:
            response = httpx.get(f"{self.api_url}/health", timeout=timeout, trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def home_of(data_dir: Path) -> Path:
    """The local server's PREFECT_HOME: `<data>/prefect`."""
    return Path(data_dir) / HOME


def recorded(data_dir: Path) -> LocalServer | None:
    """The server the state file names (alive or not); None when there is none."""
    path = home_of(data_dir) / STATE_FILE
    try:
        return LocalServer(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def find(data_dir: Path) -> LocalServer | None:
    """The recorded server when its process is alive and its API answers."""
    server = recorded(data_dir)
    if server is not None and server.alive() and server.answers():
        return server
    return None


def serves(data_dir: Path, api_url: str | None) -> bool:
    """Whether `api_url` is the local server recorded under `data_dir` (not one an operator
    runs)."""
    server = recorded(data_dir)
    return server is not None and api_url is not None and api_url.rstrip("/") == server.api_url


def ensure(
    data_dir: Path,
    *,
    timeout: float = STARTUP_TIMEOUT,
    on_start: Callable[[Path], None] | None = None,
    on_wait: Callable[[Path], None] | None = None,
) -> tuple[LocalServer, bool]:
    """The local server, found or started: (server, whether this call started it).

    A recorded server that is alive is waited for (it may be starting, or slow on a loaded
    machine); one that is gone is replaced. `on_start(home)` is called before a start, and
    `on_wait(home)` when another process holds the lock (it is starting the server), to say
    why the command waits. Raises PrefectServerError saying what to do instead.
    """
    home = home_of(data_dir)
    with _locked(home, on_wait):
        server = recorded(data_dir)
        if server is not None and server.alive():
            _wait_until_answering(server, None, timeout)
            return server, False
        if on_start is not None:
            on_start(home)
        return _start(home, timeout, server.port if server else None), True


def stop(data_dir: Path, timeout: float = STOP_TIMEOUT) -> LocalServer | None:
    """End the recorded server (SIGTERM to its process group, SIGKILL after `timeout`) and
    forget it; returns it, or None when none was running."""
    home = home_of(data_dir)
    if not (home / STATE_FILE).exists():
        return None
    with _locked(home):
        server = recorded(data_dir)
        (home / STATE_FILE).unlink(missing_ok=True)
        if server is None or not server.alive():
            return None
        _end(server.pid, lambda: not server.alive(), timeout)
        return server


# --- starting ---------------------------------------------------------------------------------


def server_command(port: int) -> list[str]:
    """The command that serves Prefect's API and UI on 127.0.0.1:`port`, in the foreground
    of its own process."""
    return [sys.executable, "-m", "prefect", "server", "start", "--host", HOST,
            "--port", str(port)]


def _start(home: Path, timeout: float, port: int | None) -> LocalServer:
    """Start a server on `port` (its last one, when free) or a free port, and wait for it;
    a port someone took meanwhile is tried again with another."""
    for attempt in range(_START_ATTEMPTS):
        chosen = port if port is not None and _port_is_free(port) else free_port()
        process = _spawn(home, chosen)
        server = LocalServer(process.pid, chosen, str(home), datetime.now(UTC).isoformat(
            timespec="seconds"), start_marker(process.pid))
        _write_state(home, server)  # a run interrupted while waiting leaves it findable
        try:
            _wait_until_answering(server, process, timeout)
            return server
        except PrefectServerError:
            (home / STATE_FILE).unlink(missing_ok=True)
            _end(process.pid, lambda p=process: p.poll() is not None, STOP_TIMEOUT)
            if attempt == _START_ATTEMPTS - 1 or "already in use" not in _last_line(home):
                raise
        port = None
    raise AssertionError("unreachable: the last attempt returns or raises")


def _spawn(home: Path, port: int) -> subprocess.Popen[bytes]:
    """`prefect server start` in a session of its own, its output appended to the log."""
    url = f"http://{HOST}:{port}"
    # Only what is set here: none of the caller's Prefect settings (a database URL, a
    # profile) may turn this server into another one.
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("PREFECT_")}
    environment.update({
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_UI_API_URL": f"{url}/api",  # else the UI calls 127.0.0.1:4200
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    })
    log_path = home / LOG_FILE
    try:
        with log_path.open("ab") as log:
            log.write(f"--- mailops: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, prefect server "
                      f"start on {url}\n".encode())
            log.flush()
            process = subprocess.Popen(
                server_command(port), cwd=home, env=environment, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
    except OSError as exc:
        raise PrefectServerError(
            f"could not start a local Prefect server in {home} ({exc.strerror or exc}); "
            f"{_INSTEAD}"
        ) from None
    _STARTED.append(process)
    return process


# The servers this process started: they outlive it and are never waited for; kept here so
# that no Popen is collected (and warns) while they run.
_STARTED: list[subprocess.Popen[bytes]] = []
_INSTEAD = ("set PREFECT_API_URL to a running Prefect server, or MAILOPS_PREFECT_SERVER="
            "temporary for Prefect's temporary server in each run")


def _wait_until_answering(
    server: LocalServer, process: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.answers():
            return
        ended = process.poll() if process is not None else (None if server.alive() else -1)
        if ended is not None:
            raise PrefectServerError(
                f"the local Prefect server stopped while starting ({_last_line(Path(server.home))}"
                f"; log: {server.log_file}); {_INSTEAD}"
            )
        if time.monotonic() > deadline:
            started = "did not answer" if process is not None else "is running but does not answer"
            raise PrefectServerError(
                f"the local Prefect server at {server.url} (pid {server.pid}) {started} within "
                f"{timeout:.0f} s (log: {server.log_file}); `mailops server stop` ends it, "
                f"or {_INSTEAD}"
            )
        time.sleep(0.5)


def _end(pid: int, ended: Callable[[], bool], timeout: float) -> None:
    """SIGTERM the process group `pid` leads, SIGKILL it when still there after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if ended():
                return
            time.sleep(0.2)


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _last_line(home: Path) -> str:
    """The log's last line (what the server said before it stopped), for a one-line error."""
    try:
        with (home / LOG_FILE).open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            tail = log.read().decode("utf-8", "replace")
    except OSError:
        return "no log"
    lines = [_ANSI.sub("", line).strip() for line in tail.splitlines()]
    last = next((line for line in reversed(lines) if line), "the log is empty")
    return last[:200]


def _write_state(home: Path, server: LocalServer) -> None:
    temporary = home / f".{STATE_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(asdict(server), indent=1), encoding="utf-8")
    os.replace(temporary, home / STATE_FILE)


@contextlib.contextmanager
def _locked(home: Path, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
    """Hold the home's lock: one process at a time finds, starts or stops its server
    (`on_wait(home)` is called when another holds it)."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        handle = (home / LOCK_FILE).open("a")
    except OSError as exc:
        raise PrefectServerError(
            f"cannot use {home} for a local Prefect server ({exc.strerror or exc}): set "
            f"MAILOPS_DATA_DIR to a writable folder, or {_INSTEAD}"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(home)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
