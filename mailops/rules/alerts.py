"""Alerts as data: what was found, how bad, about whom, against which threshold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How urgent a finding is; the reports list the critical ones first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Alert:
    """One finding. `key` names the rule (e.g. `weekly_usage`), `subject` whom it is about
    (a team, a domain, a sender); together with the day and job they identify it, so the
    same finding is stored and posted once."""

    key: str
    severity: Severity
    subject: str
    message: str
    value: float | None = None
    threshold: float | None = None
