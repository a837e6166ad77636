"""The sandbox's Cleanbox API over real HTTP: auth, shapes, pagination, filters, quarantine."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sandbox.server import Sandbox

CONTACT_FIELDS = {"uuid", "email", "email_count", "state", "category", "created_at",
                  "has_subscriptions"}


def all_pages(client: httpx.Client, path: str, **params: object) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        body = client.get(path, params={**params, "page": page, "per_page": 100}).json()
        rows.extend(body["data"])
        if page >= body["total_pages"]:
            return rows
        page += 1


def test_a_bad_or_missing_key_is_answered_401_with_json(sandbox: Sandbox) -> None:
    # given a key no team has, and no key at all
    with httpx.Client(base_url=sandbox.cleanbox_url, trust_env=False) as anonymous:
        # when both call Cleanbox
        bad = anonymous.get("/team", headers={"Authorization": "Bearer cbk_wrong"})
        missing = anonymous.get("/contacts")
    # then both are refused with a JSON error
    assert bad.status_code == 401 and missing.status_code == 401
    assert bad.json()["error"] == "unauthorized"


def test_team_answers_usage_and_limits_in_the_assumed_shape(team_http: Callable) -> None:
    # given a team's key; when it asks for its team
    team = team_http(0).get("/team").json()
    # then usage and limits are where docs/cleanbox-api.md#team-usage puts them
    assert team["name"]
    assert team["usage"]["weekly_used"] > 0 and team["usage"]["weekly_limit"] > 0
    assert set(team["limits"]["aliases"]) == {"used", "limit"}
    assert set(team["limits"]["mailboxes"]) == {"used", "limit"}


def test_categories_are_twenty_named_ones(team_http: Callable) -> None:
    data = team_http(0).get("/categories").json()["data"]
    names = {c["name"] for c in data}
    assert len(data) == 20 and len(names) == 20
    assert {"Finance", "Business Services", "Productivity & Tools", "Shopping", "Social"} <= names


def test_contacts_page_carries_total_when_the_switch_is_on(
    clean_sandbox: Sandbox, team_http: Callable
) -> None:
    # given total switched on
    clean_sandbox.set_cleanbox_total(True)
    client = team_http(0)
    # when one page of 7 is fetched
    body = client.get("/contacts", params={"per_page": 7, "page": 2}).json()
    # then the page carries total and total_pages = ceil(total / per_page)
    assert body["page"] == 2 and body["per_page"] == 7 and len(body["data"]) == 7
    assert body["total_pages"] == -(-body["total"] // 7)
    assert set(body["data"][0]) == CONTACT_FIELDS


def test_contacts_page_omits_total_when_the_switch_is_off_and_paging_still_counts_exactly(
    clean_sandbox: Sandbox, team_http: Callable
) -> None:
    # given total switched off
    client = team_http(1)
    expected = client.get("/contacts", params={"state": "blocked"}).json()["total"]
    clean_sandbox.set_cleanbox_total(False)
    # when every page of blocked contacts is fetched
    first = client.get("/contacts", params={"state": "blocked"}).json()
    rows = all_pages(client, "/contacts", state="blocked")
    # then no page says total, and counting by paging finds every contact once
    assert "total" not in first
    assert len(rows) == expected == len({r["uuid"] for r in rows})
    assert all(r["state"] == "blocked" for r in rows)


def test_per_page_over_100_is_refused_with_422(team_http: Callable) -> None:
    client = team_http(0)
    assert client.get("/contacts", params={"per_page": 101}).status_code == 422
    assert client.get("/quarantine", params={"per_page": 0}).status_code == 422
    assert client.get("/messages", params={"page": 0}).status_code == 422


def test_contacts_sort_by_email_count_descending(team_http: Callable) -> None:
    body = team_http(0).get("/contacts", params={
        "state": "unset", "sort": "emailCount", "dir": "desc", "per_page": 100}).json()
    counts = [c["email_count"] for c in body["data"]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 50
    assert all(c["state"] == "unset" for c in body["data"])


def test_a_blocked_contact_leaves_the_unset_listing_at_once_so_pages_shift(
    team_http: Callable,
) -> None:
    # given page 1 and page 2 of unset contacts by email count
    client = team_http(2)
    params = {"state": "unset", "sort": "emailCount", "dir": "desc", "per_page": 10}
    page1 = client.get("/contacts", params={**params, "page": 1}).json()
    page2 = client.get("/contacts", params={**params, "page": 2}).json()
    victim = page1["data"][0]
    # when the top contact is blocked
    changed = client.put(f"/contacts/{victim['uuid']}", json={"state": "blocked"})
    # then it is blocked, gone from unset, and page 1 now starts with page 2's... shifted rows
    assert changed.status_code == 200 and changed.json()["state"] == "blocked"
    again = client.get("/contacts", params={**params, "page": 1}).json()
    assert victim["uuid"] not in {c["uuid"] for c in again["data"]}
    assert again["total"] == page1["total"] - 1
    assert again["data"][:9] == page1["data"][1:10]
    assert again["data"][9] == page2["data"][0]
    blocked = all_pages(client, "/contacts", state="blocked")
    assert victim["uuid"] in {c["uuid"] for c in blocked}


def test_put_contact_refuses_a_bad_state_and_an_unknown_uuid(team_http: Callable) -> None:
    client = team_http(0)
    uuid = client.get("/contacts", params={"per_page": 1}).json()["data"][0]["uuid"]
    assert client.put(f"/contacts/{uuid}", json={"state": "deleted"}).status_code == 422
    assert client.put(f"/contacts/{uuid}", content=b"not json").status_code == 422
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.put(f"/contacts/{unknown}", json={"state": "blocked"}).status_code == 404


def test_another_teams_contact_is_unknown_to_this_team(team_http: Callable) -> None:
    # given a contact of team 0; when team 1 tries to change it; then it is 404
    uuid = team_http(0).get("/contacts", params={"per_page": 1}).json()["data"][0]["uuid"]
    assert team_http(1).put(f"/contacts/{uuid}", json={"state": "muted"}).status_code == 404


def test_quarantine_accept_counts_releases_once_and_ignores_released_ones(
    sandbox: Sandbox, team_http: Callable
) -> None:
    # given two quarantined messages
    client = team_http(1)
    before = client.get("/quarantine", params={"per_page": 2}).json()
    uuids = [m["uuid"] for m in before["data"]]
    assert set(before["data"][0]) == {"uuid", "from", "to", "subject", "received_at",
                                      "spam_score"}
    # when they are accepted twice
    first = client.post("/quarantine/accept", json={"uuids": uuids})
    second = client.post("/quarantine/accept", json={"uuids": uuids})
    # then the first call counts both, the second none, and the backlog fell by two
    assert first.json() == {"accepted": 2} and second.json() == {"accepted": 0}
    after = client.get("/quarantine", params={"per_page": 2}).json()
    assert after["total"] == before["total"] - 2
    delivered = client.get("/messages", params={"status": "delivered", "per_page": 100}).json()
    assert set(uuids) <= {m["uuid"] for m in all_pages(client, "/messages", status="delivered")}
    assert delivered["total"] > 0


def test_quarantine_accept_refuses_more_than_100_uuids(team_http: Callable) -> None:
    client = team_http(0)
    too_many = [f"00000000-0000-4000-8000-{i:012x}" for i in range(101)]
    assert client.post("/quarantine/accept", json={"uuids": too_many}).status_code == 422
    assert client.post("/quarantine/accept", json={"uuids": "x"}).status_code == 422
    assert client.post("/quarantine/accept", json={"uuids": too_many[:100]}).json() == {
        "accepted": 0}


def test_messages_filter_by_status_sender_and_since(team_http: Callable) -> None:
    client = team_http(0)
    failed = all_pages(client, "/messages", status="failed")
    assert failed and all(m["status"] == "failed" for m in failed)
    since = "2026-09-30T00:00:00Z"
    recent = all_pages(client, "/messages", status="failed", since=since)
    assert recent and all(m["received_at"] >= since for m in recent)
    assert len(recent) < len(failed)
    sender = failed[0]["from"]
    bare = sender.rsplit("<", 1)[-1].rstrip(">").lower()
    mine = all_pages(client, "/messages", **{"from": bare})
    assert mine and all(bare in m["from"].lower() for m in mine)
    assert client.get("/messages", params={"since": "yesterday"}).status_code == 422
    assert client.get("/messages", params={"status": "lost"}).status_code == 422


def test_sender_text_includes_hostile_strings_for_escaping_downstream(
    team_http: Callable,
) -> None:
    # given the whole world's contacts and messages of one team
    client = team_http(0)
    text = " ".join(c["email"] for c in all_pages(client, "/contacts"))
    text += " ".join(m["from"] + m["subject"] for m in all_pages(client, "/messages"))
    # then markup, mentions, formulas, display names and junk TLDs all occur
    for needle in ("<script>", "@channel", "=HYPERLINK(", "*", '" <', ".xyz", ".top"):
        assert needle in text, needle
