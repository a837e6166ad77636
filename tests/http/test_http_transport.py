"""The sockets under the HTTP layer (mailops/http_transport.py): what arrives, what comes back,
and which failures count as never sent, over a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest
from scripted_server import Reply

from mailops.errors import UnavailableError
from mailops.http_transport import AiohttpTransport
from mailops.ports import free_port

pytestmark = pytest.mark.anyio


async def test_a_compressed_answer_is_decoded_once(server, make_client):
    # Given an answer the server gzipped
    body = gzip.compress(b'{"name": "Acme"}')
    server.script("GET", "/team", Reply(body=body, headers={"Content-Encoding": "gzip"}))
    # When the client reads it
    answer = await make_client().get("/team")
    # Then it is the JSON the server meant
    assert answer == {"name": "Acme"}


async def test_the_request_arrives_with_its_query_headers_and_body_once(server, make_client):
    # Given a server that records what it receives
    server.script("POST", "/quarantine/accept", Reply(json={"accepted": 1}))
    # When a POST with a query and a JSON body is sent
    await make_client().post("/quarantine/accept", {"uuids": ["a"]})
    # Then the server got one request, the key in its header, the body as sent
    [received] = server.requests_to("POST", "/quarantine/accept")
    assert received.headers["authorization"].startswith("Bearer ")
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "mailops"
    assert received.body == b'{"uuids":["a"]}'


async def test_a_port_where_nothing_listens_is_a_connect_error_so_never_sent():
    # Given a port where nothing listens
    transport = AiohttpTransport(max_connections=2)
    request = httpx.Request("POST", f"http://127.0.0.1:{free_port()}/reset",
                            extensions={"timeout": {"connect": 1, "read": 1, "pool": 2}})
    # When a request is made there, the failure is httpx's "never sent" kind
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(request)
    await transport.aclose()


async def test_a_dropped_answer_is_a_transport_error_that_may_have_been_sent(server):
    # Given a server that reads a POST, then closes the connection without answering
    server.script("POST", "/reset", Reply(drop=True))
    transport = AiohttpTransport(max_connections=2)
    request = httpx.Request("POST", f"{server.url}/reset", content=b"{}",
                            extensions={"timeout": {"connect": 1, "read": 2, "pool": 3}})
    # When it is sent, the failure is a transport error but not a "never sent" one
    with pytest.raises(httpx.TransportError) as caught:
        await transport.handle_async_request(request)
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
    await transport.aclose()


async def test_a_proxy_named_in_the_environment_carries_the_request(monkeypatch):
    # Given a proxy stand-in on 127.0.0.1 that answers every request it is handed
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        while (await reader.readline()).strip():
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    proxy = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = AiohttpTransport(max_connections=1)
    # When a request goes to a host only the proxy can reach
    request = httpx.Request("GET", "http://cleanbox.example/v1/team",
                            extensions={"timeout": {"connect": 2, "read": 2, "pool": 4}})
    answered = await transport.handle_async_request(request)
    await transport.aclose()
    proxy.close()
    # Then the proxy was handed it, in absolute form, and its answer came back
    assert answered.status_code == 200
    assert seen == [b"GET http://cleanbox.example/v1/team HTTP/1.1\r\n"]


async def test_a_dropped_get_is_sent_once_per_attempt_of_the_one_retry_policy(server, make_client):
    # Given a server that reads every GET, then closes the connection without answering
    server.script("GET", "/team", Reply(drop=True))
    # When the client tries its three attempts
    with pytest.raises(UnavailableError, match="gave up after 3 attempts"):
        await make_client().get("/team")
    # Then the server saw three requests: aiohttp resent none on its own (RFC 9112 9.3.1
    # allows it, but then the backoff, the budget and the count would not be ours)
    assert len(server.requests_to("GET", "/team")) == 3
