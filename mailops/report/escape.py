"""Untrusted text stays text: escaping for Slack mrkdwn, HTML and CSV in one place.

Sender addresses and subjects come from strangers; anything that came from an API passes
through one of these before it is shown.
"""

from __future__ import annotations

import html
import re

from mailops.text import UNSTORABLE

_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Slack turns these words into mentions only inside <!...>, which the escaping above
# prevents; an @-word on its own is still shown defused so nobody is paged by text.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def mrkdwn(text: object) -> str:
    """Text safe inside a Slack mrkdwn field: no links, no mentions, no markup injection."""
    escaped = str(text).translate(_MRKDWN)
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), escaped)


def html_text(text: object) -> str:
    """Text safe inside HTML element content and quoted attributes."""
    return html.escape(str(text), quote=True)


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def terminal_text(text: object) -> str:
    """Text safe to print on a terminal: no escape sequences, other control characters or
    lone surrogates (the store's rule, mailops.text, with a plain `?`)."""
    return UNSTORABLE.sub("?", str(text))


def markdown_text(text: object) -> str:
    """Text shown literally in Markdown (Prefect artifacts): markup and HTML neutralised."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html_text(text).replace("\n", " "))
