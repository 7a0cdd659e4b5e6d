"""Partner apps: secret shown once, rotation with overlap, disabling; the gateway's view."""

from __future__ import annotations

from typing import Any

from shared.auth.internal import internal_headers
from shared.testing.plugin import running
from tests.identity.conftest import admin_token, assert_problem, bearer, login

PARTNERS = "/api/v1/identity/partners"
INTERNAL = internal_headers("dev-only-internal-key", "gateway")


async def test_a_partner_app_lives_through_creation_rotation_and_disabling(
    identity_app: Any, identity_sql: Any
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        created = await client.post(PARTNERS, headers=admin, json={
            "name": "芗里芗亲", "scopes": ["events:write", "events:read"],
            "allowed_regions": ["350602"]})
        assert created.status_code == 201, created.text
        app = created.json()
        listed = await client.get(PARTNERS, headers=admin, params={"limit": 200})
        rotated = (await client.post(f"{PARTNERS}/{app['id']}/rotate-secret", headers=admin,
                                     json={"overlap_seconds": 3600})).json()
        view = (await client.get(f"/internal/identity/partners/{app['app_key']}/credentials",
                                 headers=INTERNAL)).json()
        disabled = await client.post(f"{PARTNERS}/{app['id']}/disable", headers=admin)
        after = (await client.get(f"/internal/identity/partners/{app['app_key']}/credentials",
                                  headers=INTERNAL)).json()
        rotate_disabled = await client.post(f"{PARTNERS}/{app['id']}/rotate-secret",
                                            headers=admin, json={})
        no_key = await client.get(f"/internal/identity/partners/{app['app_key']}/credentials")
    listed_app = next(a for a in listed.json()["items"] if a["id"] == app["id"])
    assert "secret" not in listed_app
    assert [s["secret"] for s in view["secrets"]] == [rotated["secret"], app["secret"]]
    assert view["secrets"][0]["expires_at"] is None
    assert view["secrets"][1]["expires_at"] is not None
    assert view["scopes"] == ["events:read", "events:write"]
    assert disabled.json()["disabled"] is True
    assert after["disabled"] is True
    assert_problem(rotate_disabled, 410, "partner_disabled")
    assert_problem(no_key, 401, "internal_key_invalid")
    stored = await identity_sql("SELECT secret_cipher FROM partner_secrets s JOIN partner_apps a "
                                "ON a.id = s.app_id WHERE a.app_key = :k", k=app["app_key"])
    assert all(app["secret"] not in r["secret_cipher"] for r in stored)


async def test_a_rotation_without_overlap_retires_the_old_secret_at_once(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        app = (await client.post(PARTNERS, headers=admin, json={"name": "p"})).json()
        rotated = (await client.post(f"{PARTNERS}/{app['id']}/rotate-secret", headers=admin,
                                     json={"overlap_seconds": 0})).json()
        view = (await client.get(f"/internal/identity/partners/{app['app_key']}/credentials",
                                 headers=INTERNAL)).json()
        bad_region = await client.post(PARTNERS, headers=admin,
                                       json={"name": "q", "allowed_regions": ["x"]})
        not_admin = await client.post(PARTNERS, json={"name": "q"},
                                      headers=bearer(await _resident_token(client)))
    assert [s["secret"] for s in view["secrets"]] == [rotated["secret"]]
    assert_problem(bad_region, 422, "region_code_invalid")
    assert_problem(not_admin, 403, "role_required")


async def _resident_token(client: Any) -> str:
    return (await login(client))["access_token"]
