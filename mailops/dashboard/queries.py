"""What the dashboard shows, as JSON-ready dicts: the same data feeds the pages and /api.

Strings in here are raw (a sender or domain name is a stranger's text): the templates show
them through escape.html_text (their finalize: escaped, invisible characters as markers), the
page's poll asks for them made visible (`?visible=1`) and sets them with textContent, and JSON
consumers get them as stored, as JSON strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mailops import jobs
from mailops.guard import JOB as GUARD_JOB
from mailops.guard import GuardMailbox
from mailops.jsonable import to_jsonable
from mailops.rules.guard import (
    UNHEALTHY,
    MailboxState,
    Status,
    apply_groups,
    severity_rank,
    sort_for_dashboard,
)
from mailops.settings import DOMAIN_TREND_METRICS, TEAM_TREND_METRICS, GuardSettings
from mailops.store import Store

CLEANUP_JOB = jobs.CONTACT_CLEANUP
ONCE_ONLY_JOBS = (jobs.OUTBOUND_RESET_DAILY, jobs.BILLING_FREEZE)
TEAM_METRICS = ("usage_pct", *TEAM_TREND_METRICS)
DOMAIN_METRICS = (*DOMAIN_TREND_METRICS, "bounce_count", "complaint_count")
METRICS = {"team": TEAM_METRICS, "domain": DOMAIN_METRICS}
TRANSITIONS_SHOWN = 3
DEFAULT_DAYS = 28
MAX_DAYS = 366


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _matches(text: str, needle: str) -> bool:
    return needle.casefold() in text.casefold()


# --- health ---------------------------------------------------------------------------------


def mailbox_row(
    state: MailboxState, rules: GuardSettings, plans: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """A mailbox as the health page shows it: its metrics, why, the last transitions
    (docs/outbound-guard.md#dashboard-metrics)."""
    row: dict[str, Any] = to_jsonable(GuardMailbox.of(state, rules))
    row.update({
        "window": f"{state.window.bounces:g}/{state.window.sends:g}",
        "reason": state.reason,
        "own_status": state.status.value,
        "group_paused": state.group_paused,
        "paused_at": _iso(state.paused_at),
        "transitions": [
            {**plan, "planned_at": _iso(plan["planned_at"]),
             "applied_at": _iso(plan["applied_at"])}
            for plan in plans
        ],
    })
    return row


def health(
    store: Store, rules: GuardSettings, status: str | None = None, q: str | None = None
) -> dict[str, Any]:
    """Every group (worst first) with its mailboxes; `status` and `q` (a name) filter them."""
    states = [record.state for record in store.guard.mailboxes().values()]
    states, groups = apply_groups(states, rules)
    plans = store.plans.recent(GUARD_JOB, TRANSITIONS_SHOWN)
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
        shown.append({
            **to_jsonable(group),
            "members": [mailbox_row(box, rules, plans.get(box.name, [])) for box in boxes],
        })
    counts = {s.value: sum(state.effective is s for state in states) for s in Status}
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "filters": {"status": wanted.value if wanted else None, "q": needle or None},
        "summary": {
            "groups": len(groups),
            "mailboxes": len(states),
            "unhealthy": sum(state.status in UNHEALTHY for state in states),
            "by_status": counts,
        },
        "groups": shown,
    }


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


def trends(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    days: int | None = None,
    q: str | None = None,
) -> dict[str, Any]:
    """Per team and per domain, each metric's daily series over the range and its
    week-over-week change (the 7 days ending `end` against the 7 before)."""
    start, end = trend_range(store, start, end, days)
    needle = (q or "").strip()
    wow = store.trends.week_over_week(end, TEAM_METRICS, DOMAIN_METRICS)
    changes: dict[tuple[str, str, str], dict[str, Any]] = {
        (w.scope, w.subject, w.metric): {
            "this_week": round(w.this_mean, 4), "last_week": round(w.last_mean, 4),
            "this_days": w.this_days, "last_days": w.last_days,
            "change_pct": _change_pct(w.this_mean, w.last_mean, w.last_days),
        }
        for w in wow
    }
    body: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(),
        "range": {"start": start.isoformat(), "end": end.isoformat()},
        "filters": {"q": needle or None},
    }
    for scope, metrics in METRICS.items():
        subjects: dict[str, dict[str, Any]] = {}
        for row in store.trends.rows(scope, metrics, start, end):
            name = row["subject"]
            if needle and not _matches(name, needle):
                continue
            entry = subjects.setdefault(name, {"name": name, "series": {m: [] for m in metrics}})
            for metric in metrics:
                value = row[metric]
                entry["series"][metric].append(
                    [row["day"].isoformat(), float(value) if value is not None else None]
                )
        for name, entry in subjects.items():
            entry["week_over_week"] = {
                metric: changes.get((scope, name, metric)) for metric in metrics
            }
        body[scope] = {"metrics": list(metrics), "subjects": list(subjects.values())}
    return body


# --- activity -------------------------------------------------------------------------------


def undo_command(job: str, run_id: str) -> str | None:
    """The command that reverts a run's changes, for the jobs that can be undone."""
    return f"mailops contacts undo {run_id}" if job == CLEANUP_JOB else None


def activity(store: Store, limit: int = 200, job: str | None = None) -> dict[str, Any]:
    """The audit table (newest first) with each change's run and undo command, and the
    once-only runs (daily resets, billing freezes) from the run ledger."""
    changes = [
        {
            "id": row["id"], "changed_at": _iso(row["changed_at"]), "job": row["job"],
            "run_id": row["run_id"], "target": row["target"],
            "label": row["label"] or row["target"], "field": row["field"],
            "old_value": row["old_value"], "new_value": row["new_value"],
            "reason": row["reason"], "undo": undo_command(row["job"], row["run_id"]),
        }
        for row in store.audit.tail(limit, job or None)
    ]
    runs = [] if job and job not in ONCE_ONLY_JOBS else [
        {
            "job": entry.job, "key": entry.key, "status": entry.status.value,
            "run_id": entry.run_id, "attempts": entry.attempts,
            "started_at": _iso(entry.started_at), "finished_at": _iso(entry.finished_at),
            "detail": entry.detail,
        }
        for entry in store.ledger.tail([job] if job else ONCE_ONLY_JOBS, limit)
    ]
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "filters": {"job": job or None, "limit": limit},
        "changes": changes,
        "runs": runs,
    }
