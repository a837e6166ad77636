"""Untrusted text stays text: escaping for Slack mrkdwn, HTML and CSV in one place.

Sender addresses and subjects come from strangers; anything that came from an API passes
through one of these before it is shown.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence

from mailops.text import UNSTORABLE, storable

_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Slack turns these words into mentions only inside <!...>, which the escaping above
# prevents; an @-word on its own is still shown defused so nobody is paged by text.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# OWASP's CSV-injection rule (https://owasp.org/www-community/attacks/CSV_Injection; ASVS
# 5.0 V1.2.10, CWE-1236): a cell may not begin with these ...
_FORMULA_FIRST = ("=", "+", "-", "@", "|")
# ... nor start with a tab, CR or LF (blanks a spreadsheet may trim before reading a formula).
_CONTROL_FIRST = ("\t", "\r", "\n")


def mrkdwn(text: object) -> str:
    """Text safe inside a Slack mrkdwn field: no links, no mentions, no markup injection."""
    escaped = str(text).translate(_MRKDWN)
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), escaped)


def html_text(text: object) -> str:
    """Text safe inside HTML element content and quoted attributes."""
    return html.escape(str(text), quote=True)


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula; numbers pass unchanged.

    OWASP's CSV-injection rule (https://owasp.org/www-community/attacks/CSV_Injection, and
    ASVS 5.0 V1.2.10): text whose first non-blank character is `=`, `+`, `-` or `@`, or that
    starts with a tab, CR or LF, gets a single quote in front, which spreadsheets read as
    "this is text" (the blanks count because Excel and LibreOffice trim them on import).
    `|` is guarded the same way although OWASP's current list leaves it out: it is how DDE
    payloads (`|cmd '/C calc'!A0`) reach a shell, and a quote in front of a domain or partner
    reference that starts with one costs nothing. A NUL (and any other control character but
    tab and newline, so a leading CR too, once the guard is decided on the text as given)
    becomes U+FFFD, the store's rule (mailops.text): a NUL in a CSV cuts the cell in some
    readers and is refused by others. Numbers typed as numbers (int, float, a
    negative one too) are returned as they are; a number written as text is text.
    """
    if not isinstance(value, str):
        return value
    guard = value.startswith(_CONTROL_FIRST) or value.lstrip().startswith(_FORMULA_FIRST)
    text = storable(value)
    return "'" + text if guard else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV (a header, then rows, `\n` line ends), every cell through `csv_cell`: the
    one way mailops writes CSV, so no export can forget the guard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(cell) for cell in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def terminal_text(text: object) -> str:
    """Text safe to print on a terminal: no escape sequences, other control characters or
    lone surrogates (the store's rule, mailops.text, with a plain `?`)."""
    return UNSTORABLE.sub("?", str(text))


def markdown_text(text: object) -> str:
    """Text shown literally in Markdown (Prefect artifacts): markup and HTML neutralised."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html_text(text).replace("\n", " "))
