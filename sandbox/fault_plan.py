"""The chaos run's fault plan: what a flaky real API does, as the sandbox's fault rules.

Every endpoint of Cleanbox, EmBoux and the Slack stand-in misbehaves now and then, at the
rates below (a few percent of requests: 5xx, 429 with Retry-After, a hung answer, a body that
is not JSON, an answer lost after the change was applied), each kind at least once per API
(at an instant drawn from the seed); and each API is down for an hour of simulated time once
a week, around a midnight when the daily jobs run, answering 503 with `Retry-After: 60`
(longer than a job waits: it gives up at once and says so). The plan is drawn from the seed
alone, so the same seed plans the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The APIs and the paths their rules target (every endpoint of each).
TARGETS: dict[str, str] = {
    "Cleanbox": "* /cleanbox/v1/**",
    "EmBoux": "* /emboux/**",
    "Slack": "POST /slack/**",
}
BURST = timedelta(hours=1)
BURST_RETRY_AFTER = 60  # seconds: "come back in a minute"


@dataclass(frozen=True)
class Rate:
    """One kind of fault at a share of every API's requests, with its parameters."""

    kind: str
    rate: float
    params: tuple[tuple[str, Any], ...] = ()


# A flaky API, not a broken one: together about 8 % of requests fail once.
RATES: tuple[Rate, ...] = (
    Rate("error", 0.015, (("status", 500),)),  # a plain 500, on every method
    Rate("error", 0.01, (("status", 502),)),
    Rate("error", 0.01, (("status", 503),)),
    Rate("rate_limit", 0.02, (("retry_after", 1),)),
    Rate("hang", 0.003, (("hang_seconds", 3),)),
    Rate("malformed", 0.01),
    Rate("lost_response", 0.015),
)


# The two resets meet "not processed" answers (RFC 9110: 429, 503) far more often than the
# rest: a run must retry them within itself, not leave the day to the next run or to a person.
RESETS = "POST /emboux/outbound/reset-*"
RESET_RATES: tuple[Rate, ...] = (
    Rate("rate_limit", 0.2, (("retry_after", 1),)),
    Rate("error", 0.15, (("status", 503),)),
)


def background_rules(scale: float = 1.0) -> list[dict[str, Any]]:
    """The resets' own rates, then every rate (times `scale`) on every API, for the whole
    run."""
    return [
        {"target": RESETS, "kind": rate.kind, "rate": rate.rate * scale, **dict(rate.params)}
        for rate in RESET_RATES
    ] + [
        {"target": target, "kind": rate.kind, "rate": rate.rate * scale, **dict(rate.params)}
        for target in TARGETS.values()
        for rate in RATES
    ]


def every_kind_once(start: datetime, days: int, seed: int) -> list[dict[str, Any]]:
    """Each kind of fault once on each API, from a midnight of the run drawn from the seed
    (it hits the first request from then on; not the last midnight, so that requests still
    follow): however low the rates, every kind is met."""
    rng = random.Random(f"mailops-chaos:{seed}:once")
    midnights = _midnights(start, days)
    rules = []
    for target in TARGETS.values():
        for rate in RATES:
            at = rng.choice(midnights[:-1] or midnights) - BURST
            rules.append({"target": target, "kind": rate.kind, "count": 1,
                          "sim_from": at.isoformat(), **dict(rate.params)})
    return rules


def _midnights(start: datetime, days: int) -> list[datetime]:
    """The midnights of a run of `days` days from `start` (when the daily jobs run)."""
    first = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [first + timedelta(days=d) for d in range(max(1, days))]


def burst_rules(start: datetime, days: int, seed: int) -> list[dict[str, Any]]:
    """Each API down for an hour of simulated time once a week (and once in a shorter run),
    centred on a midnight of that week drawn from the seed, the APIs on different nights
    where the week has enough of them."""
    rng = random.Random(f"mailops-chaos:{seed}:bursts")
    midnights = _midnights(start, days)
    rules: list[dict[str, Any]] = []
    for week_start in range(0, days, 7):
        nights = midnights[week_start:week_start + 7]
        chosen = (rng.sample(nights, len(TARGETS)) if len(nights) >= len(TARGETS)
                  else rng.choices(nights, k=len(TARGETS)))
        for api, night in zip(TARGETS, chosen, strict=True):
            rules.append({
                "target": TARGETS[api], "kind": "down", "retry_after": BURST_RETRY_AFTER,
                "sim_from": (night - BURST / 2).isoformat(),
                "sim_hours": BURST / timedelta(hours=1),
            })
    return rules


def chaos_plan(
    start: datetime, days: int, seed: int, *, rate_scale: float = 1.0
) -> list[dict[str, Any]]:
    """The whole plan: the bursts first (a burst wins over any other fault), then each kind
    once per API, then the background rates (times `rate_scale`)."""
    return [*burst_rules(start, days, seed), last_midnight_reset_outage(start, days),
            *every_kind_once(start, days, seed), *background_rules(rate_scale)]


def last_midnight_reset_outage(start: datetime, days: int) -> dict[str, Any]:
    """The resets down across the run's last midnight: that day's 00:00 reset is refused
    (503, "not processed"), so only its catch-up run can reset the day, and the run must
    give it one (seed 42 once ended on such a day with no reset at all)."""
    night = _midnights(start, days)[-1]
    return {"target": RESETS, "kind": "down", "retry_after": BURST_RETRY_AFTER,
            "sim_from": (night - BURST / 2).isoformat(), "sim_hours": BURST / timedelta(hours=1)}


def api_of(target: str) -> str:
    """Which API a rule's target belongs to (for the figures)."""
    if target == RESETS:
        return "EmBoux"
    return next((api for api, pattern in TARGETS.items() if pattern == target), target)
