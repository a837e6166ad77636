"""Untrusted text stays text: escaping for Slack mrkdwn, HTML, Markdown, the terminal and CSV
in one place.

Sender addresses, subjects, team and domain names come from strangers; anything that came
from an API passes through one of these before it is shown.

Invisible characters are made visible first, by every escaper here (`visible`): a character
that shows nothing but changes how the text around it reads becomes the marker `<U+hhhh>`
(its code point, four hex digits or more), so `\\u202egnp.exe@rtl.example`, which a screen
shows as "elpmaxe.ltr@exe.png", is shown as `<U+202E>gnp.exe@rtl.example`. Each format then
escapes the marker like any text (`&lt;U+202E&gt;` in HTML and mrkdwn, which Slack and a
browser show as `<U+202E>`). "Invisible" is Unicode's general category Cf (format characters),
decided by one function, `invisible`: it holds every bidi control (U+202A-U+202E,
U+2066-U+2069, U+200E, U+200F, U+061C), the zero-width space, joiners and word joiner
(U+200B-U+200D, U+2060), the byte order mark U+FEFF, the soft hyphen U+00AD and the tag
characters (U+E0001, U+E0020-U+E007F). The price: an emoji sequence joined by U+200D and a
zero-width non-joiner in Persian text show their markers too; a name an operator decides on is
worth more than its typography. Letters and marks that draw nothing (U+3164 HANGUL FILLER,
variation selectors) are not Cf and are left as written: Unicode's Default_Ignorable property
would name them, but Python's unicodedata does not carry it, and a home-made list would age.

What is stored stays as written (mailops.text keeps bidi controls on purpose): this is for
showing only. JSON for programs (the dashboard's /api, `--json`) keeps the text as stored.
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TypeVar, cast

from mailops.text import UNSTORABLE, storable

MARKER = "<U+{:04X}>"
T = TypeVar("T")
_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Slack turns these words into mentions only inside <!...>, which the escaping above
# prevents; an @-word on its own is still shown defused so nobody is paged by text.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# OWASP's CSV-injection rule (https://owasp.org/www-community/attacks/CSV_Injection; ASVS
# 5.0 V1.2.10, CWE-1236): a cell may not begin with these ...
_FORMULA_FIRST = ("=", "+", "-", "@", "|")
# ... nor start with a tab, CR or LF (blanks a spreadsheet may trim before reading a formula).
_CONTROL_FIRST = ("\t", "\r", "\n")


def invisible(char: str) -> bool:
    """Whether `char` must be shown as its marker: a Unicode format character (category Cf),
    which draws nothing yet reorders, joins or hides the text around it."""
    return unicodedata.category(char) == "Cf"


def visible(text: object) -> str:
    """`text` with every invisible character replaced by its marker `<U+hhhh>`; every other
    character as written. Printable text has none (every Cf character is unprintable to
    `str.isprintable`), so it is returned at once."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(MARKER.format(ord(c)) if invisible(c) else c for c in value)


def visible_values(value: T) -> T:
    """A JSON-like value (dicts, lists, tuples, strings) of the same shape with every string
    made `visible` and everything else as it is: for tables shown cell by cell as they are
    (Prefect table artifacts, the dashboard's page poll)."""
    if isinstance(value, str):
        return cast(T, visible(value))
    if isinstance(value, dict):
        return cast(T, {key: visible_values(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return cast(T, type(value)(visible_values(item) for item in value))
    return value


def mrkdwn(text: object) -> str:
    """Text safe inside a Slack mrkdwn field: no links, no mentions, no markup injection, no
    invisible character (its marker instead)."""
    escaped = visible(text).translate(_MRKDWN)
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), escaped)


def html_text(text: object) -> str:
    """Text safe inside HTML element content and quoted attributes, invisible characters as
    their markers."""
    return html.escape(visible(text), quote=True)


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula; numbers pass unchanged.

    OWASP's CSV-injection rule (https://owasp.org/www-community/attacks/CSV_Injection, and
    ASVS 5.0 V1.2.10): text whose first non-blank character is `=`, `+`, `-` or `@`, or that
    starts with a tab, CR or LF, gets a single quote in front, which spreadsheets read as
    "this is text" (blanks count: a spreadsheet that trims them on import would otherwise
    read the formula behind them).
    `|` is guarded the same way although OWASP's current list leaves it out: it is how DDE
    payloads (`|cmd '/C calc'!A0`) reach a shell, and a quote in front of a domain or partner
    reference that starts with one costs nothing. A NUL (and any other control character but
    tab and newline, so a leading CR too, once the guard is decided on the text as given)
    becomes U+FFFD, the store's rule (mailops.text): a NUL in a CSV cuts the cell in some
    readers and is refused by others. Invisible characters become their markers. Numbers
    typed as numbers (int, float, a negative one too) are returned as they are; a number
    written as text is text.
    """
    if not isinstance(value, str):
        return value
    text = visible(storable(value))
    return "'" + text if runs_as_formula(value) else text


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could read `text` as a formula by OWASP's rule (see csv_cell):
    it starts with a tab, CR or LF, or its first non-blank character is `=`, `+`, `-`, `@`
    or `|`."""
    return text.startswith(_CONTROL_FIRST) or text.lstrip().startswith(_FORMULA_FIRST)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV (a header, then rows, `\\n` line ends), every cell through `csv_cell`: the
    one way mailops writes CSV, so no export can forget the guard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(cell) for cell in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def terminal_text(text: object) -> str:
    """Text safe to print on a terminal: no escape sequences, other control characters or
    lone surrogates (the store's rule, mailops.text, with a plain `?`), and invisible
    characters as their markers."""
    return visible(UNSTORABLE.sub("?", str(text)))


def markdown_text(text: object) -> str:
    """Text shown literally in Markdown (Prefect artifacts): markup and HTML neutralised,
    invisible characters as their markers."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html_text(text).replace("\n", " "))
