"""quarantine-accept's decisions as pure functions: act at all, and accept or keep each message.

The monitoring guide's auto-remediation (docs/cleanbox-api.md#monitoring-guide): when the
quarantine backlog EXCEEDS the threshold (the guide's own alert is `backlog > 10`), accept the
quarantined messages whose sender is a whitelisted contact. Addresses are compared by
`normalise_address` (display names, case, spaces). A message scoring at or above
`max_spam_score` (when set) is kept even from a whitelisted sender; a message without a score
cannot trip that guard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from mailops.models.cleanbox import QuarantinedMessage
from mailops.rules.addresses import normalise_address


class Keep(StrEnum):
    """Why a quarantined message is kept (the keys of the `kept` counts)."""

    NOT_WHITELISTED = "not_whitelisted"
    SPAM_SCORE = "spam_score"


KEEP_REASONS: tuple[Keep, ...] = (Keep.NOT_WHITELISTED, Keep.SPAM_SCORE)


@dataclass(frozen=True)
class Verdict:
    """Accept one message (keep is None), or keep it and why."""

    keep: Keep | None
    reason: str

    @property
    def accept(self) -> bool:
        return self.keep is None


@dataclass
class QuarantinePlan:
    """The messages to accept (in listing order, each once) and the kept counts."""

    accept: list[QuarantinedMessage] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # uuid -> why accepted
    kept: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0

    def kept_counts(self) -> dict[str, int]:
        return {k.value: self.kept.get(k.value, 0) for k in KEEP_REASONS}


def over_threshold(backlog: int, threshold: int) -> bool:
    """Whether the backlog calls for action: strictly more messages than the threshold."""
    return backlog > threshold


def whitelist_of(emails: Iterable[str]) -> frozenset[str]:
    """The normalised addresses of the whitelisted contacts (unusable ones left out)."""
    return frozenset(key for key in map(normalise_address, emails) if key is not None)


def decide(
    message: QuarantinedMessage, whitelist: frozenset[str], max_spam_score: float | None
) -> Verdict:
    """Accept a message whose sender is whitelisted and whose score is under the guard."""
    sender = normalise_address(message.sender)
    if sender is None or sender not in whitelist:
        return Verdict(Keep.NOT_WHITELISTED, "sender is not a whitelisted contact")
    score = message.spam_score
    if max_spam_score is not None and score is not None and score >= max_spam_score:
        return Verdict(Keep.SPAM_SCORE,
                       f"spam score {score:g} is at or above {max_spam_score:g}")
    return Verdict(None, f"sender {sender} is a whitelisted contact")


def plan_accepts(
    messages: Iterable[QuarantinedMessage],
    whitelist: frozenset[str],
    max_spam_score: float | None,
) -> QuarantinePlan:
    """Decide every quarantined message once (a uuid listed twice counts once)."""
    plan = QuarantinePlan()
    seen: set[str] = set()
    for message in messages:
        if message.uuid in seen:
            plan.duplicates += 1
            continue
        seen.add(message.uuid)
        verdict = decide(message, whitelist, max_spam_score)
        if verdict.keep is None:
            plan.accept.append(message)
            plan.reasons[message.uuid] = verdict.reason
        else:
            plan.kept[verdict.keep.value] += 1
    return plan
