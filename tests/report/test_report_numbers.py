"""The one number formatter for people: no e-notation, no float noise, separators."""

from __future__ import annotations

import pytest

from mailops.report.numbers import number, signed


@pytest.mark.parametrize(("value", "plain", "with_sign"), [
    (-7.1e-15, "0", "0"),  # a least-squares slope of a flat series
    (1.98e-17, "0", "0"),
    (-0.0, "0", "0"),
    (20060.0, "20,060", "+20,060"),
    (-20060.0, "-20,060", "-20,060"),
    (0.5, "0.50", "+0.50"),
    (12.345678, "12.35", "+12.35"),
    (1234567.891, "1,234,567.9", "+1,234,567.9"),
    (0.000123, "0.00012", "+0.00012"),
    (-0.000123, "-0.00012", "-0.00012"),
    (1e20, "100,000,000,000,000,000,000", "+100,000,000,000,000,000,000"),
    (None, "-", "-"),
    (float("nan"), "-", "-"),
])
def test_a_figure_reads_as_people_write_it(value, plain, with_sign):
    # Given a value the report computed
    # When it is formatted, plain and signed
    # Then it has no e-notation, noise is 0, whole numbers have separators
    assert number(value) == plain
    assert signed(value) == with_sign
    assert "e" not in plain.lower()


def test_a_missing_figure_can_be_shown_as_nothing():
    # Given the dashboard, which shows no value as an empty cell
    # When None is formatted with its own marker
    # Then the marker is shown
    assert number(None, missing="") == "" and signed(None, missing="") == ""
