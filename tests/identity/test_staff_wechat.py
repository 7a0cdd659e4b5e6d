"""A staff member binds their own WeChat (a wx.login code through the WeChat client), so staff
notices reach them there; one WeChat binds one staff account; residents cannot; a bad code
writes nothing. Every change to who a staff member is for other services (created, disabled,
enabled, re-scoped, moved to another unit, WeChat bound or unbound) is published as
``identity.staff_directory_changed`` with a rising version, and ``republish-staff`` announces
every staff account again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from services.identity.cli import republish_staff
from services.identity.settings import Settings
from shared.auth.internal import internal_headers
from shared.testing.plugin import running
from tests.identity.conftest import (
    WeChatStandIn,
    admin_token,
    assert_problem,
    bearer,
    login,
)

STAFF = "/api/v1/identity/staff"
BIND = "/api/v1/identity/staff/me/wechat"
ME = "/api/v1/identity/me"
PASSWORD = "clerk-password-12345"
FEEDBACK = internal_headers("dev-only-internal-key", "feedback")
TOWN = "350623100"


def openid_path(user_id: Any) -> str:
    return f"/internal/identity/users/{user_id}/wechat-openid"


async def new_clerk(client: httpx.AsyncClient, admin: dict[str, str], **overrides: Any
                    ) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A department clerk created by the admin: (id, their bearer headers, account)."""
    body = {"username": f"clerk{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["dept_staff"], "regions": [TOWN], "departments": [str(uuid.uuid4())]}
    body.update(overrides)
    created = await client.post(STAFF, json=body, headers=admin)
    assert created.status_code == 201, created.text
    logged_in = await client.post("/api/v1/identity/staff-login",
                                  json={"username": body["username"], "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    return (created.json()["id"], bearer(logged_in.json()["access_token"]), created.json())


def directory_of(identity_sql: Callable[..., Any]) -> Callable[[str], Any]:
    async def read(staff_id: str) -> list[dict[str, Any]]:
        rows = await identity_sql(
            "SELECT envelope FROM outbox WHERE event_type = 'identity.staff_directory_changed'"
            " AND envelope->'payload'->>'staff_id' = :staff ORDER BY id", staff=staff_id)
        return [r["envelope"]["payload"] for r in rows]
    return read


async def test_a_clerk_binds_their_wechat_and_unbinds_it(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str],
    identity_sql: Callable[..., Any],
) -> None:
    _, base = wechat_server
    code = f"c{uuid.uuid4().hex[:12]}"
    directory = directory_of(identity_sql)
    async with running(identity_app(wechat_api_base=base)) as client:
        admin = bearer(await admin_token(client))
        clerk_id, clerk, account = await new_clerk(client, admin)
        assert account["wechat_bound"] is False
        bound = await client.post(BIND, json={"code": code}, headers=clerk)
        assert bound.status_code == 200, bound.text
        assert bound.json()["wechat_bound"] is True
        me = await client.get(ME, headers=clerk)
        assert me.json()["wechat_bound"] is True
        openid = await client.get(openid_path(clerk_id), headers=FEEDBACK)
        assert openid.json() == {"openid": f"o-{code}"}
        # The same WeChat again (a new wx.login code of the same user) changes nothing.
        again = await client.post(BIND, json={"code": code}, headers=clerk)
        assert again.status_code == 200
        assert again.json()["wechat_bound"] is True
        rows = await identity_sql("SELECT openid, staff_openid_cipher, staff_openid_index "
                                  "FROM users WHERE id = :id", id=uuid.UUID(clerk_id))
        unbound = await client.delete(BIND, headers=clerk)
        assert unbound.status_code == 204
        me_after = await client.get(ME, headers=clerk)
        gone = await client.get(openid_path(clerk_id), headers=FEEDBACK)
        unbound_again = await client.delete(BIND, headers=clerk)
    # Encrypted at rest, beside (never in) the column that logs residents in by WeChat.
    assert rows[0]["openid"] is None
    assert rows[0]["staff_openid_index"]
    assert code not in rows[0]["staff_openid_cipher"]
    assert me_after.json()["wechat_bound"] is False
    assert_problem(gone, 404, "openid_not_found")
    assert unbound_again.status_code == 204
    entries = await directory(clerk_id)
    assert [(e["cause"], e["version"], e["wechat_bound"]) for e in entries] == [
        ("created", 1, False), ("wechat_bound", 2, True), ("wechat_unbound", 3, False)]


async def test_one_wechat_binds_one_staff_account(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str],
    identity_sql: Callable[..., Any],
) -> None:
    _, base = wechat_server
    code = f"c{uuid.uuid4().hex[:12]}"
    directory = directory_of(identity_sql)
    async with running(identity_app(wechat_api_base=base)) as client:
        admin = bearer(await admin_token(client))
        _, first, _ = await new_clerk(client, admin)
        second_id, second, _ = await new_clerk(client, admin)
        assert (await client.post(BIND, json={"code": code}, headers=first)).status_code == 200
        taken = await client.post(BIND, json={"code": code}, headers=second)
        second_me = await client.get(ME, headers=second)
        second_entries = await directory(second_id)
        # Once the first clerk lets it go, the second may bind it.
        assert (await client.delete(BIND, headers=first)).status_code == 204
        later = await client.post(BIND, json={"code": code}, headers=second)
    assert_problem(taken, 409, "wechat_taken")
    assert second_me.json()["wechat_bound"] is False
    assert [e["cause"] for e in second_entries] == ["created"]
    assert later.status_code == 200
    assert later.json()["wechat_bound"] is True


async def test_a_bad_code_is_refused_and_writes_nothing(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str],
    identity_sql: Callable[..., Any],
) -> None:
    _, base = wechat_server
    directory = directory_of(identity_sql)
    async with running(identity_app(wechat_api_base=base)) as client:
        admin = bearer(await admin_token(client))
        clerk_id, clerk, _ = await new_clerk(client, admin)
        bad = await client.post(BIND, json={"code": "bad-code"}, headers=clerk)
        empty = await client.post(BIND, json={"code": ""}, headers=clerk)
        me = await client.get(ME, headers=clerk)
    assert_problem(bad, 400, "wechat_code_invalid")
    assert_problem(empty, 422, "validation_error")
    assert me.json()["wechat_bound"] is False
    rows = await identity_sql("SELECT staff_openid_index, directory_version FROM users "
                              "WHERE id = :id", id=uuid.UUID(clerk_id))
    assert (rows[0]["staff_openid_index"], rows[0]["directory_version"]) == (None, 1)
    assert [e["cause"] for e in await directory(clerk_id)] == ["created"]


async def test_residents_cannot_bind_and_a_bound_wechat_never_logs_into_staff(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str],
) -> None:
    _, base = wechat_server
    code = f"c{uuid.uuid4().hex[:12]}"
    async with running(identity_app(wechat_api_base=base)) as client:
        admin = bearer(await admin_token(client))
        clerk_id, clerk, _ = await new_clerk(client, admin)
        assert (await client.post(BIND, json={"code": code}, headers=clerk)).status_code == 200
        # The same person opens the mini-program as a resident: a resident account of its
        # own, never the staff account (which needs its password).
        resident = await client.post("/api/v1/identity/wechat-login", json={"code": code})
        assert resident.status_code == 200, resident.text
        as_resident = bearer(resident.json()["access_token"])
        refused = await client.post(BIND, json={"code": code}, headers=as_resident)
        refused_unbind = await client.delete(BIND, headers=as_resident)
        other = await login(client)
        refused_other = await client.post(BIND, json={"code": "x"},
                                          headers=bearer(other["access_token"]))
    assert resident.json()["user"]["kind"] == "resident"
    assert resident.json()["user"]["id"] != clerk_id
    assert resident.json()["user"]["wechat_bound"] is True
    assert_problem(refused, 403, "staff_only")
    assert_problem(refused_unbind, 403, "staff_only")
    assert_problem(refused_other, 403, "staff_only")


async def test_every_directory_change_is_published_with_a_rising_version(
    identity_app: Any, identity_settings: Callable[..., Settings],
    identity_sql: Callable[..., Any],
) -> None:
    """Created, moved to another unit and re-scoped, disabled, enabled, re-scoped by the
    unit's admin: each publishes the account as it now stands. A disabled clerk's openid is
    no longer answered."""
    directory = directory_of(identity_sql)
    unit_a, unit_b = str(uuid.uuid4()), str(uuid.uuid4())
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        clerk_id, clerk, _ = await new_clerk(client, admin, departments=[unit_a])
        assert (await client.post(BIND, json={"code": f"sandbox:o{clerk_id}"},
                                  headers=clerk)).status_code == 200
        moved = await client.put(f"{STAFF}/{clerk_id}/scope", headers=admin, json={
            "roles": ["dept_staff", "dept_admin"], "regions": [TOWN], "departments": [unit_b]})
        assert moved.status_code == 200, moved.text
        assert (await client.post(f"{STAFF}/{clerk_id}/disable",
                                  headers=admin)).status_code == 200
        disabled_openid = await client.get(openid_path(clerk_id), headers=FEEDBACK)
        assert (await client.post(f"{STAFF}/{clerk_id}/enable",
                                  headers=admin)).status_code == 200
        enabled_openid = await client.get(openid_path(clerk_id), headers=FEEDBACK)
        by_unit = await client.put(
            f"/api/v1/identity/departments/{unit_b}/staff/{clerk_id}/scope", headers=admin,
            json={"roles": ["dept_staff"], "regions": [TOWN]})
        assert by_unit.status_code == 200, by_unit.text
    assert_problem(disabled_openid, 404, "openid_not_found")
    assert enabled_openid.json() == {"openid": f"o{clerk_id}"}
    entries = await directory(clerk_id)
    assert [e["version"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [(e["cause"], e["unit_ids"], e["roles"], e["active"], e["wechat_bound"])
            for e in entries] == [
        ("created", [unit_a], ["dept_staff"], True, False),
        ("wechat_bound", [unit_a], ["dept_staff"], True, True),
        ("rescoped", [unit_b], ["dept_admin", "dept_staff"], True, True),
        ("disabled", [unit_b], ["dept_admin", "dept_staff"], False, True),
        ("enabled", [unit_b], ["dept_admin", "dept_staff"], True, True),
        ("rescoped", [unit_b], ["dept_staff"], True, True),
    ]
    assert all(e["regions"] == [TOWN] for e in entries)

    # The backfill: every staff account once more, each with a newer version.
    assert await republish_staff(batch_size=2, settings=identity_settings()) == 0
    republished = await directory(clerk_id)
    assert republished[-1]["cause"] == "republished"
    assert republished[-1]["version"] == 7
    assert republished[-1]["unit_ids"] == [unit_b]
    assert republished[-1]["active"] is True
    admins = await identity_sql(
        "SELECT count(*) AS n FROM users u WHERE kind = 'staff' AND NOT EXISTS (SELECT 1 "
        "FROM outbox o WHERE o.event_type = 'identity.staff_directory_changed' AND "
        "o.envelope->'payload'->>'cause' = 'republished' AND "
        "o.envelope->'payload'->>'staff_id' = u.id::text)")
    assert admins[0]["n"] == 0
