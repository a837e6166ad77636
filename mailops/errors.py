"""The errors mailops raises for expected failures, each with a message a user can act on.

Every message names what was being done (which API, which endpoint, for which team or domain)
and never contains a key: the HTTP layer redacts secrets before building one.
"""

from __future__ import annotations


class MailopsError(Exception):
    """Base of every expected failure: the CLI prints its message, not a traceback."""


class ConfigError(MailopsError):
    """The configuration is unusable; the message names the setting."""


class UnknownPlanError(ConfigError):
    """`--resume` (or a run id to undo) names no stored plan of the job: bad input, refused
    before anything is planned or applied, so a typo never applies a plan nobody reviewed."""


class StoreError(MailopsError):
    """The trend store cannot be opened or written."""


class SpoolError(MailopsError):
    """A spool file (what a job collected but could not store) cannot be written, or read
    back as a JSON object."""


class LocalPostgresError(MailopsError):
    """A local PostgreSQL server (the tests' and demos' stand-in) cannot be found or started."""


class PrefectServerError(MailopsError):
    """The local Prefect server of hand runs cannot be started, reached or stopped; the
    message says what to do instead."""


class NotificationError(MailopsError):
    """A report could not be delivered to Slack (or written to its outbox file).

    `kept_in` is the outbox file holding the message when Slack failed: nothing is lost,
    and a person can send it again from there.
    """

    def __init__(self, message: str, *, kept_in: str | None = None) -> None:
        super().__init__(message)
        self.kept_in = kept_in


class BadNameError(MailopsError, ValueError):
    """A name (from an API or a person) that cannot be used in a request, e.g. a domain
    name with a slash; a ValueError too, for callers that validate input."""


class ApiError(MailopsError):
    """A call to Cleanbox or EmBoux failed; carries where and why."""

    def __init__(
        self,
        message: str,
        *,
        api: str,
        method: str,
        endpoint: str,
        subject: str | None = None,
        status: int | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.api = api
        self.method = method
        self.endpoint = endpoint
        self.subject = subject
        self.status = status
        self.server_message = server_message


class AuthError(ApiError):
    """The server rejected the key (401) or refused the action to it (403)."""


class NotFoundError(ApiError):
    """The server does not know the resource, or hides it from this key (404)."""


class RequestRejectedError(ApiError):
    """The server refused the request as invalid (400, 409, 422)."""


class RateLimitedError(ApiError):
    """The server kept answering 429 until the retry budget ran out."""


class ServerError(ApiError):
    """The server kept failing (5xx) until the retry budget ran out."""


class UnavailableError(ApiError):
    """The server could not be reached, or did not answer in time, until the budget ran out."""


class OutcomeUnknownError(ApiError):
    """A non-idempotent request may have been applied but its answer was lost.

    Never retried blindly: the caller reconciles from the remote state.
    """


class ResponseFormatError(ApiError):
    """The server answered, but not with the JSON shape the code needs."""
