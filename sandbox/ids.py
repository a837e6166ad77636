"""Identifiers the sandbox hands out: UUIDs derived from (team salt, kind, row index), and keys.

A derived UUID maps back to its row without a lookup table, which keeps a million contacts cheap.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

KIND_CONTACT = 0x0C01
KIND_MESSAGE = 0x0A01
KIND_CATEGORY = 0x0CA7


def make_salt(rng: random.Random) -> tuple[int, int, int]:
    """Three random parts that make one team's UUIDs distinct from every other team's."""
    return rng.getrandbits(32), rng.getrandbits(12), rng.getrandbits(14)


def make_uuid(salt: tuple[int, int, int], kind: int, index: int) -> str:
    """A version-4-shaped UUID that encodes its row index in the last group."""
    a, b, c = salt
    return f"{a:08x}-{kind:04x}-4{b:03x}-{0x8000 | c:04x}-{index:012x}"


def parse_uuid(salt: tuple[int, int, int], kind: int, text: str) -> int | None:
    """The row index a UUID of this salt and kind encodes, or None when it is not one of ours."""
    if not isinstance(text, str) or len(text) != 36:
        return None
    prefix = make_uuid(salt, kind, 0)[:24]
    if text[:24].lower() != prefix:
        return None
    try:
        return int(text[24:], 16)
    except ValueError:
        return None


def make_key(rng: random.Random, prefix: str) -> str:
    """An API key or token: a prefix and 32 hex digits."""
    return f"{prefix}{rng.getrandbits(128):032x}"


def iso(ts: float) -> str:
    """An epoch time as ISO 8601 in UTC with a Z suffix, the shape the APIs answer with."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time or date (naive means UTC), or None when unparseable."""
    text = text.strip().replace("Z", "+00:00")
    # An unencoded "+01:00" offset arrives as " 01:00" after query-string decoding.
    candidates = (text, text[:-6] + "+" + text[-5:]) if text[-6:-5] == " " else (text,)
    moment = None
    for candidate in candidates:
        try:
            moment = datetime.fromisoformat(candidate)
            break
        except ValueError:
            continue
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
