"""Through the gateway: the tokens a successful real-name verification answers with are
verified at once, so the resident applies for relief straight away; the token held before
verifying is still refused (it says unverified until it expires)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date

from tests.e2e.conftest import Platform, bearer, ok
from tests.relief.identity_standin import id_number

GRID = "350626106001001"  # 东山县铜陵镇东门社区第一网格 (seeded by routing)
COUNTY = "350626"


async def test_a_resident_applies_for_relief_with_the_tokens_verification_answered(
    platform: Platform, make_token: Callable[..., str]
) -> None:
    client = platform.client
    login = ok(await client.post("/api/v1/identity/wechat-login",
                                 json={"code": f"sandbox:e2e-{uuid.uuid4().hex}"}))
    number = id_number(COUNTY, date(1968, 3, 9), random.SystemRandom())
    ok(await client.post(
        "/api/v1/identity/registry/people",
        json={"id_number": number, "name": "黄美玲", "region_code": GRID,
              "household_id": f"H-{uuid.uuid4().hex[:10]}", "address": "铜陵镇东门社区8号",
              "tags": ["低保户"]},
        headers=bearer(make_token(roles=["grid_worker"], regions=[GRID])),
    ))
    answer = ok(await client.post(
        "/api/v1/identity/me/verification", json={"name": "黄美玲", "id_number": number},
        headers=bearer(login["access_token"]),
    ))
    assert answer["status"] == "verified"
    fresh = answer["tokens"]["access_token"]

    application = {"kind": "dibao", "reason": "独居老人，无固定收入"}
    stale = await client.post("/api/v1/relief/applications", json=application,
                              headers=bearer(login["access_token"]))
    assert stale.status_code == 403, stale.text
    assert stale.json()["code"] == "applicant_not_verified"
    ok(await client.post("/api/v1/relief/applications", json=application,
                         headers=bearer(fresh)), 201)
    me = ok(await client.get("/api/v1/identity/me", headers=bearer(fresh)))
    assert me["verified"] is True
