"""outbound-guard's planning: counters to engine, who suspended what, what may be resumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailops.guard import GuardAction, evaluate
from mailops.jsonable import to_jsonable
from mailops.models.emboux import Outbound
from mailops.models.health import DomainHealth
from mailops.report.slack import outbound_guard_message
from mailops.rules.guard import MailboxState, Status
from mailops.settings import GuardSettings
from mailops.store import GuardRecord

RULES = GuardSettings()
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def domain(name: str, sent: int, bounces: int, status: str = "active",
           partner: str = "p-1") -> DomainHealth:
    outbound = Outbound(
        name=name, outbound_tier="shared", outbound_status=status, outbound_daily_limit=0,
        outbound_monthly_limit=0, outbound_sent_today=0, outbound_sent_month=sent,
        outbound_enforcement="hard", bounce_count=bounces, complaint_count=0,
        bounce_rate=0.0, complaint_rate=0.0, ses_verified=True, warmup_profile="standard",
        spike_max_multiplier=5.0,
    )
    return DomainHealth(outbound, partner)


def by_name(run) -> dict[str, GuardRecord]:
    return {r.state.name: r for r in run.records}


def test_the_first_poll_starts_from_the_period_totals_and_plans_a_suspend():
    run = evaluate({}, [domain("bad.io", 80, 3), domain("ok.io", 500, 1)], [], T0, RULES)
    records = by_name(run)
    assert records["bad.io"].state.status is Status.PAUSED
    assert records["bad.io"].last_sent_month == 80
    assert records["ok.io"].state.total_sends == 500
    assert [(c.label, c.action, c.old_value, c.new_value, c.target) for c in run.actions] == [
        ("bad.io", "suspend", "active", "suspended", "domain:bad.io")]
    assert "3.75 %" in run.actions[0].reason


def test_the_next_poll_feeds_only_the_change():
    first = evaluate({}, [domain("a.io", 40, 0)], [], T0, RULES)
    second = evaluate(by_name(first), [domain("a.io", 70, 2)], [], T0, RULES)
    state = by_name(second)["a.io"].state
    assert (state.window.sends, state.window.bounces, state.total_sends) == (70, 2, 70)


def test_counters_that_went_down_start_a_new_period_without_losing_the_window():
    first = evaluate({}, [domain("a.io", 90, 2)], [], T0, RULES)
    second = evaluate(by_name(first), [domain("a.io", 8, 0)], [], T0, RULES)
    assert second.new_periods == ["a.io"]
    state = by_name(second)["a.io"].state
    # 90 + 8 crosses the slide point once: 100 and 2 become 50 and 1, then 6 more sends
    assert state.total_sends == 98 and state.window.sends < 100
    assert by_name(second)["a.io"].last_sent_month == 8


def test_a_domain_suspended_by_emboux_is_never_resumed():
    # the guillotine suspended it; the guard also finds it paused, then it heals
    first = evaluate({}, [domain("g.io", 200, 10, "suspended")], [], T0, RULES)
    assert by_name(first)["g.io"].state.status is Status.PAUSED
    assert first.actions == []  # already suspended: nothing to do, and not ours
    later = T0 + timedelta(hours=25)
    second = evaluate(by_name(first), [domain("g.io", 200, 10, "suspended")], [], later, RULES)
    assert by_name(second)["g.io"].state.status is Status.HEALING
    assert second.actions == []
    assert not by_name(second)["g.io"].suspended_by_guard


def test_the_guards_own_suspend_is_resumed_when_the_cooldown_ends():
    first = evaluate({}, [domain("b.io", 80, 3)], [], T0, RULES)
    records = {n: GuardRecord(r.state, r.last_sent_month, r.last_bounce_count, True)
               for n, r in by_name(first).items()}  # the suspend was applied
    still = evaluate(records, [domain("b.io", 80, 3, "suspended")], [], T0 + timedelta(hours=1),
                     RULES)
    assert still.actions == []
    later = T0 + timedelta(hours=24)
    healed = evaluate(records, [domain("b.io", 80, 3, "suspended")], [], later, RULES)
    assert [(c.action, c.new_value) for c in healed.actions] == [("resume", "active")]


def test_a_person_who_lifted_the_guards_suspend_is_not_overruled_during_the_pause():
    first = evaluate({}, [domain("b.io", 80, 3)], [], T0, RULES)
    records = {n: GuardRecord(r.state, r.last_sent_month, r.last_bounce_count, True)
               for n, r in by_name(first).items()}
    lifted = evaluate(records, [domain("b.io", 80, 3, "active")], [], T0 + timedelta(hours=1),
                      RULES)
    record = by_name(lifted)["b.io"]
    assert lifted.actions == [] and record.hands_off and not record.suspended_by_guard
    # a person's suspension after the guard let go is theirs: never resumed
    later = evaluate(by_name(lifted), [domain("b.io", 80, 3, "suspended")], [],
                     T0 + timedelta(hours=30), RULES)
    assert later.actions == []


def test_a_domain_not_read_this_time_keeps_its_state_and_gets_no_action():
    first = evaluate({}, [domain("a.io", 80, 3), domain("b.io", 10, 0)], [], T0, RULES)
    second = evaluate(by_name(first), [domain("b.io", 20, 0)], ["a.io"], T0, RULES)
    assert by_name(second)["a.io"] == by_name(first)["a.io"]
    assert second.actions == []


def test_a_paused_group_suspends_every_active_member():
    domains = [domain("a.io", 80, 3), domain("b.io", 80, 3), domain("c.io", 500, 0),
               domain("d.io", 500, 0, partner="p-2")]
    run = evaluate({}, domains, [], T0, RULES)
    groups = {g.group: g for g in run.groups}
    assert groups["p-1"].status is Status.PAUSED and groups["p-1"].unhealthy_pct == 66.7
    assert groups["p-2"].status is Status.HEALTHY
    suspends = {c.label: c.reason for c in run.actions}
    assert set(suspends) == {"a.io", "b.io", "c.io"}
    assert "its group is paused" in suspends["c.io"]
    assert run.mailboxes()[0].status is Status.PAUSED


def test_the_dashboard_json_has_the_issue_keys():
    run = evaluate({}, [domain("a.io", 80, 3)], [], T0, RULES)
    payload = to_jsonable({"mailboxes": run.mailboxes(), "groups": run.groups})
    assert payload["mailboxes"] == [{
        "name": "a.io", "group": "p-1", "status": "paused", "window_sends": 80.0,
        "window_bounces": 3.0, "total_sends": 80, "total_bounces": 3,
        "cooldown_until": (T0 + timedelta(hours=24)).isoformat(), "risk": 100}]
    assert payload["groups"] == [{"group": "p-1", "mailboxes": 1, "unhealthy": 1,
                                  "unhealthy_pct": 100.0, "status": "warning", "avg_risk": 100.0}]


def test_transitions_compare_with_the_last_notified_status():
    record = GuardRecord(MailboxState("a.io", "p-1"), notified_status="paused")
    run = evaluate({"a.io": record}, [domain("a.io", 80, 3)], [], T0, RULES)
    assert run.mailbox_transitions() == []


def test_the_slack_message_escapes_every_api_string():
    message = outbound_guard_message(
        [("<!channel>.io", "healthy", "paused", "5 bounces & more")],
        [("p-<x>", "healthy", "warning", "1/3 unhealthy")],
        [GuardAction("<!channel>.io", "suspend", "paused by the guard")],
        dry_run=True, as_of=T0.isoformat(),
    )
    text = json_text(message)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "&amp; more" in text
    assert message["text"].startswith("Outbound guard (dry run)")


def json_text(message: dict) -> str:
    import json

    return json.dumps(message, ensure_ascii=False)
