"""The one HTTP layer both API clients use.

httpx requests and responses over one pool of keep-alive connections per API (aiohttp's, in
mailops/http_transport.py), with timeouts; retries with exponential backoff and full
jitter (the AWS and Google SDKs' practice), by RFC 9110's method semantics:

- GET, HEAD, PUT, DELETE, OPTIONS (idempotent): retried on 429, 500, 502, 503, 504, a
  connection error, a timeout and a body that is not JSON;
- POST (not idempotent): retried only when it provably was not processed: 429 and 503
  (429: RFC 6585 section 4; 503: RFC 9110 section 15.6.4; that neither was processed is
  our reading, docs/assumptions.md#http-retries) and a connection never established; 500,
  502, 504, a timeout or a dropped connection after sending, and an unreadable body are
  OutcomeUnknownError, for the caller to reconcile from the remote state;
- 401, 403, 404 and the other 4xx: never retried, the error names them.
(The README's "HTTP" section has the same as a table.)
`Retry-After` honoured; a cap on the total retry time; bounded concurrency and a client-side
rate limit shared by every credential of one API; page-1-then-the-rest pagination with exact
counts; errors that say which API, endpoint and team or domain; keys only ever in headers
and masked everywhere else.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import math
import os
import random
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import SecretStr, TypeAdapter, ValidationError

from mailops.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestRejectedError,
    ResponseFormatError,
    ServerError,
    UnavailableError,
)
from mailops.http_transport import AiohttpTransport
from mailops.secrets import redact, register_secret
from mailops.settings import ApiLimits, HttpSettings

log = logging.getLogger("mailops.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 429 (RFC 6585 section 4) and 503 (RFC 9110 section 15.6.4): the server did not process the
# request, whatever the method (docs/assumptions.md#http-retries).
NOT_PROCESSED_STATUSES = frozenset({429, 503})
MAX_PER_PAGE = 100
DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "mailops"}

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
JSON = Any
T = TypeVar("T")


class RateLimiter:
    """A token bucket: at most `rate` request starts per second, with bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint."""

    items: list[JSON]
    page: int
    per_page: int
    total_pages: int
    total: int | None


class ApiClient:
    """A resilient JSON client for one API, acting with one credential.

    `with_credential` gives a client for another team or token that shares this one's
    connection pool, concurrency bound and rate limit: the bounds are per API.
    """

    def __init__(
        self,
        api: str,
        base_url: str,
        *,
        api_key: SecretStr | None,
        subject: str | None = None,
        http: HttpSettings | None = None,
        limits: ApiLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.subject = subject
        self._key = api_key
        if api_key is not None:
            register_secret(api_key.get_secret_value())
        self._http_settings = http or HttpSettings()
        self._limits = limits or ApiLimits()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(self._limits.concurrency)
        self._rate = RateLimiter(self._limits.rate_limit_per_second, clock=clock, sleep=sleep)
        self._pool = transport or _connection_pool(self._limits.concurrency)
        self._timeout = _timeout(self._http_settings).as_dict()
        self._owns_client = True

    def with_credential(self, api_key: SecretStr | None, subject: str | None) -> ApiClient:
        """A client for another credential of the same API, sharing pool and bounds."""
        twin = object.__new__(ApiClient)
        twin.__dict__.update(self.__dict__)
        twin._key = api_key
        twin.subject = subject
        twin._owns_client = False
        if api_key is not None:
            register_secret(api_key.get_secret_value())
        return twin

    def __repr__(self) -> str:
        who = f" for {self.subject}" if self.subject else ""
        return f"<ApiClient {self.api} {self.base_url}{who}>"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._pool.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- single requests ---------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> JSON:
        return await self.request("GET", path, params=params)

    async def put(self, path: str, json: JSON) -> JSON:
        return await self.request("PUT", path, json=json)

    async def post(self, path: str, json: JSON | None = None) -> JSON:
        return await self.request("POST", path, json=json)

    async def delete(self, path: str) -> JSON:
        return await self.request("DELETE", path)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: JSON | None = None,
    ) -> JSON:
        """Send one request with retries; return the decoded JSON body (None when empty)."""
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS
        settings = self._http_settings
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            problem: str
            retry_after: float | None = None
            status: int | None = None
            server_message: str | None = None
            try:
                response = await self._send(method, path, params, json)
            except httpx.TransportError as exc:
                never_sent = isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                problem = _describe_transport_error(exc, settings)
                if not idempotent and not never_sent:
                    raise self._error(
                        OutcomeUnknownError,
                        method,
                        path,
                        f"{problem} after the request was sent, so it may or may not have "
                        "been applied; it is not retried",
                    ) from None
                error_type: type[ApiError] = UnavailableError
            else:
                status = response.status_code
                if status < 400:
                    try:
                        return _decode(response)
                    except ValueError:
                        problem = f"answered {status} with a body that is not valid JSON"
                        if not idempotent:
                            raise self._error(
                                ResponseFormatError, method, path, problem, status=status
                            ) from None
                        error_type = ResponseFormatError
                else:
                    server_message = _server_message(response)
                    retryable = status in (
                        RETRY_STATUSES if idempotent else NOT_PROCESSED_STATUSES
                    )
                    if not retryable:
                        raise self._status_error(method, path, status, server_message, attempt)
                    retry_after = _retry_after_seconds(response)
                    error_type = RateLimitedError if status == 429 else ServerError
                    problem = f"answered {status}"
                    if server_message:
                        problem += f" ({server_message})"

            if attempt >= settings.max_attempts:
                raise self._error(
                    error_type,
                    method,
                    path,
                    f"{problem}; gave up after {attempt} attempts",
                    status=status,
                    server_message=server_message,
                )
            delay = self._backoff(attempt, retry_after)
            elapsed = self._clock() - started
            if elapsed + delay > settings.retry_budget_seconds:
                raise self._error(
                    error_type,
                    method,
                    path,
                    f"{problem}; gave up after {attempt} attempts because waiting "
                    f"{delay:.1f} s more would pass the retry budget of "
                    f"{settings.retry_budget_seconds:g} s",
                    status=status,
                    server_message=server_message,
                )
            log.warning(
                "%s %s %s%s: %s; retrying in %.2f s (attempt %d of %d)",
                self.api,
                method,
                path,
                self._for_whom(),
                redact(problem),
                delay,
                attempt + 1,
                settings.max_attempts,
            )
            await self._sleep(delay)

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: JSON | None
    ) -> httpx.Response:
        headers = dict(DEFAULT_HEADERS)
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        request = httpx.Request(method, self.base_url + path, params=_clean_params(params),
                                json=json, headers=headers,
                                extensions={"timeout": self._timeout})
        async with self._semaphore:
            await self._rate.acquire()
            return await _exchange(self._pool, request)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], never under Retry-After."""
        settings = self._http_settings
        doubling = settings.backoff_base_seconds * 2 ** (attempt - 1)
        ceiling = min(settings.backoff_max_seconds, doubling)
        delay = self._rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def parse(self, shape: type[T], body: JSON, method: str, path: str) -> T:
        """Validate a decoded body against a model (or `list[Model]`), naming the bad field."""
        try:
            return _adapter(shape).validate_python(body)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "body"
            problem = (
                f"answered without the field {field!r}"
                if first["type"] == "missing"
                else f"answered an unusable {field!r} ({first['msg']})"
            )
            raise self._error(ResponseFormatError, method, path, problem) from None

    def parse_items(
        self, shape: type[T], items: list[JSON], method: str, path: str,
        unusable: list[str] | None = None,
    ) -> list[T]:
        """A listing's items as models: all or an error (`unusable` None), or each alone,
        the unusable ones left out with a line naming their field appended to `unusable`."""
        if unusable is None:
            return self.parse(list[shape], items, method, path)  # type: ignore[valid-type]
        usable = []
        for number, item in enumerate(items):
            try:
                usable.append(self.parse(shape, item, method, path))
            except ResponseFormatError as exc:
                unusable.append(f"{exc} (item {number}, left out)")
        return usable

    # --- pagination --------------------------------------------------------------------

    async def get_page(
        self, path: str, params: Mapping[str, Any] | None = None, *, page: int = 1,
        per_page: int = MAX_PER_PAGE,
    ) -> Page:
        """One page of a list endpoint, checked for the documented envelope."""
        query = {**(params or {}), "page": page, "per_page": per_page}
        body = await self.get(path, query)
        return self._parse_page(path, body)

    async def get_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, per_page: int = MAX_PER_PAGE
    ) -> list[JSON]:
        """Every item of a list endpoint: page 1 first, then the other pages concurrently
        (as many in flight as the concurrency bound allows)."""
        return [item async for page in self.iter_pages(path, params, per_page=per_page)
                for item in page.items]

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int = MAX_PER_PAGE,
        lookahead: int | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of a list endpoint in order, page 1 first, at most `lookahead` pages
        fetched ahead of the consumer (default: the concurrency bound), so a listing of any
        size streams in bounded memory at the speed `get_all` would read it."""
        ahead = max(1, lookahead if lookahead is not None else self._limits.concurrency)
        first = await self.get_page(path, params, page=1, per_page=per_page)
        self._check_page(path, first, first.total_pages)
        yield first
        pending: deque[asyncio.Task[Page]] = deque()
        number = 2
        try:
            while number <= first.total_pages or pending:
                while number <= first.total_pages and len(pending) < ahead:
                    pending.append(asyncio.ensure_future(
                        self.get_page(path, params, page=number, per_page=first.per_page)
                    ))
                    number += 1
                page = await pending.popleft()
                self._check_page(path, page, first.total_pages)
                yield page
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        final = page if first.total_pages > 1 else first
        if first.total_pages >= 1 and len(final.items) == first.per_page:
            await self._check_beyond(path, params, first.total_pages, first.per_page)

    async def count(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        """The exact number of items: `total` when given, else counted from the last page
        (which must hold between 1 and `per_page` items, and a full last page is followed by
        an empty one: a `total_pages` that lies is an error, never a wrong count)."""
        first = await self.get_page(path, params, page=1, per_page=MAX_PER_PAGE)
        if first.total is not None:
            return first.total
        self._check_page(path, first, first.total_pages)
        last = first
        if first.total_pages > 1:
            last = await self.get_page(path, params, page=first.total_pages,
                                       per_page=first.per_page)
            self._check_page(path, last, first.total_pages)
        if last.items and len(last.items) == first.per_page:
            await self._check_beyond(path, params, max(1, first.total_pages), first.per_page)
        return max(0, first.total_pages - 1) * first.per_page + len(last.items)

    def _check_page(self, path: str, page: Page, total_pages: int) -> None:
        """A page of an announced `total_pages`: full before the last, not empty at the last."""
        size, number = len(page.items), page.page
        if number > total_pages or (total_pages <= 1 and number == 1):
            return  # past the end, or a single page (0 to per_page items)
        if (number < total_pages and size != page.per_page) or size == 0:
            raise self._error(
                ResponseFormatError, "GET", path,
                f"answered total_pages {total_pages}, but page {number} holds {size} of "
                f"{page.per_page} items: total_pages does not match the listing (it is wrong, "
                "or the listing changed while it was read)",
            )

    async def _check_beyond(
        self, path: str, params: Mapping[str, Any] | None, last: int, per_page: int
    ) -> None:
        """The page after a full last page must be empty, or total_pages said too few."""
        beyond = await self.get_page(path, params, page=last + 1, per_page=per_page)
        if beyond.items:
            raise self._error(
                ResponseFormatError, "GET", path,
                f"answered total_pages {last}, but page {last + 1} holds {len(beyond.items)} "
                "items: total_pages does not match the listing",
            )

    def _parse_page(self, path: str, body: JSON) -> Page:
        def missing(field: str) -> ResponseFormatError:
            return self._error(
                ResponseFormatError,
                "GET",
                path,
                f"answered a page without a valid {field!r} field",
            )

        if not isinstance(body, dict):
            raise missing("data")
        items = body.get("data")
        if not isinstance(items, list):
            raise missing("data")
        total_pages = body.get("total_pages")
        if not isinstance(total_pages, int) or total_pages < 0:
            raise missing("total_pages")
        page = body.get("page", 1)
        per_page = body.get("per_page", MAX_PER_PAGE)
        if not isinstance(per_page, int) or per_page < 1:
            raise missing("per_page")
        total = body.get("total")
        if total is not None and (not isinstance(total, int) or total < 0):
            raise missing("total")
        if len(items) > per_page:
            raise self._error(ResponseFormatError, "GET", path,
                              f"answered {len(items)} items in a page of at most {per_page} "
                              "(per_page)")
        if total is not None and total_pages != -(-total // per_page):
            raise self._error(ResponseFormatError, "GET", path,
                              f"answered total {total} but total_pages {total_pages} at "
                              f"{per_page} a page: the listing's size cannot be trusted")
        return Page(items, page if isinstance(page, int) else 1, per_page, total_pages, total)

    # --- errors ------------------------------------------------------------------------

    def _for_whom(self) -> str:
        return f" for {self.subject}" if self.subject else ""

    def _error(
        self,
        error_type: type[ApiError],
        method: str,
        path: str,
        problem: str,
        *,
        status: int | None = None,
        server_message: str | None = None,
    ) -> ApiError:
        message = redact(f"{self.api} {method} {path}{self._for_whom()}: {problem}")
        return error_type(
            message,
            api=self.api,
            method=method,
            endpoint=path,
            subject=self.subject,
            status=status,
            server_message=server_message,
        )

    def _status_error(
        self, method: str, path: str, status: int, server_message: str | None, attempt: int
    ) -> ApiError:
        said = f": {server_message}" if server_message else ""
        if status == 401:
            whose = f"the key of {self.subject}" if self.subject else "the key"
            return self._error(
                AuthError, method, path, f"{self.api} rejected {whose} (401){said}",
                status=status, server_message=server_message,
            )
        if status == 403:
            return self._error(
                AuthError, method, path, f"this key is not allowed to do that (403){said}",
                status=status, server_message=server_message,
            )
        if status == 404:
            return self._error(
                NotFoundError, method, path, f"not found (404){said}",
                status=status, server_message=server_message,
            )
        if status < 500 and status != 429:
            return self._error(
                RequestRejectedError, method, path, f"the request was rejected ({status}){said}",
                status=status, server_message=server_message,
            )
        if method not in IDEMPOTENT_METHODS:
            return self._error(
                OutcomeUnknownError, method, path,
                f"answered {status}{said}, so it may or may not have been applied; "
                "it is not retried",
                status=status, server_message=server_message,
            )
        return self._error(
            ServerError, method, path, f"answered {status}{said} (attempt {attempt})",
            status=status, server_message=server_message,
        )


def _connection_pool(concurrency: int) -> httpx.AsyncBaseTransport:
    """One pool of `concurrency` keep-alive connections per API (aiohttp's: placing a request
    costs the same with 50 connections as with 4, where httpcore's pool scanned every
    connection for each request and had to be sharded, issue 22)."""
    tls = _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return AiohttpTransport(max_connections=concurrency, ssl_context=tls)


def _timeout(settings: HttpSettings) -> httpx.Timeout:
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout,
                         pool=settings.read_timeout + settings.connect_timeout)


async def _exchange(pool: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """One request through one pool, its body read whole: what `httpx.AsyncClient.send` does
    for us, without its per-request merging of base URL, headers and cookies, auth and
    redirect handling (mailops follows no redirect and keeps no cookie), which cost about a
    third of the client's CPU per request (issue 22)."""
    response = await pool.handle_async_request(request)
    response.request = request
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default verifying context (the CA bundle of SSL_CERT_FILE or SSL_CERT_DIR, else
    certifi's), built once per process and bundle: each pool would otherwise read the whole
    bundle again, tens of milliseconds of CPU per client, several clients in every flow run."""
    return httpx.create_ssl_context(trust_env=True)


@functools.cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            cleaned[key] = "true" if value else "false"
        elif isinstance(value, datetime):
            cleaned[key] = value.isoformat()
        else:
            cleaned[key] = value
    return cleaned


def _decode(response: httpx.Response) -> JSON:
    if not response.content.strip():
        return None
    return response.json()


def _server_message(response: httpx.Response) -> str | None:
    """The server's own words about an error: a JSON detail/message/error, or the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return redact(text[:200]) if text else None
    if isinstance(body, dict):
        for field in ("detail", "message", "error", "reason"):
            value = body.get(field)
            if isinstance(value, str) and value:
                return redact(value[:200])
            if isinstance(value, list | dict) and value:
                return redact(str(value)[:200])
    return redact(str(body)[:200]) if body else None


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds, from a number or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _describe_transport_error(exc: httpx.TransportError, settings: HttpSettings) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {settings.connect_timeout:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"did not answer within {settings.read_timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "dropped the connection before answering"
    return f"connection failed ({type(exc).__name__}: {exc})"
