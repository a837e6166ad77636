"""Shards: every name in exactly one of n shards, the same one on every machine and day."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailops.errors import ConfigError
from mailops.rules.shard import Shard, shard_number

NAMES = [f"team-{n}" for n in range(500)] + [f"mail{n}.example{n % 7}.com" for n in range(500)]


@pytest.mark.parametrize("count", range(1, 9))
def test_every_name_lands_in_exactly_one_shard(count):
    # Given the n shards of a fan-out
    shards = Shard.all_of(count)
    # When each selects its names
    picked = [name for shard in shards for name in shard.select(NAMES, str)]
    # Then together they cover every name once: no gap, no overlap
    assert sorted(picked) == sorted(NAMES)


@given(st.lists(st.text(min_size=1, max_size=40), unique=True, max_size=60),
       st.integers(min_value=1, max_value=8))
def test_any_names_are_covered_once(names, count):
    owners = Counter(name for shard in Shard.all_of(count) for name in names if shard.owns(name))
    assert all(owners[name] == 1 for name in names)


def test_the_assignment_is_pinned_so_no_upgrade_or_machine_moves_a_name():
    # SHA-256, not Python's salted hash(): a name keeps its shard in every process and release
    names = ("acme", "globex", "example.com", "team-1", "team-2")
    assert [shard_number(name, 4) for name in names] == [1, 4, 2, 1, 3]
    assert [shard_number(name, 7) for name in names] == [3, 3, 6, 1, 3]


def test_case_and_surrounding_space_do_not_move_a_name():
    assert shard_number("Example.COM ", 5) == shard_number("example.com", 5)


def test_names_spread_evenly_over_the_shards():
    spread = Counter(shard_number(name, 4) for name in NAMES)
    assert set(spread) == {1, 2, 3, 4}
    assert all(200 <= n <= 300 for n in spread.values()), spread


@pytest.mark.parametrize(("text", "expected"), [
    (None, Shard(1, 1)), ("", Shard(1, 1)), ("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)),
    (" 3 / 8 ", Shard(3, 8)),
])
def test_a_shard_is_written_i_of_n(text, expected):
    assert Shard.parse(text) == expected
    assert Shard.parse(str(expected)) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("0/4", "does not exist"), ("5/4", "does not exist"), ("1/0", "does not exist"),
    ("2", "not of the form i/n"), ("a/b", "not of the form i/n"), ("-1/4", "not of the form"),
    ("1/100000", "does not exist"),
])
def test_a_shard_that_cannot_exist_is_refused_in_words(text, words):
    with pytest.raises(ConfigError, match=words):
        Shard.parse(text)


def test_the_whole_owns_everything():
    whole = Shard.parse(None)
    assert whole.whole and all(whole.owns(name) for name in NAMES)
