"""Tasks of outbound-guard: read EmBoux, evaluate and remember, plan, apply, show, notify."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect.artifacts import create_table_artifact

from mailops.emboux import EmbouxClient
from mailops.errors import ConfigError, NotificationError
from mailops.gate import ApplyResult, apply_plan, save_plan
from mailops.guard import JOB, GuardAction, GuardRun, apply_change, evaluate
from mailops.health import Collected, collect_domains
from mailops.jsonable import to_jsonable
from mailops.models.emboux import DomainSummary
from mailops.public_suffix import registrable_domain
from mailops.report.escape import visible_values
from mailops.report.slack import SlackNotifier, outbound_guard_message
from mailops.rules.guard import group_of
from mailops.rules.shard import Shard
from mailops.store import ChangeStatus, PlannedChange, Store
from tasks.context import current_settings, outbox_name
from tasks.define import task


@task(retries=1, retry_delay_seconds=5)
async def read_domains(shard: Shard | None = None) -> Collected:
    """Every domain the token sees with its outbound counters, all at once (failures kept).

    A shard takes whole groups (partner or parent domain), never part of one: the group
    ratio needs every member.
    """
    settings = current_settings(shard)
    if settings.emboux_api_key is None:
        raise ConfigError("outbound-guard needs MAILOPS_EMBOUX_API_KEY (a master token)")
    part = shard or Shard(1, 1)
    group_by = settings.guard.group_by

    def in_shard(domain: DomainSummary) -> bool:
        return part.owns(group_of(domain.name, domain.partner_ref, group_by, registrable_domain))

    async with EmbouxClient.from_settings(settings) as client:
        return await collect_domains(client, None if part.whole else in_shard)


@task(retries=2, retry_delay_seconds=[1, 5])
def evaluate_and_remember(
    collected: Collected, as_of: datetime, run_id: str
) -> tuple[GuardRun, dict[str, tuple[str, str | None]]]:
    """Run the engine on the change since the last poll, store every mailbox's and group's
    state and the run's plan; answers the run and the groups as last notified."""
    settings = current_settings()
    with Store(settings.database_url) as store:
        store.upgrade()
        failed = [f.subject for f in collected.failures]
        run = evaluate(store.guard.mailboxes(), collected.domains, failed, as_of, settings.guard)
        notified = store.guard.groups()
        store.guard.save_mailboxes(run.records, as_of)
        store.guard.save_groups({g.group: g.status.value for g in run.groups}, as_of)
        save_plan(store, run_id, JOB, run.actions)
    return run, notified


@task()
async def apply_guard_plan(run_id: str) -> tuple[ApplyResult, list[GuardAction]]:
    """Apply the run's stored plan through the gate, then record which suspends are the
    guard's own (only those may be resumed later); answers the applied changes."""
    settings = current_settings()
    with Store(settings.database_url) as store:
        async with EmbouxClient.from_settings(settings) as client:

            async def apply_one(change: PlannedChange) -> None:
                await apply_change(client, change)

            async def holds(change: PlannedChange) -> bool:
                return (await client.outbound(change.label)).outbound_status == change.new_value

            result = await apply_plan(store, run_id, JOB, apply_one, confirm=holds)
        applied = [s.change for s in store.plans.of_run(run_id, ChangeStatus.APPLIED)]
        store.guard.mark_suspended([c.label for c in applied if c.action == "suspend"], True)
        store.guard.mark_suspended([c.label for c in applied if c.action == "resume"], False)
    return result, [GuardAction.of(change) for change in applied]


@task()
def publish_artifacts(run: GuardRun, as_of: datetime) -> None:
    """The guard's dashboard in the Prefect UI: mailboxes, and groups
    (docs/outbound-guard.md#dashboard-metrics)."""
    rows = to_jsonable(run.mailboxes())
    create_table_artifact(
        key="outbound-guard-mailboxes",
        table=visible_values(rows or [{"name": "(no domains)"}]),
        description=f"outbound-guard mailboxes at {as_of.isoformat()}",
    )
    create_table_artifact(
        key="outbound-guard-groups",
        table=visible_values(to_jsonable(run.groups) or [{"group": "(no groups)"}]),
        description=f"outbound-guard groups at {as_of.isoformat()}",
    )


@task()
def notify_transitions(
    run: GuardRun,
    notified_groups: dict[str, tuple[str, str | None]],
    actions: list[GuardAction],
    dry_run: bool,
    as_of: datetime,
) -> tuple[str | None, str | None]:
    """Post the status changes since the last post, if any: (where it went, or why not).

    Nothing changed, nothing posted; what was posted (or, when Slack failed, kept in the
    outbox) is remembered so it is never repeated: a post whose answer was lost may have
    reached Slack, and posting its changes again would show them twice.
    """
    boxes = {r.state.name: r.state for r in run.records}
    mailbox_rows = [(name, old, new.value, boxes[name].reason)
                    for name, old, new in run.mailbox_transitions()]
    groups = {g.group: g for g in run.groups}
    group_rows = [(name, old, new.value,
                   f"{groups[name].unhealthy}/{groups[name].mailboxes} unhealthy")
                  for name, old, new in run.group_transitions(notified_groups)]
    if not mailbox_rows and not group_rows:
        return None, None
    settings = current_settings()
    message: dict[str, Any] = outbound_guard_message(
        mailbox_rows, group_rows,
        actions,
        dry_run=dry_run, as_of=as_of.isoformat(),
    )
    delivered, error = None, None
    try:
        delivered = SlackNotifier.from_settings(settings).post(
            message, name=outbox_name(JOB, f"{as_of:%Y%m%dT%H%M%S}")
        ).describe()
    except NotificationError as exc:
        if exc.kept_in is None:
            return None, str(exc)
        error = str(exc)
    with Store(settings.database_url) as store:
        store.guard.mark_notified(
            {name: new for name, _, new, _ in mailbox_rows},
            {name: new for name, _, new, _ in group_rows},
        )
    return delivered, error
