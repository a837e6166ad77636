"""What every task needs from its surroundings: settings, the run's id, team keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from prefect.blocks.system import Secret
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from mailops.errors import ConfigError
from mailops.rules.resets import Trigger
from mailops.rules.shard import Shard
from mailops.settings import Settings, TeamCredential, cleanbox_teams, load_settings


def current_settings(shard: Shard | None = None) -> Settings:
    """The configuration, read where the task runs (never passed as a parameter: it holds
    keys); a shard's takes its share of the APIs' rate limits."""
    return load_settings().shared_by(shard.count if shard else 1)


def require_emboux_token(refusal: str) -> None:
    """Refuse to start a job without an EmBoux token: a ConfigError saying `refusal`."""
    if current_settings().emboux_api_key is None:
        raise ConfigError(refusal)


def current_run_id() -> str:
    """The flow run's id, which ledger and audit rows carry; a fresh id outside a flow."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else f"local-{uuid.uuid4()}"


# The simulations (demo, chaos) run flows directly as the scheduler would; this tag says so.
# A person adding it to a run can only make it more careful (a catch-up), never less.
SCHEDULED_TAG = "mailops:scheduled"


def run_trigger(as_of: datetime | None) -> tuple[Trigger, datetime | None]:
    """How this flow run was started, and for a scheduled one the slot it was scheduled for.

    Prefect marks the runs its scheduler creates `auto_scheduled`, with the slot as their
    expected start; a run from the CLI or the UI's Run button is a person's.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is not None and run.auto_scheduled:
        return Trigger.SCHEDULED, run.expected_start_time
    if run is not None and SCHEDULED_TAG in (run.tags or []):
        return Trigger.SCHEDULED, as_of or run.expected_start_time
    return Trigger.BY_HAND, None


def outbox_name(job: str, *parts: str) -> str:
    """A Slack message's name for its outbox file: job, what it is about (day, week, shard)
    and the flow run's id, so two runs (two shards of one day) never share a file."""
    return "-".join([job, *parts, current_run_id()])


def shard_label(shard: Shard) -> str:
    """`shard-1of2` for shard 1/2 (`shard-1of1` for the whole), for file names."""
    return f"shard-{shard.index}of{shard.count}"


def load_secret_block(name: str) -> str:
    """The value of a Prefect Secret block (a team key kept in Prefect)."""
    value = Secret.load(name).get()
    return str(value)


def configured_teams(settings: Settings, names: Sequence[str] = ()) -> list[TeamCredential]:
    """The Cleanbox teams with their keys; only `names` when given (unknown names refused)."""
    from mailops.errors import ConfigError

    teams = cleanbox_teams(settings, load_secret=load_secret_block)
    if not names:
        return teams
    known = {team.name for team in teams}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(
            f"unknown team {', '.join(map(repr, unknown))}; configured: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    return [team for team in teams if team.name in set(names)]
