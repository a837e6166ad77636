"""Prefect tasks: each one a retryable unit around one `mailops` library call.

Importing this package first quiets the temporary Prefect server's shutdown noise (those
variables must be set before Prefect is imported), lets `mailops` module loggers reach the
Prefect UI, and masks registered secrets in every log record.
"""

import os

for _name, _value in {
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "mailops",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}.items():
    os.environ.setdefault(_name, _value)

from mailops.secrets import install_log_redaction  # noqa: E402

install_log_redaction()
