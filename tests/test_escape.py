"""Escaping of untrusted text for Slack, HTML and CSV."""

from __future__ import annotations

from mailops.report.escape import csv_cell, html_text, markdown_text, mrkdwn, terminal_text


def test_mrkdwn_escapes_the_three_control_characters():
    assert mrkdwn("a & b <c> d") == "a &amp; b &lt;c&gt; d"


def test_mrkdwn_cannot_smuggle_a_link_or_a_special_mention():
    text = mrkdwn("<https://evil.example|click> <!channel> <@U123>")
    assert "<" not in text and ">" not in text


def test_mrkdwn_defuses_bare_broadcast_words():
    assert "@channel" not in mrkdwn("hi @channel and @HERE")
    assert mrkdwn("boss@corp.com") == "boss@corp.com"


def test_html_text_escapes_tags_and_quotes():
    assert html_text('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"


def test_csv_cell_neutralises_formula_starts_and_leaves_numbers():
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    for start in "+-@":
        assert csv_cell(f"{start}1") == f"'{start}1"
    assert csv_cell("plain@example.com") == "plain@example.com"
    assert csv_cell(-5) == -5


def test_terminal_text_drops_escape_sequences():
    assert terminal_text("evil\x1b[2Jsender") == "evil?[2Jsender"


def test_markdown_text_shows_markup_literally():
    assert markdown_text("*bold* [x](http://e) <b>") == (
        "\\*bold\\* \\[x\\]\\(http://e\\) &lt;b&gt;"
    )
