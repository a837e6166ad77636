"""Shards: which part of the work one of n parallel runs does.

A shard is written `i/n` (1 <= i <= n): run i of n. A name (a team, a domain, a guard group)
belongs to exactly one shard, chosen by a stable hash of the name, so n runs started with
`1/n` ... `n/n` cover every name once, whatever machine or process each runs on, and the same
name lands in the same shard every day (its trend history stays with one run's view).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from mailops.errors import ConfigError

T = TypeVar("T")
MAX_SHARDS = 1024


def shard_number(name: str, count: int) -> int:
    """The shard (1..count) that owns `name`: SHA-256 of the name, case and surrounding
    space ignored, so Python's per-process hash randomisation never moves a name."""
    digest = hashlib.sha256(name.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """Run `index` of `count`; 1/1 is the whole of the work."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS or not 1 <= self.index <= self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count} does not exist: write i/n with "
                f"1 <= i <= n <= {MAX_SHARDS}, e.g. 1/4 ... 4/4"
            )

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """`"2/4"` as a shard; None or empty is the whole of the work."""
        if text is None or not text.strip():
            return cls(1, 1)
        index, slash, count = text.strip().partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ConfigError(f"shard {text!r} is not of the form i/n, e.g. 1/4")
        return cls(int(index), int(count))

    @property
    def whole(self) -> bool:
        """True when this shard is all of the work (1/1)."""
        return self.count == 1

    def owns(self, name: str) -> bool:
        return self.whole or shard_number(name, self.count) == self.index

    def select(self, items: Iterable[T], key: Callable[[T], str]) -> list[T]:
        """The items whose name (`key`) this shard owns, in their order."""
        return [item for item in items if self.owns(key(item))]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def all_of(cls, count: int) -> list[Shard]:
        """The `count` shards that together cover everything."""
        return [cls(index, count) for index in range(1, count + 1)]


