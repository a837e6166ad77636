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


# --- CSV: OWASP's CSV-injection rule ---------------------------------------------------------


def test_csv_cell_guards_a_formula_behind_leading_blanks():
    # Given formulas a spreadsheet may still run once it trims the blanks before them
    for text in (' =HYPERLINK("http://x.test","pay")', "  +1", "\u00a0-1", "\u3000@SUM(A1)"):
        # When each is made a CSV cell
        cell = csv_cell(text)
        # Then it is the same text behind a single quote
        assert cell == "'" + text


def test_csv_cell_guards_a_cell_that_starts_with_tab_cr_or_lf():
    for text in ("\t=", "\n=1+1", "\tplain"):
        assert csv_cell(text) == "'" + text
    # a CR is guarded too, and like every control character but tab and newline it is not
    # written as such (the store's rule: U+FFFD)
    assert csv_cell("\r=1+1") == "'\ufffd=1+1"


def test_csv_cell_guards_a_pipe_the_way_dde_payloads_use_it():
    assert csv_cell("|cmd '/C calc'!A0") == "'|cmd '/C calc'!A0"
    assert csv_cell(" |cmd") == "' |cmd"


def test_csv_cell_never_writes_a_nul():
    # Given texts holding a NUL, one of them before a formula
    for text in ("nul\x00byte.example", "\x00=1+1", "=1\x00"):
        # When each is made a CSV cell
        cell = csv_cell(text)
        # Then no NUL is left, and nothing that reads as a formula
        assert isinstance(cell, str) and "\x00" not in cell
        assert cell.lstrip()[:1] not in ("=", "+", "-", "@", "|")
    assert csv_cell("nul\x00byte.example") == "nul\ufffdbyte.example"


def test_csv_cell_leaves_numbers_typed_as_numbers_and_text_that_only_contains_operators():
    # Given negative numbers typed as numbers, and text with operators past its first char
    for number in (-5, -2.5, 0, 1_200, True):
        # Then the numbers stay numbers
        assert csv_cell(number) == number and type(csv_cell(number)) is type(number)
    for text in ("a=b", "plain@example.com", "x-1", "bücher.example", ""):
        assert csv_cell(text) == text
    # And a number written as text is text: guarded like any other
    assert csv_cell("-5") == "'-5"


def test_every_csv_mailops_writes_goes_through_the_one_helper():
    # Given every module of the library, the tasks, the flows and the commands
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for package in ("mailops", "tasks", "flows"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                csv_module = isinstance(node, ast.Attribute) and (
                    node.attr == "to_csv" or (node.attr in {"writer", "DictWriter"}
                    and isinstance(node.value, ast.Name) and node.value.id == "csv"))
                if csv_module:
                    found.append(str(path.relative_to(root)))
    # Then only mailops/report/escape.py writes CSV (its csv_text applies csv_cell to each cell)
    assert sorted(set(found)) == ["mailops/report/escape.py"]
