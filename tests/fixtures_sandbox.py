"""mailops pointed at a sandbox, for the jobs' tests in several areas (flows/, cli/,
end_to_end/, browser/): the module's sandbox, a clean one, and the jobs' environments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures_store import new_database

from mailops.store import Store
from sandbox.server import Sandbox


def module_sandbox(name: str, seed: int) -> Any:
    """A fixture `name`: a small sandbox of `seed` per test module, on 127.0.0.1 with an
    ephemeral port (a module whose tests change the world, adding domains or advancing the
    clock, gets one of its own under another name)."""

    @pytest.fixture(scope="module", name=name)
    def started() -> Iterator[Sandbox]:
        with Sandbox.start(seed=seed, scale="small") as sb:
            yield sb

    return started


sandbox = module_sandbox("sandbox", seed=7)


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, with fault rules and Slack posts cleared after the test."""
    yield sandbox
    sandbox.clear_faults()
    sandbox.clear_slack()
    sandbox.set_cleanbox_total(True)


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


@dataclass
class SandboxAndStore:
    """A running sandbox and the database of the mailops pointed at it (`point_at_sandbox`)."""

    sandbox: Sandbox
    database_url: str

    def store(self) -> Store:
        return Store(self.database_url)


@dataclass
class SandboxEnv(SandboxAndStore):
    """mailops's environment pointed at a running sandbox, with its own database."""

    config_path: Path
    data_dir: Path


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


PARTNER = "p-acmedental-0"


@dataclass
class DomainsEnv(SandboxAndStore):
    """mailops pointed at the domain jobs' own sandbox, store and data folder."""

    data_dir: Path
    monkeypatch: pytest.MonkeyPatch

    def add_domain(self, name: str, partner_ref: str = PARTNER) -> str:
        """A new, unverified domain in EmBoux's table (as a customer would register it)."""
        self.sandbox.world.emboux.add_domain(name, partner_ref, verified=False)
        return name

    def use_token(self, token: str) -> None:
        self.monkeypatch.setenv("MAILOPS_EMBOUX_API_KEY", token)

    def domain(self, name: str) -> dict[str, Any]:
        """One domain as the sandbox holds it (verification, credential fingerprint)."""
        return self.sandbox.truth("emboux")["emboux"]["domains"][name]


domains_sandbox = module_sandbox("domains_sandbox", seed=11)  # its tests add domains, rotate


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
