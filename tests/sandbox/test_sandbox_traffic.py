"""Advancing the simulated clock generates traffic for both APIs, visible over HTTP and in truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from sandbox.server import Sandbox


def emboux_sent_month(sb: Sandbox) -> int:
    auth = {"Authorization": f"Bearer {sb.master_token}"}
    with httpx.Client(base_url=sb.emboux_url, headers=auth, trust_env=False) as em:
        names = [d["name"] for d in em.get("/domains").json()]
        return sum(em.get(f"/domains/{n}/outbound").json()["outbound_sent_month"] for n in names)


def total(client: httpx.Client, path: str, **params: object) -> int:
    return client.get(path, params={**params, "per_page": 1}).json()["total"]


def test_advancing_a_day_sends_mail_through_increment_and_delivers_inbound_mail(
    sandbox: Sandbox, team_http: Callable
) -> None:
    # given the counters of both APIs
    client = team_http(0)
    sent_before = emboux_sent_month(sandbox)
    messages_before = total(client, "/messages")
    contacts_before = total(client, "/contacts")
    # when a day passes
    summary = sandbox.advance(days=1)
    # then EmBoux counted the allowed sends, and Cleanbox received mail from old and new senders
    assert summary["sends"] > 0 and summary["allowed"] > 0
    assert emboux_sent_month(sandbox) - sent_before == summary["allowed"]
    assert total(client, "/messages") > messages_before
    assert total(client, "/contacts") > contacts_before
    assert summary["new_contacts"] > 0


def test_bounces_and_complaints_go_through_the_shared_webhook_logic(sandbox: Sandbox) -> None:
    # given the bounce counters and the suppression list
    before = sandbox.truth("emboux")["emboux"]
    bounces_before = sum(d["bounce_count"] for d in before["domains"].values())
    # when three days pass
    summary = sandbox.advance(days=3)
    # then every simulated bounce was counted on its domain and suppressed its recipient
    after = sandbox.truth("emboux")["emboux"]
    bounces_after = sum(d["bounce_count"] for d in after["domains"].values())
    assert summary["bounces"] > 0
    assert bounces_after - bounces_before == summary["bounces"]
    new = after["suppression_list_size"] - before["suppression_list_size"]
    assert 0 < new <= summary["bounces"] + summary["complaints"]
    assert any(r.get("recipient_suppressed") for r in
               (d["reasons"] for d in after["domains"].values()))


def test_weekly_usage_starts_over_at_monday_midnight_utc(
    sandbox: Sandbox, team_http: Callable
) -> None:
    # given the clock some time before the next Monday 00:00 UTC
    now = sandbox.now()
    monday = datetime.combine(now.date() + timedelta(days=7 - now.weekday()), datetime.min.time(),
                              now.tzinfo)
    sandbox.advance(hours=(monday - now).total_seconds() / 3600 - 1)
    client = team_http(0)
    sunday_usage = client.get("/team").json()["usage"]["weekly_used"]
    # when the clock reaches Monday midnight
    sandbox.advance(hours=1)
    # then usage is zero again, and Sunday's closing usage is kept in the truth
    assert sunday_usage > 0
    assert client.get("/team").json()["usage"]["weekly_used"] == 0
    name = client.get("/team").json()["name"]
    sunday = (monday - timedelta(days=1)).date().isoformat()
    day = sandbox.truth("cleanbox")["cleanbox"]["teams"][name]["days"][sunday]
    assert day["weekly_used"] >= sunday_usage


def test_truth_per_day_matches_what_the_api_lists_for_that_day(
    sandbox: Sandbox, team_http: Callable
) -> None:
    # given a closed simulated day
    sandbox.advance(days=1)
    client = team_http(1)
    name = client.get("/team").json()["name"]
    day = (sandbox.now() - timedelta(days=1)).date()
    truth = sandbox.truth("cleanbox")["cleanbox"]["teams"][name]["days"][day.isoformat()]
    start, end = f"{day.isoformat()}T00:00:00Z", f"{(day + timedelta(days=1)).isoformat()}"
    # when the API is asked per status for messages since the day began and since it ended
    for status in ("delivered", "failed", "denied", "quarantined"):
        counted = total(client, "/messages", status=status, since=start) - total(
            client, "/messages", status=status, since=end)
        # then the numbers are the truth's
        assert counted == truth["messages"][status], status
    assert truth["quarantine_backlog"] is not None


def test_deteriorating_teams_grow_and_deteriorating_domains_get_suspended(
    sandbox: Sandbox,
) -> None:
    # when three weeks pass
    sandbox.advance(days=21)
    truth = sandbox.truth()
    # then some domain was suspended by the guillotine
    causes = [s.get("cause") for d in truth["emboux"]["domains"].values()
              for s in d["suspensions"]]
    assert "guillotine" in causes
    # and some team receives clearly more mail in its last week than in its first
    grew = []
    for team in truth["cleanbox"]["teams"].values():
        days = sorted(team["days"].items())
        first = sum(sum(d["arrived"].values()) for _, d in days[3:10])
        last = sum(sum(d["arrived"].values()) for _, d in days[-8:-1])
        grew.append(last > 1.5 * first)
    assert any(grew)
