"""Ground truth of what the sandbox applied and what it showed, for reconciliations.

The journal keeps, in order, every change the APIs applied on a client's request (a contact's
state, a quarantined message released, a domain's outbound setting), one entry per change
and never for a request that changed nothing, and the metrics daily-health would have read at
each collection instant (recorded on request through the control API, before the collection
runs). Resets are kept by the EmBoux model itself (`reset_daily_log`, `reset_monthly_log`,
and the counters each monthly reset froze). Entries are plain dicts: the control API serves
them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.cleanbox_state import ALL, DENIED, FAILED, QUARANTINED, STATES

if TYPE_CHECKING:
    from sandbox.cleanbox_state import Team
    from sandbox.clock import SimClock
    from sandbox.emboux import EmbouxSim

FAILURE_WINDOW_SECONDS = 86_400  # daily-health counts failed and denied mail of 24 hours


@dataclass
class Journal:
    """Every change the sandbox applied through its APIs, and the metrics at collections."""

    clock: SimClock
    changes: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)

    def record(
        self, api: str, kind: str, subject: str, target: str, old: Any, new: Any, request: str
    ) -> None:
        """One applied change: `kind` of `target` (of team or domain `subject`), old to new."""
        self.changes.append({
            "seq": len(self.changes) + 1, "at": self.clock.now().isoformat(), "api": api,
            "kind": kind, "subject": subject, "target": target, "old": old, "new": new,
            "request": request,
        })

    def to_json(self) -> dict[str, Any]:
        return {"changes": list(self.changes), "collections": list(self.collections)}


def team_metrics(team: Team, now: float, top_senders: int, categories: list[dict]) -> dict:
    """What a collection at `now` reads of one team: usage, limits, exact backlog, the 24-hour
    failed and denied counts (`since` inclusive, like `GET /messages`) and the top senders."""
    since = now - FAILURE_WINDOW_SECONDS
    failed_rows, failed_lo = team.messages.select(FAILED, None, since)
    denied_rows, denied_lo = team.messages.select(DENIED, None, since)
    contacts = team.contacts
    ranked = contacts.order(ALL, "emailCount")[::-1][:top_senders]
    return {
        "weekly_used": team.weekly_used,
        "weekly_limit": team.weekly_limit,
        "aliases_used": len(team.aliases),
        "aliases_limit": team.aliases_limit,
        "mailboxes_used": team.mailboxes_used,
        "mailboxes_limit": team.mailboxes_limit,
        "quarantine_backlog": len(team.messages.by_status[QUARANTINED]),
        "failed_24h": len(failed_rows) - failed_lo,
        "denied_24h": len(denied_rows) - denied_lo,
        "top_senders": [
            {
                "email": contacts.emails[i],
                "email_count": contacts.counts[i],
                "state": STATES[contacts.states[i]],
                "category": (categories[contacts.categories[i]]["name"]
                             if contacts.categories[i] >= 0 else None),
            }
            for i in ranked
        ],
    }


def domain_metrics(sim: EmbouxSim) -> dict[str, dict[str, Any]]:
    """Every domain's `GET /domains/{name}/outbound` body and partner, as they are now."""
    with sim.lock:
        return {
            name: {**sim.outbound(name), "partner_ref": sim.domain(name).partner_ref}
            for name in sim.domain_names()
        }


def record_collection(
    journal: Journal, teams: list[Team], sim: EmbouxSim, categories: list[dict], *,
    day: str, top_senders: int,
) -> dict[str, Any]:
    """Keep (and answer) the metrics of every team and domain at this instant, for `day`."""
    now = journal.clock.now()
    entry = {
        "day": day,
        "at": now.isoformat(),
        "teams": {t.name: team_metrics(t, now.timestamp(), top_senders, categories)
                  for t in teams},
        "domains": domain_metrics(sim),
    }
    journal.collections.append(entry)
    return entry
