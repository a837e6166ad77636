"""Retries: which failures are retried, how long it waits, and when it gives up."""

from __future__ import annotations

import pytest
from scripted_server import Reply

from mailops.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    UnavailableError,
)
from mailops.ports import free_port

pytestmark = pytest.mark.anyio


async def test_get_is_retried_on_503_until_it_succeeds(server, make_client, fake_clock):
    # Given a server that fails twice, then answers
    server.script("GET", "/team", Reply(503), Reply(503), Reply(200, json={"ok": 1}))
    # When the client asks once
    body = await make_client().get("/team")
    # Then it got the answer after three requests and two backoff waits
    assert body == {"ok": 1}
    assert len(server.requests_to("GET", "/team")) == 3
    assert len(fake_clock.sleeps) == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_every_transient_status_is_retried_for_put(server, make_client, status):
    server.script("PUT", "/contacts/u1", Reply(status), Reply(200, json={}))
    await make_client().put("/contacts/u1", {"state": "blocked"})
    assert len(server.requests_to("PUT", "/contacts/u1")) == 2


async def test_retry_after_is_waited_at_least(server, make_client, fake_clock):
    server.script("GET", "/team", Reply(429, headers={"Retry-After": "7"}), Reply(200, json={}))
    await make_client().get("/team")
    assert fake_clock.sleeps[0] >= 7


async def test_retry_after_as_http_date_is_understood(server, make_client, fake_clock):
    server.script(
        "GET",
        "/team",
        Reply(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
        Reply(200, json={}),
    )
    with pytest.raises(ServerError, match="retry budget"):
        await make_client().get("/team")
    assert fake_clock.sleeps == []


async def test_waiting_past_the_retry_budget_gives_up_at_once(server, make_client, fake_clock):
    # Given a server that asks for a wait longer than the whole budget
    server.script("GET", "/team", Reply(429, headers={"Retry-After": "120"}))
    # When the client asks
    with pytest.raises(RateLimitedError) as caught:
        await make_client(http={"retry_budget_seconds": 60}).get("/team")
    # Then it gave up without waiting and said why
    assert "retry budget of 60 s" in str(caught.value)
    assert fake_clock.sleeps == []
    assert len(server.requests_to("GET", "/team")) == 1


async def test_giving_up_names_api_endpoint_team_and_status(server, make_client):
    server.script("GET", "/team", Reply(503, json={"detail": "maintenance window"}))
    with pytest.raises(ServerError) as caught:
        await make_client().get("/team")
    message = str(caught.value)
    assert message.startswith("Cleanbox GET /team for team 'acme':")
    assert "503" in message and "maintenance window" in message
    assert "gave up after 3 attempts" in message
    assert caught.value.status == 503


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_plain_500_is_retried_for_every_idempotent_method(server, make_client, method):
    # Given a server that fails once with a plain 500 (RFC 9110: these methods are idempotent)
    server.script(method, "/contacts/u1", Reply(500), Reply(200, json={"ok": 1}))
    # When the client sends the request once
    body = await make_client().request(method, "/contacts/u1",
                                       json={"state": "blocked"} if method == "PUT" else None)
    # Then it was sent again and the second answer is the result
    assert body == {"ok": 1}
    assert len(server.requests_to(method, "/contacts/u1")) == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_a_post_answered_not_processed_is_retried_after_retry_after(
    server, make_client, fake_clock, status
):
    # Given a reset answered 429 or 503 (RFC 9110: not processed) with Retry-After, then 200
    server.script("POST", "/outbound/reset-daily",
                  Reply(status, headers={"Retry-After": "3"}), Reply(200, json={"reset_count": 4}))
    # When the client sends it once
    body = await make_client(api="EmBoux").post("/outbound/reset-daily")
    # Then it waited at least Retry-After, sent it again, and has the answer
    assert body == {"reset_count": 4}
    assert len(server.requests_to("POST", "/outbound/reset-daily")) == 2
    assert fake_clock.sleeps[0] >= 3


async def test_a_post_kept_not_processed_gives_up_within_the_budget_saying_so(
    server, make_client
):
    # Given a server that answers 503 to every reset
    server.script("POST", "/outbound/reset-daily", Reply(503))
    # When the client sends it
    with pytest.raises(ServerError, match="gave up after 3 attempts") as caught:
        await make_client(api="EmBoux").post("/outbound/reset-daily")
    # Then it tried as often as a GET would, and the error is not an unknown outcome
    assert len(server.requests_to("POST", "/outbound/reset-daily")) == 3
    assert not isinstance(caught.value, OutcomeUnknownError)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_post_answered_a_gateway_or_server_error_may_have_been_applied(
    server, make_client, status
):
    # Given a reset answered with an error after the body was sent
    server.script("POST", "/outbound/reset-daily", Reply(status))
    # When the client sends it
    with pytest.raises(OutcomeUnknownError, match="may or may not have been applied"):
        await make_client(api="EmBoux").post("/outbound/reset-daily")
    # Then it was sent once and is left to reconciliation
    assert len(server.requests_to("POST", "/outbound/reset-daily")) == 1


async def test_post_whose_answer_is_lost_is_not_retried_and_says_outcome_unknown(
    server, make_client
):
    # Given a server that reads the POST, then drops the connection
    server.script("POST", "/outbound/reset-daily", Reply(drop=True))
    # When the client sends it
    with pytest.raises(OutcomeUnknownError) as caught:
        await make_client(api="EmBoux").post("/outbound/reset-daily")
    # Then it was sent exactly once and the error says it may have been applied
    assert len(server.requests_to("POST", "/outbound/reset-daily")) == 1
    assert "may or may not have been applied" in str(caught.value)


async def test_post_that_timed_out_after_sending_is_outcome_unknown(server, make_client):
    server.script("POST", "/outbound/reset-monthly", Reply(delay=0.6, json={}))
    with pytest.raises(OutcomeUnknownError, match="did not answer within 0.2 s"):
        await make_client(api="EmBoux", http={"read_timeout": 0.2}).post("/outbound/reset-monthly")
    assert len(server.requests_to("POST", "/outbound/reset-monthly")) == 1


async def test_post_is_retried_when_it_never_reached_the_server(make_client, fake_clock):
    # Given a port where nothing listens
    closed_port = free_port()
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}")
    # When a POST cannot connect
    with pytest.raises(UnavailableError) as caught:
        await client.post("/quarantine/accept", {"uuids": ["a"]})
    # Then it was retried (it provably never left) and the error says it could not connect
    assert len(fake_clock.sleeps) == 2
    assert "could not connect" in str(caught.value)


async def test_hung_get_times_out_and_is_retried(server, make_client):
    server.script("GET", "/team", Reply(delay=0.6, json={"late": 1}), Reply(json={"ok": 1}))
    body = await make_client(http={"read_timeout": 0.2}).get("/team")
    assert body == {"ok": 1}


async def test_malformed_json_on_a_get_is_retried_then_reported(server, make_client):
    server.script("GET", "/team", Reply(body=b'{"usage": {'))
    with pytest.raises(ResponseFormatError, match="not valid JSON"):
        await make_client().get("/team")
    assert len(server.requests_to("GET", "/team")) == 3


async def test_404_is_not_found_and_not_retried(server, make_client):
    server.script("GET", "/domains/x.com/outbound", Reply(404, json={"detail": "Not Found"}))
    with pytest.raises(NotFoundError, match=r"GET /domains/x.com/outbound .*404"):
        await make_client(api="EmBoux", subject="customer 'p1'").get("/domains/x.com/outbound")
    assert len(server.received) == 1


async def test_401_says_the_key_was_rejected_and_for_whom(server, make_client):
    server.script("GET", "/team", Reply(401, json={"detail": "Invalid API key"}))
    with pytest.raises(AuthError) as caught:
        await make_client().get("/team")
    assert "Cleanbox rejected the key of team 'acme' (401): Invalid API key" in str(caught.value)


def test_backoff_is_full_jitter_under_a_doubling_cap(make_client):
    client = make_client(http={"backoff_base_seconds": 0.5, "backoff_max_seconds": 4})
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [client._backoff(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8
        assert min(delays) < ceiling * 0.2
