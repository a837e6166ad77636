"""The outbound-guard engine: the design's examples (docs/outbound-guard.md), window properties,
cooldown and groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailops.jsonable import to_jsonable
from mailops.public_suffix import registrable_domain
from mailops.rules.guard import (
    MailboxState,
    Status,
    Window,
    add_to_window,
    apply_groups,
    counter_delta,
    group_of,
    group_status,
    risk_score,
    severity_rank,
    slide,
    transitions,
    update_mailbox,
    window_tier,
)
from mailops.settings import GuardSettings

RULES = GuardSettings()
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PROPS = settings(max_examples=100, deadline=None)


def fed(sends: int, bounces: int, rules: GuardSettings = RULES) -> MailboxState:
    return update_mailbox(MailboxState("a.example", "p"), sends, bounces, T0, rules)


# --- the design's examples (docs/outbound-guard.md#triggers) ---------------------------------


@pytest.mark.parametrize(
    ("sends", "bounces", "status"),
    [
        (4, 1, Status.HEALTHY),  # 25 % below the minimum volume: "mailbox stays active"
        (80, 3, Status.PAUSED),  # 3.75 % above 60 sends: "mailbox paused"
        (59, 3, Status.WARNING),  # tier 1: 3 bounces within the first 60 sends
        (20, 3, Status.WARNING),
        (100, 5, Status.PAUSED),  # tier 2: 5 / 100 (slides to 50 / 2.5 but paused already)
        (10, 5, Status.PAUSED),  # absolute trigger whatever the volume
        (60, 3, Status.PAUSED),  # at the minimum volume the percentage trigger takes over
        (99, 2, Status.HEALTHY),  # 2.02 %, under 3 %
        (99, 3, Status.PAUSED),  # 3.03 %
        (59, 2, Status.HEALTHY),
    ],
)
def test_the_tiers_and_minimum_volume_of_seed_003(sends, bounces, status):
    assert fed(sends, bounces).status is status


def test_the_tier_table_warning_then_pause_as_bounces_arrive():
    state = MailboxState("a.example", "p")
    statuses = []
    for bounces in range(1, 6):  # one bounce every 10 sends, 50 sends in all
        state = update_mailbox(state, 10, 1, T0, RULES)
        statuses.append((bounces, state.status))
    assert statuses == [(1, Status.HEALTHY), (2, Status.HEALTHY), (3, Status.WARNING),
                        (4, Status.WARNING), (5, Status.PAUSED)]


def test_the_slide_keeps_half_instead_of_resetting():
    assert slide(Window(100, 6), 0.5) == Window(50, 3)
    assert add_to_window(Window(), 100, 6, 100, 0.5) == Window(50, 3)
    assert add_to_window(Window(90, 6), 10, 0, 100, 0.5) == Window(50, 3)


def test_a_big_batch_slides_as_often_as_needed():
    after = add_to_window(Window(), 1000, 60, 100, 0.5)
    assert after.sends < 100
    assert after.rate == pytest.approx(6.0)
    # 100 -> 50, then each 50 more slides again: 1000 sends is 19 slides, ending at 50
    assert after.sends == pytest.approx(50)


@pytest.mark.parametrize(
    ("total", "unhealthy", "status"),
    [(3, 1, Status.WARNING), (10, 2, Status.HEALTHY), (10, 5, Status.PAUSED),
     (30, 10, Status.WARNING), (200, 110, Status.PAUSED)],
)
def test_seed_003_scaling_table(total, unhealthy, status):
    assert group_status(total, unhealthy, RULES) is status


def test_seed_003_scaling_table_through_the_members():
    boxes = [MailboxState(f"m{i}.example", "g", Status.PAUSED if i < 110 else Status.HEALTHY)
             for i in range(200)]
    updated, groups = apply_groups(boxes, RULES)
    assert to_jsonable(groups[0]) | {"avg_risk": 0} == {
        "group": "g", "mailboxes": 200, "unhealthy": 110, "unhealthy_pct": 55.0,
        "status": "paused", "avg_risk": 0}
    assert all(box.effective is Status.PAUSED for box in updated)


def test_a_group_pause_does_not_feed_itself_and_spares_healing_members():
    boxes = [MailboxState("a.x", "g", Status.PAUSED), MailboxState("b.x", "g", Status.HEALING),
             MailboxState("c.x", "g"), MailboxState("d.x", "g")]
    updated, groups = apply_groups(boxes, RULES)
    assert groups[0].status is Status.PAUSED and groups[0].unhealthy == 2
    effective = {box.name: box.effective for box in updated}
    assert effective == {"a.x": Status.PAUSED, "b.x": Status.HEALING, "c.x": Status.PAUSED,
                         "d.x": Status.PAUSED}
    # the group-paused members still count by their own status
    _, groups = apply_groups(updated, RULES)
    assert groups[0].unhealthy == 2


def test_small_groups_are_never_paused_by_their_ratio():
    assert group_status(1, 1, RULES) is Status.WARNING
    assert group_status(2, 1, RULES) is Status.WARNING
    assert group_status(3, 2, RULES) is Status.PAUSED


# --- cooldown and healing, with an injected clock ----------------------------------------------


def test_a_pause_lasts_the_cooldown_then_heals_after_a_clean_stretch():
    state = update_mailbox(MailboxState("a.x", "p"), 80, 3, T0, RULES)
    assert state.status is Status.PAUSED and state.cooldown_until == T0 + timedelta(hours=24)
    state = update_mailbox(state, 0, 0, T0 + timedelta(hours=23, minutes=59), RULES)
    assert state.status is Status.PAUSED
    state = update_mailbox(state, 0, 0, T0 + timedelta(hours=24), RULES)
    assert state.status is Status.HEALING
    state = update_mailbox(state, 40, 0, T0 + timedelta(hours=25), RULES)
    assert state.status is Status.HEALING and state.clean_sends == 40
    state = update_mailbox(state, 30, 0, T0 + timedelta(hours=26), RULES)
    assert state.status is Status.HEALTHY and state.cooldown_until is None
    assert state.total_sends == 150 and state.total_bounces == 3


def test_a_bounce_while_healing_starts_the_clean_stretch_over():
    state = update_mailbox(MailboxState("a.x", "p"), 80, 3, T0, RULES)
    state = update_mailbox(state, 0, 0, T0 + timedelta(hours=24), RULES)
    state = update_mailbox(state, 50, 1, T0 + timedelta(hours=25), RULES)
    assert state.status is Status.HEALING and state.clean_sends == 0
    state = update_mailbox(state, 59, 0, T0 + timedelta(hours=26), RULES)
    assert state.status is Status.HEALING
    state = update_mailbox(state, 1, 0, T0 + timedelta(hours=27), RULES)
    assert state.status is Status.HEALTHY


def test_a_relapse_while_healing_pauses_again_with_a_new_cooldown():
    state = update_mailbox(MailboxState("a.x", "p"), 80, 3, T0, RULES)
    later = T0 + timedelta(hours=30)
    state = update_mailbox(state, 0, 0, later, RULES)
    state = update_mailbox(state, 20, 5, later, RULES)
    assert state.status is Status.PAUSED and state.cooldown_until == later + timedelta(hours=24)


def test_a_configured_cooldown_is_honoured():
    rules = GuardSettings(cooldown_hours=2)
    state = update_mailbox(MailboxState("a.x", "p"), 10, 5, T0, rules)
    state = update_mailbox(state, 0, 0, T0 + timedelta(hours=2), rules)
    assert state.status is Status.HEALING


def test_risk_is_0_to_100_and_paused_is_100():
    assert risk_score(Window(), Status.HEALTHY, RULES) == 0
    assert risk_score(Window(4, 1), Status.HEALTHY, RULES) == 20  # 1 of 5 absolute
    assert risk_score(Window(80, 2), Status.HEALTHY, RULES) == 83  # 2.5 % of 3 %
    assert risk_score(Window(80, 3), Status.PAUSED, RULES) == 100
    assert risk_score(Window(90, 0), Status.HEALING, RULES) == 50


# --- counters, groups, notifications -------------------------------------------------------


def test_the_first_poll_starts_from_the_period_totals():
    assert counter_delta(None, None, 340, 4) == (340, 4, False)


def test_the_change_since_the_last_poll():
    assert counter_delta(340, 4, 400, 6) == (60, 2, False)


def test_counters_that_went_down_mean_a_new_period():
    assert counter_delta(3400, 14, 25, 0) == (25, 0, True)
    assert counter_delta(3400, 14, 3400, 2) == (3400, 2, True)


def test_groups_by_partner_or_parent_domain():
    assert group_of("mail.acme.com", "p-acme", "partner_ref", registrable_domain) == "p-acme"
    assert group_of("mail.acme.com", "p-acme", "parent_domain", registrable_domain) == "acme.com"
    assert group_of("news.shop.co.uk", None, "parent_domain", registrable_domain) == "shop.co.uk"
    assert group_of("acme.io", None, "partner_ref", registrable_domain) == "(no partner)"


def test_a_domain_and_its_subdomains_are_one_group_by_the_public_suffix_list():
    # Given domains under com.sg, a public suffix of two labels,
    # when grouped by parent domain, then each goes with its registrable domain
    names = ["x.acme.com.sg", "acme.com.sg", "mail.x.acme.com.sg", "other.com.sg"]
    groups = [group_of(name, None, "parent_domain", registrable_domain) for name in names]
    assert groups == ["acme.com.sg", "acme.com.sg", "acme.com.sg", "other.com.sg"]


def test_customers_of_one_platform_are_not_one_group():
    # Given two sites on github.io, a public suffix of the list's private section,
    # when grouped by parent domain, then each is a group of its own
    assert group_of("Mail.Acme.GitHub.io.", None, "parent_domain", registrable_domain) == (
        "acme.github.io")
    assert group_of("beta.github.io", None, "parent_domain", registrable_domain) == (
        "beta.github.io")


def test_a_listed_public_suffix_is_a_group_of_its_own():
    # Given a name with no registrable domain, when grouped by parent domain,
    # then the poll goes on and the name is its own group
    assert group_of("co.uk", None, "parent_domain", registrable_domain) == "co.uk"


def test_transitions_are_changes_from_the_last_notified_status_only():
    current = {"a": Status.PAUSED, "b": Status.HEALTHY, "c": Status.WARNING}
    assert transitions({"a": "paused", "c": None}, current) == [("c", "healthy", Status.WARNING)]


# --- properties of the window --------------------------------------------------------------

counts = st.integers(min_value=0, max_value=5000)
sizes = st.integers(min_value=2, max_value=1000)
fractions = st.floats(min_value=0.1, max_value=0.9)


@st.composite
def windows(draw: st.DrawFn) -> tuple[Window, int]:
    size = draw(sizes)
    sends = draw(st.floats(min_value=0, max_value=size - 1e-6, allow_nan=False))
    bounces = draw(st.floats(min_value=0, max_value=max(sends, 1.0), allow_nan=False))
    return Window(sends, bounces), size


@PROPS
@given(windows(), counts, counts, fractions)
def test_the_window_never_holds_the_slide_size_after_an_update(ws, sends, bounces, keep):
    window, size = ws
    assert add_to_window(window, sends, bounces, size, keep).sends < size


@PROPS
@given(st.floats(min_value=1, max_value=1e6), st.floats(min_value=0, max_value=1e6), fractions)
def test_a_slide_preserves_the_rate(sends, bounces, keep):
    assert slide(Window(sends, bounces), keep).rate == pytest.approx(Window(sends, bounces).rate)


@PROPS
@given(windows(), counts, st.integers(0, 500), st.integers(0, 500))
def test_more_bounces_never_look_better(ws, sends, fewer, extra):
    window, size = ws
    rules = GuardSettings(window_size=size)
    low = add_to_window(window, sends, fewer, size, 0.5)
    high = add_to_window(window, sends, fewer + extra, size, 0.5)
    assert high.sends == pytest.approx(low.sends)
    assert high.bounces >= low.bounces - 1e-9
    low_tier, _ = window_tier(low, rules)
    high_tier, _ = window_tier(high, rules)
    assert severity_rank(high_tier) >= severity_rank(low_tier)
    assert risk_score(high, high_tier, rules) >= risk_score(low, low_tier, rules)


@PROPS
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20)), max_size=30))
def test_batches_keep_totals_exact_and_the_window_bounded(batches):
    state = MailboxState("a.x", "p")
    moment = T0
    for sends, bounces in batches:
        moment += timedelta(hours=6)
        state = update_mailbox(state, sends, bounces, moment, RULES)
        assert state.window.sends < RULES.window_size
        assert 0 <= state.risk(RULES) <= 100
    assert state.total_sends == sum(s for s, _ in batches)
    assert state.total_bounces == sum(b for _, b in batches)
