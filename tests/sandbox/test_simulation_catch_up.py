"""The simulation retakes a failed reset on the production schedule's hourly grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.demo import DemoSummary, Simulation


class Clock:
    """The two calls the simulation makes of the sandbox's clock."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def advance(self, hours: float = 0, days: float = 0) -> dict[str, Any]:
        self.moment += timedelta(hours=hours, days=days)
        return {}


class FailingResets(Simulation):
    """A simulation whose resets fail the first `failures` times, recording when they ran."""

    def __init__(self, clock: Clock, failures: int) -> None:
        super().__init__(clock, DemoSummary(1, clock.now(), clock.now()))  # type: ignore[arg-type]
        self.failures = failures
        self.ran: list[datetime] = []

    def resets(self, now: datetime) -> bool:
        self.ran.append(now)
        return len(self.ran) > self.failures


NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_a_failed_reset_is_retaken_every_hour_until_it_succeeds():
    # Given resets that fail at 12:00 and at 13:00
    clock = Clock(NOON)
    simulation = FailingResets(clock, failures=2)
    # When the step is run up to the next one at midnight
    simulation.resets_until_settled(NOON, NOON + timedelta(hours=12))
    # Then they were retaken at 13:00 and succeeded at 14:00, and the clock stayed there
    assert simulation.ran == [NOON + timedelta(hours=h) for h in (0, 1, 2)]
    assert clock.now() == NOON + timedelta(hours=2)


def test_retakes_stop_before_the_next_step():
    # Given resets that never succeed
    clock = Clock(NOON)
    simulation = FailingResets(clock, failures=100)
    # When the step is run up to the next one at midnight
    simulation.resets_until_settled(NOON, NOON + timedelta(hours=12))
    # Then the last retake was at 23:00: the next step's own run is at midnight
    assert simulation.ran[-1] == NOON + timedelta(hours=11) and len(simulation.ran) == 12


def test_the_next_step_lands_on_its_own_instant_after_retakes():
    # Given a clock that retakes moved to 14:00
    clock = Clock(NOON + timedelta(hours=2))
    simulation = FailingResets(clock, failures=0)
    # When the simulation advances to the next step
    now = simulation.advance_to(NOON + timedelta(hours=12))
    # Then it is midnight, not 02:00
    assert now == NOON + timedelta(hours=12)
