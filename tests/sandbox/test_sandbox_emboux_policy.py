"""The EmBoux simulator's model: policy layers in order, warm-up, guillotine, resets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from sandbox.clock import SimClock
from sandbox.emboux import REASONS, EmbouxSim, rate, warmup_cap

LONG_AGO = date(2020, 1, 1)  # warm-up long over


def make_sim(**kwargs: object) -> EmbouxSim:
    return EmbouxSim(SimClock(), master_token="master", **kwargs)  # type: ignore[arg-type]


def add(sim: EmbouxSim, name: str = "shop.example", **kwargs: object) -> str:
    """A warmed-up, verified, active domain unless the test says otherwise."""
    kwargs.setdefault("warmup_started", LONG_AGO)
    sim.add_domain(name, kwargs.pop("partner_ref", "p1"), **kwargs)  # type: ignore[arg-type]
    return name


def send(sim: EmbouxSim, name: str, n: int) -> list[dict]:
    return [sim.increment(name) for _ in range(n)]


# --- warm-up model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "figure", "days"),
    [
        ("fast", 200, 3), ("fast", 1_000, 6), ("fast", 10_000, 10),
        ("standard", 200, 15), ("standard", 1_000, 32), ("standard", 10_000, 56),
        ("conservative", 200, 29), ("conservative", 1_000, 62), ("conservative", 10_000, 109),
    ],
)
def test_warmup_cap_first_reaches_each_figure_on_the_seed_table_day(
    profile: str, figure: int, days: int
) -> None:
    # given the growth model, when the cap is computed day by day
    first_day = next(d for d in range(200) if warmup_cap(profile, d) >= figure)
    # then it first reaches the figure on the day of EmBoux's table (docs/emboux-api.md#warm-up)
    assert first_day == days
    assert warmup_cap(profile, days - 1) < figure


def test_warmup_cap_starts_at_50_on_day_zero() -> None:
    assert {warmup_cap(p, 0) for p in ("fast", "standard", "conservative")} == {50}


def test_new_domain_is_capped_at_50_then_grows_the_next_day_whatever_the_enforcement() -> None:
    # given a domain added today with soft enforcement (no warmup_started: a new domain)
    sim = make_sim()
    sim.add_domain("new.example", "p1", enforcement="soft")
    # when it sends 51 emails today
    results = send(sim, "new.example", 51)
    # then the 51st is rejected by the warm-up even under soft enforcement, uncounted
    assert all(r["allowed"] and r["reason"] is None for r in results[:50])
    assert results[50] == {"name": "new.example", "outbound_sent_today": 50,
                           "outbound_sent_month": 50, "allowed": False,
                           "reason": "warmup_limit_exceeded"}
    # and the next day (after the daily reset) the cap is 55
    sim.clock.advance(timedelta(days=1))
    sim.reset_daily()
    results = send(sim, "new.example", 56)
    assert [r["allowed"] for r in results].count(True) == 55
    assert sim.truth()["domains"]["new.example"]["warmup_cap_today"] == 55


def test_warmup_ends_when_the_cap_reaches_the_daily_limit() -> None:
    # given a fast domain on day 2 (cap 162) whose daily limit is 100 (hourly cap 17)
    sim = make_sim()
    add(sim, "ok.example", warmup_profile="fast", daily_limit=100,
        warmup_started=sim.clock.today() - timedelta(days=2))
    sim.domain("ok.example").sent_today = 99
    # when the 100th email is sent: then it is allowed (the warm-up is over, limit governs)
    assert sim.increment("ok.example")["reason"] is None
    # and the 101st hits the daily limit, not the warm-up
    assert sim.increment("ok.example")["reason"] == "daily_limit_exceeded"


def test_warmup_of_an_unlimited_domain_ends_at_10000_per_day() -> None:
    # given two standard domains without daily limit, one on day 55 (cap < 10,000), one on day 56
    sim = make_sim()
    today = sim.clock.today()
    add(sim, "d55.example", warmup_started=today - timedelta(days=55))
    add(sim, "d56.example", warmup_started=today - timedelta(days=56))
    cap55 = warmup_cap("standard", 55)
    assert cap55 < 10_000 <= warmup_cap("standard", 56)
    for name in ("d55.example", "d56.example"):
        sim.domain(name).sent_today = 20_000 if name == "d56.example" else cap55
    # when each sends one more: then day 55 is still in warm-up, day 56 is not
    assert sim.increment("d55.example")["reason"] == "warmup_limit_exceeded"
    assert sim.increment("d56.example")["allowed"] is True


# --- the layers in order ----------------------------------------------------------------------


def test_allowed_send_counts_today_month_and_hour_with_null_reason() -> None:
    sim = make_sim()
    add(sim, "Shop.Example")
    result = sim.increment("SHOP.example", "Bob@Client.example")
    assert result == {"name": "shop.example", "outbound_sent_today": 1,
                      "outbound_sent_month": 1, "allowed": True, "reason": None}
    assert sim.truth()["domains"]["shop.example"]["hour_count"] == 1


def test_suppressed_recipient_wins_over_every_other_layer_and_is_not_counted() -> None:
    # given a recipient that bounced, and an unverified, suspended domain
    sim = make_sim()
    add(sim, "a.example")
    add(sim, "bad.example", verified=False, status="suspended")
    sim.bounce("a.example", "gone@x.example")
    # when bad.example sends to it: then the suppression reason comes first
    result = sim.increment("bad.example", "GONE@x.example")
    assert (result["allowed"], result["reason"]) == (False, "recipient_suppressed")
    assert result["outbound_sent_today"] == 0


def test_suppression_list_is_global_across_domains_and_partners() -> None:
    # given a complaint on one partner's domain
    sim = make_sim()
    add(sim, "a.example", partner_ref="p1")
    add(sim, "b.example", partner_ref="p2")
    sim.complain("a.example", "angry@x.example")
    # when another partner's domain sends to the same address, and to another
    blocked = sim.increment("b.example", "angry@x.example")
    fine = sim.increment("b.example", "happy@x.example")
    # then only the complained address is refused
    assert blocked["reason"] == "recipient_suppressed" and not blocked["allowed"]
    assert fine["allowed"] and fine["reason"] is None
    assert sim.truth()["suppression_list_size"] == 1


def test_unverified_domain_is_refused_before_the_suspension_check() -> None:
    sim = make_sim()
    add(sim, "u.example", verified=False, status="suspended", enforcement="soft")
    result = sim.increment("u.example", "x@y.example")
    assert (result["allowed"], result["reason"]) == (False, "domain_not_verified")


def test_suspended_domain_rejects_when_hard_and_warns_when_soft() -> None:
    sim = make_sim()
    add(sim, "hard.example", status="suspended")
    add(sim, "soft.example", status="suspended", enforcement="soft")
    hard = sim.increment("hard.example")
    soft = sim.increment("soft.example")
    assert (hard["allowed"], hard["reason"], hard["outbound_sent_today"]) == (
        False, "outbound_suspended", 0)
    assert (soft["allowed"], soft["reason"], soft["outbound_sent_today"]) == (
        True, "outbound_suspended_soft", 1)


def test_soft_suspended_domain_is_still_stopped_by_the_warmup() -> None:
    sim = make_sim()
    sim.add_domain("w.example", "p1", status="suspended", enforcement="soft")
    sim.domain("w.example").sent_today = 50
    result = sim.increment("w.example")
    assert (result["allowed"], result["reason"]) == (False, "warmup_limit_exceeded")


def test_soft_suspension_reason_wins_over_later_soft_exceedances() -> None:
    sim = make_sim()
    add(sim, "s.example", status="suspended", enforcement="soft", daily_limit=1)
    sim.increment("s.example")
    result = sim.increment("s.example")
    assert (result["allowed"], result["reason"]) == (True, "outbound_suspended_soft")


def _yesterday(sim: EmbouxSim, daily: int, *names: str) -> None:
    for name in names:
        send(sim, name, daily)
    sim.clock.advance(timedelta(days=1))
    sim.reset_daily()


def test_spike_over_multiplier_times_7_day_average_hard_and_soft() -> None:
    # given domains that sent 10 yesterday, multiplier 5
    sim = make_sim()
    add(sim, "hard.example")
    add(sim, "soft.example", enforcement="soft")
    _yesterday(sim, 10, "hard.example", "soft.example")
    # when each sends 51 today
    hard = send(sim, "hard.example", 51)
    soft = send(sim, "soft.example", 51)
    # then the 51st is a spike: refused when hard, warned (and counted) when soft
    assert all(r["reason"] is None for r in hard[:50] + soft[:50])
    assert (hard[50]["allowed"], hard[50]["reason"]) == (False, "spike_detected")
    assert (soft[50]["allowed"], soft[50]["reason"]) == (True, "spike_detected_soft")
    assert soft[50]["outbound_sent_today"] == 51


def test_spike_check_is_skipped_when_disabled_without_history_or_on_a_zero_average() -> None:
    sim = make_sim()
    add(sim, "off.example", spike_max_multiplier=0)
    add(sim, "fresh.example")
    add(sim, "idle.example")
    sim.domain("off.example").history.append(1)
    sim.domain("idle.example").history.extend([0, 0])
    for name in ("off.example", "fresh.example", "idle.example"):
        assert all(r["allowed"] and r["reason"] is None for r in send(sim, name, 20))


def test_hourly_throttle_is_a_sixth_of_the_daily_limit_and_restarts_each_hour() -> None:
    # given daily limit 60 (hourly cap 10), hard and soft
    sim = make_sim()
    add(sim, "hard.example", daily_limit=60)
    add(sim, "soft.example", daily_limit=60, enforcement="soft")
    hard = send(sim, "hard.example", 11)
    soft = send(sim, "soft.example", 11)
    assert (hard[10]["allowed"], hard[10]["reason"]) == (False, "hourly_limit_exceeded")
    assert (soft[10]["allowed"], soft[10]["reason"]) == (True, "hourly_limit_exceeded_soft")
    # when the simulated hour changes: then the hard domain may send again
    sim.clock.advance(timedelta(hours=1))
    assert sim.increment("hard.example")["reason"] is None


def test_hourly_throttle_rounds_up_and_is_off_without_daily_limit() -> None:
    sim = make_sim()
    add(sim, "seven.example", daily_limit=7)  # ceil(7 / 6) = 2 per hour
    add(sim, "unlimited.example")
    assert [r["allowed"] for r in send(sim, "seven.example", 3)] == [True, True, False]
    assert all(r["allowed"] for r in send(sim, "unlimited.example", 300))


def _send_hourly(sim: EmbouxSim, name: str, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        out.append(sim.increment(name))
        sim.clock.advance(timedelta(hours=1))
    return out


@pytest.mark.parametrize(
    ("limit", "sender", "reason", "counter"),
    [
        ("daily_limit", _send_hourly, "daily_limit_exceeded", "outbound_sent_today"),
        ("monthly_limit", send, "monthly_limit_exceeded", "outbound_sent_month"),
    ],
    ids=["daily", "monthly"],
)
def test_limit_rejects_when_hard_and_allows_and_bills_when_soft(
    limit: str, sender: Callable[[EmbouxSim, str, int], list[dict]], reason: str, counter: str
) -> None:
    # given a hard and a soft domain with the same limit (6 a day, spread over the hours, or
    # 6 a month)
    sim = make_sim()
    add(sim, "hard.example", **{limit: 6})
    add(sim, "soft.example", **{limit: 6}, enforcement="soft")
    # when each sends a 7th email
    hard = sender(sim, "hard.example", 7)[6]
    soft = sender(sim, "soft.example", 7)[6]
    # then the hard one refuses it uncounted, the soft one sends and counts it
    assert (hard["allowed"], hard["reason"], hard[counter]) == (False, reason, 6)
    assert (soft["allowed"], soft["reason"], soft[counter]) == (True, f"{reason}_soft", 7)


def test_layers_report_spike_then_hourly_then_daily_then_monthly() -> None:
    # given a domain over every quota at once: history avg 1 x multiplier 1, limits of 1
    sim = make_sim()
    add(sim, "all.example", daily_limit=1, monthly_limit=1, spike_max_multiplier=1.0)
    sim.domain("all.example").history.append(1)
    sim.increment("all.example")
    # when a second email is sent, removing one exceeded layer at a time
    reasons = [sim.increment("all.example")["reason"]]
    sim.update_outbound("all.example", {"spike_max_multiplier": 0})
    reasons.append(sim.increment("all.example")["reason"])
    sim.clock.advance(timedelta(hours=1))
    reasons.append(sim.increment("all.example")["reason"])
    sim.update_outbound("all.example", {"outbound_daily_limit": 0})
    reasons.append(sim.increment("all.example")["reason"])
    # then each reason is the first exceeded layer in EmBoux's order
    # (docs/emboux-api.md#anti-spam-layers)
    assert reasons == ["spike_detected", "hourly_limit_exceeded", "daily_limit_exceeded",
                       "monthly_limit_exceeded"]


def test_soft_domain_over_several_quotas_reports_the_first_layer() -> None:
    sim = make_sim()
    add(sim, "all.example", daily_limit=1, monthly_limit=1, spike_max_multiplier=1.0,
        enforcement="soft")
    sim.domain("all.example").history.append(1)
    sim.increment("all.example")
    assert sim.increment("all.example") == {
        "name": "all.example", "outbound_sent_today": 2, "outbound_sent_month": 2,
        "allowed": True, "reason": "spike_detected_soft"}


def test_every_reason_string_is_in_the_one_table() -> None:
    assert set(REASONS) == {
        "recipient_suppressed", "domain_not_verified", "outbound_suspended",
        "outbound_suspended_soft", "warmup_limit_exceeded", "spike_detected",
        "spike_detected_soft", "hourly_limit_exceeded", "hourly_limit_exceeded_soft",
        "daily_limit_exceeded", "daily_limit_exceeded_soft", "monthly_limit_exceeded",
        "monthly_limit_exceeded_soft"}


# --- rates and the guillotine -----------------------------------------------------------------


def test_rates_are_percent_of_month_sends_rounded_to_4_decimals() -> None:
    assert rate(1, 3) == 33.3333
    assert rate(5, 0) == 0.0
    sim = make_sim(guillotine_min_sends=10_000)
    add(sim, "r.example")
    send(sim, "r.example", 3)
    sim.bounce("r.example", "a@x.example")
    assert sim.outbound("r.example")["bounce_rate"] == 33.3333


@pytest.mark.parametrize(("signal", "at_threshold", "rate_after"), [
    ("bounce", 5, 0.6),     # the default 0.5 % of 1,000 sends, then 0.6 %
    ("complaint", 1, 0.2),  # the default 0.1 %, then 0.2 %
])
def test_guillotine_suspends_on_a_rate_strictly_above_its_threshold(
    signal: str, at_threshold: int, rate_after: float
) -> None:
    # given 1,000 sends
    sim = make_sim()
    add(sim, "g.example")
    send(sim, "g.example", 1_000)
    report = sim.bounce if signal == "bounce" else sim.complain
    # when exactly the threshold's share arrives: then the domain stays active
    for i in range(at_threshold):
        report("g.example", f"u{i}@x.example")
    assert sim.outbound("g.example")["outbound_status"] == "active"
    # when one more arrives: then it is suspended, and truth says why
    report("g.example", "over@x.example")
    assert sim.outbound("g.example")["outbound_status"] == "suspended"
    suspension = sim.truth()["domains"]["g.example"]["suspension"]
    assert suspension["cause"] == "guillotine" and suspension["exceeded"] == [f"{signal}_rate"]
    assert suspension[f"{signal}_rate"] == rate_after
    assert sim.increment("g.example")["reason"] == "outbound_suspended"


def test_guillotine_waits_for_the_minimum_monthly_sends() -> None:
    # given 99 sends (below the default minimum of 100) and a 50 % bounce rate
    sim = make_sim()
    add(sim, "few.example")
    send(sim, "few.example", 99)
    for i in range(50):
        sim.bounce("few.example", f"u{i}@x.example")
    assert sim.outbound("few.example")["outbound_status"] == "active"
    # when the 100th send happens and one more bounce arrives: then it is suspended
    sim.increment("few.example")
    sim.bounce("few.example", "last@x.example")
    assert sim.outbound("few.example")["outbound_status"] == "suspended"


def test_guillotine_uses_the_configured_thresholds() -> None:
    sim = make_sim(bounce_rate_threshold=5.0, guillotine_min_sends=10)
    add(sim, "t.example")
    send(sim, "t.example", 100)
    for i in range(5):
        sim.bounce("t.example", f"u{i}@x.example")
    assert sim.outbound("t.example")["outbound_status"] == "active"
    sim.bounce("t.example", "u5@x.example")
    assert sim.outbound("t.example")["outbound_status"] == "suspended"


def test_manual_reactivation_lifts_the_suspension() -> None:
    sim = make_sim()
    add(sim, "m.example", status="suspended")
    body = sim.update_outbound("m.example", {"outbound_status": "active"})
    assert body["outbound_status"] == "active"
    assert sim.truth()["domains"]["m.example"]["suspension"] is None
    assert sim.increment("m.example")["allowed"] is True


# --- resets -----------------------------------------------------------------------------------


def test_reset_daily_keeps_7_days_of_history_and_zeroes_today_and_the_hour() -> None:
    sim = make_sim()
    add(sim, "h.example")
    for day in range(1, 10):
        send(sim, "h.example", day)
        assert sim.reset_daily() == {"reset_count": 1}
        sim.clock.advance(timedelta(days=1))
    row = sim.truth()["domains"]["h.example"]
    assert row["history"] == [3, 4, 5, 6, 7, 8, 9]
    assert (row["outbound_sent_today"], row["hour_count"], row["outbound_sent_month"]) == (
        0, 0, 45)
    assert sim.truth()["reset_daily_calls"] == 9


def test_second_reset_daily_the_same_day_pushes_a_zero_day() -> None:
    sim = make_sim()
    add(sim, "h.example")
    send(sim, "h.example", 12)
    sim.reset_daily()
    sim.reset_daily()
    truth = sim.truth()
    assert truth["domains"]["h.example"]["history"] == [12, 0]
    assert truth["domains"]["h.example"]["reset_daily_applied"] == 2
    assert truth["reset_daily_calls"] == 2


def test_reset_monthly_freezes_the_counters_as_they_were_then_zeroes_them() -> None:
    # given two partners' domains with sends, bounces and complaints
    sim = make_sim(guillotine_min_sends=10_000)
    add(sim, "a.example", partner_ref="p1", monthly_limit=500)
    add(sim, "b.example", partner_ref="p2")
    send(sim, "a.example", 8)
    sim.bounce("a.example", "x@y.example")
    sim.complain("a.example", "z@y.example")
    before = {n: sim.outbound(n) for n in ("a.example", "b.example")}
    # when the month is reset
    result = sim.reset_monthly()
    # then frozen rows equal the counters before, and the counters are zero
    assert result["reset_count"] == 2
    keys = ("outbound_sent_month", "outbound_monthly_limit", "bounce_count", "complaint_count",
            "bounce_rate", "complaint_rate")
    for row in result["frozen"]:
        assert set(row) == {"name", "partner_ref", *keys}
        assert {k: row[k] for k in keys} == {k: before[row["name"]][k] for k in keys}
    assert result["frozen"][0]["partner_ref"] == "p1"
    assert result["frozen"][0]["bounce_rate"] == 12.5
    after = sim.outbound("a.example")
    assert (after["outbound_sent_month"], after["bounce_count"], after["complaint_count"],
            after["bounce_rate"], after["complaint_rate"]) == (0, 0, 0, 0.0, 0.0)
    assert after["outbound_sent_today"] == 8  # the daily counter is not the monthly reset's
    assert sim.truth()["reset_monthly_calls"] == 1


# --- set-up -----------------------------------------------------------------------------------


def test_add_domain_refuses_bad_enum_values() -> None:
    sim = make_sim()
    with pytest.raises(ValueError, match="warmup_profile"):
        sim.add_domain("x.example", "p1", warmup_profile="turbo")


def test_twenty_thousand_domains_are_added_quickly() -> None:
    sim = make_sim()
    for i in range(20_000):
        sim.add_domain(f"d{i}.example", f"p{i % 40}")
    assert len(sim.domain_names()) == 20_000
    assert len(sim.list_domains("p7")) == 500
