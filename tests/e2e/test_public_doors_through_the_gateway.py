"""The platform's public doors besides the mini-program, through the embedded gateway: a
resident who reported from the mini-program signs in from the 公众号's pages (the sandbox's
web authorisation) and finds the same case; Open311 answers at /open311/v2/."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.conftest import Platform, bearer, ok, report_once_regions_are_known
from tests.events.flows import GRID

BACK = "http://gateway/h5/auth"


async def _report(client: httpx.AsyncClient, token: str) -> str:
    return await report_once_regions_are_known(client, token, {
        "category_code": "dispute_tenancy", "region_code": GRID,
        "description": "房东拒不退还押金", "fields": {"party_role": "tenant"}})


async def _web_sign_in(client: httpx.AsyncClient, openid: str) -> dict[str, Any]:
    """As the pages do: ask where to authorise, go there, consent, exchange the code."""
    where = ok(await client.get("/api/v1/identity/wechat-web/authorize",
                                params={"redirect_uri": BACK, "state": "st1"}))["url"]
    page = await client.get(where)
    assert page.status_code == 200, page.text
    consent = await client.get("/api/v1/identity/wechat-web/sandbox/consent", params={
        "redirect_uri": BACK, "state": "st1", "openid": openid})
    assert consent.status_code == 302, consent.text
    back = parse_qs(urlsplit(consent.headers["location"]).query)
    assert back["state"] == ["st1"]
    return dict(ok(await client.post("/api/v1/identity/wechat-web-login",
                                     json={"code": back["code"][0]})))


async def test_a_resident_sees_the_same_cases_from_the_mini_program_and_the_web_pages(
    platform: Platform,
) -> None:
    client = platform.client
    mini = ok(await client.post("/api/v1/identity/wechat-login",
                                json={"code": "sandbox:lin-both-doors"}))
    event_id = await _report(client, mini["access_token"])
    web = await _web_sign_in(client, "lin-both-doors")
    from_web = ok(await client.get("/api/v1/events", headers=bearer(web["access_token"])))
    one = ok(await client.get(f"/api/v1/events/{event_id}",
                              headers=bearer(web["access_token"])))
    stranger = await _web_sign_in(client, "someone-else")
    theirs = ok(await client.get("/api/v1/events", headers=bearer(stranger["access_token"])))

    assert web["user"]["id"] == mini["user"]["id"]
    assert [e["id"] for e in from_web["items"]] == [event_id]
    assert one["id"] == event_id
    assert theirs["items"] == []


async def test_open311_answers_through_the_gateway(platform: Platform) -> None:
    services = await platform.client.get("/open311/v2/services.json")
    refused = await platform.client.post("/open311/v2/requests.xml",
                                         data={"api_key": "pk_nobody.00"})

    assert services.status_code == 200, services.text
    assert "dispute_tenancy" in {s["service_code"] for s in services.json()}
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/xml")
    assert b"<errors><error><code>403</code>" in refused.content
