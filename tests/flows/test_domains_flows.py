"""domain-onboarding, verification-watch and credential-rotation against the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailops.rules.domains import secret_block_name

pytestmark = pytest.mark.usefixtures("prefect_harness")


def invoke(cli, *args: str):
    return CliRunner().invoke(cli, ["domains", *args])


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def fingerprint(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()[:12]


def all_rows(database_url: str) -> str:
    """Every value of every table of the SQLite store, as one text."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'select * from "{table}"')
        )


async def artifacts_text() -> str:
    from prefect.client.orchestration import get_client

    from sandbox.evidence import every_page

    async with get_client() as client:  # the session's harness holds hundreds
        found = await every_page(client.read_artifacts)
    return "\n".join(f"{a.key} {a.description} {a.data}" for a in found)


def secret_value(domain: str) -> str:
    from prefect.blocks.system import Secret

    return str(Secret.load(secret_block_name(domain)).get())


# --- onboarding -----------------------------------------------------------------------------


def test_the_dry_run_shows_the_call_and_changes_nothing(domains_env, cli):
    name = domains_env.add_domain("dryrun-example.com")
    result = invoke(cli, "onboard", name)
    assert result.exit_code == 0, result.output
    assert f"POST /domains/{name}/verify" in result.stdout and "--apply" in result.stdout
    assert domains_env.domain(name)["verify_domain"] == name
    with domains_env.store() as store:
        store.upgrade()
        assert store.domains.onboarded() == []
    assert domains_env.sandbox.slack_posts() == []


def test_onboarding_a_domain_stores_and_posts_its_records(domains_env, cli):
    name = domains_env.add_domain("fresh-example.com")
    result = invoke(cli, "onboard", name, "--apply", "--json")
    assert result.exit_code == 0, result.output
    body = last_json(result)
    assert body["status"] == "Pending" and body["parent"] is None
    records = body["dns_records"]
    assert records and {r["type"] for r in records} >= {"TXT"}
    with domains_env.store() as store:
        [stored] = store.domains.onboarded()
        assert stored.name == name and stored.dns_records == records and not stored.verified
        assert [s for s, _ in store.domains.status_history(name)] == ["Pending"]
    [post] = domains_env.sandbox.slack_posts()
    text = json.dumps(post)
    assert "```" in text and all(r["name"] in text for r in records)


def test_onboarding_a_subdomain_registers_it_under_its_parent(domains_env, cli):
    parent = domains_env.add_domain("parent-example.com")
    sub = domains_env.add_domain(f"news.{parent}")
    assert invoke(cli, "onboard", parent, "--apply", "--no-notify").exit_code == 0
    result = invoke(cli, "onboard", sub, "--apply", "--json")
    assert result.exit_code == 0, result.output
    body = last_json(result)
    assert body["parent"] == parent and body["domain"] == sub
    assert domains_env.domain(sub)["verify_domain"] == parent
    with domains_env.store() as store:
        assert store.domains.onboarded(sub)[0].parent == parent


def test_onboarding_a_public_suffix_is_refused_in_words_and_stores_nothing(domains_env, cli):
    # Given com.sg, a public suffix, which nobody registers
    # When it is onboarded
    result = invoke(cli, "onboard", "com.sg", "--apply")
    # Then the job stops with one line that says why (exit 2) and stores nothing
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("mailops: configuration error: 'com.sg' is a public suffix")
    assert "such as example.com.sg" in line
    with domains_env.store() as store:
        store.upgrade()
        assert store.domains.onboarded() == []


def test_dns_records_in_slack_are_escaped():
    from mailops.report.slack import domain_onboarding_message
    from mailops.store import DomainRecord

    message = domain_onboarding_message(DomainRecord(
        name="x.com", parent=None, provider="mailgun",
        dns_records=[{"type": "TXT", "name": "<!channel>", "value": "a&b `x` @here"}],
        status="Pending", verified=False, onboarded_at=datetime(2026, 10, 4, tzinfo=UTC),
    ))
    text = json.dumps(message)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "a&amp;b" in text and "@here" not in text


# --- verification-watch ---------------------------------------------------------------------


def test_status_changes_are_recorded_once_and_a_verified_domain_is_reported(domains_env, cli):
    name = domains_env.add_domain("watched-example.com")
    start = domains_env.sandbox.now()
    at = start.isoformat()
    assert invoke(cli, "onboard", name, "--apply", "--no-notify", "--as-of", at).exit_code == 0
    first = invoke(cli, "watch", "--json", "--as-of", at)
    again = invoke(cli, "watch", "--json", "--as-of", at)
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert last_json(first)["changes"] == [] and last_json(first)["verified"] == []
    domains_env.sandbox.advance(hours=2)
    later = (start + timedelta(hours=2)).isoformat()
    result = invoke(cli, "watch", "--as-of", later)
    assert result.exit_code == 0, result.output
    assert f"verified: {name} (outbound mail now possible)" in result.stdout
    assert last_json(invoke(cli, "watch", "--json", "--as-of", later))["polled"] == 0
    with domains_env.store() as store:
        history = store.domains.status_history(name)
        assert [s for s, _ in history] == ["Pending", "Success"]
        assert history[1][1] == start + timedelta(hours=2)
        assert store.domains.onboarded(name)[0].verified
    assert any(name in json.dumps(p) and "verified" in json.dumps(p)
               for p in domains_env.sandbox.slack_posts())


def test_a_domain_still_pending_at_the_threshold_raises_an_alert(domains_env, cli):
    name = domains_env.add_domain("stuck-example.com")
    start = domains_env.sandbox.now()
    assert invoke(cli, "onboard", name, "--apply", "--no-notify",
                  "--as-of", start.isoformat()).exit_code == 0
    before = invoke(cli, "watch", "--json", "--as-of",
                    (start + timedelta(days=2, hours=23)).isoformat())
    assert last_json(before)["alerts"] == []
    at = start + timedelta(days=3)
    result = invoke(cli, "watch", "--json", "--as-of", at.isoformat())
    assert result.exit_code == 0, result.output
    [alert] = last_json(result)["alerts"]
    assert alert["subject"] == name and alert["key"] == "verification_pending"
    assert "v=spf1" in alert["message"] or "TXT" in alert["message"]
    with domains_env.store() as store:
        assert [a.subject for a in store.alerts.of_day(at.date(), "verification-watch")] == [name]


# --- credential-rotation ----------------------------------------------------------------------


def test_rotation_stores_the_password_in_a_secret_block_and_nowhere_else(
    domains_env, cli, caplog
):
    name = next(iter(domains_env.sandbox.truth("emboux")["emboux"]["domains"]))
    caplog.set_level(logging.DEBUG)
    dry = invoke(cli, "rotate-credential", name)
    assert dry.exit_code == 0 and "Dry run" in dry.stdout
    assert domains_env.domain(name)["credential"] is None
    result = invoke(cli, "rotate-credential", name, "--apply")
    assert result.exit_code == 0, result.output
    assert f"prefect-secret:{secret_block_name(name)}" in result.stdout
    password = secret_value(name)
    assert fingerprint(password) == domains_env.domain(name)["credential"]["password_fingerprint"]
    assert password not in result.output and password not in caplog.text
    assert password not in asyncio.run(artifacts_text())
    rows = all_rows(domains_env.database_url)
    assert password not in rows and "rotated" in rows
    with domains_env.store() as store:
        assert store.domains.onboarded(name)[0].credential_location.startswith("prefect-secret:")


def test_without_a_prefect_server_the_password_goes_to_a_0600_file(
    domains_env, cli, monkeypatch
):
    import tasks.domains

    monkeypatch.setattr(tasks.domains, "prefect_server_configured", lambda: False)
    name = list(domains_env.sandbox.truth("emboux")["emboux"]["domains"])[1]
    result = invoke(cli, "rotate-credential", name, "--apply", "--json")
    assert result.exit_code == 0, result.output
    path = Path(domains_env.data_dir) / "credentials" / f"{name}.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text()
    assert fingerprint(password) == domains_env.domain(name)["credential"]["password_fingerprint"]
    assert password not in result.output


def test_a_lost_answer_says_what_to_do_and_the_rerun_stores_the_installed_password(
    domains_env, cli
):
    name = list(domains_env.sandbox.truth("emboux")["emboux"]["domains"])[2]
    domains_env.sandbox.inject_fault(
        f"POST /emboux/domains/{name}/provider-credential", "lost_response", count=1
    )
    lost = invoke(cli, "rotate-credential", name, "--apply")
    assert lost.exit_code == 1
    assert "answer" in lost.stderr and "--apply` again" in lost.stderr
    installed = domains_env.domain(name)["credential"]["password_fingerprint"]
    with domains_env.store() as store:
        alerts = store.alerts.of_day(datetime.now(UTC).date(), "credential-rotation")
    assert [a.subject for a in alerts] == [name]
    rerun = invoke(cli, "rotate-credential", name, "--apply")
    assert rerun.exit_code == 0, rerun.output
    now_installed = domains_env.domain(name)["credential"]["password_fingerprint"]
    assert now_installed != installed and fingerprint(secret_value(name)) == now_installed


def test_master_only_calls_with_a_customer_token_give_a_clear_error(domains_env, cli):
    partner, token = next(iter(domains_env.sandbox.customer_tokens.items()))
    name = next(n for n, d in domains_env.sandbox.truth("emboux")["emboux"]["domains"].items()
                if d["partner_ref"] == partner)
    domains_env.use_token(token)
    result = invoke(cli, "rotate-credential", name, "--apply")
    assert result.exit_code == 1
    assert "needs the EmBoux master token" in result.stderr and "403" in result.stderr


def test_a_customer_cannot_onboard_another_partners_domain(domains_env, cli):
    (_mine, token), (other, _) = list(domains_env.sandbox.customer_tokens.items())[:2]
    name = domains_env.add_domain("not-mine-example.com", partner_ref=other)
    domains_env.use_token(token)
    result = invoke(cli, "onboard", name, "--apply")
    assert result.exit_code == 1
    assert f"POST /domains/{name}/verify failed" in result.stderr
    assert "404" in result.stderr or "not found" in result.stderr.lower()
    with domains_env.store() as store:
        store.upgrade()
        assert store.domains.onboarded() == []
