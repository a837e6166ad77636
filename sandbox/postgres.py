"""A throwaway local PostgreSQL server: initdb into a folder, serve on 127.0.0.1, stop.

    with LocalPostgres.start() as pg:
        store_url = pg.create_database("mailops")  # postgresql+psycopg://postgres@127.0.0.1:P/mailops
        pg.create_database("prefect")
        prefect_url = pg.url("prefect", driver="asyncpg")  # PREFECT_API_DATABASE_CONNECTION_URL

The tests host the trend store on it, and a demo can host the Prefect server's database too.
It uses the machine's own PostgreSQL (found on PATH, else the newest
/usr/lib/postgresql/<version>/bin of Debian's package). PostgreSQL refuses to run as root,
so as root the server runs as the `postgres` user, in a folder that user owns. Only
127.0.0.1 and the folder's unix socket are served, with trust authentication (no password):
it is a stand-in for tests and demos, never a place for data worth keeping.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from mailops.errors import LocalPostgresError
from mailops.ports import free_port

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"  # the OS user the server runs as under root, and its superuser
INSTALL_HINT = (
    "install Debian's postgresql package (`make postgres`, or apt-get install postgresql)"
)
# Durability traded for speed: right for a test server that is thrown away, wrong for data.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


def find_binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres: from PATH, else the newest
    /usr/lib/postgresql/<version>/bin. Raises LocalPostgresError when there is none."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versions = [p for p in DEBIAN_BINARIES.glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in SERVER_BINARIES):
            return folder
    raise LocalPostgresError(
        "PostgreSQL's server programs (initdb, pg_ctl, postgres) are not on PATH nor in "
        f"{DEBIAN_BINARIES}/<version>/bin; {INSTALL_HINT}"
    )


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"database name {name!r}: use lowercase letters, digits and _ (at most 63)"
        )
    return name


class LocalPostgres:
    """A running PostgreSQL server in `folder` on 127.0.0.1:`port`; `stop` ends it.

    Start it with `LocalPostgres.start(...)`; use it as a context manager, or call `stop`
    (safe to call twice, or after the server died).
    """

    def __init__(self, binaries: Path, folder: Path, port: int, *, owns_folder: bool) -> None:
        self.binaries = binaries
        self.folder = folder
        self.port = port
        self.host = "127.0.0.1"
        self.user = SERVICE_USER
        self.data_dir = folder / "data"
        self.socket_dir = folder / "socket"
        self.log_file = folder / "postgres.log"
        self._owns_folder = owns_folder
        self._running = False

    # --- starting --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        folder: Path | None = None,
        *,
        port: int = 0,
        tuned_for_tests: bool = True,
        settings: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> LocalPostgres:
        """initdb a new cluster in `folder` (a new temporary folder by default, removed by
        `stop`) and start it on `port` (0: a free one).

        tuned_for_tests: fsync, synchronous_commit and full_page_writes off (fast, and a
        crash loses data). settings: more postgresql.conf values, e.g. {"max_connections":
        "200"}. timeout: seconds to wait for the server to accept connections.
        """
        binaries = find_binaries()
        owns_folder = folder is None
        folder = Path(tempfile.mkdtemp(prefix="mailops-pg-")) if folder is None else folder
        folder.mkdir(parents=True, exist_ok=True)
        chosen = {**(TEST_SETTINGS if tuned_for_tests else {}), **(settings or {})}
        server = cls(binaries, folder, port or free_port(), owns_folder=owns_folder)
        try:
            server._init_cluster(chosen)
            for attempt in range(_START_ATTEMPTS):
                try:
                    server._start(timeout)
                    break
                except LocalPostgresError:
                    if port or attempt == _START_ATTEMPTS - 1:
                        raise
                    server.port = free_port()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs, as `postgres` when this process is root."""
        program = str(self.binaries / args[0])
        try:
            return subprocess.run(
                [program, *args[1:]], cwd=self.folder, capture_output=True, text=True,
                timeout=timeout, check=False, **self._as_service_user(),
            )
        except subprocess.TimeoutExpired:
            raise LocalPostgresError(
                f"{args[0]} did not finish within {timeout:.0f} s (log: {self.log_file})"
            ) from None

    def _as_service_user(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        try:
            account = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise LocalPostgresError(
                f"PostgreSQL refuses to run as root and there is no {SERVICE_USER!r} user to run "
                f"it as; {INSTALL_HINT}"
            ) from None
        return {
            "user": account.pw_uid, "group": account.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": str(self.folder), "USER": SERVICE_USER},
        }

    def _give_folder_to_service_user(self) -> None:
        if os.geteuid() != 0:
            return
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(self.folder, account.pw_uid, account.pw_gid)
        for parent in self.folder.resolve().parents:  # the server must reach its folder
            if not os.stat(parent).st_mode & 0o001:
                raise LocalPostgresError(
                    f"the {SERVICE_USER!r} user cannot reach {self.folder} ({parent} is closed "
                    "to other users); start it in a folder under /tmp"
                )

    def _init_cluster(self, settings: Mapping[str, str]) -> None:
        self._as_service_user()  # fails early, and clearly, without a postgres user
        self._give_folder_to_service_user()
        if self.data_dir.exists():
            raise LocalPostgresError(f"{self.data_dir} exists already: start in a new folder")
        done = self._run(
            "initdb", "-D", str(self.data_dir), "-U", SERVICE_USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )
        if done.returncode != 0:
            raise LocalPostgresError(f"initdb failed: {_last_line(done)}")
        (self.data_dir / "pg_hba.conf").write_text(
            "# local stand-in: the socket in its folder, and 127.0.0.1, without passwords\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        socket_dir = self.socket_dir
        socket_dir.mkdir()
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            os.chown(socket_dir, account.pw_uid, account.pw_gid)
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{socket_dir}'",
            *(f"{name} = '{value}'" for name, value in settings.items()),
        ]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# sandbox.postgres\n" + "\n".join(lines) + "\n")

    def _start(self, timeout: float) -> None:
        done = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", f"-p {self.port}",
            "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10,
        )
        if done.returncode != 0:
            raise LocalPostgresError(
                f"PostgreSQL did not start on 127.0.0.1:{self.port}: {self._log_tail()}"
            )
        self._running = True
        atexit.register(self.stop)

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return f"no log at {self.log_file}"
        return lines[-1] if lines else f"empty log at {self.log_file}"

    # --- using ------------------------------------------------------------------------------

    def url(self, database: str = "postgres", *, driver: str = "psycopg") -> str:
        """The SQLAlchemy URL of `database` (driver `psycopg`, or e.g. `asyncpg` for Prefect)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def execute(self, statement: str) -> None:
        """Run one SQL statement as the superuser, outside a transaction (CREATE DATABASE)."""
        import psycopg  # only the store's driver: importing this module costs nothing more

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database `name` and return its URL; with `template`, a copy of that
        database (which nobody may be connected to meanwhile): a migrated template copies
        in a fraction of the time a migration takes."""
        copy = f' TEMPLATE "{_check_name(template)}"' if template else ""
        self.execute(f'CREATE DATABASE "{_check_name(name)}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name`, disconnecting whoever is still connected to it."""
        self.execute(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')

    # --- stopping ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def stop(self) -> None:
        """Stop the server (fast shutdown: connections are cut) and remove a temporary folder.
        Safe to call again, and after the server crashed or was killed."""
        atexit.unregister(self.stop)
        if self.data_dir.joinpath("postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        self._running = False
        if self._owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<LocalPostgres {self.host}:{self.port} {state} in {self.folder}>"


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr or done.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit code {done.returncode}"
