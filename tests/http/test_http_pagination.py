"""Pagination: page 1 first, the rest concurrently; counts that are exact."""

from __future__ import annotations

import pytest
from scripted_server import Received, Reply

from mailops.errors import ResponseFormatError

pytestmark = pytest.mark.anyio


def paged(items: list[int], *, with_total: bool):
    """A list endpoint over `items` as docs/assumptions.md#exact-counts assumes it (per_page
    at most 100)."""

    def handler(request: Received) -> Reply:
        page = int(request.query.get("page", 1))
        per_page = min(int(request.query.get("per_page", 100)), 100)
        chunk = items[(page - 1) * per_page : page * per_page]
        body = {
            "data": chunk,
            "page": page,
            "per_page": per_page,
            "total_pages": -(-len(items) // per_page),
        }
        if with_total:
            body["total"] = len(items)
        return Reply(json=body)

    return handler


async def test_get_all_reads_page_one_first_then_every_other_page_in_order(
    mock_api, make_mock_client
):
    mock_api.route("GET", "/contacts", paged(list(range(250)), with_total=False))
    items = await make_mock_client().get_all("/contacts", {"state": "unset"})
    assert items == list(range(250))
    pages = [r.query["page"] for r in mock_api.received]
    assert pages[0] == "1" and sorted(pages) == ["1", "2", "3"]
    assert all(r.query["state"] == "unset" for r in mock_api.received)


async def test_get_all_of_an_empty_list_is_one_request(mock_api, make_mock_client):
    mock_api.route("GET", "/quarantine", paged([], with_total=False))
    assert await make_mock_client().get_all("/quarantine") == []
    assert len(mock_api.received) == 1


async def test_count_uses_total_when_the_server_gives_it(mock_api, make_mock_client):
    mock_api.route("GET", "/quarantine", paged(list(range(1234)), with_total=True))
    assert await make_mock_client().count("/quarantine") == 1234
    assert len(mock_api.received) == 1


async def test_count_without_total_is_exact_from_the_last_page(mock_api, make_mock_client):
    # Given 237 items and no total: total_pages * 100 would say 300
    mock_api.route("GET", "/messages", paged(list(range(237)), with_total=False))
    # When counted
    count = await make_mock_client().count("/messages", {"status": "failed"})
    # Then the count is exact, from page 1 and the last page only
    assert count == 237
    assert [r.query["page"] for r in mock_api.received] == ["1", "3"]


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101])
async def test_count_is_exact_at_page_boundaries(mock_api, make_mock_client, size):
    mock_api.route("GET", "/messages", paged(list(range(size)), with_total=False))
    assert await make_mock_client().count("/messages") == size


async def test_a_page_without_total_pages_is_reported_with_the_field(mock_api, make_mock_client):
    mock_api.script("GET", "/contacts", Reply(json={"data": [], "page": 1}))
    with pytest.raises(ResponseFormatError, match="'total_pages'") as caught:
        await make_mock_client().get_all("/contacts")
    assert "Cleanbox GET /contacts for team 'acme'" in str(caught.value)


async def test_iter_pages_yields_every_page_in_order_with_bounded_look_ahead(
    mock_api, make_mock_client
):
    mock_api.route("GET", "/contacts", paged(list(range(1050)), with_total=True))
    client = make_mock_client()
    seen: list[int] = []
    async for page in client.iter_pages("/contacts", {"state": "unset"}, lookahead=3):
        seen.extend(page.items)
        # never more than page 1 plus the look-ahead requested beyond what was consumed
        assert len(mock_api.received) <= page.page + 3
    assert seen == list(range(1050))
    assert sorted(int(r.query["page"]) for r in mock_api.received) == list(range(1, 12))


async def test_iter_pages_stopped_early_cancels_what_it_fetched_ahead(mock_api, make_mock_client):
    mock_api.route("GET", "/contacts", paged(list(range(1000)), with_total=False))
    pages = make_mock_client().iter_pages("/contacts", lookahead=2)
    first = await anext(pages)
    await pages.aclose()
    assert first.items == list(range(100)) and len(mock_api.received) <= 3


def lying(items: list[int], total_pages: int, *, per_page: int = 100):
    """A list endpoint over `items` that announces `total_pages`, whatever the truth."""
    honest = paged(items, with_total=False)

    def handler(request: Received) -> Reply:
        reply = honest(request)
        reply.json["total_pages"] = total_pages
        return reply

    return handler


@pytest.mark.parametrize(("items", "announced", "read_whole", "counted"), [
    # high: 150 items announced as a million pages: an error, not a million requests
    (150, 1_000_000, "total_pages does not match the listing", "page 1000000 holds 0"),
    # low: 250 items announced as two full pages: an error, not a short count
    (250, 2, "page 3 holds 50 items", "page 3 holds 50 items"),
])
async def test_a_total_pages_that_lies_is_an_error_after_a_few_requests(
    mock_api, make_mock_client, items: int, announced: int, read_whole: str, counted: str
):
    # Given a listing whose total_pages lies
    mock_api.route("GET", "/contacts", lying(list(range(items)), announced))
    client = make_mock_client()
    # When read whole or counted, then an error names the lie, after a few requests
    with pytest.raises(ResponseFormatError, match=read_whole):
        await client.get_all("/contacts")
    with pytest.raises(ResponseFormatError, match=counted):
        await client.count("/contacts")
    assert len(mock_api.received) < 30


async def test_a_total_that_disagrees_with_total_pages_is_an_error(mock_api, make_mock_client):
    mock_api.script("GET", "/quarantine", Reply(json={"data": [], "page": 1, "per_page": 100,
                                                    "total_pages": 9, "total": 12}))
    with pytest.raises(ResponseFormatError, match="total 12 but total_pages 9"):
        await make_mock_client().count("/quarantine")


async def test_a_page_larger_than_its_per_page_is_an_error(mock_api, make_mock_client):
    mock_api.script("GET", "/contacts", Reply(json={"data": list(range(1000)), "page": 1,
                                                  "per_page": 5, "total_pages": 1}))
    with pytest.raises(ResponseFormatError, match="1000 items in a page of at most 5"):
        await make_mock_client().get_page("/contacts", per_page=5)
