"""Partner apps: secret shown once, rotation with overlap, callback hosts, disabling; the
gateway's view."""

from __future__ import annotations

import uuid
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
    assert_problem(bad_region, 422, "region_invalid")
    assert_problem(not_admin, 403, "role_required")


def _credentials_path(app: dict[str, Any]) -> str:
    return f"/internal/identity/partners/{app['app_key']}/credentials"


async def test_an_admin_allows_callback_hosts_at_creation_and_replaces_them_later(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        created = await client.post(PARTNERS, headers=admin, json={
            "name": "芗里芗亲", "scopes": ["webhooks:manage"],
            "callback_hosts": ["Hooks.Example.com.", "api.xlxq.cn", "hooks.example.com"]})
        assert created.status_code == 201, created.text
        app = created.json()
        at_creation = (await client.get(_credentials_path(app), headers=INTERNAL)).json()
        replaced = await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", headers=admin,
                                    json={"callback_hosts": ["notify.xlxq.cn"]})
        listed = (await client.get(PARTNERS, headers=admin, params={"limit": 200})).json()
        after = (await client.get(_credentials_path(app), headers=INTERNAL)).json()
        cleared = await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", headers=admin,
                                   json={"callback_hosts": []})
        without = (await client.post(PARTNERS, headers=admin, json={"name": "p"})).json()
    assert app["callback_hosts"] == ["api.xlxq.cn", "hooks.example.com"]
    assert at_creation["callback_hosts"] == ["api.xlxq.cn", "hooks.example.com"]
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["callback_hosts"] == ["notify.xlxq.cn"]
    assert next(a for a in listed["items"]
                if a["id"] == app["id"])["callback_hosts"] == ["notify.xlxq.cn"]
    assert after["callback_hosts"] == ["notify.xlxq.cn"]
    assert cleared.json()["callback_hosts"] == []
    assert without["callback_hosts"] == []


async def test_callback_hosts_that_are_not_bare_dns_names_are_refused_and_change_nothing(
    identity_app: Any, identity_sql: Any
) -> None:
    refused_hosts = [
        "203.0.113.7",  # an IP literal
        "[2001:db8::1]", "2001:db8::1",
        "127.1",  # resolvers read an all-numeric last label as an address
        "https://hooks.example.com",  # a URL, not a host
        "hooks.example.com:8443",  # a port
        "hooks.example.com/ehome",  # a path
        "ops@hooks.example.com",
        "localhost",  # no dot
        "hooks_1.example.com", "-hooks.example.com", "hooks..example.com", "",
        "钩子.example.com",  # internationalised names in their xn-- form only
        "a" * 64 + ".example.com",
    ]
    name = f"refused-{uuid.uuid4().hex[:8]}"
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        app = (await client.post(PARTNERS, headers=admin, json={
            "name": "p", "callback_hosts": ["hooks.example.com"]})).json()
        answers = [await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", headers=admin,
                                    json={"callback_hosts": ["ok.example.com", host]})
                   for host in refused_hosts]
        too_many = await client.put(
            f"{PARTNERS}/{app['id']}/callback-hosts", headers=admin,
            json={"callback_hosts": [f"h{n}.example.com" for n in range(21)]})
        at_creation = await client.post(PARTNERS, headers=admin, json={
            "name": name, "callback_hosts": ["http://hooks.example.com/"]})
        view = (await client.get(_credentials_path(app), headers=INTERNAL)).json()
    for host, answer in zip(refused_hosts, answers, strict=True):
        assert answer.status_code == 422, (host, answer.text)
        assert_problem(answer, 422, "callback_host_invalid")
    assert_problem(too_many, 422, "callback_hosts_too_many")
    assert_problem(at_creation, 422, "callback_host_invalid")
    assert view["callback_hosts"] == ["hooks.example.com"]
    assert await identity_sql("SELECT id FROM partner_apps WHERE name = :n", n=name) == []


async def test_only_an_admin_sets_callback_hosts_and_only_on_a_live_app(
    identity_app: Any,
) -> None:
    hosts = {"callback_hosts": ["hooks.example.com"]}
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        app = (await client.post(PARTNERS, headers=admin, json={"name": "p"})).json()
        resident = await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", json=hosts,
                                    headers=bearer(await _resident_token(client)))
        anonymous = await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", json=hosts)
        unknown = await client.put(f"{PARTNERS}/{uuid.uuid4()}/callback-hosts", json=hosts,
                                   headers=admin)
        await client.post(f"{PARTNERS}/{app['id']}/disable", headers=admin)
        disabled = await client.put(f"{PARTNERS}/{app['id']}/callback-hosts", json=hosts,
                                    headers=admin)
        view = (await client.get(_credentials_path(app), headers=INTERNAL)).json()
    assert_problem(resident, 403, "role_required")
    assert anonymous.status_code == 401
    assert_problem(unknown, 404, "partner_not_found")
    assert_problem(disabled, 410, "partner_disabled")
    assert view["callback_hosts"] == []


async def _resident_token(client: Any) -> str:
    return (await login(client))["access_token"]
