"""Keeping keys, tokens and webhook URLs out of logs, errors and artifacts.

Secrets are held as pydantic `SecretStr` (masked in repr and str). Every secret value mailops
loads is also registered here: `redact` replaces each registered value in any text (a server's
error message may echo a key back), and `install_log_redaction` does it for every log record.
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


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    message = record.getMessage()
    cleaned = redact(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = None
    return record


def install_log_redaction() -> None:
    """Mask registered secrets in every log record from now on, whichever handler gets it.

    Done at record creation (the record factory) rather than on handlers, because Prefect
    attaches its own handlers late, when a run starts.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts_secrets", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return _redact_record(current(*args, **kwargs))

    factory.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
