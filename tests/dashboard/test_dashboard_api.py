"""The dashboard's JSON endpoints on a store with known content; escaping; the token."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fixtures_dashboard import HOSTILE_DOMAIN, HOSTILE_SENDER, HOSTILE_TEAM
from fixtures_store import STORE_BACKENDS
from typer.testing import CliRunner

from mailops.dashboard import server as dashboard_server
from mailops.dashboard.app import COOKIE
from mailops.secrets import redact
from mailops.settings import load_settings

TOKEN = "dash-token-5f2c9a7e1b"
# The pages' data comes from the store's queries: these tests run on SQLite and PostgreSQL.
on_every_store = pytest.mark.parametrize("dashboard_store", STORE_BACKENDS, indirect=True)


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=10, trust_env=False, **kwargs)  # type: ignore[arg-type]


# --- health -----------------------------------------------------------------------------------


@on_every_store
def test_health_lists_groups_worst_first_with_seed_003_metrics(run_dashboard):
    # Given a dashboard over two groups, acme with 2 of 3 mailboxes unhealthy
    dash = run_dashboard()
    # When the health endpoint is read
    data = get(f"{dash.url}/api/health").json()
    # Then acme comes first, paused by its ratio, with its share and average risk
    assert [g["group"] for g in data["groups"]] == ["acme", "beta"]
    acme = data["groups"][0]
    assert (acme["status"], acme["mailboxes"], acme["unhealthy"], acme["unhealthy_pct"]) == (
        "paused", 3, 2, 66.7)
    risks = [m["risk"] for m in acme["members"]]
    assert acme["avg_risk"] == round(sum(risks) / 3, 1)
    # and its mailboxes worst first, each with window bounces/sends, totals and cooldown
    members = {m["name"]: m for m in acme["members"]}
    hostile, warning, healthy = (members[HOSTILE_DOMAIN], members["b.acme.test"],
                                 members["a.acme.test"])
    assert (hostile["status"], hostile["own_status"], hostile["window"], hostile["risk"]) == (
        "paused", "paused", "5/80", 100)
    assert (hostile["total_sends"], hostile["total_bounces"]) == (900, 30)
    assert hostile["cooldown_until"].startswith("2026-10-01T08:00")
    assert [t["action"] for t in hostile["transitions"]] == ["suspend"]
    # a paused group pauses its members; each keeps its own status beside it
    assert (warning["status"], warning["own_status"], warning["window"]) == (
        "paused", "warning", "3/40")
    assert (healthy["own_status"], healthy["group_paused"], healthy["transitions"]) == (
        "healthy", True, [])
    assert [m["name"] for m in acme["members"]] == [HOSTILE_DOMAIN, "a.acme.test",
                                                    "b.acme.test"]
    assert data["summary"] == {
        "groups": 2, "mailboxes": 4, "unhealthy": 2,
        "by_status": {"healthy": 1, "warning": 0, "paused": 3, "healing": 0},
    }


@on_every_store
def test_health_filters_by_status_and_name(run_dashboard):
    dash = run_dashboard()
    warning = get(f"{dash.url}/api/health", params={"status": "warning"}).json()
    assert [(g["group"], [m["name"] for m in g["members"]]) for g in warning["groups"]] == [
        ("acme", ["b.acme.test"])]
    by_name = get(f"{dash.url}/api/health", params={"q": "BETA"}).json()
    assert [g["group"] for g in by_name["groups"]] == ["beta"]
    by_mailbox = get(f"{dash.url}/api/health", params={"q": "a.acme"}).json()
    assert [m["name"] for m in by_mailbox["groups"][0]["members"]] == ["a.acme.test"]
    assert get(f"{dash.url}/api/health", params={"status": "dead"}).status_code == 400


# --- trends -----------------------------------------------------------------------------------


@on_every_store
def test_trends_give_daily_series_and_week_over_week_change(run_dashboard):
    dash = run_dashboard()
    data = get(f"{dash.url}/api/trends").json()
    # The range ends on the last stored day and goes back 28 days by default
    assert data["range"] == {"start": "2026-09-03", "end": "2026-09-30"}
    teams = {s["name"]: s for s in data["team"]["subjects"]}
    assert set(teams) == {HOSTILE_TEAM, "plain-team"}
    backlog = teams[HOSTILE_TEAM]["series"]["quarantine_backlog"]
    assert len(backlog) == 14 and backlog[0] == ["2026-09-17", 10.0]
    assert backlog[-1] == ["2026-09-30", 15.0]
    change = teams[HOSTILE_TEAM]["week_over_week"]["quarantine_backlog"]
    assert (change["this_week"], change["last_week"], change["change_pct"]) == (15, 10, 50.0)
    assert teams["plain-team"]["week_over_week"]["quarantine_backlog"]["change_pct"] == 0.0
    domain = data["domain"]["subjects"][0]
    assert domain["name"] == "a.acme.test"
    assert domain["week_over_week"]["outbound_sent_today"]["change_pct"] == 100.0


@on_every_store
def test_trends_take_a_chosen_range_and_a_name(run_dashboard):
    dash = run_dashboard()
    data = get(f"{dash.url}/api/trends",
               params={"start": "2026-09-25", "end": "2026-09-28", "q": "plain"}).json()
    assert data["range"] == {"start": "2026-09-25", "end": "2026-09-28"}
    [team] = data["team"]["subjects"]
    assert team["name"] == "plain-team"
    assert [day for day, _ in team["series"]["weekly_used"]] == [
        "2026-09-25", "2026-09-26", "2026-09-27", "2026-09-28"]
    assert data["domain"]["subjects"] == []
    week = get(f"{dash.url}/api/trends", params={"days": "7"}).json()
    assert week["range"] == {"start": "2026-09-24", "end": "2026-09-30"}
    assert get(f"{dash.url}/api/trends", params={"start": "30/09"}).status_code == 400


# --- activity ---------------------------------------------------------------------------------


@on_every_store
def test_activity_shows_each_change_with_its_run_and_the_undo_command(run_dashboard):
    dash = run_dashboard()
    data = get(f"{dash.url}/api/activity").json()
    assert [(c["job"], c["run_id"]) for c in data["changes"]] == [
        ("outbound-guard", "run-guard-2"),
        ("quarantine-accept", "run-quarantine-1"),
        ("contact-cleanup", "run-cleanup-1"),
    ]
    cleanup = data["changes"][2]
    assert cleanup["label"] == HOSTILE_SENDER
    assert (cleanup["old_value"], cleanup["new_value"]) == ("unset", "blocked")
    assert cleanup["undo"] == "mailops contacts undo run-cleanup-1"
    assert [c["undo"] for c in data["changes"][:2]] == [None, None]
    assert sorted((r["job"], r["key"], r["status"], r["run_id"]) for r in data["runs"]) == [
        ("billing-freeze", "2026-08", "done", "run-freeze-1"),
        ("outbound-reset-daily", "2026-09-30", "done", "run-reset-1"),
    ]
    only = get(f"{dash.url}/api/activity", params={"job": "contact-cleanup"}).json()
    assert [c["job"] for c in only["changes"]] == ["contact-cleanup"] and only["runs"] == []
    assert get(f"{dash.url}/api/activity", params={"job": "rm -rf"}).status_code == 400


def test_a_bad_filter_is_refused_in_one_line_naming_it_and_an_empty_one_means_any(
    run_dashboard,
):
    dash = run_dashboard()
    for path, params, name in [
        ("/api/health", {"status": "dead"}, "status"),
        ("/api/trends", {"start": "30/09"}, "start"),
        ("/trends", {"days": "0"}, "days"),
        ("/api/activity", {"job": "rm -rf"}, "job"),
        ("/activity", {"limit": "many"}, "limit"),
    ]:
        answer = get(f"{dash.url}{path}", params=params)
        assert answer.status_code == 400, (path, params)
        detail = answer.json()["detail"]
        assert detail.startswith(f"{name}: ") and "\n" not in detail, detail
        assert "content-security-policy" in answer.headers
    # the pages' forms send an empty field for "any"
    blank = get(f"{dash.url}/api/health", params={"status": "", "q": ""})
    assert blank.status_code == 200 and blank.json()["filters"] == {"status": None, "q": None}
    rows = get(f"{dash.url}/api/activity", params={"job": "", "limit": ""}).json()
    assert rows["filters"] == {"job": None, "limit": 200}
    assert get(f"{dash.url}/trends", params={"start": "", "end": "", "q": ""}).status_code == 200


def test_the_dashboard_only_reads(run_dashboard):
    dash = run_dashboard()
    for path in ("/api/health", "/api/activity", "/"):
        assert httpx.post(f"{dash.url}{path}", trust_env=False).status_code == 405


# --- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/trends", "/activity"])
def test_hostile_names_are_shown_as_text_with_their_bidi_controls_visible(run_dashboard, path):
    # Given names with markup and a bidi control in front (fixtures_dashboard's hostile names)
    dash = run_dashboard()
    # When each page is read
    page = get(f"{dash.url}{path}").text
    # Then no markup and no bidi control reaches it raw
    for raw in (HOSTILE_DOMAIN, HOSTILE_TEAM, HOSTILE_SENDER, "<img", "<script>alert", "<b>",
                "\u202e", "\u2067"):
        assert raw not in page
    # And each name is shown escaped, its control as a visible marker
    expected = {
        "/": "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;U+202E&gt;.evil.test",
        "/trends": "acme &amp; co &lt;U+2067&gt;&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;",
        "/activity": "&lt;b&gt;spam&lt;/b&gt;&lt;U+202E&gt;@junk.xyz",
    }[path]
    assert expected in page


@pytest.mark.parametrize("path", ["/api/health", "/api/trends", "/api/activity"])
def test_the_json_keeps_names_as_written_and_the_pages_poll_gets_them_visible(run_dashboard,
                                                                               path):
    # Given names with a bidi control in front
    dash = run_dashboard()
    # When an endpoint is read as scripts read it, and as the page's own poll does
    raw, shown = get(f"{dash.url}{path}").text, get(f"{dash.url}{path}?visible=1").text
    # Then scripts get the stored text, and the page the text it shows
    assert "\u202e" in raw or "\u2067" in raw
    assert "\u202e" not in shown and "\u2067" not in shown
    assert "<U+202E>" in shown or "<U+2067>" in shown


def test_pages_forbid_inline_and_foreign_scripts(run_dashboard):
    dash = run_dashboard()
    response = get(f"{dash.url}/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # every asset the page names is the app's own
    assert "http://" not in response.text.replace(dash.url, "")
    assert "https://" not in response.text
    for asset in ("/static/dashboard.js", "/static/dashboard.css", "/static/favicon.svg"):
        assert get(f"{dash.url}{asset}").status_code == 200


# --- the token --------------------------------------------------------------------------------


def test_with_a_token_every_page_and_endpoint_asks_for_it(run_dashboard):
    dash = run_dashboard(token=TOKEN)
    missing = get(f"{dash.url}/api/health")
    assert missing.status_code == 401 and missing.json()["ok"] is False
    assert get(f"{dash.url}/api/health",
               headers={"Authorization": "Bearer nope"}).status_code == 401
    page = get(f"{dash.url}/trends")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert 'method="post"' in page.text
    assert HOSTILE_DOMAIN not in page.text and "acme" not in page.text
    ok = get(f"{dash.url}/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["summary"]["mailboxes"] == 4
    # static files carry no data and load on the token form
    assert get(f"{dash.url}/static/dashboard.css").status_code == 200


def login(client: httpx.Client, token: str, next_page: str = "/") -> httpx.Response:
    """Submit the login form as a browser does: a POST of the token and the page asked for."""
    return client.post("/login", data={"token": token, "next": next_page})


def test_the_login_form_posts_the_token_and_sets_a_strict_httponly_cookie_that_is_not_it(
    run_dashboard
):
    # Given a dashboard with a token, and a browser asking for a filtered page without it
    dash = run_dashboard(token=TOKEN)
    with httpx.Client(base_url=dash.url, trust_env=False, timeout=10) as client:
        asked = client.get("/activity", params={"job": "contact-cleanup"})
        # Then it gets the login form, which posts the token and the page asked for
        assert asked.status_code == 401
        assert '<form method="post" action="/login"' in asked.text
        assert 'name="next" value="/activity?job=contact-cleanup"' in asked.text
        # When the form is submitted with the token
        answer = login(client, TOKEN, "/activity?job=contact-cleanup")
        # Then a 303 leads to the page asked for, with no token in its address
        assert answer.status_code == 303
        assert answer.headers["location"] == "/activity?job=contact-cleanup"
        # And the cookie is HttpOnly, SameSite=Strict, not Secure over http, and not the token
        cookie = answer.headers["set-cookie"]
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags
        assert TOKEN not in cookie and client.cookies.get(COOKIE)
        # And the cookie opens the pages and the JSON
        page = client.get("/activity", params={"job": "contact-cleanup"})
        assert page.status_code == 200 and "run-cleanup-1" in page.text
        assert client.get("/api/activity").status_code == 200


def test_a_wrong_token_posted_gets_the_form_again_and_no_cookie(run_dashboard):
    dash = run_dashboard(token=TOKEN)
    with httpx.Client(base_url=dash.url, trust_env=False, timeout=10) as client:
        answer = login(client, "wrong", "/trends")
        assert answer.status_code == 401 and "wrong token" in answer.text
        assert 'action="/login"' in answer.text and 'value="/trends"' in answer.text
        assert "set-cookie" not in answer.headers and "acme" not in answer.text
        assert client.get("/trends").status_code == 401
        # and a body larger than the form can be, or not a form, is no login either
        form = {"content-type": "application/x-www-form-urlencoded"}
        padded = f"token={TOKEN}&pad={'x' * 5000}".encode()
        assert client.post("/login", content=padded, headers=form).status_code == 401
        assert client.post("/login", json={"token": TOKEN}).status_code == 401


@pytest.mark.parametrize("path", ["/", "/trends", "/login", "/api/health"])
def test_a_token_in_a_query_string_is_refused_and_never_repeated(run_dashboard, path, caplog):
    # Given a dashboard with a token
    dash = run_dashboard(token=TOKEN)
    caplog.set_level("DEBUG")
    for offered in (TOKEN, "wrong"):
        # When the token comes in the address (browser history, proxy logs)
        answer = get(f"{dash.url}{path}", params={"token": offered, "q": "acme"})
        # Then it is refused, saying to use the form or the header, and sets nothing
        assert answer.status_code == 400
        assert "form" in answer.text and "Authorization: Bearer" in answer.text
        assert "set-cookie" not in answer.headers and "location" not in answer.headers
        # And the token is never repeated: not in the answer, not in a log
        assert offered not in answer.text
        assert "run-cleanup-1" not in answer.text and HOSTILE_DOMAIN not in answer.text
    server_side = [r.getMessage() for r in caplog.records
                   if not r.name.startswith(("httpx", "httpcore"))]  # the test's own client
    assert not any(TOKEN in message for message in server_side)
    assert dashboard_server._config(None, "127.0.0.1", 0).access_log is False  # type: ignore[arg-type]


def test_the_header_keeps_opening_every_endpoint_for_scrapers(run_dashboard):
    dash = run_dashboard(token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/health", "/api/trends", "/api/activity", "/"):
        assert get(f"{dash.url}{path}", headers=bearer).status_code == 200


def test_logout_clears_the_cookie(run_dashboard):
    # Given a browser logged in
    dash = run_dashboard(token=TOKEN)
    with httpx.Client(base_url=dash.url, trust_env=False, timeout=10) as client:
        assert login(client, TOKEN).status_code == 303
        assert client.get("/").status_code == 200
        # When it logs out
        answer = client.post("/logout")
        # Then the cookie is cleared and it is back at the login form
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert f'{COOKIE}=""' in answer.headers["set-cookie"]
        assert "max-age=0" in answer.headers["set-cookie"].lower()
        assert client.cookies.get(COOKIE) is None
        assert client.get("/").status_code == 401
        assert client.get("/login").status_code == 200


def test_the_cookie_is_secure_when_the_dashboard_is_served_over_https(dashboard_store):
    import asyncio

    from mailops.dashboard.app import create_app

    # Given the dashboard reached over https (uvicorn serving TLS itself)
    transport = httpx.ASGITransport(app=create_app(dashboard_store, token=TOKEN))

    async def submit() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="https://dash.example") as c:
            return await c.post("/login", data={"token": TOKEN, "next": "/"})

    # When the form is submitted
    answer = asyncio.run(submit())
    # Then the cookie is marked Secure: a browser sends it over https only
    assert answer.status_code == 303
    assert "secure" in {p.strip().lower() for p in answer.headers["set-cookie"].split(";")}


@pytest.mark.parametrize("next_page", ["https://evil.example/", "//evil.example/x",
                                       "/\\evil.example", "javascript:alert(1)", "", "/logout"])
def test_login_only_leads_to_a_page_of_the_dashboard(run_dashboard, next_page):
    dash = run_dashboard(token=TOKEN)
    with httpx.Client(base_url=dash.url, trust_env=False, timeout=10) as client:
        answer = login(client, TOKEN, next_page)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_the_token_is_a_secret_setting(monkeypatch):
    monkeypatch.setenv("MAILOPS_DASHBOARD_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.dashboard_token is not None
    assert TOKEN not in repr(settings) and TOKEN not in redact(f"token {TOKEN} leaked")


# --- the command ------------------------------------------------------------------------------


def test_the_command_binds_to_localhost_by_default_and_passes_the_token(
    cli, dashboard_store, monkeypatch
):
    served: dict[str, object] = {}
    monkeypatch.setattr(dashboard_server, "serve", lambda store, **kw: served.update(kw))
    monkeypatch.setenv("MAILOPS_DATABASE_URL", dashboard_store.url)
    monkeypatch.setenv("MAILOPS_DASHBOARD_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 8760
    assert served["token"] == TOKEN
    assert "http://127.0.0.1:8760/" in result.output and TOKEN not in result.output
    assert inspect.signature(dashboard_server.Dashboard.start).parameters["host"].default == (
        "127.0.0.1")


def test_the_command_warns_when_exposed_without_a_token(cli, dashboard_store, monkeypatch):
    served: dict[str, object] = {}
    monkeypatch.setattr(dashboard_server, "serve", lambda store, **kw: served.update(kw))
    monkeypatch.setenv("MAILOPS_DATABASE_URL", dashboard_store.url)
    result = CliRunner().invoke(cli, ["dashboard", "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0
    assert "without a token" in result.output
    assert (served["host"], served["port"], served["token"]) == ("0.0.0.0", 9000, None)


def test_the_command_refuses_a_store_that_does_not_exist(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MAILOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 2 and "mailops db upgrade" in result.output


def test_the_demo_ends_with_the_dashboard_command(cli, tmp_path: Path, monkeypatch):
    from sandbox import demo as demo_flow

    database = tmp_path / "demo" / "mailops.db"
    summary = demo_flow.DemoSummary(1, datetime(2026, 9, 1, tzinfo=UTC),
                                    datetime(2026, 9, 8, tzinfo=UTC), database=database)
    monkeypatch.setattr(demo_flow, "run_demo", lambda **kwargs: summary)
    result = CliRunner().invoke(cli, ["demo", "--weeks", "1"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == f"Dashboard:     MAILOPS_DATABASE_URL=sqlite:///{database} mailops dashboard"
