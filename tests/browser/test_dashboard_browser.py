"""A real browser on a running dashboard: headless Chromium loads each page, the page's own
script polls its JSON endpoint, and the rendered DOM is checked. Screenshots go to
data/screenshots/ for a person to look at.

The login is driven over Chromium's DevTools protocol (a form typed into and submitted, the
history and cookies read back). Chromium is Debian's `chromium` package (`make test` installs
it); without it this test fails rather than skips, so CI always runs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from devtools_browser import Browser
from fixtures_dashboard import HOSTILE_DOMAIN, HOSTILE_SENDER, HOSTILE_TEAM

from mailops.dashboard.app import COOKIE
from mailops.dashboard.server import Dashboard

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).resolve().parents[2] / "data" / "screenshots"
TOKEN = "browser-token-7d1e"


def render(url: str, screenshot: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran (a 3 s virtual budget), with a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: `make test` installs it (apt-get install chromium)"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={screenshot}",
         "--window-size=1280,900", "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    return result.stdout


def polled(dom: str) -> int:
    """How many times the page's poll redrew it (the body's data-polled)."""
    found = re.search(r'<body[^>]*data-polled="(\d+)"', dom)
    return int(found.group(1)) if found else 0


@pytest.fixture
def live(run_dashboard) -> Dashboard:
    return run_dashboard(refresh_seconds=2)


def test_health_page_in_a_browser(live, tmp_path):
    dom = render(f"{live.url}/", SCREENSHOTS / "health.png", tmp_path / "profile")
    assert polled(dom) >= 1
    # the groups, redrawn by the poll, worst first, and the hostile name as text only
    assert dom.index('data-group="acme"') < dom.index('data-group="beta"')
    assert "66.7 %" in dom and "5/80" in dom and "3/40" in dom
    assert "&lt;img src=x onerror=\"alert(1)\"&gt;&lt;U+202E&gt;.evil.test" in dom
    assert "<img" not in dom and "\u202e" not in dom
    assert 'id="poll-state" class="poll-state">· refreshes every 2 s' in dom


def test_health_page_filtered_in_a_browser(live, tmp_path):
    dom = render(f"{live.url}/?status=warning", SCREENSHOTS / "health-warning.png",
                 tmp_path / "profile")
    assert polled(dom) >= 1
    assert 'data-mailbox="b.acme.test"' in dom and 'data-mailbox="a.acme.test"' not in dom
    assert 'data-group="beta"' not in dom


def test_trends_page_in_a_browser(live, tmp_path):
    dom = render(f"{live.url}/trends", SCREENSHOTS / "trends.png", tmp_path / "profile")
    assert polled(dom) >= 1
    assert dom.count("<polyline") >= 5  # team and domain metrics drawn as lines
    assert "+50.0 %" in dom and "+100.0 %" in dom
    assert "acme &amp; co &lt;U+2067&gt;&lt;script&gt;" in dom
    assert HOSTILE_TEAM not in dom and "\u2067" not in dom


def test_activity_page_in_a_browser(live, tmp_path):
    dom = render(f"{live.url}/activity", SCREENSHOTS / "activity.png", tmp_path / "profile")
    assert polled(dom) >= 1
    assert "<code>mailops contacts undo run-cleanup-1</code>" in dom
    assert "run-quarantine-1" in dom and "run-guard-2" in dom
    assert "run-reset-1" in dom and "run-freeze-1" in dom
    assert "&lt;b&gt;spam&lt;/b&gt;&lt;U+202E&gt;@junk.xyz" in dom and HOSTILE_SENDER not in dom
    assert "\u202e" not in dom
    assert HOSTILE_DOMAIN not in dom


def test_the_token_form_in_a_browser_logs_in_by_post_and_leaves_no_token_in_history(
    run_dashboard, tmp_path
):
    # Given a dashboard with a token, and a browser asking for a filtered page
    dash = run_dashboard(token=TOKEN, refresh_seconds=2)
    browser = Browser(tmp_path / "profile")
    try:
        browser.call("Page.navigate", url=f"{dash.url}/trends?q=plain")
        browser.wait_for("document.readyState === 'complete' && "
                         "!!document.querySelector('input[name=token]')")
        assert "acme" not in browser.evaluate("document.body.innerText")
        browser.screenshot(SCREENSHOTS / "token-form.png")
        # When the token is typed into the form and the form is submitted
        browser.evaluate(f"document.querySelector('input[name=token]').value = '{TOKEN}'; "
                         "document.querySelector('.login button').click()")
        # Then the page asked for opens, and its poll runs on the cookie
        browser.wait_for("location.pathname === '/trends' && "
                         "Number(document.body.dataset.polled || 0) >= 1")
        assert browser.evaluate("location.search") == "?q=plain"
        browser.screenshot(SCREENSHOTS / "trends-after-login.png")
        # And no address the browser visited carries the token
        history = browser.call("Page.getNavigationHistory")["entries"]
        assert [e["url"] for e in history][-1] == f"{dash.url}/trends?q=plain"
        assert not any(TOKEN in e["url"] for e in history)
        # And the cookie is HttpOnly (no script reads it), SameSite=Strict, not the token
        [cookie] = [c for c in browser.call("Network.getCookies")["cookies"]
                    if c["name"] == COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        assert browser.evaluate("document.cookie") == ""
        # When the browser logs out
        browser.evaluate("document.querySelector('form.logout button').click()")
        browser.wait_for("location.pathname === '/login' && "
                         "!!document.querySelector('input[name=token]')")
        # Then the cookie is gone
        names = [c["name"] for c in browser.call("Network.getCookies")["cookies"]]
        assert COOKIE not in names
    finally:
        browser.close()


def test_a_token_in_the_address_is_refused_in_a_browser(run_dashboard, tmp_path):
    dash = run_dashboard(token=TOKEN, refresh_seconds=2)
    dom = render(f"{dash.url}/?token={TOKEN}", SCREENSHOTS / "token-in-address.png",
                 tmp_path / "profile")
    assert "Authorization: Bearer" in dom and 'name="token"' in dom
    assert TOKEN not in dom and 'data-group="acme"' not in dom


def test_weekly_report_page_in_a_browser(tmp_path):
    # Given the weekly report's HTML file, drawn with the dashboard's templating and charts,
    # for a team whose name carries markup and a right-to-left override
    from datetime import date, timedelta

    import pandas as pd
    from fixtures_trends import TrendRows

    from mailops.report.render_weekly import render_html
    from mailops.report.weekly import build_report
    from mailops.settings import ReportSettings

    rows = TrendRows()
    teams = [rows.team(date(2026, 10, 19) + timedelta(days=offset), HOSTILE_TEAM,
                       quarantine_backlog=10 + offset, weekly_used=100 * (offset // 7))
             for offset in range(35)]
    no_alerts = pd.DataFrame(columns=["day", "job", "key", "subject", "severity", "message"])
    no_audit = pd.DataFrame(columns=["run_id", "job", "target", "field", "old_value",
                                     "new_value", "reason", "changed_at", "label"])
    report = build_report("2026-W47", pd.DataFrame(teams), pd.DataFrame(), no_alerts,
                          no_audit, ReportSettings())
    page = tmp_path / "weekly-2026-W47.html"
    page.write_text(render_html(report), encoding="utf-8")
    # When a browser opens the file
    dom = render(page.as_uri(), SCREENSHOTS / "weekly-report.png", tmp_path / "profile")
    # Then its charts are SVG lines with a dot a week, and the name stays text, its override
    # a visible marker
    assert dom.count("<polyline") == 2 and dom.count("<circle") == 10  # 2 team metrics
    assert "acme &amp; co &lt;U+2067&gt;&lt;script&gt;" in dom
    assert HOSTILE_TEAM not in dom and "\u2067" not in dom and "<script>alert" not in dom
