"""Onboarded domains: their DNS records, verification status and its history, and where
their provider credential is kept (a location, never the password)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from mailops.store.schema import domain_status_history, onboarded_domains
from mailops.store.upsert import upsert


@dataclass(frozen=True)
class DomainRecord:
    """An onboarded domain as the store holds it."""

    name: str
    parent: str | None
    provider: str
    dns_records: list[dict[str, str]]
    status: str
    verified: bool
    onboarded_at: datetime
    verified_at: datetime | None = None
    checked_at: datetime | None = None
    credential_location: str | None = None
    credential_rotated_at: datetime | None = None


def _record(row: Any) -> DomainRecord:
    return DomainRecord(
        row.name, row.parent, row.provider, json.loads(row.dns_records), row.status,
        bool(row.verified), row.onboarded_at, row.verified_at,
        row.checked_at, row.credential_location, row.credential_rotated_at,
    )


class Domains:
    """Onboarded domains: their DNS records, their verification history, and where each
    one's credential is kept (never its value)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_onboarded(self, record: DomainRecord) -> None:
        """Insert or replace a domain's onboarding; its first status goes into the history."""
        row = {
            "name": record.name, "parent": record.parent, "provider": record.provider,
            "dns_records": json.dumps(record.dns_records), "status": record.status,
            "verified": record.verified, "onboarded_at": record.onboarded_at,
            "verified_at": record.verified_at, "checked_at": record.onboarded_at,
        }
        with self.engine.begin() as conn:
            previous = conn.execute(
                select(onboarded_domains.c.status).where(onboarded_domains.c.name == record.name)
            ).scalar_one_or_none()
            upsert(conn, onboarded_domains, [row])
            if previous != record.status:
                conn.execute(insert(domain_status_history), [{
                    "name": record.name, "status": record.status, "verified": record.verified,
                    "observed_at": record.onboarded_at,
                }])

    def onboarded(self, name: str | None = None) -> list[DomainRecord]:
        """Every onboarded domain (or just `name`), by name."""
        query = select(onboarded_domains).order_by(onboarded_domains.c.name)
        if name is not None:
            query = query.where(onboarded_domains.c.name == name)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def record_status(
        self, name: str, status: str, verified: bool, observed_at: datetime
    ) -> bool:
        """Store a polled status; a change is appended to the history once. True when changed."""
        with self.engine.begin() as conn:
            current = conn.execute(
                select(onboarded_domains.c.status, onboarded_domains.c.verified)
                .where(onboarded_domains.c.name == name)
            ).one_or_none()
            changed = current is None or current.status != status
            values: dict[str, Any] = {"status": status, "verified": verified,
                                      "checked_at": observed_at}
            if verified and (current is None or not current.verified):
                values["verified_at"] = observed_at
            conn.execute(
                update(onboarded_domains).where(onboarded_domains.c.name == name).values(**values)
            )
            if changed:
                conn.execute(insert(domain_status_history), [{
                    "name": name, "status": status, "verified": verified,
                    "observed_at": observed_at,
                }])
        return changed

    def status_history(self, name: str) -> list[tuple[str, datetime]]:
        """A domain's status changes, oldest first."""
        query = (
            select(domain_status_history.c.status, domain_status_history.c.observed_at)
            .where(domain_status_history.c.name == name)
            .order_by(domain_status_history.c.id)
        )
        with self.engine.connect() as conn:
            return [(row.status, row.observed_at) for row in conn.execute(query)]

    def record_credential(self, name: str, location: str, rotated_at: datetime) -> None:
        """Remember where a domain's credential is kept and when it was last rotated."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(onboarded_domains).where(onboarded_domains.c.name == name)
                .values(credential_location=location, credential_rotated_at=rotated_at)
            ).rowcount
            if not done:
                upsert(conn, onboarded_domains, [{
                    "name": name, "parent": None, "provider": "unknown", "dns_records": "[]",
                    "status": "unknown", "verified": False, "onboarded_at": rotated_at,
                    "credential_location": location, "credential_rotated_at": rotated_at,
                }])
