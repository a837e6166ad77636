"""The jobs' own fixtures: sandboxes of their own for contact cleanup, the guard and
quarantine accept, and deployments served in a thread (the environments other areas share
are in tests/fixtures_sandbox.py and tests/fixtures_trends.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_prefect import ServedDeployments, serve_in_thread
from fixtures_sandbox import SandboxAndStore, module_sandbox, point_at_sandbox

from mailops.store import Store
from sandbox.cleanbox_state import KIND_LEGIT, KIND_MESSAGE, QUARANTINED, WHITELISTED
from sandbox.ids import make_uuid
from sandbox.server import Sandbox
from sandbox.world import build_world


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


@dataclass
class ContactsEnv(SandboxAndStore):
    """mailops pointed at a fresh sandbox of its own (cleanup changes contact states), with
    only its first team configured."""

    team: str
    key: str

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


# The guard design's defaults are for cold-outreach mailboxes and are laxer than EmBoux's
# guillotine (0.5 % of the month): tuned thresholds let the guard act first on the sandbox's
# domains (docs/outbound-guard.md#tuning).
GUARD_SANDBOX_RULES = {
    "WINDOW_SIZE": "200", "MIN_VOLUME": "100", "BOUNCE_RATE_PCT": "1.0",
    "ABSOLUTE_BOUNCES": "6", "WARNING_BOUNCES": "3",
}


@dataclass
class GuardEnv(SandboxAndStore):
    """mailops pointed at the guard's own sandbox, with its own store and guard rules."""

    def domains(self) -> dict[str, dict[str, Any]]:
        """Every domain as the sandbox holds it (status, counters, suspensions and causes)."""
        return self.sandbox.truth("emboux")["emboux"]["domains"]


guard_sandbox = module_sandbox("guard_sandbox", seed=7)  # the guard's tests advance its clock


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
