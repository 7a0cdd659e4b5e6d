"""A NUL character (which PostgreSQL text cannot hold) in any of identity's inputs is a 422
``validation_error`` before anything runs, not a 500 from the database driver."""

from __future__ import annotations

import uuid
from typing import Any

from shared.testing.plugin import running
from tests.identity.conftest import admin_token, assert_problem, bearer

NUL = "\x00"


def _assert_nul_refused(response: Any, *loc: str) -> None:
    assert_problem(response, 422, "validation_error")
    assert response.json()["errors"][0]["loc"] == ["body", *loc]
    assert response.json()["errors"][0]["type"] == "nul_character"


async def test_a_nul_in_a_wechat_login_code_is_refused_not_a_500(
    identity_app: Any, identity_sql: Any
) -> None:
    openid = f"o{uuid.uuid4().hex}"
    async with running(identity_app()) as client:
        response = await client.post("/api/v1/identity/wechat-login",
                                     json={"code": f"sandbox:{openid}{NUL}"})
    _assert_nul_refused(response, "code")
    assert await identity_sql("SELECT 1 FROM users WHERE openid LIKE :o", o=f"{openid}%") == []


async def test_a_nul_in_a_staff_login_username_is_refused_not_a_500(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        response = await client.post("/api/v1/identity/staff-login",
                                     json={"username": f"ad{NUL}min", "password": "x"})
    _assert_nul_refused(response, "username")


async def test_a_nul_in_a_staff_display_name_is_refused_and_no_account_is_made(
    identity_app: Any, identity_sql: Any
) -> None:
    username = f"gw{uuid.uuid4().hex[:10]}"
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        response = await client.post("/api/v1/identity/staff", headers=admin, json={
            "username": username, "password": "grid-worker-password-1",
            "display_name": f"网格员{NUL}", "roles": ["grid_worker"],
            "regions": ["350626106001"]})
    _assert_nul_refused(response, "display_name")
    assert await identity_sql("SELECT 1 FROM users WHERE username = :u", u=username) == []


async def test_a_nul_in_a_partner_app_name_is_refused_and_no_app_is_made(
    identity_app: Any, identity_sql: Any
) -> None:
    name = f"芗里芗亲-{uuid.uuid4().hex[:8]}"
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        response = await client.post("/api/v1/identity/partners", headers=admin, json={
            "name": f"{name}{NUL}", "scopes": ["events:submit"],
            "allowed_regions": ["350626"]})
    _assert_nul_refused(response, "name")
    assert await identity_sql("SELECT 1 FROM partner_apps WHERE name LIKE :n",
                              n=f"{name}%") == []


async def test_a_nul_in_a_query_or_path_parameter_is_a_4xx_not_a_500(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        by_cursor = await client.get("/api/v1/identity/staff?cursor=a%00b", headers=admin)
        by_partner_cursor = await client.get("/api/v1/identity/partners?cursor=%00",
                                             headers=admin)
        by_path = await client.put("/api/v1/identity/stats/regions/3506%00/population",
                                   headers=admin, json={"census_population": 1})
    for response in (by_cursor, by_partner_cursor, by_path):
        assert_problem(response, 422, "validation_error")
