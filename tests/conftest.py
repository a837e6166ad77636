"""Shared fixtures. Each area keeps its fixtures in its own marked section."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from pydantic import SecretStr
from scripted_server import TEST_KEY, FakeClock, MockApi, ScriptedServer

# The task run recorder is not needed in tests and slows every flow run (Prefect PR #14969).
os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED", "false")

import tasks  # noqa: F401  (Prefect's quiet defaults, set before Prefect is imported)
from mailops.http import ApiClient
from mailops.settings import ApiLimits, HttpSettings
from mailops.store import Store
from sandbox.postgres import LocalPostgres

# --- environment and store -------------------------------------------------------------


# A test runs its flows under `prefect_harness` (PREFECT_API_URL): a command that would find
# or start the local Prefect server of hand runs instead fails with one line (exit 2). The
# tests of that server say MAILOPS_PREFECT_SERVER=local themselves, and stop what they start.
NO_LOCAL_PREFECT_SERVER = {"MAILOPS_PREFECT_SERVER": "none"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the session's PostgreSQL server is `slow` (as the chaos run, the scale demo,
    the demo and the browser tests are, by their modules' marks): `make test-fast` leaves
    them out for the inner loop, `make test` (and CI) runs everything."""
    for item in items:
        if "local_postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MAILOPS_ variable of the developer's shell leaks into a test, and no command run by
    a test (in this process or a child) starts a background Prefect server by accident."""
    for name in list(os.environ):
        if name.upper().startswith("MAILOPS_"):
            monkeypatch.delenv(name)
    for name, value in NO_LOCAL_PREFECT_SERVER.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in a temporary folder."""
    store = Store(f"sqlite:///{tmp_path / 'mailops.db'}")
    store.upgrade()
    yield store
    store.close()


def point_at_sandbox(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Sandbox,
    folder: Path,
    *,
    teams: int = 0,
    database_url: str | None = None,
    **settings: str,
) -> str:
    """Point mailops (through its environment) at `sandbox`: both APIs with the EmBoux master
    token, the Slack stand-in, a store (`database_url`, by default a fresh SQLite file) and
    data folder under `folder`, retries that wait milliseconds and no client-side rate limit;
    the first `teams` Cleanbox teams in a mailops.toml with keys from variables. `settings`
    are more variables without their MAILOPS_ prefix (e.g. HTTP__MAX_ATTEMPTS="2"). Returns
    the database URL."""
    database_url = database_url or f"sqlite:///{folder / 'mailops.db'}"
    environment = {
        "DATABASE_URL": database_url,
        "DATA_DIR": str(folder / "data"),
        "CLEANBOX_BASE_URL": sandbox.cleanbox_url,
        "EMBOUX_BASE_URL": sandbox.emboux_url,
        "EMBOUX_API_KEY": sandbox.master_token,
        "SLACK_WEBHOOK_URL": sandbox.slack_webhook_url,
        "HTTP__MAX_ATTEMPTS": "6",
        "HTTP__READ_TIMEOUT": "5",
        "HTTP__BACKOFF_BASE_SECONDS": "0.01",
        "HTTP__BACKOFF_MAX_SECONDS": "0.05",
        "CLEANBOX_LIMITS__RATE_LIMIT_PER_SECOND": "0",
        "EMBOUX_LIMITS__RATE_LIMIT_PER_SECOND": "0",
        **settings,
    }
    if teams:
        lines = []
        for number, (name, key) in enumerate(list(sandbox.team_keys.items())[:teams]):
            monkeypatch.setenv(f"SANDBOX_TEAM_KEY_{number}", key)
            lines += ["[[teams]]", f"name = {json.dumps(name)}",
                      f'api_key_env = "SANDBOX_TEAM_KEY_{number}"', ""]
        config = folder / "mailops.toml"
        config.write_text("\n".join(lines))
        environment["CONFIG"] = str(config)
    for name, value in environment.items():
        monkeypatch.setenv(f"MAILOPS_{name}", value)
    return database_url


# --- the store on SQLite and PostgreSQL ----------------------------------------------------
# Store tests take `any_store` (migrated) or `store_url` (empty) and run once on a SQLite file
# and once on a database of their own in one PostgreSQL server started for the session.

STORE_BACKENDS = ("sqlite", "postgresql")
POSTGRES_TEMPLATE = "mailops_migrated"
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """One PostgreSQL server for the session: initdb in a temporary folder, 127.0.0.1 on a
    free port, stopped (and its folder removed) at the end."""
    with LocalPostgres.start() as server:
        yield server


@pytest.fixture(scope="session")
def migrated_postgres(local_postgres: LocalPostgres) -> str:
    """A database migrated to the newest schema, copied for each test (faster than migrating)."""
    with Store(local_postgres.create_database(POSTGRES_TEMPLATE)) as store:
        store.upgrade()
    return POSTGRES_TEMPLATE


def new_database(
    request: pytest.FixtureRequest, backend: str, folder: Path, *, migrated: bool
) -> str:
    """The URL of a database of the test's own on `backend`: a SQLite file in `folder`, or
    a PostgreSQL database dropped after the test; migrated to the newest schema or empty."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'mailops.db'}"
        if migrated:
            with Store(url) as store:
                store.upgrade()
        return url
    server: LocalPostgres = request.getfixturevalue("local_postgres")
    template = request.getfixturevalue("migrated_postgres") if migrated else None
    name = f"test_{next(_database_numbers)}"
    url = server.create_database(name, template=template)
    request.addfinalizer(lambda: server.drop_database(name))
    return url


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: a SQLite file, then a PostgreSQL database."""
    return new_database(request, request.param, tmp_path, migrated=False)


@pytest.fixture(params=STORE_BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store of the test's own: a SQLite file, then a PostgreSQL database."""
    store = Store(new_database(request, request.param, tmp_path, migrated=True))
    yield store
    store.close()


def race_processes(target: Callable[..., None], *argument_lists: tuple[Any, ...]) -> list[Any]:
    """Run `target(*arguments, start, results)` in one spawned OS process per argument list:
    each gets ready, waits on the `start` barrier so all act at the same moment, and puts one
    result. Returns the results (in the order they came) once every process ended cleanly."""
    context = multiprocessing.get_context("spawn")  # a fork would copy this process's threads
    start, results = context.Barrier(len(argument_lists)), context.Queue()
    workers = [context.Process(target=target, args=(*arguments, start, results))
               for arguments in argument_lists]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    return found


# --- end of the store on SQLite and PostgreSQL -----------------------------------------------


@pytest.fixture(scope="session")
def cli() -> typer.Typer:
    """The `mailops` typer app with every command (cli.app.register_commands)."""
    from cli.app import app, register_commands

    register_commands(app)
    return app


# --- Prefect ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mailops_process(prefect_harness: None) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `mailops ARGS` in a process of its own, as a person does: this process's
    environment (the test's MAILOPS_ variables, and `env`) and the harness's Prefect server
    as PREFECT_API_URL, so that it pays no Prefect server's start."""
    from prefect.settings import PREFECT_API_URL

    def run(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
                       **(env or {})}
        return subprocess.run([sys.executable, "-m", "cli", *args], env=environment,
                              capture_output=True, text=True, timeout=timeout, check=False)

    return run


@dataclass
class ServedDeployments:
    """Deployments served to the test harness's server by a Prefect runner in a thread: flow
    runs created for them (run_deployment) execute in subprocesses, as under `mailops serve`."""

    runner: Any
    loop: Any
    thread: Any

    def stop(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.astop(), self.loop).result(60)
        self.thread.join(60)


def serve_in_thread(*deployments: Any, name: str, limit: int = 4) -> ServedDeployments:
    """Serve deployments (RunnerDeployment objects) to the Prefect API of the current
    settings with a Prefect runner in a thread, as `mailops serve` does; `stop()` ends it."""
    import asyncio
    import contextvars
    import threading

    from prefect.runner import Runner

    runner = Runner(name=name, query_seconds=1, limit=limit, pause_on_shutdown=False)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            for deployment in deployments:
                loop.run_until_complete(runner.aadd_deployment(deployment))
        except BaseException as exc:
            failure.append(exc)
            return
        finally:
            ready.set()
        loop.run_until_complete(runner.start())

    # the harness's settings live in a context variable: the thread needs a copy
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(serve,), daemon=True)
    thread.start()
    ready.wait(60)
    if failure:
        raise failure[0]
    return ServedDeployments(runner, loop, thread)


@pytest.fixture
def serve_deployments(prefect_harness: None) -> Iterator[Callable[..., ServedDeployments]]:
    """Start serving deployments (RunnerDeployment objects) until the test ends."""
    served: list[ServedDeployments] = []

    def start(*deployments: Any, limit: int = 4) -> ServedDeployments:
        handle = serve_in_thread(*deployments, name=f"test-runner-{len(served)}", limit=limit)
        served.append(handle)
        return handle

    yield start
    for handle in served:
        handle.stop()


# --- HTTP layer ---------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked `anyio`) run on asyncio, as mailops does."""
    return "asyncio"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1."""
    scripted = ScriptedServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def client_builder(
    url: str, fake_clock: FakeClock, transport: httpx.AsyncBaseTransport | None = None
) -> Callable[..., ApiClient]:
    """Build ApiClients against `url` (through `transport` when given), sleeping on the fake
    clock: three attempts, a 2-second read timeout, no rate limit, seeded jitter."""

    def build(
        *,
        api: str = "Cleanbox",
        base_url: str | None = None,
        key: str | None = TEST_KEY,
        subject: str | None = "team 'acme'",
        http: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
    ) -> ApiClient:
        return ApiClient(
            api,
            base_url or url,
            api_key=SecretStr(key) if key else None,
            subject=subject,
            http=HttpSettings(**{"max_attempts": 3, "read_timeout": 2.0, **(http or {})}),
            limits=ApiLimits(**{"rate_limit_per_second": 0, **(limits or {})}),
            transport=transport,
            sleep=fake_clock.sleep,
            clock=fake_clock.monotonic,
            rng=random.Random(7),
        )

    return build


@pytest.fixture
def make_client(server: ScriptedServer, fake_clock: FakeClock) -> Callable[..., ApiClient]:
    """Build ApiClients against the scripted server, sleeping on the fake clock."""
    return client_builder(server.url, fake_clock)


@pytest.fixture
def mock_api() -> MockApi:
    """The scripted API answered in process (httpx.MockTransport), for tests of what is sent
    and how answers are read: no socket behaviour (delays, drops) is tested on it."""
    return MockApi()


@pytest.fixture
def make_mock_client(mock_api: MockApi, fake_clock: FakeClock) -> Callable[..., ApiClient]:
    """Build ApiClients answered by `mock_api`, sleeping on the fake clock."""
    return client_builder(mock_api.url, fake_clock, mock_api.transport)


# --- outbound resets and billing ----------------------------------------------------------


@dataclass
class ResetsEnv:
    """mailops pointed at a sandbox of the test's own (resets change its counters)."""

    sandbox: Sandbox
    store: Store
    monkeypatch: pytest.MonkeyPatch

    def use_token(self, token: str) -> None:
        """Act with another EmBoux token (e.g. a customer's)."""
        self.monkeypatch.setenv("MAILOPS_EMBOUX_API_KEY", token)

    def reset_calls(self) -> tuple[int, int]:
        """How many reset-daily and reset-monthly calls the sandbox applied: ground truth."""
        truth = self.sandbox.truth("emboux")["emboux"]
        return truth["reset_daily_calls"], truth["reset_monthly_calls"]

    def counters(self) -> dict[str, dict[str, Any]]:
        """Every domain's counters as the sandbox holds them."""
        return self.sandbox.truth("emboux")["emboux"]["domains"]


@contextmanager
def resets_sandbox(
    folder: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None = None,
    **settings: str,
) -> Iterator[ResetsEnv]:
    """A fresh small sandbox after 20 hours of traffic, the master token, a migrated store
    (`database_url`, by default a SQLite file in `folder`), and timeouts short enough that
    a hung call fails in about a second (unless `settings` say otherwise)."""
    with Sandbox.start(seed=23, scale="small") as sb:
        sb.advance(hours=20)
        database_url = point_at_sandbox(
            monkeypatch, sb, folder, database_url=database_url,
            **{"HTTP__READ_TIMEOUT": "1", "HTTP__MAX_ATTEMPTS": "2", **settings},
        )
        with Store(database_url) as store:
            store.upgrade()
            yield ResetsEnv(sb, store, monkeypatch)


@pytest.fixture
def resets_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResetsEnv]:
    """`resets_sandbox` with a fresh SQLite store."""
    with resets_sandbox(tmp_path, monkeypatch) as env:
        yield env


@pytest.fixture
def postgres_resets_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ResetsEnv]:
    """`resets_sandbox` with the store in a PostgreSQL database of its own, and calls given
    10 seconds (the test races two processes on two cores)."""
    url = new_database(request, "postgresql", tmp_path, migrated=True)
    with resets_sandbox(tmp_path, monkeypatch, url, HTTP__READ_TIMEOUT="10") as env:
        yield env


# --- end of outbound resets and billing ---------------------------------------------------

# --- sandbox fixtures (sandbox) ---------------------------------------------------

from sandbox.server import Sandbox  # noqa: E402


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One small sandbox (seed 7) per test module, on 127.0.0.1 with an ephemeral port."""
    with Sandbox.start(seed=7, scale="small") as sb:
        yield sb


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, with fault rules and Slack posts cleared after the test."""
    yield sandbox
    sandbox.clear_faults()
    sandbox.clear_slack()
    sandbox.set_cleanbox_total(True)


@pytest.fixture
def team_http(sandbox: Sandbox) -> Iterator[Callable[..., httpx.Client]]:
    """Build httpx clients that speak to the sandbox's Cleanbox as one team (by index)."""
    clients: list[httpx.Client] = []

    def build(team: int = 0, *, timeout: float = 10.0) -> httpx.Client:
        key = list(sandbox.team_keys.values())[team]
        client = httpx.Client(
            base_url=sandbox.cleanbox_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            trust_env=False,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


# --- end of sandbox fixtures ---------------------------------------------------------------


# --- contact cleanup ---------------------------------------------------------------------


@dataclass
class ContactsEnv:
    """mailops pointed at a fresh sandbox of its own (cleanup changes contact states), with
    only its first team configured."""

    sandbox: Sandbox
    database_url: str
    team: str
    key: str

    def store(self) -> Store:
        return Store(self.database_url)

    def states(self) -> dict[str, str]:
        """Every contact's state (uuid -> state) as the sandbox holds it: ground truth."""
        world = self.sandbox.world
        team = next(t for t in world.teams if t.name == self.team)
        return {
            row["uuid"]: row["state"]
            for row in (team.contacts.to_json(i, team.salt, world.categories)
                        for i in range(len(team.contacts)))
        }

    def set_state(self, uuid: str, state: str) -> None:
        """A person's decision, made over the API."""
        response = httpx.put(f"{self.sandbox.cleanbox_url}/contacts/{uuid}",
                             json={"state": state}, trust_env=False,
                             headers={"Authorization": f"Bearer {self.key}"})
        response.raise_for_status()


@pytest.fixture
def contacts_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContactsEnv]:
    """A fresh small sandbox (seed 7), its first team (331 unset contacts) in mailops.toml,
    a fresh store, Slack to the outbox folder, and retries that wait milliseconds."""
    with Sandbox.start(seed=7, scale="small") as sb:
        name, key = next(iter(sb.team_keys.items()))
        database_url = point_at_sandbox(
            monkeypatch, sb, tmp_path, teams=1, HTTP__MAX_ATTEMPTS="8",
            CONTACTS__MAX_ACTIONS_PER_RUN="1000",
        )
        yield ContactsEnv(sb, database_url, name, key)


# --- end of contact cleanup ---------------------------------------------------------------


# --- outbound guard ---------------------------------------------------------------------------

# The guard design's defaults are for cold-outreach mailboxes and are laxer than EmBoux's
# guillotine (0.5 % of the month): tuned thresholds let the guard act first on the sandbox's
# domains (docs/outbound-guard.md#tuning).
GUARD_SANDBOX_RULES = {
    "WINDOW_SIZE": "200", "MIN_VOLUME": "100", "BOUNCE_RATE_PCT": "1.0",
    "ABSOLUTE_BOUNCES": "6", "WARNING_BOUNCES": "3",
}


@dataclass
class GuardEnv:
    """mailops pointed at the guard's own sandbox, with its own store and guard rules."""

    sandbox: Sandbox
    database_url: str

    def store(self) -> Store:
        return Store(self.database_url)

    def domains(self) -> dict[str, dict[str, Any]]:
        """Every domain as the sandbox holds it (status, counters, suspensions and causes)."""
        return self.sandbox.truth("emboux")["emboux"]["domains"]


@pytest.fixture(scope="module")
def guard_sandbox() -> Iterator[Sandbox]:
    """A small sandbox (seed 7) of the module's own: the guard's tests advance its clock."""
    with Sandbox.start(seed=7, scale="small") as sb:
        yield sb


@pytest.fixture
def guard_env(
    guard_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GuardEnv]:
    """The master token, the Slack stand-in, a fresh store, the tuned [guard] rules."""
    database_url = point_at_sandbox(
        monkeypatch, guard_sandbox, tmp_path,
        **{f"GUARD__{key}": value for key, value in GUARD_SANDBOX_RULES.items()},
    )
    yield GuardEnv(guard_sandbox, database_url)
    guard_sandbox.clear_slack()


# --- end of outbound guard ----------------------------------------------------------------------


# --- quarantine accept ---------------------------------------------------------------------

from sandbox.cleanbox_state import (  # noqa: E402  (this section keeps its own imports)
    KIND_LEGIT,
    KIND_MESSAGE,
    QUARANTINED,
    WHITELISTED,
)
from sandbox.ids import make_uuid  # noqa: E402
from sandbox.world import build_world  # noqa: E402


@dataclass
class QuarantineEnv:
    """mailops pointed at a sandbox of the test's own (accepting releases messages), whose
    first team holds the world's backlog (no whitelisted sender in it) plus what the test
    adds before starting the server with `start`."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    world: Any
    sandbox: Sandbox | None = None
    database_url: str = ""

    @property
    def team(self) -> Any:
        return self.world.teams[0]

    def whitelist(self, *emails: str) -> None:
        """Add whitelisted contacts (before `start`)."""
        at = int(self.world.clock.now().timestamp()) - 30 * 86400
        for email in emails:
            self.team.contacts.add(email, 20, WHITELISTED, -1, at, False, KIND_LEGIT)

    def quarantine(self, sender: str, score: float = 1.0, subject: str = "hello") -> str:
        """Add one quarantined message from `sender` (before `start`); returns its uuid."""
        at = int(self.world.clock.now().timestamp())
        bare = sender.rsplit("<", 1)[-1].strip(" >").lower()
        idx = self.team.receive(sender, bare, f"info@{self.team.domain}", subject,
                                QUARANTINED, score, at)
        return make_uuid(self.team.salt, KIND_MESSAGE, idx)

    def start(self, *, teams: int = 1, cleanbox_total: bool = True) -> Sandbox:
        """Serve the world and point mailops at its first `teams` teams."""
        self.sandbox = Sandbox.start(world=self.world, cleanbox_total=cleanbox_total)
        self.database_url = point_at_sandbox(
            self.monkeypatch, self.sandbox, self.tmp_path, teams=teams
        )
        return self.sandbox

    def store(self) -> Store:
        return Store(self.database_url)

    def held(self) -> set[str]:
        """The uuids the first team's quarantine holds now: ground truth."""
        team = self.team
        return {make_uuid(team.salt, KIND_MESSAGE, i)
                for i in team.messages.by_status[QUARANTINED]}


@pytest.fixture
def quarantine_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[QuarantineEnv]:
    """A fresh small world (seed 7) to add whitelisted contacts and quarantined mail to, then
    `start`; each test gets its own (a world is built in a fraction of a second)."""
    env = QuarantineEnv(tmp_path, monkeypatch, build_world(7, "small"))
    yield env
    if env.sandbox is not None:
        env.sandbox.stop()


# --- end of quarantine accept -------------------------------------------------------------


# --- dashboard ------------------------------------------------------------------------------

from datetime import UTC, date, datetime, timedelta  # noqa: E402  (this section keeps its own imports)

from mailops.dashboard.server import Dashboard  # noqa: E402
from mailops.rules.health import MailboxState, Status, Window  # noqa: E402
from mailops.store import Change, GuardRecord, LedgerStatus, domain_daily, team_daily  # noqa: E402
from mailops.store.plans import PlannedChange  # noqa: E402

# Markup, and a bidi control that makes the rest read as something else.
HOSTILE_DOMAIN = '<img src=x onerror="alert(1)">\u202e.evil.test'
HOSTILE_TEAM = "acme & co \u2067<script>alert('t')</script>"
HOSTILE_SENDER = "<b>spam</b>\u202e@junk.xyz"
DASHBOARD_NOW = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
TREND_LAST_DAY = date(2026, 9, 30)


def _team_row(day: date, team: str, backlog: int) -> dict[str, Any]:
    return {
        "day": day, "team": team, "weekly_used": 400, "weekly_limit": 1000, "usage_pct": 40.0,
        "aliases_used": 3, "aliases_limit": 10, "mailboxes_used": 2, "mailboxes_limit": 5,
        "quarantine_backlog": backlog, "failed_24h": 1, "denied_24h": 0,
        "collected_at": DASHBOARD_NOW,
    }


def _domain_row(day: date, domain: str, sent: int) -> dict[str, Any]:
    return {
        "day": day, "domain": domain, "partner_ref": "acme", "outbound_tier": "standard",
        "outbound_status": "active", "outbound_daily_limit": 1000,
        "outbound_monthly_limit": 30000, "outbound_sent_today": sent,
        "outbound_sent_month": sent * 10, "outbound_enforcement": "soft", "bounce_count": 2,
        "complaint_count": 0, "bounce_rate": 0.2, "complaint_rate": 0.0, "ses_verified": True,
        "warmup_profile": "none", "spike_max_multiplier": 4.0, "collected_at": DASHBOARD_NOW,
    }


def fill_dashboard_store(store: Store) -> None:
    """Known content for the dashboard: two groups (one paused by its ratio, with a hostile
    mailbox name), 14 days of trends, audited changes of three jobs, a reset and a freeze."""
    cooldown = DASHBOARD_NOW + timedelta(hours=20)
    states = [
        MailboxState("a.acme.test", "acme", Status.HEALTHY, "below every trigger",
                     Window(60, 1), 500, 4),
        MailboxState("b.acme.test", "acme", Status.WARNING,
                     "3 bounces within the first 60 sends (early warning)", Window(40, 3), 40, 3),
        MailboxState(HOSTILE_DOMAIN, "acme", Status.PAUSED, "5 bounces in the window",
                     Window(80, 5), 900, 30, paused_at=DASHBOARD_NOW - timedelta(hours=4),
                     cooldown_until=cooldown),
        MailboxState("c.beta.test", "beta", Status.HEALTHY, "below every trigger",
                     Window(10, 0), 10, 0),
    ]
    store.save_guard_mailboxes([GuardRecord(state) for state in states], DASHBOARD_NOW)
    store.save_guard_groups({"acme": "paused", "beta": "healthy"}, DASHBOARD_NOW)
    store.save_plan("run-guard-1", "outbound-guard", [PlannedChange(
        f"domain:{HOSTILE_DOMAIN}", HOSTILE_DOMAIN, "outbound_status", "active", "suspended",
        "suspend", "paused by the guard: 5 bounces in the window")])
    team_rows, domain_rows = [], []
    for back in range(14):
        day = TREND_LAST_DAY - timedelta(days=back)
        this_week = back < 7
        team_rows += [_team_row(day, HOSTILE_TEAM, 15 if this_week else 10),
                      _team_row(day, "plain-team", 4)]
        domain_rows.append(_domain_row(day, "a.acme.test", 200 if this_week else 100))
    store.upsert(team_daily, team_rows)
    store.upsert(domain_daily, domain_rows)
    store.record_changes("run-cleanup-1", "contact-cleanup", [
        Change("contact:plain-team:u1", "state", "unset", "blocked", "junk TLD .xyz",
               label=HOSTILE_SENDER)], now=DASHBOARD_NOW - timedelta(days=2))
    store.record_changes("run-quarantine-1", "quarantine-accept", [
        Change("quarantine:plain-team:q1", "state", "quarantined", "accepted",
               "sender is a whitelisted contact", label="friend@example.com")],
        now=DASHBOARD_NOW - timedelta(days=1))
    store.record_changes("run-guard-2", "outbound-guard", [
        Change(f"domain:{HOSTILE_DOMAIN}", "outbound_status", "active", "suspended",
               "paused by the guard", label=HOSTILE_DOMAIN)], now=DASHBOARD_NOW)
    for job, key, run_id in (("outbound-reset-daily", "2026-09-30", "run-reset-1"),
                             ("billing-freeze", "2026-08", "run-freeze-1")):
        store.claim(job, key, run_id, now=DASHBOARD_NOW - timedelta(hours=12))
        store.finish(job, key, run_id, LedgerStatus.DONE, "done once",
                     now=DASHBOARD_NOW - timedelta(hours=12))


@pytest.fixture
def dashboard_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store filled with the dashboard's known content: SQLite, or each backend of a
    test parametrized with `pytest.mark.parametrize("dashboard_store", STORE_BACKENDS,
    indirect=True)`."""
    backend = getattr(request, "param", "sqlite")
    with Store(new_database(request, backend, tmp_path, migrated=True)) as store:
        fill_dashboard_store(store)
        yield store


@pytest.fixture
def run_dashboard(dashboard_store: Store) -> Iterator[Callable[..., Dashboard]]:
    """Start dashboards over `dashboard_store` in background threads (any free port)."""
    started: list[Dashboard] = []

    def start(**kwargs: Any) -> Dashboard:
        running = Dashboard.start(dashboard_store, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


# --- end of dashboard -----------------------------------------------------------------------


# --- weekly report -----------------------------------------------------------------------

TEAM_DEFAULTS: dict[str, Any] = {
    "weekly_used": 0, "weekly_limit": 1000, "usage_pct": 0.0, "aliases_used": 1,
    "aliases_limit": 10, "mailboxes_used": 1, "mailboxes_limit": 5, "quarantine_backlog": 0,
    "failed_24h": 0, "denied_24h": 0,
}
DOMAIN_DEFAULTS: dict[str, Any] = {
    "partner_ref": "p1", "outbound_tier": "standard", "outbound_status": "active",
    "outbound_daily_limit": 0, "outbound_monthly_limit": 0, "outbound_sent_today": 0,
    "outbound_sent_month": 0, "outbound_enforcement": "soft", "bounce_count": 0,
    "complaint_count": 0, "bounce_rate": 0.0, "complaint_rate": 0.0, "ses_verified": True,
    "warmup_profile": "none", "spike_max_multiplier": 4.0,
}


class TrendRows:
    """Daily trend rows for the weekly report: plain dicts (frames) or health objects (the
    store), every metric defaulted so a test names only what it checks."""

    def team(self, day: Any, team: str, **values: Any) -> dict[str, Any]:
        return {"day": day, "team": team, **TEAM_DEFAULTS, **values}

    def domain(self, day: Any, domain: str, **values: Any) -> dict[str, Any]:
        return {"day": day, "domain": domain, **DOMAIN_DEFAULTS, **values}

    def team_health(self, team: str, **values: Any) -> Any:
        from mailops.health import TeamHealth

        row = {**TEAM_DEFAULTS, **values}
        return TeamHealth(
            team=team, weekly_used=row["weekly_used"], weekly_limit=row["weekly_limit"],
            usage_pct=row["usage_pct"], aliases_used=row["aliases_used"],
            aliases_limit=row["aliases_limit"], mailboxes_used=row["mailboxes_used"],
            mailboxes_limit=row["mailboxes_limit"],
            quarantine_pending=row["quarantine_backlog"], failed_count=row["failed_24h"],
            denied_count=row["denied_24h"],
        )

    def domain_health(self, domain: str, **values: Any) -> Any:
        from mailops.emboux import Outbound
        from mailops.health import DomainHealth

        row = {**DOMAIN_DEFAULTS, **values}
        partner = row.pop("partner_ref")
        return DomainHealth(Outbound(name=domain, **row), partner)


@pytest.fixture
def trend_rows() -> TrendRows:
    return TrendRows()


@dataclass
class WeeklyEnv:
    """mailops pointed at a store holding five weeks (2026-W43 to W47) of known rows."""

    database_url: str
    data_dir: Path

    def store(self) -> Store:
        return Store(self.database_url)


def fill_weekly_store(store: Store, trend_rows: TrendRows) -> None:
    """35 days (2026-10-19 to 2026-11-22) saved by `Store.save_health_day`: team "acme"
    whose backlog rises 2 a week (10 to 18) and whose weekly usage peaks rise 100 a week to
    700 of 1000; team "newco" only in the last week; domain "mail.example" sending 10 more a
    day towards its daily limit of 300."""
    from datetime import UTC, date, datetime, timedelta

    first = date(2026, 10, 19)
    for offset in range(35):
        day = first + timedelta(days=offset)
        week = offset // 7
        teams = [trend_rows.team_health(
            "acme", quarantine_backlog=10 + 2 * week, weekly_used=300 + 100 * week,
            failed_24h=2 + week,
        )]
        if week == 4:
            teams.append(trend_rows.team_health("newco", weekly_used=5))
        sends = 100 + 10 * (offset - 21) if offset >= 21 else 50
        domains = [trend_rows.domain_health(
            "mail.example", outbound_sent_today=sends, outbound_daily_limit=300,
        )]
        collected = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        store.save_health_day(day, collected, teams, domains)


@pytest.fixture
def weekly_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trend_rows: TrendRows
) -> Iterator[WeeklyEnv]:
    """A fresh SQLite store holding `fill_weekly_store`'s five weeks; mailops points at it."""
    database_url = f"sqlite:///{tmp_path / 'mailops.db'}"
    monkeypatch.setenv("MAILOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
    with Store(database_url) as store:
        store.upgrade()
        fill_weekly_store(store, trend_rows)
    yield WeeklyEnv(database_url, tmp_path / "data")


# --- end of weekly report ----------------------------------------------------------------


# --- domains ----------------------------------------------------------------------------------

PARTNER = "p-acmedental-0"


@dataclass
class DomainsEnv:
    """mailops pointed at the domain jobs' own sandbox, store and data folder."""

    sandbox: Sandbox
    database_url: str
    data_dir: Path
    monkeypatch: pytest.MonkeyPatch

    def store(self) -> Store:
        return Store(self.database_url)

    def add_domain(self, name: str, partner_ref: str = PARTNER) -> str:
        """A new, unverified domain in EmBoux's table (as a customer would register it)."""
        self.sandbox.world.emboux.add_domain(name, partner_ref, verified=False)
        return name

    def use_token(self, token: str) -> None:
        self.monkeypatch.setenv("MAILOPS_EMBOUX_API_KEY", token)

    def domain(self, name: str) -> dict[str, Any]:
        """One domain as the sandbox holds it (verification, credential fingerprint)."""
        return self.sandbox.truth("emboux")["emboux"]["domains"][name]


@pytest.fixture(scope="module")
def domains_sandbox() -> Iterator[Sandbox]:
    """A small sandbox (seed 11) of the module's own: its tests add domains and rotate."""
    with Sandbox.start(seed=11, scale="small") as sb:
        yield sb


@pytest.fixture
def domains_env(
    domains_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DomainsEnv]:
    """The master token, the Slack stand-in, a fresh store and data folder."""
    database_url = point_at_sandbox(
        monkeypatch, domains_sandbox, tmp_path, HTTP__MAX_ATTEMPTS="2"
    )
    yield DomainsEnv(domains_sandbox, database_url, tmp_path / "data", monkeypatch)
    domains_sandbox.clear_faults()
    domains_sandbox.clear_slack()


# --- end of domains ----------------------------------------------------------------------------

# --- mailops pointed at the sandbox ---------------------------------------------------------


@dataclass
class SandboxEnv:
    """mailops's environment pointed at a running sandbox, with its own database."""

    sandbox: Sandbox
    database_url: str
    config_path: Path
    data_dir: Path

    def store(self) -> Store:
        return Store(self.database_url)


@pytest.fixture
def mailops_env(
    clean_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SandboxEnv:
    """Every sandbox team in mailops.toml (keys from variables), the EmBoux master token,
    the Slack stand-in, a fresh SQLite store, and retries that wait milliseconds."""
    database_url = point_at_sandbox(
        monkeypatch, clean_sandbox, tmp_path, teams=len(clean_sandbox.team_keys)
    )
    config = tmp_path / "mailops.toml"
    return SandboxEnv(clean_sandbox, database_url, config, tmp_path / "data")
