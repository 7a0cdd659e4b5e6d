"""Reusable steps of the event closed loop, written against the public HTTP API only, so the
same flows run against the two service apps directly (tests/events) or through the gateway
(tests/e2e): pass one httpx client per service, or the gateway's client twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.routing.seed import unit_id

# Seeded places used by the flows (see services/routing/seed.py).
COUNTY = "350626"  # 东山县
TOWN = "350626106"  # 铜陵镇
COMMUNITY = "350626106001"  # 东门社区
GRID = "350626106001001"  # 东门社区第一网格
OTHER_GRID = "350626106001002"
COMMUNITY_UNIT = unit_id(COMMUNITY, "community")
TOWN_UNIT = unit_id(TOWN, "town_office")
COUNTY_MARKET = unit_id(COUNTY, "market_regulation")
COUNTY_POLICE = unit_id(COUNTY, "police")
COUNTY_JUSTICE = unit_id(COUNTY, "judicial_office")
OTHER_COMMUNITY_UNIT = unit_id("350626106002", "community")


class MovableClock:
    """Real time from a fixed working-day start, plus whatever the test skips ahead."""

    def __init__(self, start: datetime) -> None:
        self._start, self._t0, self._offset = start, time.monotonic(), timedelta()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0) + self._offset

    def advance(self, delta: timedelta) -> None:
        self._offset += delta


@dataclass
class People:
    """Tokens for the cast of a flow."""

    make_token: Callable[..., str]
    resident_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def resident(self, subject: uuid.UUID | None = None, verified: bool = True) -> str:
        return self.make_token(subject=subject or self.resident_id, roles=["resident"],
                               verified=verified)

    def unit_staff(self, unit: uuid.UUID, region: str) -> str:
        return self.make_token(roles=["dept_staff"], departments=[unit], regions=[region])

    def grid_worker(self, grid: str = GRID) -> str:
        return self.make_token(roles=["grid_worker"], regions=[grid])

    def dispatcher(self, region: str = COUNTY) -> str:
        return self.make_token(roles=["dispatcher"], regions=[region])

    def supervisor(self, region: str = COUNTY) -> str:
        return self.make_token(roles=["supervisor"], regions=[region])


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@dataclass
class Loop:
    events: httpx.AsyncClient
    routing: httpx.AsyncClient
    people: People
    # Direct SQL into a service's schema, for tests that check "nothing changed" or audits;
    # None where only the public API is reachable (through the gateway).
    sql: Callable[[str, str], Any] | None = None

    async def report(self, token: str | None = None, *, expect: int = 201,
                     idempotency_key: str | None = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "category_code": "dispute_tenancy",
            "description": f"房东不退押金 {uuid.uuid4().hex[:8]}",
            "region_code": GRID,
            "fields": {"party_role": "tenant"},
        }
        body.update(overrides)
        headers = bearer(token or self.people.resident())
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = await self.events.post("/api/v1/events", json=body, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    async def case(self, event_id: str, token: str | None = None) -> dict[str, Any]:
        response = await self.events.get(f"/api/v1/events/{event_id}",
                                         headers=bearer(token or self.people.resident()))
        assert response.status_code == 200, response.text
        return response.json()

    async def timeline(self, event_id: str, token: str | None = None) -> list[dict[str, Any]]:
        response = await self.events.get(f"/api/v1/events/{event_id}/timeline",
                                         headers=bearer(token or self.people.resident()))
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def wait_for(self, event_id: str, predicate: Callable[[dict[str, Any]], bool], *,
                       within: float = 5.0, token: str | None = None) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            case = await self.case(event_id, token)
            if predicate(case):
                return case
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"case never matched within {within}s: {case}")
            await asyncio.sleep(0.02)

    async def wait_assigned(self, event_id: str, unit: uuid.UUID, *, within: float = 5.0,
                            status: str = "dispatched", token: str | None = None
                            ) -> dict[str, Any]:
        return await self.wait_for(
            event_id,
            lambda c: c["status"] == status and c["assignee"] is not None
            and c["assignee"]["unit_id"] == str(unit),
            within=within, token=token,
        )

    async def act(self, event_id: str, action: str, token: str, body: dict | None = None, *,
                  expect: int = 200) -> dict[str, Any]:
        response = await self.events.post(f"/api/v1/events/{event_id}/{action}", json=body,
                                          headers=bearer(token))
        assert response.status_code == expect, response.text
        return response.json()

    async def route(self, path: str, token: str, body: dict | None = None, *,
                    expect: int = 202) -> Any:
        response = await self.routing.post(f"/api/v1/routing/{path}", json=body,
                                           headers=bearer(token))
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    async def handle_to_close(self, event_id: str, unit: uuid.UUID, region: str,
                              verifier: str | None = None) -> dict[str, Any]:
        """Accept, start, submit a result, verify on site: the case closes."""
        staff = self.people.unit_staff(unit, region)
        await self.act(event_id, "accept", staff)
        await self.act(event_id, "start", staff)
        await self.act(event_id, "result", staff, {"result": "押金已退还，双方签字确认"})
        return await self.act(event_id, "verify", verifier or self.people.grid_worker(),
                              {"passed": True, "note": "现场核实"})
