"""Pure decisions for EmBoux's two non-idempotent counter resets and for billing.

`reset-daily` and `reset-monthly` (docs/emboux-api.md#counter-resets) must happen once per
UTC day and once per month (docs/assumptions.md#days-and-months). When the answer to one of
them is lost, these functions decide from the remote counters whether it was applied; they
also fix which ledger keys a run may use and what overage is billed.
No I/O here: the flows feed counters in and act on the answer.

Why the monthly check can tell: the EmBoux counters only ever grow, except through a reset.
So a counter below its value in the snapshot taken just before the call proves the reset
happened, and every counter at or above its snapshot value proves it did not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class ResetOutcome(StrEnum):
    """What the remote state says about a reset whose answer was lost."""

    APPLIED = "applied"
    NOT_APPLIED = "not_applied"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class MonthCounters:
    """The counters `reset-monthly` freezes and zeroes for one domain."""

    sent_month: int
    bounce_count: int
    complaint_count: int

    def is_zero(self) -> bool:
        return self.sent_month == 0 and self.bounce_count == 0 and self.complaint_count == 0

    def below(self, other: MonthCounters) -> bool:
        """True when any counter is lower than in `other`: only a reset lowers one."""
        return (
            self.sent_month < other.sent_month
            or self.bounce_count < other.bounce_count
            or self.complaint_count < other.complaint_count
        )


@dataclass(frozen=True)
class Reconciliation:
    """A decision and the evidence behind it, for the log, the ledger and the artifact."""

    outcome: ResetOutcome
    reason: str
    lowered: list[str] = field(default_factory=list)
    unchanged_or_grown: list[str] = field(default_factory=list)


def reconcile_daily(
    sent_today: Mapping[str, int], before: Mapping[str, int] | None = None
) -> Reconciliation:
    """After an ambiguous `reset-daily`: what the `outbound_sent_today` counters say now.

    - every counter at zero: applied;
    - `before` (counters read just before the call): only a reset lowers a counter, and a
      day's sends do not come back within seconds, so every domain that had sends now lower
      means applied, and every one at or above its count means not applied (safe to call
      once more);
    - anything else (some lower, some not; or no domain had sends before) cannot be told
      apart: the day is marked unknown and left to a forced run.
    """
    busy = sorted(name for name, sent in sent_today.items() if sent != 0)
    if not busy:
        return Reconciliation(
            ResetOutcome.APPLIED,
            f"all {len(sent_today)} domains show 0 sent today, so the reset was applied",
        )
    witnesses = sorted(n for n, sent in (before or {}).items() if sent > 0 and n in sent_today)
    lowered = [n for n in witnesses if sent_today[n] < (before or {})[n]]
    kept = [n for n in witnesses if n not in set(lowered)]
    if witnesses and not kept:
        return Reconciliation(
            ResetOutcome.APPLIED,
            f"all {len(lowered)} domains that had sends before the call now show fewer, "
            "which only a reset does, so it was applied",
            lowered=lowered,
        )
    if witnesses and not lowered:
        return Reconciliation(
            ResetOutcome.NOT_APPLIED,
            f"all {len(kept)} domains that had sends before the call still show as many or "
            "more, so the reset was not applied and may be called once more",
            unchanged_or_grown=kept,
        )
    sample = ", ".join(busy[:5]) + (" ..." if len(busy) > 5 else "")
    why = (f"{len(lowered)} domains show fewer sends than before the call but {len(kept)} do "
           "not" if witnesses else f"{len(busy)} of {len(sent_today)} domains show sends today")
    return Reconciliation(
        ResetOutcome.UNCLEAR,
        f"{why} ({sample}); cannot tell whether the reset was applied",
        lowered=lowered,
        unchanged_or_grown=busy,
    )


def reconcile_monthly(
    snapshot: Mapping[str, MonthCounters], current: Mapping[str, MonthCounters]
) -> Reconciliation:
    """After an ambiguous `reset-monthly`: compare the counters now with the snapshot.

    - every counter now zero, or every domain that had counts now lower: applied (the
      snapshot holds the month's billing data);
    - every domain at or above its snapshot: not applied, safe to call once more;
    - some lower, some not: unclear, left to a forced run.
    Only domains in both are compared: a domain added since the snapshot started at zero.
    """
    common = sorted(set(snapshot) & set(current))
    if all(current[name].is_zero() for name in common):
        return Reconciliation(
            ResetOutcome.APPLIED,
            f"all {len(common)} domains now show zero monthly counters, so the reset was "
            "applied; the snapshot is the billing data",
            lowered=[name for name in common if not snapshot[name].is_zero()],
        )
    informative = [name for name in common if not snapshot[name].is_zero()]
    lowered = [name for name in informative if current[name].below(snapshot[name])]
    kept = [name for name in informative if name not in set(lowered)]
    if not informative:
        return Reconciliation(
            ResetOutcome.APPLIED,
            "the snapshot holds no counts at all, so the month's billing data is zero "
            "whether or not the reset was applied",
        )
    if not kept:
        return Reconciliation(
            ResetOutcome.APPLIED,
            f"all {len(lowered)} domains with counts now show lower counters, which only a "
            "reset does; the snapshot is the billing data",
            lowered=lowered,
        )
    if not lowered:
        return Reconciliation(
            ResetOutcome.NOT_APPLIED,
            f"all {len(kept)} domains with counts are at or above the snapshot, so the "
            "reset was not applied and may be called once more",
            unchanged_or_grown=kept,
        )
    return Reconciliation(
        ResetOutcome.UNCLEAR,
        f"{len(lowered)} domains show lower counters ({', '.join(lowered[:3])}) but "
        f"{len(kept)} do not ({', '.join(kept[:3])}); cannot tell whether the reset was "
        "applied",
        lowered=lowered,
        unchanged_or_grown=kept,
    )


def overage(sent_month: int, monthly_limit: int, enforcement: str | None) -> int:
    """Sends above the monthly limit that are billed (docs/emboux-api.md#enforcement-and-billing:
    soft enforcement allows and bills them; hard enforcement refuses them; a limit of 0 means
    unlimited)."""
    if enforcement != "soft" or monthly_limit <= 0:
        return 0
    return max(0, sent_month - monthly_limit)


def parse_period(text: str) -> str:
    """A billing period `YYYY-MM`, normalised; ValueError when it is not one."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month such as 2026-10 (YYYY-MM)")
    return f"{match.group(1)}-{match.group(2)}"


def previous_period(now: datetime) -> str:
    """The month that ended most recently (UTC): what the run on the 1st bills."""
    first = now.astimezone(UTC).date().replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


def current_period(now: datetime) -> str:
    moment = now.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def daily_key(now: datetime) -> str:
    """The ledger key of a daily reset: the UTC day on the clock when the call is made.

    A reset zeroes the counters as they are at that moment, so the day it spends is always
    the day it happens; no run may name another (three "days" reset on one real day before).
    """
    return now.astimezone(UTC).date().isoformat()


def monthly_key(period: str | None, now: datetime) -> str:
    """The ledger key of a billing freeze: the billed month, the one just ended by default.

    Only a month that has ended is billed, at any time in the month after it (late is better
    than never for billing: the counters hold that month's sends until the freeze); never the
    running month (freezing it mid-month bills its later sends to the next month), nor an
    older one (its counters were already frozen, or are mixed with the next month's).
    """
    ended = previous_period(now)
    chosen = ended if period is None else parse_period(period)
    if chosen == current_period(now):
        raise ValueError(
            f"{chosen} has not ended yet: a billing freeze bills a month that has ended, "
            f"so it can run for {chosen} from the 1st of the next month; now it may only "
            f"bill {ended}"
        )
    if chosen != ended:
        raise ValueError(
            f"a billing freeze bills the month just ended, {ended}, from the counters as they "
            f"are now; {chosen} cannot be billed from them"
        )
    return chosen


# --- when a daily reset is due -------------------------------------------------------------


class Trigger(StrEnum):
    """How a run was started: by a person (the CLI, the UI's Run button) or by a schedule."""

    BY_HAND = "by_hand"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class Due:
    """Whether this run resets the day, and why (for the log, the result and the summary)."""

    reset: bool
    reason: str


def daily_reset_due(
    trigger: Trigger,
    slot: datetime | None,
    now: datetime,
    *,
    previous_day_done: bool,
    attempted_today: bool,
) -> Due:
    """Whether a run resets today's counters (its key is today, see `daily_key`).

    - a run started by hand: the operator's decision, once for the day;
    - a scheduled run of the day's 00:00 UTC slot (however late it starts that day): yes;
    - a scheduled run after the slot (a catch-up: the reset deploys hourly so a failed or
      missed midnight is made up) only when mailops owns the schedule and missed its slot:
      the ledger shows the previous day reset by mailops, or an earlier attempt today.
      Otherwise a first deployment at 06:00 would zero a day's counters mid-day.
    """
    today = now.astimezone(UTC).date()
    if trigger is Trigger.BY_HAND:
        return Due(True, "started by hand: the operator's decision, once for the day")
    moment = (slot or now).astimezone(UTC)
    if moment.date() == today and moment.hour == 0:
        return Due(True, f"the 00:00 UTC slot of {today.isoformat()}")
    yesterday = (today - timedelta(days=1)).isoformat()
    if previous_day_done:
        return Due(True, f"a catch-up: mailops reset {yesterday} and has not reset "
                         f"{today.isoformat()} yet")
    if attempted_today:
        return Due(True, f"a catch-up: mailops tried the reset of {today.isoformat()} earlier "
                         "today and it did not happen")
    tomorrow = (today + timedelta(days=1)).isoformat()
    return Due(False, (
        f"a scheduled catch-up run after the 00:00 UTC slot, and the ledger shows no reset of "
        f"{yesterday} by mailops: resetting now would zero {today.isoformat()}'s counters "
        f"mid-day. The first scheduled reset is at 00:00 UTC on {tomorrow}; run it by hand "
        "to reset today"
    ))


# --- who holds a claim ---------------------------------------------------------------------


class HolderState(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


def holder_state(
    *,
    host: str | None,
    pid: int | None,
    token: str | None,
    lease_until: datetime | None,
    here: str,
    token_now: str | None,
    now: datetime,
) -> tuple[HolderState, str]:
    """Whether the process holding a `started` claim still lives.

    On this host the process table tells at once (`token_now`: the start marker of the
    process that has the holder's pid now, None when none has): alive only while the same
    process runs, whatever its lease says, so a live holder is never raced. On another host
    only the lease tells: dead once it has run out unrenewed.
    """
    if host is None or pid is None:
        return HolderState.UNKNOWN, ("the claim names no holder (written before mailops "
                                     "recorded them)")
    if host == here:
        if token_now is None:
            return HolderState.DEAD, f"process {pid} on {host} is gone"
        if token is not None and token_now != token:
            return HolderState.DEAD, (f"process {pid} on {host} is gone (its id now belongs "
                                      "to another process)")
        return HolderState.ALIVE, f"process {pid} on {host} is still running"
    if lease_until is None or lease_until <= now:
        when = f" at {lease_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if lease_until else ""
        return HolderState.DEAD, f"its lease (process {pid} on {host}) ran out{when}"
    return HolderState.ALIVE, (f"process {pid} on {host} holds a lease until "
                               f"{lease_until.astimezone(UTC):%H:%M:%S} UTC")


class Resume(StrEnum):
    """What a run does after retaking a claim whose call may have been sent."""

    CALL = "call"
    DONE = "done"
    UNKNOWN = "unknown"


def after_retake(decision: Reconciliation, forced: bool) -> Resume:
    """A retaken claim whose call was sent (a dead holder's, or an unknown one forced):
    applied → done without a call; not applied → call; unclear → a forced run calls (a
    person checked), any other stays unknown."""
    if decision.outcome is ResetOutcome.APPLIED:
        return Resume.DONE
    if decision.outcome is ResetOutcome.NOT_APPLIED or forced:
        return Resume.CALL
    return Resume.UNKNOWN
