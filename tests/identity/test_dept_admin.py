"""A department admin (dept_admin) manages the staff of their own unit: creates clerks in it,
disables them, resets their passwords and sets their scope within the unit; never another
unit's staff, never a role beyond the unit's. Admins keep full control."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.testing.plugin import running
from tests.identity.conftest import admin_token, assert_problem, bearer

STAFF = "/api/v1/identity/staff"
PASSWORD = "unit-staff-password-1"
TOWN = "350626106"  # 铜陵镇


def unit_staff(unit_id: uuid.UUID) -> str:
    return f"/api/v1/identity/departments/{unit_id}/staff"


def _clerk(**overrides: Any) -> dict[str, Any]:
    return {"username": f"clerk{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "display_name": "派出所内勤", "roles": ["dept_staff"], "regions": [TOWN],
            **overrides}


async def _login(client: httpx.AsyncClient, username: str, password: str = PASSWORD
                 ) -> httpx.Response:
    return await client.post("/api/v1/identity/staff-login",
                             json={"username": username, "password": password})


async def _dept_admin_of(client: httpx.AsyncClient, unit_id: uuid.UUID) -> dict[str, str]:
    """An admin creates the unit's department admin, who logs in."""
    body = {"username": f"da{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["dept_admin"], "regions": [TOWN], "departments": [str(unit_id)]}
    created = await client.post(STAFF, json=body,
                                headers=bearer(await admin_token(client)))
    assert created.status_code == 201, created.text
    logged_in = await _login(client, body["username"])
    assert logged_in.status_code == 200, logged_in.text
    return bearer(logged_in.json()["access_token"])


async def test_a_dept_admin_creates_disables_and_resets_a_clerk_of_their_unit(
    identity_app: Any, token_verifier: Any
) -> None:
    station = uuid.uuid4()
    async with running(identity_app()) as client:
        dept_admin = await _dept_admin_of(client, station)
        body = _clerk()
        created = await client.post(unit_staff(station), json=body, headers=dept_admin)
        assert created.status_code == 201, created.text
        clerk = created.json()
        assert (clerk["roles"], clerk["departments"], clerk["regions"]) == (
            ["dept_staff"], [str(station)], [TOWN])
        first = await _login(client, body["username"])
        assert token_verifier.verify(first.json()["access_token"]).departments == (station,)

        listed = await client.get(unit_staff(station), headers=dept_admin)
        assert body["username"] in [s["username"] for s in listed.json()["items"]]

        new_password = "reset-by-the-unit-admin-2"
        reset = await client.post(f"{unit_staff(station)}/{clerk['id']}/password",
                                  json={"password": new_password}, headers=dept_admin)
        assert reset.status_code == 200, reset.text
        old = await _login(client, body["username"])
        assert_problem(old, 401, "credentials_invalid")
        assert (await _login(client, body["username"], new_password)).status_code == 200
        refresh = await client.post("/api/v1/identity/refresh",
                                    json={"refresh_token": first.json()["refresh_token"]})
        assert refresh.status_code == 401  # the reset ended the old session

        narrowed = await client.put(f"{unit_staff(station)}/{clerk['id']}/scope",
                                    json={"roles": ["dept_staff", "dept_admin"],
                                          "regions": ["350626106001"]}, headers=dept_admin)
        assert narrowed.status_code == 200, narrowed.text
        assert narrowed.json()["regions"] == ["350626106001"]

        disabled = await client.post(f"{unit_staff(station)}/{clerk['id']}/disable",
                                     headers=dept_admin)
        assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
        assert_problem(await _login(client, body["username"], new_password), 403,
                       "account_disabled")


async def test_a_dept_admin_cannot_touch_another_units_staff_or_escalate(
    identity_app: Any, identity_sql: Any
) -> None:
    station, court = uuid.uuid4(), uuid.uuid4()
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        dept_admin = await _dept_admin_of(client, station)
        other = (await client.post(unit_staff(court), json=_clerk(), headers=admin)).json()

        # Another unit: neither through its routes nor by naming its clerk under mine.
        assert_problem(await client.post(unit_staff(court), json=_clerk(), headers=dept_admin),
                       403, "out_of_scope")
        assert_problem(await client.get(unit_staff(court), headers=dept_admin),
                       403, "out_of_scope")
        for action, body in (("disable", None), ("password", {"password": "x" * 12})):
            assert_problem(await client.post(f"{unit_staff(station)}/{other['id']}/{action}",
                                             json=body, headers=dept_admin),
                           403, "staff_outside_unit")
        assert_problem(await client.put(f"{unit_staff(station)}/{other['id']}/scope",
                                        json={"roles": ["dept_staff"]}, headers=dept_admin),
                       403, "staff_outside_unit")
        # The bootstrap admin is nobody's unit staff.
        me = await client.get("/api/v1/identity/me", headers=admin)
        assert_problem(await client.post(f"{unit_staff(station)}/{me.json()['id']}/disable",
                                         headers=dept_admin), 403, "staff_outside_unit")

        # No role beyond the unit's, no region beyond mine; nothing is written.
        refused: list[tuple[dict[str, Any], int, str]] = [
            (_clerk(roles=["admin"]), 403, "role_not_delegable"),
            (_clerk(roles=["dept_staff", "supervisor"]), 403, "role_not_delegable"),
            (_clerk(roles=["dispatcher"]), 403, "role_not_delegable"),
            (_clerk(roles=["wizard"]), 422, "role_unknown"),
            (_clerk(regions=["350623"]), 403, "region_outside_unit"),
            (_clerk(regions=["not-a-region"]), 422, "region_invalid"),
            (_clerk(password="short"), 422, "password_too_weak"),
            (_clerk(departments=[str(court)]), 422, "validation_error"),
        ]
        for body, status, code in refused:
            assert_problem(await client.post(unit_staff(station), json=body,
                                              headers=dept_admin), status, code)
        names = [body["username"] for body, _, _ in refused]
        rows = await identity_sql("SELECT count(*) AS n FROM users WHERE username = ANY(:names)",
                                  names=names)
        assert rows[0]["n"] == 0

        # Admins keep full control, of every unit.
        made = await client.post(unit_staff(station), json=_clerk(), headers=admin)
        assert made.status_code == 201, made.text
        assert (await client.post(f"{unit_staff(court)}/{other['id']}/disable",
                                  headers=admin)).status_code == 200


async def test_only_admins_and_unit_admins_manage_unit_staff(
    identity_app: Any, make_token: Any
) -> None:
    station = uuid.uuid4()
    async with running(identity_app()) as client:
        for roles in (["dept_staff"], ["supervisor"], ["dispatcher"]):
            token = bearer(make_token(roles=roles, departments=[station], regions=[TOWN]))
            assert_problem(await client.post(unit_staff(station), json=_clerk(),
                                             headers=token), 403, "role_required")
