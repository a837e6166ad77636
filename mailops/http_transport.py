"""The sockets under the one HTTP layer: httpx's transport interface over aiohttp's pool.

`mailops.http.ApiClient` builds and reads `httpx.Request`s and `httpx.Response`s (tests hand
it an `httpx.MockTransport`); this transport moves them over aiohttp's connection pool and
its C HTTP parser instead of httpcore's pure-Python h11, which cost most of the client's CPU
per request (0.2 ms a request for a bare aiohttp loop against 0.95 ms for a bare httpx one,
issue 22, BENCHMARKS.md).

aiohttp's errors become httpx's, keeping the distinction the retry rules stand on (RFC 9110,
mailops/http.py): a connection that could not be made or a pool that had no room
(`ConnectError`, `ConnectTimeout`) means the request was never sent; anything after that (a
read timeout, a dropped or reset connection, an answer that is not HTTP) means it may have
been, so a POST is not retried. No cookie is kept, no redirect followed, nothing decoded
here: the body is handed to httpx as it came, and httpx decodes it by its headers. A proxy
named by HTTP_PROXY or HTTPS_PROXY is used, except for the hosts NO_PROXY names.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
from yarl import URL

# The headers aiohttp computes itself from the URL and the body.
_COMPUTED = frozenset({"host", "content-length", "transfer-encoding"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One pool of at most `max_connections` keep-alive connections, verifying TLS with
    `ssl_context` (aiohttp's default without one); its aiohttp session is opened on the first
    request, inside the event loop that makes it."""

    def __init__(self, *, max_connections: int, ssl_context: ssl.SSLContext | None = None
                 ) -> None:
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections,
                                               ssl=self._ssl_context or True),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=True,  # HTTP(S)_PROXY and NO_PROXY, as httpx's own client honours
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
            # aiohttp resends an idempotent request once, at once, when its connection drops
            # (RFC 9112 section 9.3.1 allows it); mailops/http.py is the one retry policy, with
            # its backoff, budget and count of attempts. No public switch exists
            # (aio-libs/aiohttp#10790); aiohttp's own test client sets the same attribute.
            self._session._retry_connection = False
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.get("pool"), sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        headers = [(name, value) for name, value in request.headers.multi_items()
                   if name.lower() not in _COMPUTED]
        body = await request.aread()
        try:
            async with self._opened().request(
                request.method, URL(str(request.url), encoded=True), headers=headers,
                data=body or None, allow_redirects=False, timeout=timeout,
            ) as answer:
                content = await answer.read()
                status, raw_headers = answer.status, answer.raw_headers
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError) as exc:
            raise httpx.ReadError(str(exc) or "connection reset", request=request) from exc
        except aiohttp.ClientError as exc:  # disconnected, a broken body, not HTTP
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__,
                                            request=request) from exc
        return httpx.Response(status, headers=list(raw_headers), content=content,
                              request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
