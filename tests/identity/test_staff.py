"""Staff accounts: bootstrap admin, password login, scopes, disabling; audited PII reveal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.testing.plugin import Migrator, running
from tests.identity.conftest import (
    ADMIN_PASSWORD,
    admin_token,
    assert_problem,
    bearer,
    login,
    unique_id_number,
)

STAFF = "/api/v1/identity/staff"
PASSWORD = "grid-worker-password-1"


def _new_staff(**overrides: Any) -> dict[str, Any]:
    body = {"username": f"gw{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["grid_worker"], "regions": ["350626106001"]}
    body.update(overrides)
    return body


async def _staff_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/identity/staff-login",
                             json={"username": username, "password": password})


async def test_an_admin_creates_a_grid_worker_who_logs_in_with_their_scope(
    identity_app: Any, token_verifier: Any
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        body = _new_staff(departments=[str(uuid.uuid4())])
        created = await client.post(STAFF, json=body, headers=admin)
        assert created.status_code == 201, created.text
        logged_in = await _staff_login(client, body["username"])
    assert logged_in.status_code == 200
    principal = token_verifier.verify(logged_in.json()["access_token"])
    assert principal.kind == "staff"
    assert principal.roles == {"grid_worker"}
    assert principal.regions == ("350626106001",)
    assert [str(d) for d in principal.departments] == body["departments"]
    assert principal.covers_region("350626106001003")


async def test_wrong_passwords_and_unknown_users_look_the_same(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        wrong = await _staff_login(client, "admin", "not-the-password")
        unknown = await _staff_login(client, f"nobody{uuid.uuid4().hex[:6]}")
    assert_problem(wrong, 401, "credentials_invalid")
    assert_problem(unknown, 401, "credentials_invalid")


async def test_only_admins_manage_staff(identity_app: Any, make_token: Any) -> None:
    async with running(identity_app()) as client:
        resident = await login(client)
        by_resident = await client.post(STAFF, json=_new_staff(),
                                        headers=bearer(resident["access_token"]))
        supervisor = make_token(roles=["supervisor"], regions=["350600"])
        by_supervisor = await client.post(STAFF, json=_new_staff(), headers=bearer(supervisor))
    assert_problem(by_resident, 403, "role_required")
    assert_problem(by_supervisor, 403, "role_required")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"roles": ["wizard"]}, 422, "role_unknown"),
        ({"roles": ["resident"]}, 422, "role_unknown"),
        ({"regions": ["35062"]}, 422, "region_invalid"),
        ({"password": "short"}, 422, "password_too_weak"),
        ({"username": "Bad Name!"}, 422, "username_invalid"),
        ({"username": "admin"}, 409, "username_taken"),
    ],
)
async def test_bad_staff_input_is_refused(
    identity_app: Any, identity_sql: Any, overrides: dict[str, Any], status: int, code: str
) -> None:
    body = _new_staff(**overrides)
    async with running(identity_app()) as client:
        answer = await client.post(STAFF, json=body,
                                   headers=bearer(await admin_token(client)))
    assert_problem(answer, status, code)
    if body["username"] != "admin":
        assert await identity_sql("SELECT id FROM users WHERE username = :u",
                                  u=body["username"].lower()) == []


async def test_rescoping_applies_at_once_and_disabling_locks_out(
    identity_app: Any, token_verifier: Any
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        body = _new_staff()
        staff_id = (await client.post(STAFF, json=body, headers=admin)).json()["id"]
        session = (await _staff_login(client, body["username"])).json()

        rescoped = await client.put(f"{STAFF}/{staff_id}/scope", headers=admin, json={
            "roles": ["dispatcher"], "regions": ["350626"]})
        assert rescoped.status_code == 200, rescoped.text
        old_refresh = await client.post("/api/v1/identity/refresh",
                                        json={"refresh_token": session["refresh_token"]})
        assert_problem(old_refresh, 401, "refresh_token_revoked")
        relogin = (await _staff_login(client, body["username"])).json()
        assert token_verifier.verify(relogin["access_token"]).regions == ("350626",)

        disabled = await client.post(f"{STAFF}/{staff_id}/disable", headers=admin)
        assert disabled.json()["disabled"] is True
        refused = await _staff_login(client, body["username"])
        listed = await client.get(STAFF, params={"limit": 200}, headers=admin)
    assert_problem(refused, 403, "account_disabled")
    assert any(item["id"] == staff_id for item in listed.json()["items"])


async def test_the_bootstrap_admin_password_is_printed_once_when_not_configured(
    migrator: Migrator, run_prefix: str, identity_app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"{run_prefix}b{uuid.uuid4().hex[:5]}"
    await migrator.ensure("identity", prefix=prefix)
    async with running(identity_app(schema_prefix=prefix, bootstrap_admin_password=None)):
        pass
    printed = capsys.readouterr().err
    assert "bootstrap admin created" in printed
    password = printed.split("password '")[1].split("'")[0]
    async with running(identity_app(schema_prefix=prefix,
                                    bootstrap_admin_password=None)) as client:
        answer = await _staff_login(client, "admin", password)
    assert answer.status_code == 200
    assert "bootstrap admin created" not in capsys.readouterr().err
    assert password != ADMIN_PASSWORD


async def test_plaintext_pii_needs_an_admin_and_a_reason_and_is_audited(
    identity_app: Any, make_token: Any
) -> None:
    id_number = unique_id_number()
    async with running(identity_app()) as client:
        resident = await login(client)
        await client.post("/api/v1/identity/me/verification",
                          json={"name": "陈七", "id_number": id_number},
                          headers=bearer(resident["access_token"]))
        admin = bearer(await admin_token(client))
        ask = {"subject_kind": "user", "subject_id": resident["user"]["id"],
               "field": "id_number", "reason": "fraud case 2026-118 needs the full number"}
        revealed = await client.post("/api/v1/identity/admin/pii-access", json=ask,
                                     headers=admin)
        no_reason = await client.post("/api/v1/identity/admin/pii-access",
                                      json={**ask, "reason": ""}, headers=admin)
        not_admin = await client.post(
            "/api/v1/identity/admin/pii-access", json=ask,
            headers=bearer(make_token(roles=["supervisor"], regions=["350600"])))
        grid = "350626106001001"
        person = (await client.post("/api/v1/identity/registry/people", json={
            "id_number": id_number, "name": "陈七", "region_code": grid,
            "address": "铜陵镇海滨路1号",
        }, headers=bearer(make_token(roles=["grid_worker"], regions=[grid])))).json()
        address = await client.post("/api/v1/identity/admin/pii-access", headers=admin, json={
            "subject_kind": "registry", "subject_id": person["id"], "field": "address",
            "reason": "home visit for 独居老人 check"})
        no_phone_in_registry = await client.post(
            "/api/v1/identity/admin/pii-access", headers=admin,
            json={**ask, "subject_kind": "registry", "subject_id": person["id"],
                  "field": "phone"})
        audit = await client.get("/api/v1/identity/admin/pii-access", headers=admin)
    assert revealed.json()["value"] == id_number
    assert address.json()["value"] == "铜陵镇海滨路1号"
    assert_problem(no_phone_in_registry, 422, "pii_field_unknown")
    assert_problem(no_reason, 422, "validation_error")
    assert_problem(not_admin, 403, "role_required")
    entry = next(e for e in audit.json()["items"] if e["subject_id"] == resident["user"]["id"])
    assert entry["reason"] == ask["reason"]
    assert entry["field"] == "id_number"
    assert entry["actor_id"]
    assert entry["accessed_at"]


async def test_a_malformed_audit_cursor_is_refused_not_crashed(identity_app: Any) -> None:
    # The cursor's edge cases are tested once, in tests/shared/test_paging.py.
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        answer = await client.get("/api/v1/identity/admin/pii-access",
                                  params={"cursor": "²"}, headers=admin)
    assert_problem(answer, 400, "cursor_invalid")
