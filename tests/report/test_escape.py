"""Escaping of untrusted text for Slack, HTML, Markdown, the terminal and CSV."""

from __future__ import annotations

import ast
import sys
import unicodedata
from pathlib import Path

from mailops.report.escape import (
    csv_cell,
    html_text,
    invisible,
    markdown_text,
    mrkdwn,
    terminal_text,
    visible,
    visible_values,
)

ROOT = Path(__file__).resolve().parents[2]
RTL_SENDER = "\u202egnp.exe@rtl.example"  # reads as "elpmaxe.ltr@exe.png"
BIDI_CONTROLS = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
ZERO_WIDTH = [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]


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
    root = ROOT
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


# --- invisible characters made visible ----------------------------------------------------------


def test_every_escaper_shows_a_right_to_left_override_as_a_visible_marker():
    # Given a sender whose right-to-left override makes it read as another address
    # When it is escaped for Slack, HTML, Markdown, the terminal and CSV
    shown = {
        "mrkdwn": mrkdwn(RTL_SENDER), "html": html_text(RTL_SENDER),
        "markdown": markdown_text(RTL_SENDER), "terminal": terminal_text(RTL_SENDER),
        "csv": csv_cell(RTL_SENDER),
    }
    # Then none carries the override, and each shows its marker as that format writes "<"
    assert not any("\u202e" in text for text in shown.values())
    assert shown == {
        "mrkdwn": "&lt;U+202E&gt;gnp.exe@rtl.example",
        "html": "&lt;U+202E&gt;gnp.exe@rtl.example",
        "markdown": "&lt;U\\+202E&gt;gnp\\.exe@rtl\\.example",
        "terminal": "<U+202E>gnp.exe@rtl.example",
        "csv": "<U+202E>gnp.exe@rtl.example",
    }


def test_every_bidi_control_and_zero_width_character_becomes_its_marker():
    for code in (*BIDI_CONTROLS, *ZERO_WIDTH):
        # Given the character between two letters
        text = f"a{chr(code)}b"
        # When it is made visible
        # Then it is its code point in the marker, the letters around it as they were
        assert visible(text) == f"a<U+{code:04X}>b", hex(code)
        assert terminal_text(text) == f"a<U+{code:04X}>b"


def test_invisible_means_unicode_format_characters_and_none_of_them_is_printable():
    # Given every code point of the Unicode database Python carries
    format_characters = [chr(c) for c in range(sys.maxunicode + 1)
                         if unicodedata.category(chr(c)) == "Cf"]
    # Then "invisible" is exactly category Cf (format characters)...
    assert all(invisible(c) for c in format_characters)
    assert not any(invisible(c) for c in "aé用 \t\n\ufffd\U0001F600\u0301\u2028")
    # ...and none of them is printable, so text that is printable is left as it is at once
    assert not any(c.isprintable() for c in format_characters)


def test_visible_keeps_every_other_character_as_written():
    for text in ("josé.müller@bücher.example", "用户@例子.广告", "line\nnext\ttab", "\ufffd",
                 "<U+202E> written by hand", "smile \U0001F600", ""):
        assert visible(text) == text


def test_the_broadcast_defusing_of_mrkdwn_keeps_its_own_zero_width_space():
    # Given a stranger's own zero-width space, and a bare @channel
    text = mrkdwn("pay\u200bpal @channel")
    # Then the stranger's is shown, and the one mrkdwn puts in to defuse the mention stays
    assert text == "pay&lt;U+200B&gt;pal @\u200bchannel"


def test_visible_values_shows_every_string_of_nested_rows_and_keeps_the_rest():
    rows = [{"from": RTL_SENDER, "count": 3, "tags": ["\u2066x", None], "ok": True}]
    assert visible_values(rows) == [
        {"from": "<U+202E>gnp.exe@rtl.example", "count": 3, "tags": ["<U+2066>x", None],
         "ok": True}]
    assert rows[0]["from"] == RTL_SENDER  # the data itself stays as written


def test_every_table_artifact_shows_its_strings_through_visible_values():
    # Given every Prefect table artifact the tasks and flows create
    calls = []
    for package in ("tasks", "flows"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {
                        "create_table_artifact", "acreate_table_artifact"}:
                    table = next(k.value for k in node.keywords if k.arg == "table")
                    calls.append((str(path.relative_to(ROOT)), node.lineno, table))
    assert len(calls) >= 6
    # Then each table is passed through visible_values (a table cell is shown as it is)
    unshown = [(path, line) for path, line, table in calls
               if not (isinstance(table, ast.Call)
                       and getattr(table.func, "id", "") == "visible_values")]
    assert unshown == []
