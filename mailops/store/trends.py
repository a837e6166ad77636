"""Writing a day's health into the trend tables, and reading the history the rules need."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    select,
)

from mailops.models.emboux import Outbound
from mailops.models.health import DomainHealth, TeamHealth, TopSender
from mailops.rules.daily_health import WeekOverWeek
from mailops.store.schema import domain_daily, team_daily, team_top_senders
from mailops.store.upsert import upsert

if TYPE_CHECKING:
    from mailops.store.reports import ReportFrames

TREND_TABLES = {"team": (team_daily, "team"), "domain": (domain_daily, "domain")}


def _weekly_means(
    conn: Connection,
    scope: str,
    table: Table,
    subject: ColumnElement[str],
    metric: str,
    day: date,
) -> Iterator[WeekOverWeek]:
    column = table.c[metric]
    this_week = table.c.day > day - timedelta(days=7)
    query = (
        select(
            subject,
            func.avg(case((this_week, column))),
            func.count(case((this_week, 1))),
            func.avg(case((~this_week, column))),
            func.count(case((~this_week, 1))),
        )
        .where(and_(table.c.day > day - timedelta(days=14), table.c.day <= day))
        .group_by(subject)
    )
    for name, this_mean, this_days, last_mean, last_days in conn.execute(query):
        yield WeekOverWeek(
            scope, name, metric, float(this_mean or 0), int(this_days), float(last_mean or 0),
            int(last_days),
        )


class Trends:
    """The trend tables: a day's team and domain rows (with its top senders), and the
    history the alert rules, the weekly report and the dashboard read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_day(
        self,
        day: date,
        collected_at: datetime,
        teams: Sequence[TeamHealth],
        domains: Sequence[DomainHealth],
    ) -> None:
        """Store one day's rows in one transaction: a re-run of the day replaces them."""
        with self.engine.begin() as conn:
            upsert(conn, team_daily, [team.trend_row(day, collected_at) for team in teams])
            for team in teams:
                conn.execute(
                    delete(team_top_senders).where(
                        team_top_senders.c.day == day, team_top_senders.c.team == team.team
                    )
                )
                rows = team.sender_rows(day)
                if rows:
                    conn.execute(insert(team_top_senders), rows)
            upsert(conn, domain_daily, [domain.trend_row(day, collected_at) for domain in domains])

    def of_day(self, day: date) -> tuple[list[TeamHealth], list[DomainHealth]]:
        """The stored rows of one day as the collector's figures (for a report merged from the
        shards that stored them)."""
        with self.engine.connect() as conn:
            senders: dict[str, list[TopSender]] = {}
            for row in conn.execute(
                select(team_top_senders).where(team_top_senders.c.day == day)
                .order_by(team_top_senders.c.team, team_top_senders.c.rank)
            ):
                senders.setdefault(row.team, []).append(
                    TopSender(row.email, row.email_count, row.state, row.category)
                )
            teams = [
                TeamHealth(
                    team=row.team, weekly_used=row.weekly_used, weekly_limit=row.weekly_limit,
                    usage_pct=row.usage_pct, aliases_used=row.aliases_used,
                    aliases_limit=row.aliases_limit, mailboxes_used=row.mailboxes_used,
                    mailboxes_limit=row.mailboxes_limit, quarantine_backlog=row.quarantine_backlog,
                    failed_count=row.failed_24h, denied_count=row.denied_24h,
                    top_senders=senders.get(row.team, []),
                )
                for row in conn.execute(
                    select(team_daily).where(team_daily.c.day == day).order_by(team_daily.c.team)
                )
            ]
            outbound_fields = set(Outbound.model_fields) - {"name"}
            domains = [
                DomainHealth(
                    Outbound(name=row.domain, **{k: v for k, v in row._mapping.items()
                                                 if k in outbound_fields}),
                    row.partner_ref,
                )
                for row in conn.execute(
                    select(domain_daily).where(domain_daily.c.day == day)
                    .order_by(domain_daily.c.domain)
                )
            ]
        return teams, domains

    def send_averages(self, before: date, days: int) -> dict[str, float]:
        """Each domain's mean daily sends over the `days` days before `before`."""
        start = before - timedelta(days=days)
        query = (
            select(domain_daily.c.domain, func.avg(domain_daily.c.outbound_sent_today))
            .where(domain_daily.c.day >= start, domain_daily.c.day < before)
            .group_by(domain_daily.c.domain)
        )
        with self.engine.connect() as conn:
            return {domain: float(mean) for domain, mean in conn.execute(query) if mean is not None}

    def week_over_week(
        self, day: date, team_metrics: Sequence[str], domain_metrics: Sequence[str]
    ) -> list[WeekOverWeek]:
        """Daily means of each metric over the week ending `day` and the week before it."""
        changes: list[WeekOverWeek] = []
        with self.engine.connect() as conn:
            for scope, table, subject, metrics in (
                ("team", team_daily, team_daily.c.team, team_metrics),
                ("domain", domain_daily, domain_daily.c.domain, domain_metrics),
            ):
                for metric in metrics:
                    changes.extend(_weekly_means(conn, scope, table, subject, metric, day))
        return changes

    def report_frames(
        self, first_day: date, week_start: date, last_day: date, since: datetime,
        until: datetime,
    ) -> ReportFrames:
        """The weekly report's frames: trend rows of the weeks it needs, the week's alerts and
        audited changes (one query per table)."""
        from mailops.store import reports  # pandas loads only for the report, not every job

        return reports.load_frames(self.engine, first_day, week_start, last_day, since, until)

    def span(self) -> tuple[date | None, date | None]:
        """The first and last day either trend table holds (None when both are empty)."""
        with self.engine.connect() as conn:
            spans = [
                conn.execute(select(func.min(table.c.day), func.max(table.c.day))).one()
                for table, _ in TREND_TABLES.values()
            ]
        firsts = [first for first, _ in spans if first is not None]
        lasts = [last for _, last in spans if last is not None]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def rows(
        self, scope: str, metrics: Sequence[str], start: date, end: date
    ) -> list[dict[str, Any]]:
        """Each day's `metrics` of every team (or domain, `scope`) from `start` to `end`, both
        included (the dashboard's charts)."""
        table, subject = TREND_TABLES[scope]
        columns = [table.c.day, table.c[subject].label("subject")] + [table.c[m] for m in metrics]
        query = (
            select(*columns)
            .where(table.c.day >= start, table.c.day <= end)
            .order_by(table.c[subject], table.c.day)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
