"""Keeping keys, tokens and webhook URLs out of logs, errors and artifacts.

Secrets are held as pydantic `SecretStr` (masked in repr and str). Every secret value mailops
loads is also registered here: `redact` replaces each registered value in any text (a server's
error message may echo a key back), and `RedactingFilter` does it for every log record.
"""

from __future__ import annotations

import logging
import threading

MASK = "[redacted]"
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


_lock = threading.Lock()
_registered: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret value so that `redact` masks it wherever it turns up."""
    if len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by a mask."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in the final message of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
