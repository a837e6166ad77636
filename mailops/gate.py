"""The one gate in front of every remote change: plan, cap, apply resumably, audit.

A gated job (contact-cleanup, quarantine-accept, outbound-guard, ...) builds a list of
`PlannedChange`s, stores it under its run id, and without an explicit apply stops there. To
apply, the plan must fit under the cap (a misconfigured rule must not block the world) and,
under a deployment, be approved in the Prefect UI (the flows' part). `apply_plan` then makes
each still-planned change through the job's own `apply_one`, concurrently, and records each
outcome with its audit row; re-running it skips what is done, so applying is resumable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from mailops.errors import MailopsError, UnknownPlanError
from mailops.store import Change, Store
from mailops.store.plans import ChangeStatus, Outcome, PlannedChange, StoredChange

ApplyOne = Callable[[PlannedChange], Awaitable[None]]
# Whether the remote object already holds a change's new value (an idempotent read).
Confirm = Callable[[PlannedChange], Awaitable[bool]]
# A batch call (e.g. accepting up to 100 quarantined messages at once): takes the changes,
# answers one entry per change, None when it was made, else why not.
ApplyMany = Callable[[Sequence[PlannedChange]], Awaitable[Sequence[str | None]]]
CHUNK = 100  # changes applied between two store writes
BATCHES_AT_ONCE = 4  # batch calls in flight between two store writes


class Verdict(StrEnum):
    """How a gated run ended, as the Prefect runs list names its final state (the reason is
    the state's message).

    Each is a Completed state of that name, except those in `NEEDS_A_PERSON`: Failed
    states of that name, since nothing was done that should have been and someone must look
    (a cap too low for the plan, a plan nobody answered), so failure alerts see them.
    """

    DRY_RUN = "Dry run"
    NOTHING_TO_APPLY = "Nothing to apply"
    APPLIED = "Applied"  # approved in the Prefect UI, then applied
    APPLIED_AT_TERMINAL = "Applied by --apply"  # the person typing --apply approved it
    REJECTED = "Rejected"
    EXPIRED = "Expired"  # nobody answered within [approval] timeout_seconds
    OVER_CAP = "Over cap"


NEEDS_A_PERSON = frozenset({Verdict.OVER_CAP, Verdict.EXPIRED})


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided about one plan, and why, in one line for the run's state."""

    verdict: Verdict
    reason: str

    @property
    def applies(self) -> bool:
        """Whether the plan may now be applied."""
        return self.verdict in (Verdict.APPLIED, Verdict.APPLIED_AT_TERMINAL)

    @property
    def refusal(self) -> str | None:
        """Why nothing may change, or None when the plan may be applied (or was not asked)."""
        refused = self.verdict in (Verdict.REJECTED, Verdict.EXPIRED, Verdict.OVER_CAP)
        return self.reason if refused else None


NOTHING = GateDecision(Verdict.NOTHING_TO_APPLY, "nothing to change")


def dry_run(planned: int) -> GateDecision:
    """A run that was not asked to apply its plan."""
    return GateDecision(Verdict.DRY_RUN, f"dry run: {planned} change(s) planned, none made")


def decide_without_asking(
    planned: int, cap: int, *, approval_required: bool
) -> GateDecision | None:
    """The decision needing no person: nothing to change, over the cap, or approved by the
    `--apply` of the person at the terminal; None when a person must approve in the UI."""
    if not planned:
        return NOTHING
    refusal = refusal_over_cap(planned, cap)
    if refusal is not None:
        return GateDecision(Verdict.OVER_CAP, refusal)
    if approval_required:
        return None
    return GateDecision(Verdict.APPLIED_AT_TERMINAL,
                        f"{planned} change(s) approved by --apply at the terminal")


def answered(approved: bool, planned: int, note: str, approver: str) -> GateDecision:
    """The decision a person's answer in the Prefect UI makes."""
    who = f" by {approver}" if approver else ""
    if approved:
        said = f": {note}" if note else ""
        return GateDecision(Verdict.APPLIED,
                            f"{planned} change(s) approved in the Prefect UI{who}{said}")
    said = f" ({note})" if note else ""
    return GateDecision(Verdict.REJECTED,
                        f"the plan was rejected in the Prefect UI{who}{said}: nothing was changed")


def expired(timeout_seconds: int) -> GateDecision:
    """The decision when nobody answered in time: no."""
    return GateDecision(Verdict.EXPIRED,
                        f"no approval within {timeout_seconds} s: nothing was changed")


def refusal_over_cap(planned: int, cap: int, option: str = "--max-actions") -> str | None:
    """Why a plan of `planned` changes may not be applied under `cap`, or None if it may."""
    if planned <= cap:
        return None
    return (
        f"the plan has {planned} changes, more than the cap of {cap}: nothing was changed; "
        f"review the plan, then raise the cap with {option} {planned} if it is right"
    )


def approval_audit(
    run_id: str, decision: str, note: str, approver: str, flow_run_id: str
) -> Change:
    """The audit row of a person's answer to the plan stored under `run_id` (`approved`,
    `rejected`, or `expired` when nobody answered): target `plan:<run id>`, field `approval`,
    the note as its reason, who answered as its label; the flow run that asked is named when
    it is not the plan's own (a resumed plan)."""
    asked = "" if flow_run_id == run_id else f" (asked in flow run {flow_run_id})"
    return Change(f"plan:{run_id}", "approval", "waiting", decision,
                  f"{note or 'no note'}{asked}", approver or "(name not given)")


def check_stored_plan(store: Store, run_id: str, job: str, *, option: str = "--resume") -> None:
    """Refuse a run id that names no stored plan of `job` (unknown, or another job's plan):
    resuming must apply the plan a person reviewed, never a fresh one planned under a typo."""
    jobs = store.plans.jobs_of_run(run_id)
    if job in jobs:
        return
    if jobs:
        raise UnknownPlanError(
            f"{option} {run_id!r} is a plan of {', '.join(jobs)}, not of {job}: nothing was "
            "applied"
        )
    raise UnknownPlanError(
        f"{option} {run_id!r}: no stored plan of {job} has that run id: nothing was applied"
    )


@dataclass(frozen=True)
class TeamTarget:
    """How a job names one team's item in its plan rows: `<kind>:<team>:<uuid>`, so that one
    run covers every team and apply and undo find each item's team again."""

    kind: str

    def of(self, team: str, uuid: str) -> str:
        """The target naming `team`'s item `uuid`."""
        return f"{self.kind}:{team}:{uuid}"

    def parse(self, target: str) -> tuple[str, str]:
        """(team, uuid) of a target of this kind (team names may hold colons)."""
        kind, _, rest = target.partition(":")
        team, _, uuid = rest.rpartition(":")
        if kind != self.kind or not team or not uuid:
            raise ValueError(f"not a {self.kind} target: {target!r}")
        return team, uuid


@dataclass
class ApplyResult:
    """What one apply pass did."""

    applied: int = 0
    already_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (label, message)


def save_plan(store: Store, run_id: str, job: str, changes: Iterable[PlannedChange]) -> int:
    """Store the plan before anything changes; returns how many changes it holds."""
    return store.plans.save(run_id, job, changes)


async def apply_plan(
    store: Store,
    run_id: str,
    job: str,
    apply_one: ApplyOne | None = None,
    *,
    apply_many: ApplyMany | None = None,
    batch_size: int = CHUNK,
    confirm: Confirm | None = None,
) -> ApplyResult:
    """Make every still-planned change of a run, recording and auditing each outcome.

    Changes run concurrently within chunks of CHUNK (the HTTP layer bounds the requests);
    each chunk's outcomes are written in one transaction. A change that failed before is
    tried again; an applied one is skipped. A crash inside a chunk can leave changes made
    but unrecorded: they are made again on the next pass, which is why `apply_one` must be
    idempotent (setting a state, releasing a message: both are).

    With `apply_many` instead of `apply_one`, changes go out in batches of `batch_size`
    (BATCHES_AT_ONCE batches concurrently, recorded after each round); a batch that raises
    fails each of its changes, which the next pass sends again.

    A change whose call failed is checked with `confirm` when given: an answer lost after
    the change was made, then a retry that failed, must not leave a change made without its
    audit row; one the remote object holds is recorded applied.
    """
    if (apply_one is None) == (apply_many is None):
        raise ValueError("give apply_plan exactly one of apply_one and apply_many")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = ApplyResult()
    pending: list[StoredChange] = []
    for stored in store.plans.of_run(run_id):
        if stored.status is ChangeStatus.APPLIED:
            result.already_done += 1
        else:
            pending.append(stored)
    chunk_size = CHUNK if apply_many is None else batch_size * BATCHES_AT_ONCE
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        if apply_many is None:
            assert apply_one is not None
            outcomes = list(await asyncio.gather(*(_apply(s, apply_one) for s in chunk)))
        else:
            batches = [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
            found = await asyncio.gather(*(_apply_batch(b, apply_many) for b in batches))
            outcomes = [outcome for batch in found for outcome in batch]
        if confirm is not None:
            outcomes = list(await asyncio.gather(
                *(_confirmed(o, stored.change, confirm)
                  for o, stored in zip(outcomes, chunk, strict=True))))
        store.plans.record_outcomes(run_id, job, outcomes, {s.seq: s.change for s in chunk})
        for stored, outcome in zip(chunk, outcomes, strict=True):
            if outcome.applied:
                result.applied += 1
            else:
                result.failed.append((stored.change.label, outcome.detail or "failed"))
    return result


async def _apply(stored: StoredChange, apply_one: ApplyOne) -> Outcome:
    try:
        await apply_one(stored.change)
    except MailopsError as exc:
        return Outcome(stored.seq, False, str(exc))
    return Outcome(stored.seq, True)


async def _confirmed(outcome: Outcome, change: PlannedChange, confirm: Confirm) -> Outcome:
    """A failed outcome turned applied when the remote object holds the new value."""
    if outcome.applied:
        return outcome
    try:
        held = await confirm(change)
    except MailopsError:
        return outcome
    return Outcome(outcome.seq, True) if held else outcome


async def _apply_batch(batch: list[StoredChange], apply_many: ApplyMany) -> list[Outcome]:
    try:
        errors = list(await apply_many([stored.change for stored in batch]))
    except MailopsError as exc:
        return [Outcome(stored.seq, False, str(exc)) for stored in batch]
    if len(errors) != len(batch):
        raise ValueError(f"apply_many answered {len(errors)} outcomes for {len(batch)} changes")
    return [Outcome(stored.seq, error is None, error)
            for stored, error in zip(batch, errors, strict=True)]


def undo_plan(store: Store, run_id: str) -> list[PlannedChange]:
    """The changes that revert what a run applied, newest first, each from the run's new
    value back to its old one. The caller drops those whose remote value is no longer the
    one the run set (a person's later decision wins) before planning them."""
    applied = [s.change for s in store.plans.of_run(run_id, ChangeStatus.APPLIED)]
    return [
        PlannedChange(
            change.target, change.label, change.field, change.new_value, change.old_value,
            f"undo {change.action}", f"undo of run {run_id}: {change.reason}",
        )
        for change in reversed(applied)
    ]
