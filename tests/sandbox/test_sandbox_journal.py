"""The sandbox's ground truth for reconciliations: every change it applied on request, the
metrics at a collection instant, what each monthly reset froze, and the faulted requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sandbox.server import Sandbox


def changes(sandbox: Sandbox, kind: str) -> list[dict]:
    return [c for c in sandbox.journal()["changes"] if c["kind"] == kind]


def test_a_contact_state_change_is_journaled_once_with_its_request(
    clean_sandbox: Sandbox, team_http: Callable
) -> None:
    # Given an unset contact of the first team
    client = team_http(0)
    contact = client.get("/contacts", params={"state": "unset", "per_page": 1}).json()["data"][0]
    before = len(changes(clean_sandbox, "contact_state"))
    # When its state is set twice to the same value, then back
    for state in ("blocked", "blocked", "unset"):
        assert client.put(f"/contacts/{contact['uuid']}", json={"state": state}).is_success
    # Then two changes are journaled (the repeat changed nothing), each with its request
    made = changes(clean_sandbox, "contact_state")[before:]
    team = next(iter(clean_sandbox.team_keys))
    assert [(c["subject"], c["target"], c["old"], c["new"]) for c in made] == [
        (team, contact["uuid"], "unset", "blocked"), (team, contact["uuid"], "blocked", "unset")]
    assert made[0]["request"] == f"PUT /contacts/{contact['uuid']}"


def test_each_released_message_is_journaled_once(
    clean_sandbox: Sandbox, team_http: Callable
) -> None:
    # Given two quarantined messages of the second team
    client = team_http(1)
    held = client.get("/quarantine", params={"per_page": 2}).json()["data"]
    uuids = [m["uuid"] for m in held]
    before = len(changes(clean_sandbox, "quarantine_release"))
    # When they are accepted, and accepted again
    assert client.post("/quarantine/accept", json={"uuids": uuids}).json() == {"accepted": 2}
    assert client.post("/quarantine/accept", json={"uuids": uuids}).json() == {"accepted": 0}
    # Then each release is journaled once
    made = changes(clean_sandbox, "quarantine_release")[before:]
    assert sorted(c["target"] for c in made) == sorted(uuids)
    assert {(c["old"], c["new"]) for c in made} == {("quarantined", "released")}


def test_an_outbound_status_set_over_the_api_is_journaled(clean_sandbox: Sandbox) -> None:
    name = clean_sandbox.world.domains[3].name
    auth = {"Authorization": f"Bearer {clean_sandbox.master_token}"}
    with httpx.Client(base_url=clean_sandbox.emboux_url, headers=auth, trust_env=False) as em:
        em.put(f"/domains/{name}/outbound", json={"outbound_status": "suspended"})
        em.put(f"/domains/{name}/outbound", json={"outbound_status": "active"})
    made = [c for c in changes(clean_sandbox, "outbound_status") if c["target"] == name]
    assert [(c["old"], c["new"]) for c in made][-2:] == [("active", "suspended"),
                                                          ("suspended", "active")]


def test_a_recorded_collection_holds_what_the_apis_answer_at_that_instant(
    clean_sandbox: Sandbox, team_http: Callable
) -> None:
    # When the metrics of the instant are recorded for a day
    entry = clean_sandbox.record_collection("2026-09-30", top_senders=3)
    # Then they are what Cleanbox and EmBoux answer now, team for team, domain for domain
    name = next(iter(clean_sandbox.team_keys))
    team, client = entry["teams"][name], team_http(0)
    usage = client.get("/team").json()
    assert (team["weekly_used"], team["aliases_limit"]) == (
        usage["usage"]["weekly_used"], usage["limits"]["aliases"]["limit"])
    assert team["quarantine_backlog"] == client.get("/quarantine").json()["total"]
    top = client.get("/contacts", params={"sort": "emailCount", "dir": "desc",
                                          "per_page": 3}).json()["data"]
    assert [s["email"] for s in team["top_senders"]] == [c["email"] for c in top]
    domain = clean_sandbox.world.domains[0].name
    auth = {"Authorization": f"Bearer {clean_sandbox.master_token}"}
    shown = httpx.get(f"{clean_sandbox.emboux_url}/domains/{domain}/outbound", headers=auth,
                      trust_env=False).json()
    assert {k: v for k, v in entry["domains"][domain].items() if k != "partner_ref"} == shown
    assert entry["day"] == "2026-09-30"
    assert clean_sandbox.journal()["collections"][-1] == entry


def test_a_monthly_reset_keeps_what_it_froze() -> None:
    with Sandbox.start(seed=5) as sandbox:
        sandbox.advance(hours=6)
        before = sandbox.truth("emboux")["emboux"]["domains"]
        auth = {"Authorization": f"Bearer {sandbox.master_token}"}
        httpx.post(f"{sandbox.emboux_url}/outbound/reset-monthly", headers=auth,
                   trust_env=False).raise_for_status()
        [frozen] = sandbox.truth("emboux")["emboux"]["reset_monthly_frozen"]
    assert {r["name"]: r["outbound_sent_month"] for r in frozen} == {
        name: d["outbound_sent_month"] for name, d in before.items()}


def test_a_faulted_request_is_logged_with_its_body(clean_sandbox: Sandbox) -> None:
    clean_sandbox.inject_fault("POST /slack/**", "error", count=1)
    response = httpx.post(clean_sandbox.slack_webhook_url, json={"text": "lost?"},
                          trust_env=False)
    assert response.status_code == 500 and clean_sandbox.slack_posts() == []
    [entry] = [e for e in clean_sandbox.fault_log() if e["path"].startswith("/slack/")]
    assert entry["kind"] == "error" and '"lost?"' in entry["body"]
