"""The JSON edge: typed results to JSON-ready data and back, by their fields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from mailops.health import DailyHealthResult, HealthReport
from mailops.jsonable import AS_TEXT, FLATTEN, from_jsonable, renamed, to_jsonable
from mailops.models.health import CollectionFailure, DomainHealth, TeamHealth, TopSender
from mailops.rules.alerts import Alert, Severity
from mailops.rules.shard import Shard
from mailops.spool_import import SpoolImport


@dataclass(frozen=True)
class Inner:
    a: int
    b: str


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(metadata=FLATTEN)
    shard: Shard = field(metadata=AS_TEXT)
    items: list[Inner] = field(metadata=renamed("things"))
    when: date | None = None


def test_fields_are_flattened_renamed_and_written_as_text():
    value = Outer(Inner(1, "x"), Shard(2, 3), [Inner(2, "y")], date(2026, 10, 4))
    assert to_jsonable(value) == {
        "a": 1, "b": "x", "shard": "2/3", "things": [{"a": 2, "b": "y"}], "when": "2026-10-04",
    }


@dataclass(frozen=True)
class Said:
    JSON_EXTRAS = ("in_words",)

    n: int

    def in_words(self) -> str:
        return f"{self.n} things"


def test_a_class_adds_the_values_it_names_in_json_extras_after_its_fields():
    assert to_jsonable(Said(2)) == {"n": 2, "in_words": "2 things"}
    assert from_jsonable(Said, {"n": 2, "in_words": "2 things"}) == Said(2)


def test_a_flattened_field_that_is_none_adds_nothing():
    @dataclass(frozen=True)
    class Maybe:
        inner: Inner | None = field(default=None, metadata=FLATTEN)
        note: str = ""

    assert to_jsonable(Maybe()) == {"note": ""}
    assert to_jsonable(Maybe(Inner(1, "x"))) == {"a": 1, "b": "x", "note": ""}


def test_scalars_enums_instants_and_containers_become_json_values():
    instant = datetime(2026, 10, 4, 8, tzinfo=UTC)
    data = to_jsonable({"s": Severity.CRITICAL, "t": instant, "n": (1, 2), 3: None})
    assert data == {"s": "critical", "t": "2026-10-04T08:00:00+00:00", "n": [1, 2], "3": None}
    json.dumps(data)  # nothing left that JSON cannot hold


def test_a_team_and_a_domain_come_back_from_their_json(trend_rows):
    team = TeamHealth(**{**vars(trend_rows.team_health("acme")),
                         "top_senders": [TopSender("a@example.com", 3, "unset", None)]})
    domain = trend_rows.domain_health("mail.example", outbound_sent_today=40)
    assert from_jsonable(TeamHealth, to_jsonable(team)) == team
    assert from_jsonable(list[DomainHealth], to_jsonable([domain])) == [domain]


def test_a_domain_is_json_in_the_flat_shape_spool_files_of_version_1_hold(trend_rows):
    domain = trend_rows.domain_health("mail.example", outbound_sent_today=40)
    data = to_jsonable(domain)
    assert data["name"] == "mail.example" and data["outbound_sent_today"] == 40
    assert "partner_ref" in data and "outbound" not in data


def test_data_that_is_not_the_type_is_refused_as_a_value_error():
    with pytest.raises(ValidationError):
        from_jsonable(CollectionFailure, {"api": "Cleanbox", "subject": "acme"})
    assert issubclass(ValidationError, ValueError)  # what a spool import leaves in place


def test_the_daily_health_result_is_the_json_the_command_prints(trend_rows):
    report = HealthReport(
        date(2026, 10, 4), datetime(2026, 10, 4, 8, tzinfo=UTC),
        [trend_rows.team_health("acme")], [trend_rows.domain_health("mail.example")],
        [Alert("weekly_usage", Severity.WARNING, "acme", "at 91 %", 91.0, 90.0)],
        [CollectionFailure("EmBoux", "other.example", "answered 503")],
    )
    result = DailyHealthResult(report, Shard(1, 2), SpoolImport(imported=["a.json"]),
                               None, "slack webhook")
    data = to_jsonable(result)
    assert set(data) == {"day", "as_of", "teams", "domains", "alerts", "errors", "shard",
                         "spool", "spool_file", "notification"}
    assert data["day"] == "2026-10-04" and data["shard"] == "1/2"
    assert data["alerts"] == [{"key": "weekly_usage", "severity": "warning",
                               "subject": "acme", "message": "at 91 %", "value": 91.0,
                               "threshold": 90.0}]
    assert data["errors"] == [{"api": "EmBoux", "subject": "other.example",
                               "message": "answered 503"}]
    assert data["spool"] == {"imported": ["a.json"], "unreadable": [], "waiting": None}
    assert data["teams"][0]["quarantine_backlog"] == report.teams[0].quarantine_backlog
