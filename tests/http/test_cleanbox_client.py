"""The Cleanbox client: the documented shapes parse, a missing needed field is named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scripted_server import Reply

from mailops.cleanbox import CleanboxClient
from mailops.errors import ResponseFormatError

pytestmark = pytest.mark.anyio

TEAM = {
    "name": "acme",
    "usage": {"weekly_used": 800, "weekly_limit": 1000},
    "limits": {"aliases": {"used": 4, "limit": 10}, "mailboxes": {"used": 2, "limit": 5}},
    "plan": "pro",
}
CONTACT = {
    "uuid": "c1",
    "email": "billing@vendor.example",
    "email_count": 51,
    "state": "unset",
    "category": {"uuid": "k1", "name": "Finance"},
    "created_at": "2026-10-01T09:00:00Z",
    "has_subscriptions": False,
    "avatar": "ignored",
}


@pytest.fixture
def cleanbox(make_mock_client) -> CleanboxClient:
    return CleanboxClient(make_mock_client())


async def test_team_usage_and_limits_parse_and_extra_fields_are_ignored(mock_api, cleanbox):
    mock_api.script("GET", "/team", Reply(json=TEAM))
    team = await cleanbox.team()
    assert team.usage.weekly_used == 800 and team.usage.percent == 80.0
    assert team.limits.aliases.limit == 10 and team.limits.mailboxes.used == 2


async def test_weekly_usage_with_a_zero_limit_is_zero_percent(mock_api, cleanbox):
    usage = {"weekly_used": 5, "weekly_limit": 0}
    mock_api.script("GET", "/team", Reply(json={**TEAM, "usage": usage}))
    assert (await cleanbox.team()).usage.percent == 0.0


async def test_a_team_payload_without_a_needed_field_names_endpoint_and_field(mock_api, cleanbox):
    mock_api.script("GET", "/team", Reply(json={**TEAM, "usage": {"weekly_used": 5}}))
    with pytest.raises(ResponseFormatError) as caught:
        await cleanbox.team()
    assert str(caught.value) == (
        "Cleanbox GET /team for team 'acme': answered without the field 'usage.weekly_limit'"
    )


async def test_contacts_are_read_by_state_sorted_by_email_count(mock_api, cleanbox):
    mock_api.script(
        "GET",
        "/contacts",
        Reply(json={"data": [CONTACT, {**CONTACT, "uuid": "c2", "category": None}],
                    "page": 1, "per_page": 100, "total_pages": 1}),
    )
    contacts = await cleanbox.contacts(state="unset")
    assert [c.uuid for c in contacts] == ["c1", "c2"]
    assert contacts[0].category is not None and contacts[0].category.name == "Finance"
    assert contacts[1].category is None
    assert contacts[0].created_at == datetime(2026, 10, 1, 9, tzinfo=UTC)
    query = mock_api.received[0].query
    assert query == {"state": "unset", "sort": "emailCount", "dir": "desc", "page": "1",
                     "per_page": "100"}


async def test_a_contact_with_an_unknown_state_is_refused(mock_api, cleanbox):
    mock_api.script("GET", "/contacts", Reply(json={"data": [{**CONTACT, "state": "maybe"}],
                                                  "total_pages": 1}))
    with pytest.raises(ResponseFormatError, match="'0.state'"):
        await cleanbox.contacts()


async def test_top_contacts_is_one_page_of_the_requested_size(mock_api, cleanbox):
    mock_api.script("GET", "/contacts", Reply(json={"data": [CONTACT], "total_pages": 9}))
    top = await cleanbox.top_contacts(5)
    assert len(top) == 1 and mock_api.received[0].query["per_page"] == "5"


async def test_setting_a_contact_state_puts_it(mock_api, cleanbox):
    mock_api.script("PUT", "/contacts/c1", Reply(json={**CONTACT, "state": "blocked"}))
    await cleanbox.set_contact_state("c1", "blocked")
    assert mock_api.received[0].body == b'{"state":"blocked"}'


async def test_quarantine_messages_parse_with_their_sender(mock_api, cleanbox):
    message = {"uuid": "q1", "from": '"Boss" <boss@corp.com>', "to": "me@acme.example",
               "subject": "<script>", "received_at": "2026-10-02T10:00:00+00:00",
               "spam_score": 3.5}
    mock_api.script("GET", "/quarantine", Reply(json={"data": [message], "total_pages": 1}))
    [parsed] = await cleanbox.quarantine()
    assert parsed.sender == '"Boss" <boss@corp.com>' and parsed.spam_score == 3.5


async def test_accepting_more_than_100_at_once_is_refused_before_sending(mock_api, cleanbox):
    with pytest.raises(ValueError, match="at most 100"):
        await cleanbox.accept_quarantine([str(n) for n in range(101)])
    assert mock_api.received == []


async def test_accepting_answers_how_many_were_released(mock_api, cleanbox):
    mock_api.script("POST", "/quarantine/accept", Reply(json={"accepted": 2}))
    assert await cleanbox.accept_quarantine(["q1", "q2"]) == 2
    assert mock_api.received[0].body == b'{"uuids":["q1","q2"]}'


async def test_message_counts_filter_by_status_and_since(mock_api, cleanbox):
    mock_api.script("GET", "/messages", Reply(json={"data": [], "total_pages": 3, "total": 250}))
    since = datetime(2026, 10, 1, tzinfo=UTC)
    assert await cleanbox.count_messages(status="failed", since=since) == 250
    query = mock_api.received[0].query
    assert query["status"] == "failed" and query["since"] == "2026-10-01T00:00:00+00:00"


async def test_categories_parse(mock_api, cleanbox):
    mock_api.script("GET", "/categories", Reply(json={"data": [{"uuid": "k1", "name": "Finance"}]}))
    assert [c.name for c in await cleanbox.categories()] == ["Finance"]


async def test_a_naive_since_is_refused(cleanbox):
    with pytest.raises(ValueError, match="time-zone aware"):
        await cleanbox.count_messages(since=datetime(2026, 10, 1))
