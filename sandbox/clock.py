"""The sandbox's simulated clock: time moves only when the control API advances it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

DEFAULT_START = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)


class SimClock:
    """A UTC clock that stands still until advanced, so every run of the sandbox is repeatable."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a time-zone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.date()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the simulated clock cannot go backwards")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError("the simulated clock cannot go backwards")
        self._now = moment
        return self._now
