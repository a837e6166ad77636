"""Pure decisions for the two non-idempotent counter resets and for billing (seed 002).

`reset-daily` and `reset-monthly` must happen once per UTC day and once per month. When the
answer to one of them is lost, these functions decide from the remote counters whether it was
applied; they also fix which ledger keys a run may use and what overage is billed.
No I/O here: the flows feed counters in and act on the answer.

Why the monthly check can tell: the EmBoux counters only ever grow, except through a reset.
So a counter below its value in the snapshot taken just before the call proves the reset
happened, and every counter at or above its snapshot value proves it did not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
    """Sends above the monthly limit that are billed (seed 002: soft enforcement allows and
    bills them; hard enforcement refuses them; a limit of 0 means unlimited)."""
    if enforcement != "soft" or monthly_limit <= 0:
        return 0
    return max(0, sent_month - monthly_limit)


def parse_period(text: str) -> str:
    """A billing period `YYYY-MM`, normalised; ValueError when it is not one."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month such as 2026-10 (YYYY-MM)")
    return f"{match.group(1)}-{match.group(2)}"


def parse_day(text: str) -> date:
    """A UTC day `YYYY-MM-DD`; ValueError when it is not one."""
    if not _DAY.match(text.strip()):
        raise ValueError(f"{text!r} is not a day such as 2026-10-01 (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the calendar") from None


def previous_period(now: datetime) -> str:
    """The month that ended most recently (UTC): what the run on the 1st bills."""
    first = now.astimezone(UTC).date().replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


def current_period(now: datetime) -> str:
    moment = now.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def daily_key(day: str | None, now: datetime) -> str:
    """The ledger key of a daily reset: the UTC day, today by default.

    A reset acts on the counters as they are now, so a run may name only today, or the day
    next to it (a run scheduled for midnight that starts a moment early or late); any other
    day would let one day's reset be spent on another day.
    """
    today = now.astimezone(UTC).date()
    chosen = today if day is None else parse_day(day)
    if abs((chosen - today).days) > 1:
        raise ValueError(
            f"a daily reset acts on today's counters, so its day must be {today.isoformat()} "
            f"(or the day next to it), not {chosen.isoformat()}"
        )
    return chosen.isoformat()


def monthly_key(period: str | None, now: datetime) -> str:
    """The ledger key of a billing freeze: the billed month, the one just ended by default.

    The freeze acts on the counters as they are now, so only the month just ended or the
    current one (a run scheduled for the 1st that starts a moment early) may be named.
    """
    chosen = previous_period(now) if period is None else parse_period(period)
    allowed = (previous_period(now), current_period(now))
    if chosen not in allowed:
        raise ValueError(
            f"a billing freeze acts on the counters as they are now, so its period must be "
            f"{allowed[0]} (or {allowed[1]}), not {chosen}"
        )
    return chosen
