"""What the dashboard shows, as typed views: the same view feeds a page (its template reads
the attributes) and its /api twin (`to_jsonable` of it, the one serializer of the edge).

Strings in here are raw (a sender or domain name is a stranger's text): the templates show
them through escape.html_text (their finalize: escaped, invisible characters as markers), the
page's poll asks for them made visible (`?visible=1`) and sets them with textContent, and JSON
consumers get them as stored, as JSON strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from mailops import jobs
from mailops.guard import JOB as GUARD_JOB
from mailops.guard import GuardMailbox
from mailops.jsonable import FLATTEN
from mailops.rules.guard import (
    UNHEALTHY,
    GroupHealth,
    MailboxState,
    Status,
    apply_groups,
    severity_rank,
    sort_for_dashboard,
)
from mailops.settings import DOMAIN_TREND_METRICS, TEAM_TREND_METRICS, GuardSettings
from mailops.store import Store
from mailops.store.plans import RecentChange

CLEANUP_JOB = jobs.CONTACT_CLEANUP
ONCE_ONLY_JOBS = (jobs.OUTBOUND_RESET_DAILY, jobs.BILLING_FREEZE)
TEAM_METRICS = ("usage_pct", *TEAM_TREND_METRICS)
DOMAIN_METRICS = (*DOMAIN_TREND_METRICS, "bounce_count", "complaint_count")
METRICS = {"team": TEAM_METRICS, "domain": DOMAIN_METRICS}
TRANSITIONS_SHOWN = 3
DEFAULT_DAYS = 28
MAX_DAYS = 366


def _now() -> datetime:
    return datetime.now(UTC)


def _matches(text: str, needle: str) -> bool:
    return needle.casefold() in text.casefold()


# --- health ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxRow:
    """A mailbox as the health page shows it: its metrics, why, the last transitions
    (docs/outbound-guard.md#dashboard-metrics)."""

    mailbox: GuardMailbox = field(metadata=FLATTEN)
    window: str
    reason: str | None
    own_status: Status
    group_paused: bool
    paused_at: datetime | None
    transitions: tuple[RecentChange, ...]

    @classmethod
    def of(cls, state: MailboxState, rules: GuardSettings,
           transitions: Sequence[RecentChange]) -> MailboxRow:
        return cls(GuardMailbox.of(state, rules),
                   f"{state.window.bounces:g}/{state.window.sends:g}", state.reason,
                   state.status, state.group_paused, state.paused_at, tuple(transitions))


@dataclass(frozen=True)
class GroupRow:
    """A group's aggregate and the mailboxes shown under it."""

    health: GroupHealth = field(metadata=FLATTEN)
    members: tuple[MailboxRow, ...]


@dataclass(frozen=True)
class HealthSummary:
    groups: int
    mailboxes: int
    unhealthy: int
    by_status: Mapping[str, int]


@dataclass(frozen=True)
class HealthView:
    """The health page: every group (worst first) with its mailboxes, as filtered."""

    generated_at: datetime
    filters: Mapping[str, str | None]  # the filters applied, None where not given
    summary: HealthSummary
    groups: tuple[GroupRow, ...]


def health(
    store: Store, rules: GuardSettings, status: str | None = None, q: str | None = None
) -> HealthView:
    """Every group (worst first) with its mailboxes; `status` and `q` (a name) filter them."""
    states = [record.state for record in store.guard.mailboxes().values()]
    states, groups = apply_groups(states, rules)
    recent = store.plans.recent(GUARD_JOB, TRANSITIONS_SHOWN)
    wanted = Status(status) if status else None
    needle = (q or "").strip()
    members: dict[str, list[MailboxState]] = {}
    for state in sort_for_dashboard(states, rules):
        members.setdefault(state.group, []).append(state)
    shown = []
    for group in sorted(groups, key=lambda g: (-severity_rank(g.status), -g.unhealthy_pct,
                                               -g.avg_risk, g.group)):
        boxes = members.get(group.group, [])
        if needle and not _matches(group.group, needle):
            boxes = [box for box in boxes if _matches(box.name, needle)]
            if not boxes:
                continue
        if wanted is not None and group.status is not wanted:
            boxes = [box for box in boxes if wanted in (box.effective, box.status)]
            if not boxes:
                continue
        shown.append(GroupRow(group, tuple(MailboxRow.of(box, rules, recent.get(box.name, []))
                                           for box in boxes)))
    counts = {s.value: sum(state.effective is s for state in states) for s in Status}
    summary = HealthSummary(len(groups), len(states),
                            sum(state.status in UNHEALTHY for state in states), counts)
    filters = {"status": wanted.value if wanted else None, "q": needle or None}
    return HealthView(_now(), filters, summary, tuple(shown))


# --- trends ---------------------------------------------------------------------------------


def trend_range(
    store: Store, start: date | None, end: date | None, days: int | None
) -> tuple[date, date]:
    """The chosen range: `end` (default the last stored day) back `days` (default 28)."""
    _, last = store.trends.span()
    end = end or last or datetime.now(UTC).date()
    if start is None:
        span = min(max(days or DEFAULT_DAYS, 1), MAX_DAYS)
        start = end - timedelta(days=span - 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return start, end


def _change_pct(this_mean: float, last_mean: float, last_days: int) -> float | None:
    if last_days == 0 or last_mean == 0:
        return None
    return round(100.0 * (this_mean - last_mean) / abs(last_mean), 1)


@dataclass(frozen=True)
class WeekChange:
    """A metric's daily mean over the 7 days ending the range against the 7 before."""

    this_week: float
    last_week: float
    this_days: int
    last_days: int
    change_pct: float | None


@dataclass(frozen=True)
class SubjectTrend:
    """One team's or domain's daily series per metric (None: no figure that day) and
    week-over-week changes (None: no figures in either week)."""

    name: str
    series: Mapping[str, list[tuple[date, float | None]]]
    week_over_week: Mapping[str, WeekChange | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ScopeTrends:
    """The teams' (or the domains') metrics and each subject's series of them."""

    metrics: tuple[str, ...]
    subjects: tuple[SubjectTrend, ...]


@dataclass(frozen=True)
class DayRange:
    """The days shown, both included."""

    start: date
    end: date


@dataclass(frozen=True)
class TrendsView:
    """The trends page: per team and per domain, each metric's series over the range."""

    generated_at: datetime
    range: DayRange
    filters: Mapping[str, str | None]
    team: ScopeTrends
    domain: ScopeTrends


def trends(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    days: int | None = None,
    q: str | None = None,
) -> TrendsView:
    """Per team and per domain, each metric's daily series over the range and its
    week-over-week change (the 7 days ending `end` against the 7 before)."""
    start, end = trend_range(store, start, end, days)
    needle = (q or "").strip()
    wow = store.trends.week_over_week(end, TEAM_METRICS, DOMAIN_METRICS)
    changes = {
        (w.scope, w.subject, w.metric): WeekChange(
            round(w.this_mean, 4), round(w.last_mean, 4), w.this_days, w.last_days,
            _change_pct(w.this_mean, w.last_mean, w.last_days))
        for w in wow
    }
    scopes: dict[str, ScopeTrends] = {}
    for scope, metrics in METRICS.items():
        series: dict[str, dict[str, list[tuple[date, float | None]]]] = {}
        for row in store.trends.rows(scope, metrics, start, end):
            name = row["subject"]
            if needle and not _matches(name, needle):
                continue
            found = series.setdefault(name, {m: [] for m in metrics})
            for metric in metrics:
                value = row[metric]
                found[metric].append((row["day"], float(value) if value is not None else None))
        scopes[scope] = ScopeTrends(metrics, tuple(
            SubjectTrend(name, by_metric,
                         {metric: changes.get((scope, name, metric)) for metric in metrics})
            for name, by_metric in series.items()
        ))
    return TrendsView(_now(), DayRange(start, end), {"q": needle or None}, scopes["team"],
                      scopes["domain"])


# --- activity -------------------------------------------------------------------------------


def undo_command(job: str, run_id: str) -> str | None:
    """The command that reverts a run's changes, for the jobs that can be undone."""
    return f"mailops contacts undo {run_id}" if job == CLEANUP_JOB else None


@dataclass(frozen=True)
class AuditRow:
    """One audited change with its run and the command that reverts it (if any)."""

    id: int
    changed_at: datetime
    job: str
    run_id: str
    target: str
    label: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    undo: str | None


@dataclass(frozen=True)
class OnceOnlyRun:
    """A daily reset's or billing freeze's ledger entry."""

    job: str
    key: str
    status: str
    run_id: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    detail: str | None


@dataclass(frozen=True)
class ActivityView:
    """The activity page: the audit table and the once-only runs, newest first."""

    generated_at: datetime
    filters: Mapping[str, str | int | None]
    changes: tuple[AuditRow, ...]
    runs: tuple[OnceOnlyRun, ...]


def activity(store: Store, limit: int = 200, job: str | None = None) -> ActivityView:
    """The audit table (newest first) with each change's run and undo command, and the
    once-only runs (daily resets, billing freezes) from the run ledger."""
    changes = tuple(
        AuditRow(record.id, record.changed_at, record.job, record.run_id,
                 record.change.target, record.change.label or record.change.target,
                 record.change.field, record.change.old_value, record.change.new_value,
                 record.change.reason, undo_command(record.job, record.run_id))
        for record in store.audit.tail(limit, job or None)
    )
    runs = () if job and job not in ONCE_ONLY_JOBS else tuple(
        OnceOnlyRun(entry.job, entry.key, entry.status.value, entry.run_id, entry.attempts,
                    entry.started_at, entry.finished_at, entry.detail)
        for entry in store.ledger.tail([job] if job else ONCE_ONLY_JOBS, limit)
    )
    return ActivityView(_now(), {"job": job or None, "limit": limit}, changes, runs)
