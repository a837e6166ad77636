"""A stranger's text never fails a write: every text column of every table, on SQLite and
PostgreSQL, stores any string (NUL, lone surrogates, bidi controls, 10,000 characters) as
`mailops.text.storable` makes it.

Issue 18 saw one NUL in a contact's email or a domain's `partner_ref` fail a whole day's write
on PostgreSQL. The clients' models apply the rule where an answer is parsed (test_text.py);
the store applies it again to every text column it binds (`StoredText`, `StoredString`), so
text that reached it any other way is stored too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Date, Float, Integer, Table, delete, insert, select

from mailops.store import Store
from mailops.store.schema import StoredText, UtcDateTime, metadata
from mailops.text import storable

# Every code point, surrogates and controls included (hypothesis leaves out Cs by default).
ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
HOSTILE = st.sampled_from([
    "\x00", "bob\x00@example.com", "\ud800", "\udfff", "\u202eevil\u202c", "\u2066x\u2069",
    "\x1b[2J", "\x85\x9b", "\r\n", "\ufffe\uffff", "😀", "",
])
TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.lists(st.one_of(HOSTILE, st.text(ANY_CHARACTER, max_size=4)), max_size=12).map("".join),
    st.tuples(st.text(ANY_CHARACTER, min_size=1, max_size=8), st.just(10_000)).map(
        lambda pair: (pair[0] * pair[1])[: pair[1]]
    ),
)
TABLES = [table for table in metadata.sorted_tables if table.name != "alembic_version"]


def text_columns(table: Table) -> list[str]:
    return [column.name for column in table.columns if isinstance(column.type, StoredText)]


def a_row(table: Table, text: str) -> dict[str, Any]:
    """A row of `table` with `text` in every text column and a plain value in the others."""
    plain: list[tuple[type, Any]] = [
        (UtcDateTime, datetime(2026, 10, 4, 6, 0, tzinfo=UTC)), (Date, date(2026, 10, 4)),
        (Boolean, False), (Integer, 1), (Float, 0.5),
    ]
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.autoincrement is True or (column.primary_key and isinstance(
                column.type, Integer) and len(table.primary_key.columns) == 1):
            continue  # the database numbers it
        if isinstance(column.type, StoredText):
            row[column.name] = text
            continue
        row[column.name] = next(value for kind, value in plain if isinstance(column.type, kind))
    return row


def test_every_table_has_its_text_columns_typed_as_stored_text():
    # A column declared as a plain String or Text would miss the rule
    from sqlalchemy import String, Text

    bare = [
        f"{table.name}.{column.name}" for table in TABLES for column in table.columns
        if isinstance(column.type, String | Text) and not isinstance(column.type, StoredText)
    ]
    assert bare == []
    assert sum(len(text_columns(table)) for table in TABLES) >= 60


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXT)
def test_any_text_in_any_column_is_stored_as_the_rule_makes_it(any_store: Store, text: str):
    # Given any text in every text column of one row of every table
    with any_store.engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(delete(table))
        # When the rows are written
        for table in TABLES:
            conn.execute(insert(table), [a_row(table, text)])
    # Then each reads back as storable(text) cut to its column: nothing refused, nothing lost
    with any_store.engine.connect() as conn:
        for table in TABLES:
            stored = conn.execute(select(table)).one()._mapping
            for name in text_columns(table):
                length = getattr(table.c[name].type.impl, "length", None)
                assert stored[name] == storable(text, length), f"{table.name}.{name}"


@pytest.mark.parametrize("text", ["\x00", "a\ud800b", "x" * 10_000, "\u202eexe.txt"])
def test_a_stored_text_is_found_by_the_same_text(any_store: Store, text: str):
    # Given an alert whose subject is a stranger's text (a where-clause binds it the same way)
    from mailops.rules.alerts import Alert, Severity

    day = date(2026, 10, 4)
    any_store.alerts.save(day, "daily-health", [Alert("k", Severity.WARNING, text, "m")])
    # When the day's alerts are read back
    found = any_store.alerts.of_day(day)
    # Then the one alert is there, its subject the storable text within its column
    assert [alert.subject for alert in found] == [storable(text, 512)]
