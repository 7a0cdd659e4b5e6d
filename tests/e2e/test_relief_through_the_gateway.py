"""One-click hardship report end to end: a resident logs in through WeChat, is entered in the
registry by their grid worker and verifies their real name (identity); applies with one click
(relief fetches identity, household and address from identity); three agencies review, the
notice runs, civil affairs approves and pays; the resident is told of the decision in their
inbox (feedback, learning it over RabbitMQ). Every call goes through the gateway."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from shared.testing.plugin import wait_until
from tests.e2e.conftest import Platform, bearer, ok
from tests.relief.flows import AGENCIES, Reviewers, accept, approve, disburse, review
from tests.relief.identity_standin import id_number

GRID = "350626106001001"  # 东山县铜陵镇东门社区第一网格 (seeded by routing)
COUNTY = "350626"


async def _registered_verified_resident(
    platform: Platform, make_token: Callable[..., str], *, name: str
) -> tuple[str, str]:
    """(user id, access token) of a resident who logged in, is in the registry, verified."""
    client = platform.client
    login = ok(await client.post("/api/v1/identity/wechat-login",
                                 json={"code": f"sandbox:e2e-{uuid.uuid4().hex}"}))
    number = id_number(COUNTY, date(1971, 5, 4), random.SystemRandom())
    grid_worker = make_token(roles=["grid_worker"], regions=[GRID])
    ok(await client.post(
        "/api/v1/identity/registry/people",
        json={"id_number": number, "name": name, "region_code": GRID,
              "household_id": f"H-{uuid.uuid4().hex[:10]}", "address": "铜陵镇东门社区12号",
              "tags": ["低保户"]},
        headers=bearer(grid_worker),
    ))
    verification = ok(await client.post(
        "/api/v1/identity/me/verification", json={"name": name, "id_number": number},
        headers=bearer(login["access_token"]),
    ))
    assert verification["status"] == "verified"
    refreshed = ok(await client.post("/api/v1/identity/refresh",
                                     json={"refresh_token": login["refresh_token"]}))
    me = ok(await client.get("/api/v1/identity/me", headers=bearer(refreshed["access_token"])))
    assert me["verified"] is True
    assert number not in str(me)  # masked on display
    return me["id"], refreshed["access_token"]


async def _notices(platform: Platform, token: str) -> list[dict[str, Any]]:
    body = ok(await platform.client.get("/api/v1/feedback/notifications", headers=bearer(token)))
    return list(body["items"])


async def test_a_hardship_application_is_approved_paid_and_the_resident_told(
    platform: Platform, make_token: Callable[..., str]
) -> None:
    client = platform.client
    _, resident = await _registered_verified_resident(platform, make_token, name="林秀英")
    staff = Reviewers.mint(make_token, COUNTY)

    created = ok(await client.post("/api/v1/relief/applications",
                                   json={"kind": "dibao", "reason": "丈夫病故，家中无劳动力"},
                                   headers=bearer(resident)), 201)
    app_id = created["id"]
    mine = ok(await client.get(f"/api/v1/relief/applications/{app_id}", headers=bearer(resident)))
    assert "林秀英" not in str(mine)  # the applicant's own record is masked too

    await accept(client, staff, app_id)
    for agency in AGENCIES:
        ok(await review(client, staff, app_id, agency))
    platform.relief_clock.advance(timedelta(days=8))  # the 7-day public notice runs out
    approved = ok(await approve(client, staff, app_id))
    assert approved["status"] == "approved"
    ok(await disburse(client, staff, app_id, month="2026-11", amount_fen=76_000,
                      key=f"pay-{app_id}"), 201)

    async def told() -> bool:
        return [n["title"] for n in await _notices(platform, resident)
                if n["kind"] == "relief_decision"] == ["救助申请审批通过"]

    await wait_until(told, within=15)
    timeline = ok(await client.get(f"/api/v1/relief/applications/{app_id}/timeline",
                                   headers=bearer(resident)))
    assert len(timeline["items"]) >= 6


async def test_a_rejection_by_one_agency_ends_the_review_and_the_resident_is_told(
    platform: Platform, make_token: Callable[..., str]
) -> None:
    client = platform.client
    _, resident = await _registered_verified_resident(platform, make_token, name="陈建国")
    staff = Reviewers.mint(make_token, COUNTY)
    app_id = ok(await client.post("/api/v1/relief/applications",
                                  json={"kind": "temporary", "reason": "房屋失火"},
                                  headers=bearer(resident)), 201)["id"]
    await accept(client, staff, app_id)
    rejected = ok(await review(client, staff, app_id, "agriculture", approve=False,
                               opinion="家庭收入超过标准"))
    assert rejected["status"] == "rejected"

    async def told() -> bool:
        return [n["title"] for n in await _notices(platform, resident)
                if n["kind"] == "relief_decision"] == ["救助申请未通过"]

    await wait_until(told, within=15)
    late = await review(client, staff, app_id, "civil_affairs")
    assert late.status_code in (409, 422)
    assert late.headers["content-type"].startswith("application/problem+json")
