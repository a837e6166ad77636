"""The chaos run's reconciliation, as pure comparisons: each one finds what it must find."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mailops.report.slack import outbound_guard_message
from sandbox.reconcile import (
    audit_differences,
    billing_differences,
    guard_posts_in_order,
    guard_transition_differences,
    guard_transitions,
    metric_differences,
    reset_differences,
    secret_findings,
    slack_differences,
    slack_lost_differences,
)

AT = "2026-10-02T00:00:00+00:00"
TEAM = {"weekly_used": 40, "weekly_limit": 1000, "aliases_used": 3, "aliases_limit": 10,
        "mailboxes_used": 2, "mailboxes_limit": 5, "quarantine_backlog": 12, "failed_24h": 1,
        "denied_24h": 0}
SENDERS = [{"email": "a@x.test", "email_count": 9, "state": "unset", "category": None}]
DOMAIN = {"partner_ref": "p1", "outbound_tier": "shared", "outbound_status": "active",
          "outbound_daily_limit": 0, "outbound_monthly_limit": 0, "outbound_sent_today": 5,
          "outbound_sent_month": 50, "outbound_enforcement": "hard", "bounce_count": 1,
          "complaint_count": 0, "bounce_rate": 2.0, "complaint_rate": 0.0,
          "ses_verified": True, "warmup_profile": "standard", "spike_max_multiplier": 5.0}


def collection(**teams_or_domains):
    return {"day": "2026-10-01", "at": AT,
            "teams": {"acme": {**TEAM, "top_senders": SENDERS}},
            "domains": {"a.test": dict(DOMAIN)}, **teams_or_domains}


def stored(**team_changes):
    # SQLite hands back naive UTC times and dates
    collected = datetime(2026, 10, 2)
    team_rows = [{"day": date(2026, 10, 1), "team": "acme", **TEAM, "collected_at": collected,
                  **team_changes}]
    senders = [{"day": date(2026, 10, 1), "team": "acme", "rank": 1, **SENDERS[0]}]
    domains = [{"day": date(2026, 10, 1), "domain": "a.test", **DOMAIN,
                "collected_at": collected}]
    return team_rows, senders, domains


# --- metrics ---------------------------------------------------------------------------


def test_rows_equal_to_what_the_sandbox_showed_have_no_difference():
    teams, senders, domains = stored()
    assert metric_differences([collection()], teams, senders, domains, []) == []


def test_a_wrong_number_is_named_field_by_field():
    teams, senders, domains = stored(quarantine_backlog=11)
    [found] = metric_differences([collection()], teams, senders, domains, [])
    assert found.subject == "team acme on 2026-10-01"
    assert "quarantine_backlog stored 11, the sandbox showed 12" in found.message


def test_a_missing_row_is_excused_only_by_an_alert_saying_why():
    _, _, domains = stored()
    alert = {"day": date(2026, 10, 1), "key": "collection_failed", "subject": "Cleanbox acme"}
    assert metric_differences([collection()], [], [], domains, [alert]) == []
    [found] = metric_differences([collection()], [], [], domains, [])
    assert found.message == "no row stored and no alert saying why"
    domains_alert = {**alert, "subject": "EmBoux domains"}
    teams, senders, _ = stored()
    assert metric_differences([collection()], teams, senders, [], [domains_alert]) == []


def test_a_row_of_another_instant_or_no_collection_is_a_difference():
    teams, senders, domains = stored(collected_at=datetime(2026, 10, 1, 12))
    [late] = metric_differences([collection()], teams, senders, domains, [])
    assert "is not the collection instant" in late.message
    teams, senders, domains = stored()
    extra = [*domains, {**domains[0], "domain": "ghost.test"}]
    [ghost] = metric_differences([collection()], teams, senders, extra, [])
    assert ghost.subject == "domain ghost.test on 2026-10-01"


def test_top_senders_stored_wrong_are_a_difference():
    teams, senders, domains = stored()
    senders[0]["email_count"] = 8
    [found] = metric_differences([collection()], teams, senders, domains, [])
    assert "top senders" in found.message


# --- audit ----------------------------------------------------------------------------------


def change(kind, subject, target, old, new):
    return {"kind": kind, "subject": subject, "target": target, "old": old, "new": new}


def audit(target, field, old, new):
    return {"target": target, "field": field, "old_value": old, "new_value": new}


CHANGES = [
    change("contact_state", "Team: one", "u1", "unset", "blocked"),
    change("quarantine_release", "acme", "m1", "quarantined", "released"),
    change("outbound_status", "p1", "a.test", "active", "suspended"),
]
AUDITS = [
    audit("contact:Team: one:u1", "state", "unset", "blocked"),
    audit("quarantine:acme:m1", "status", "quarantined", "released"),
    audit("domain:a.test", "outbound_status", "active", "suspended"),
]


def test_one_audit_row_per_applied_change_is_no_difference():
    assert audit_differences(CHANGES, AUDITS) == []


def test_a_change_without_its_audit_row_is_found():
    [found] = audit_differences(CHANGES, AUDITS[1:])
    assert found.subject == "contact:Team: one:u1 state unset -> blocked"
    assert "without its audit row" in found.message


def test_a_duplicated_audit_row_and_one_without_a_change_are_found():
    [duplicated] = audit_differences(CHANGES, [*AUDITS, AUDITS[1]])
    assert "duplicated audit row" in duplicated.message
    [invented] = audit_differences(CHANGES[:2], AUDITS)
    assert "never applied in the sandbox" in invented.message


# --- resets and billing ---------------------------------------------------------------------


def test_exactly_one_reset_per_scheduled_day_and_month():
    daily = ["2026-10-01T12:00:00+00:00", "2026-10-02T00:00:00+00:00"]
    monthly = ["2026-11-01T00:00:00+00:00"]
    assert reset_differences(daily, monthly, ["2026-10-01", "2026-10-02"], ["2026-10"]) == []
    found = reset_differences([*daily, daily[1]], [], ["2026-10-01", "2026-10-02", "2026-10-03"],
                              ["2026-10"])
    assert [d.subject for d in found] == ["reset-daily 2026-10-02", "reset-daily 2026-10-03",
                                          "reset-monthly 2026-10"]
    assert "2 daily resets" in found[0].message and "0 daily resets" in found[1].message


FROZEN = [{"name": "a.test", "partner_ref": "p1", "outbound_sent_month": 50,
           "outbound_monthly_limit": 0, "bounce_count": 1, "complaint_count": 0,
           "bounce_rate": 2.0, "complaint_rate": 0.0}]


def billing_row(**changes):
    row = {**FROZEN[0], "period": "2026-10", "domain": "a.test"}
    row.pop("name")
    return {**row, **changes}


def test_billing_rows_equal_to_the_frozen_counters_have_no_difference():
    calls = ["2026-11-01T00:00:00+00:00"]
    assert billing_differences(calls, [FROZEN], [billing_row()]) == []
    [found] = billing_differences(calls, [FROZEN], [billing_row(outbound_sent_month=49)])
    assert found.subject == "2026-10 a.test" and "outbound_sent_month stored 49" in found.message
    [missing] = billing_differences(calls, [FROZEN], [])
    assert "no billing row" in missing.message
    [unfrozen] = billing_differences([], [], [billing_row()])
    assert "no monthly reset froze" in unfrozen.message


# --- Slack ----------------------------------------------------------------------------------


def test_the_same_message_twice_and_a_refused_post_are_differences():
    post = {"payload": {"text": "Daily Email Health Report 2026-10-01"}, "status": 200}
    assert slack_differences([post]) == []
    [twice] = slack_differences([post, dict(post)])
    assert "posted 2 times" in twice.message
    [refused] = slack_differences([{"payload": None, "raw": "junk", "status": 400}])
    assert "refused" in refused.message


def test_a_failed_post_must_reach_slack_later_or_the_outbox():
    message = {"text": "hi", "blocks": [{"type": "divider"}]}
    faulted = [{"kind": "down", "path": "/slack/services/T/B/x",
                "body": '{"text": "hi", "blocks": [{"type": "divider"}]}'}]
    assert slack_lost_differences(faulted, [], [message]) == []
    assert slack_lost_differences(faulted, [message], []) == []
    [lost] = slack_lost_differences(faulted, [], [])
    assert lost.subject == "hi" and "lost" in lost.message
    applied = [{**faulted[0], "kind": "lost_response"}]  # Slack did get that one
    assert slack_lost_differences(applied, [], []) == []


def guard_post(mailboxes, cut=False):
    rows = [(name, old, new, "why") for name, old, new in mailboxes]
    message = outbound_guard_message(rows, [], [], dry_run=False, as_of=AT,
                                     max_lines=1 if cut else 40)
    return message


def test_guard_posts_are_read_back_as_chains_of_status_changes():
    posts = [guard_post([("a.test", "healthy", "warning")]),
             guard_post([("a.test", "warning", "paused"), ("b.test", "healthy", "warning")])]
    read = guard_transitions([{"text": "other"}, *posts])
    assert read == [[("Mailboxes a.test", "healthy", "warning", False)],
                    [("Mailboxes a.test", "warning", "paused", False),
                     ("Mailboxes b.test", "healthy", "warning", False)]]
    assert guard_transition_differences(read) == []


def test_a_status_change_posted_twice_breaks_the_chain():
    posts = [guard_post([("a.test", "healthy", "warning")]),
             guard_post([("a.test", "healthy", "warning")])]
    [found] = guard_transition_differences(guard_transitions(posts))
    assert found.subject == "Mailboxes a.test" and "posted twice" in found.message


def test_a_status_change_kept_in_the_outbox_is_not_lost_and_a_lost_answer_not_twice():
    first = outbound_guard_message([("a.test", "healthy", "paused", "why")], [], [],
                                   dry_run=False, as_of="2026-10-02T00:00:00+00:00")
    second = outbound_guard_message([("a.test", "paused", "healing", "why")], [], [],
                                    dry_run=False, as_of="2026-10-03T00:00:00+00:00")
    # the first post failed and is in the outbox; the second reached Slack
    assert guard_transition_differences(guard_transitions([second])) != []
    ordered = guard_posts_in_order([second], [first])
    assert ordered == [first, second]
    assert guard_transition_differences(guard_transitions(ordered)) == []
    # an answer lost after Slack showed it: in both, counted once
    assert guard_posts_in_order([first, second], [first]) == [first, second]


def test_after_a_post_cut_short_the_hidden_names_are_not_judged():
    posts = [guard_post([("a.test", "healthy", "warning"), ("b.test", "healthy", "warning")],
                        cut=True),
             guard_post([("b.test", "warning", "healthy")])]
    assert guard_transition_differences(guard_transitions(posts)) == []


# --- secrets --------------------------------------------------------------------------------


def test_a_secret_found_is_named_by_its_label_never_its_value():
    secrets = {"EmBoux master token": "emb_master_0123456789"}
    places = [("log line 1", "GET /domains ok"), ("file x.json", "token=emb_master_0123456789")]
    [found] = secret_findings(secrets, places)
    assert found.subject == "file x.json" and found.message == "holds the EmBoux master token"
    assert "0123456789" not in str(found)


def test_naive_and_aware_instants_compare_as_utc():
    # the store's naive UTC times against the sandbox's ISO instants
    teams, senders, domains = stored(collected_at=datetime(2026, 10, 2, tzinfo=UTC))
    assert metric_differences([collection()], teams, senders, domains, []) == []
