"""outbound-guard's memory: every mailbox's window and status, every group's status.

The guard runs every 15 minutes and feeds its engine the change since the last poll, so
the counters of the last poll, the windows and the cooldowns live here between runs, with
what the guard did (suspended a domain itself) and what it last told Slack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from mailops.rules.guard import MailboxState, Status, Window
from mailops.store.schema import guard_groups, guard_mailboxes
from mailops.store.upsert import upsert


@dataclass(frozen=True)
class GuardRecord:
    """A mailbox's engine state plus the guard's bookkeeping about the remote domain."""

    state: MailboxState
    last_sent_month: int | None = None
    last_bounce_count: int | None = None
    suspended_by_guard: bool = False  # the guard's own applied suspend is in force
    hands_off: bool = False  # a person lifted the guard's suspend during this pause
    notified_status: str | None = None

    def with_state(self, state: MailboxState) -> GuardRecord:
        return replace(self, state=state)


def _row(record: GuardRecord, now: datetime) -> dict[str, Any]:
    s = record.state
    return {
        "name": s.name, "group_name": s.group, "status": s.status.value, "reason": s.reason,
        "group_paused": s.group_paused, "window_sends": s.window.sends,
        "window_bounces": s.window.bounces, "total_sends": s.total_sends,
        "total_bounces": s.total_bounces, "paused_at": s.paused_at,
        "cooldown_until": s.cooldown_until, "probation_sends": s.probation.sends,
        "probation_bounces": s.probation.bounces, "clean_sends": s.clean_sends,
        "last_sent_month": record.last_sent_month,
        "last_bounce_count": record.last_bounce_count,
        "suspended_by_guard": record.suspended_by_guard, "hands_off": record.hands_off,
        "notified_status": record.notified_status, "updated_at": now,
    }


class GuardMemory:
    """outbound-guard's memory in one database: each mailbox's and group's state between runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mailboxes(self) -> dict[str, GuardRecord]:
        """Every remembered mailbox by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(guard_mailboxes)).all()
        records = {}
        for row in rows:
            state = MailboxState(
                name=row.name, group=row.group_name, status=Status(row.status), reason=row.reason,
                window=Window(row.window_sends, row.window_bounces), total_sends=row.total_sends,
                total_bounces=row.total_bounces, paused_at=row.paused_at,
                cooldown_until=row.cooldown_until,
                probation=Window(row.probation_sends, row.probation_bounces),
                clean_sends=row.clean_sends, group_paused=row.group_paused,
            )
            records[row.name] = GuardRecord(
                state, row.last_sent_month, row.last_bounce_count, row.suspended_by_guard,
                row.hands_off, row.notified_status,
            )
        return records

    def save_mailboxes(self, records: Iterable[GuardRecord], now: datetime) -> int:
        """Write every mailbox's state in one transaction (replacing the previous row)."""
        rows = [_row(record, now) for record in records]
        with self.engine.begin() as conn:
            return upsert(conn, guard_mailboxes, rows) if rows else 0

    def mark_suspended(self, names: Iterable[str], suspended: bool) -> None:
        """Record that the guard's own suspend of these domains was applied (or lifted)."""
        wanted = list(names)
        if not wanted:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(guard_mailboxes).where(guard_mailboxes.c.name.in_(wanted))
                .values(suspended_by_guard=suspended, hands_off=False)
            )

    def groups(self) -> dict[str, tuple[str, str | None]]:
        """Every remembered group: (status, last notified status)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(guard_groups)).all()
        return {row.name: (row.status, row.notified_status) for row in rows}

    def save_groups(self, statuses: Mapping[str, str], now: datetime) -> None:
        """Write every group's current status, keeping what was last notified."""
        known = self.groups()
        rows = [
            {"name": name, "status": status, "notified_status": known.get(name, (None, None))[1],
             "updated_at": now}
            for name, status in statuses.items()
        ]
        if rows:
            with self.engine.begin() as conn:
                upsert(conn, guard_groups, rows)

    def mark_notified(
        self, mailboxes: Mapping[str, str], groups: Mapping[str, str]
    ) -> None:
        """Remember the statuses just posted, so an unchanged state is never posted again."""
        with self.engine.begin() as conn:
            for name, status in mailboxes.items():
                conn.execute(update(guard_mailboxes).where(guard_mailboxes.c.name == name)
                             .values(notified_status=status))
            for name, status in groups.items():
                conn.execute(update(guard_groups).where(guard_groups.c.name == name)
                             .values(notified_status=status))


