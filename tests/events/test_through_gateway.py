"""The closed loop as the mini-program and the web console see it: every call through the
gateway (its token check, proxy and problem responses), to the events and routing apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_gateway_app
from gateway.settings import GatewaySettings
from gateway.upstreams import AsgiUpstream
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, TOWN_UNIT, Loop, bearer


@pytest.fixture
async def via_gateway(loop: Loop, token_verifier: Any) -> AsyncIterator[Loop]:
    apps = loop.apps  # type: ignore[attr-defined]  # already running (the loop fixture)
    settings = GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000)
    gateway = create_gateway_app(
        settings,
        upstreams={name: AsgiUpstream(name, app, settings.upstream_timeout_seconds)
                   for name, app in apps.items()},
        verifier=token_verifier,
    )
    async with gateway.lifespan(), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
    ) as client:
        through = Loop(events=client, routing=client, people=loop.people, sql=loop.sql)
        through.apps = apps  # type: ignore[attr-defined]
        yield through


async def test_a_resident_reports_and_reads_the_whole_timeline_through_the_gateway(
    via_gateway: Loop,
) -> None:
    loop = via_gateway
    regions = await loop.routing.get("/api/v1/routing/regions?parent=350626106")
    assert COMMUNITY in [r["code"] for r in regions.json()["items"]]
    categories = await loop.events.get("/api/v1/events/categories")
    assert categories.status_code == 200
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT, within=10.0)

    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(created["id"], "accept", community)
    await loop.route(f"assignments/{created['id']}/escalate", community,
                     {"reason": "需镇综治中心协调"})
    await loop.wait_assigned(created["id"], TOWN_UNIT)
    closed = await loop.handle_to_close(created["id"], TOWN_UNIT, "350626106")
    assert closed["status"] == "closed"
    steps = await loop.timeline(created["id"])
    assert [s["action"] for s in steps] == [
        "report", "dispatch", "accept", "escalate", "accept", "start", "submit_result",
        "verify", "close"]
    assert {s["actor_unit"] for s in steps} >= {"东门社区居委会", "铜陵镇综治中心"}

    anonymous = await loop.events.get(f"/api/v1/events/{created['id']}")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    stranger = await loop.events.get(f"/api/v1/events/{created['id']}",
                                     headers=bearer(loop.people.make_token(roles=["resident"])))
    assert stranger.json()["code"] == "event_not_found"
