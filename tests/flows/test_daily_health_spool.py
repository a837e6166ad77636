"""Nothing collected is lost: a day the store cannot take is spooled, reported, imported later.

Issue 18 saw a corrupt SQLite store lose a day's figures and its Slack report. Now the day
goes to `<data>/spool/`, the report still reaches Slack, the run fails naming both, and the
next run with a working store imports the spool first.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import tasks.health as health_tasks
from flows.daily_health import daily_health
from flows.run import run_flow
from mailops.errors import SpoolError
from mailops.jsonable import to_jsonable
from mailops.ports import free_port
from mailops.store import Store, team_daily
from mailops.store.spool import Spool

# --- the spool's files (no Prefect, no store) ---------------------------------------------


def test_a_spooled_payload_is_pending_until_marked_imported(tmp_path):
    # Given a spool with two files of one kind and one of another
    spool = Spool(tmp_path / "spool")
    first = spool.write("daily-health", "2026-10-04-a", {"n": 1})
    second = spool.write("daily-health", "2026-10-05-b", {"n": 2})
    spool.write("billing-freeze", "2026-09", {"rows": []})
    # When the first is imported
    assert spool.pending("daily-health") == [first, second]
    moved = spool.mark_imported(first)
    # Then only the second is pending, the first is kept under imported/, no temporary left
    assert spool.pending("daily-health") == [second]
    assert moved == tmp_path / "spool" / "imported" / first.name and moved.is_file()
    assert spool.read(second) == {"n": 2}
    assert not list((tmp_path / "spool").glob(".*"))
    assert spool.mark_imported(first) is None  # already gone: another run took it


def test_a_spool_file_is_never_overwritten(tmp_path):
    spool = Spool(tmp_path)
    first = spool.write("daily-health", "same", {"n": 1})
    second = spool.write("daily-health", "same", {"n": 2})
    assert first != second and spool.read(first) == {"n": 1} and spool.read(second) == {"n": 2}


def test_a_corrupt_spool_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "daily-health-x.json"
    path.write_text("{not json")
    with pytest.raises(SpoolError, match="daily-health-x.json"):
        Spool(tmp_path).read(path)


# --- daily-health over a broken store -------------------------------------------------------

@pytest.fixture
def quick_store_retries(monkeypatch):
    """store_day's three retries without their 21 s of waiting."""
    monkeypatch.setattr(health_tasks, "store_day",
                        health_tasks.store_day.with_options(retry_delay_seconds=0))


def broken_store(kind: str, env, monkeypatch) -> None:
    """A corrupt SQLite file (garbage bytes), or a PostgreSQL URL nobody answers."""
    if kind == "corrupt sqlite":
        path = env.database_url.removeprefix("sqlite:///")
        with open(path, "wb") as file:
            file.write(b"this is not a database\x00\xff" * 512)
    else:
        monkeypatch.setenv("MAILOPS_DATABASE_URL",
                           f"postgresql://mailops:pw@127.0.0.1:{free_port()}/mailops")


def working_store(kind: str, env, monkeypatch, request) -> str:
    """The store repaired: a fresh SQLite file, or a real PostgreSQL database."""
    if kind == "corrupt sqlite":
        path = env.database_url.removeprefix("sqlite:///")
        for leftover in (f"{path}-wal", f"{path}-shm"):
            Path(leftover).unlink(missing_ok=True)
        Path(path).write_bytes(b"")  # emptied: SQLite creates a database in an empty file
        return env.database_url
    server = request.getfixturevalue("local_postgres")
    name = f"spool_{free_port()}"
    url = server.create_database(name)
    request.addfinalizer(lambda: server.drop_database(name))
    monkeypatch.setenv("MAILOPS_DATABASE_URL", url)
    return url


@pytest.mark.usefixtures("prefect_harness", "quick_store_retries")
@pytest.mark.parametrize("kind", ["corrupt sqlite", "unreachable postgresql"])
def test_a_day_the_store_cannot_take_is_spooled_reported_and_imported_next_run(
    mailops_env, monkeypatch, request, cli, kind
):
    # Given a store that cannot be written
    sandbox = mailops_env.sandbox
    broken_store(kind, mailops_env, monkeypatch)
    # When daily-health runs
    first = run_flow(daily_health, as_of=sandbox.now())
    # Then the run failed naming the store and the spool file, which holds the whole day
    assert not first.ok and not first.unexpected
    [spooled] = (mailops_env.data_dir / "spool").glob("daily-health-*.json")
    day = first.result.report.day.isoformat()
    assert spooled.name == f"daily-health-{day}-shard-1of1-{first.run_id}.json"
    assert "the store could not be written" in first.message and str(spooled) in first.message
    assert "pw@" not in first.message
    kept = json.loads(spooled.read_text())
    assert {t["team"] for t in kept["teams"]} == set(sandbox.team_keys)
    # ...and the report still reached Slack, saying the day is not stored
    [post] = sandbox.slack_posts()
    assert "store_unavailable" in {a.key for a in first.result.report.alerts}
    assert first.result.spool_file == str(spooled)
    assert "the store could not be written" in json.dumps(post["payload"])
    # When the store works again and the next day runs
    url = working_store(kind, mailops_env, monkeypatch, request)
    next_day = (sandbox.now() + timedelta(days=1)).isoformat()
    answer = CliRunner().invoke(cli, [
        "health", "--as-of", next_day, "--no-notify"])
    # Then it imported the spool first, said so, and moved the file to imported/
    assert answer.exit_code == 0, answer.output
    assert f"Imported 1 spooled day(s) first: {spooled.name}." in answer.stdout
    assert not spooled.exists() and (spooled.parent / "imported" / spooled.name).is_file()
    # ...and the spooled day's rows are in the store, as collected
    with Store(url) as store, store.engine.connect() as conn:
        query = select(team_daily).where(team_daily.c.day == date.fromisoformat(kept["day"]))
        rows = conn.execute(query).all()
    assert {row.team: row.quarantine_backlog for row in rows} == {
        t["team"]: t["quarantine_backlog"] for t in kept["teams"]}


@pytest.mark.usefixtures("prefect_harness")
def test_a_corrupt_spool_file_is_left_in_place_with_a_warning_and_the_run_goes_on(
    mailops_env, cli
):
    # Given a spool file that is not JSON
    folder = mailops_env.data_dir / "spool"
    folder.mkdir(parents=True)
    corrupt = folder / "daily-health-2026-01-01-shard-1of1-lost.json"
    corrupt.write_bytes(b'{"day": "2026-01-01", "teams": [\xff')
    # When daily-health runs
    answer = CliRunner().invoke(cli, ["health", "--as-of", mailops_env.sandbox.now().isoformat(),
                                      "--no-notify"])
    # Then the day was collected and stored, and the file is still there, named in one line
    assert answer.exit_code == 0, answer.output
    assert corrupt.is_file()
    [line] = [s for s in answer.stdout.splitlines() if "Spool file left in place" in s]
    assert str(corrupt) in line
    with mailops_env.store() as store, store.engine.connect() as conn:
        assert len(conn.execute(select(team_daily)).all()) == len(mailops_env.sandbox.team_keys)


def test_a_spooled_day_imported_twice_replaces_its_rows(any_store, trend_rows):
    # Given one spooled day's payload, as spool_day writes it
    from datetime import UTC, datetime

    teams = [trend_rows.team_health("acme", quarantine_backlog=12)]
    domains = [trend_rows.domain_health("mail.example", outbound_sent_today=40)]
    payload = {
        "version": health_tasks.SPOOL_VERSION, "job": health_tasks.JOB, "run_id": "r1",
        "shard": "1/1", "day": "2026-10-04", "as_of": datetime(2026, 10, 4, 8, tzinfo=UTC)
        .isoformat(), "teams": to_jsonable(teams), "domains": to_jsonable(domains),
        "failures": [],
    }
    # When it is imported twice (a crash between the import and the move)
    health_tasks._import_day(any_store, payload)
    health_tasks._import_day(any_store, payload)
    # Then the day holds one row per team and domain, and its alerts once
    stored_teams, stored_domains = any_store.trends.of_day(date(2026, 10, 4))
    assert [(t.team, t.quarantine_backlog) for t in stored_teams] == [("acme", 12)]
    assert [(d.name, d.outbound.outbound_sent_today) for d in stored_domains] == [
        ("mail.example", 40)]
    keys = [a.key for a in any_store.alerts.of_day(date(2026, 10, 4), health_tasks.JOB)]
    assert keys.count("quarantine_backlog") == 1


def test_a_day_spooled_by_version_1_is_imported_with_its_quarantine_backlog(
    any_store, trend_rows
):
    # Given a file spooled before the upgrade: version 1 named the backlog quarantine_pending
    teams = [to_jsonable(trend_rows.team_health("acme", quarantine_backlog=12))]
    teams[0]["quarantine_pending"] = teams[0].pop("quarantine_backlog")
    payload = {
        "version": 1, "job": health_tasks.JOB, "run_id": "r0", "shard": "1/1",
        "day": "2026-10-03", "as_of": "2026-10-03T08:00:00+00:00", "teams": teams,
        "domains": [], "failures": [],
    }
    # When it is imported
    health_tasks._import_day(any_store, payload)
    # Then its team is stored with the backlog it counted
    stored_teams, _ = any_store.trends.of_day(date(2026, 10, 3))
    assert [(t.team, t.quarantine_backlog) for t in stored_teams] == [("acme", 12)]


def test_a_spool_of_another_version_is_refused():
    with pytest.raises(ValueError, match="version 1 or 2"):
        health_tasks._import_day(None, {"version": 3, "job": health_tasks.JOB})
