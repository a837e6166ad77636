"""A stranger's text made storable: the one rule for every string an API answers.

PostgreSQL refuses a NUL in text and no database driver can encode a lone surrogate, so one
such character in any answer used to fail a whole day's write. The rule, applied to every
str field of the clients' models and again to every text column the store binds:

- every control character (Unicode category Cc: C0 U+0000-U+001F, DEL U+007F and C1
  U+0080-U+009F) except tab and newline becomes U+FFFD;
- every lone surrogate (U+D800-U+DFFF, which JSON's `\\ud800` can carry) becomes U+FFFD.

One character for one, so a length bound means the same before and after. Everything else
is kept as the stranger wrote it, bidi controls (U+202E...) included: they are made visible
where text is shown, not here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

REPLACEMENT = "\ufffd"
# Cc without tab (U+0009) and newline (U+000A), and the surrogates.
UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
ELLIPSIS = "…"


def storable(text: str, max_length: int | None = None) -> str:
    """`text` with every unstorable character replaced by U+FFFD; with `max_length`, a longer
    text is cut to it, its last character an ellipsis (a column's backstop, not a parse rule)."""
    clean = UNSTORABLE.sub(REPLACEMENT, text)
    if max_length is None or len(clean) <= max_length:
        return clean
    return clean[: max_length - 1] + ELLIPSIS if max_length > 0 else ""


def _storable_input(value: object) -> object:
    return storable(value) if isinstance(value, str) else value


# The rule as a pydantic validator: every str field of the clients' models is ApiText, or a
# bounded str with STORABLE among its metadata. It runs *before* pydantic's own str check,
# which refuses a lone surrogate outright ("unable to parse raw data as a unicode string"),
# and replaces one character for one, so a bound's error still says "String should have at
# most N characters". Applied where an answer is parsed, nothing past the clients carries an
# unstorable character.
STORABLE = BeforeValidator(_storable_input)
ApiText = Annotated[str, STORABLE]
