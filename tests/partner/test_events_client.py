"""The partner app's events client: Open311 reads the category tree on every call, so the
client keeps a copy for half a minute instead of asking events each time."""

from __future__ import annotations

import httpx

from gateway.partner.clients import EventsClient


async def test_the_category_tree_is_asked_again_only_once_the_copy_is_old() -> None:
    asked: list[str] = []
    now = [100.0]

    def events(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"items": [{"code": f"c{len(asked)}"}]})

    client = EventsClient(base_url="http://events", timeout=1,
                          transport=httpx.MockTransport(events), monotonic=lambda: now[0])
    try:
        first = await client.categories()
        now[0] += EventsClient.CATEGORIES_FRESH_SECONDS - 1
        still = await client.categories()
        now[0] += 2
        fresh = await client.categories()
    finally:
        await client.aclose()
    assert asked == ["/api/v1/events/categories"] * 2
    assert first == still == [{"code": "c1"}]
    assert fresh == [{"code": "c2"}]
