"""Grid workers' accounts: a town or community manager makes them for grids in their own scope;
when routing says a worker left, the account stops working (once, however often told)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from shared.contracts.routing import GridWorkerLeft
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running, wait_until
from tests.identity.conftest import admin_token, assert_problem, bearer

GRID_WORKERS = "/api/v1/identity/staff/grid-workers"
LOGIN = "/api/v1/identity/staff-login"
PASSWORD = "grid-worker-password-1"
TOWN, OTHER_TOWN = "350626106", "350626107"


def new_grid(town: str = TOWN) -> str:
    return f"{town}{random.randint(100, 999)}{random.randint(100, 999)}"


def manager(make_token: Any, region: str = TOWN, role: str = "dispatcher") -> dict[str, str]:
    return bearer(make_token(roles=[role], regions=[region]))


def new_worker(**overrides: Any) -> dict[str, Any]:
    body = {"username": f"gw{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "display_name": "林网格", "phone": "13800138000", "grid_codes": [new_grid()]}
    body.update(overrides)
    return body


async def accounts_named(identity_sql: Any, username: str) -> list[Any]:
    return await identity_sql("SELECT * FROM users WHERE username = :u", u=username)


async def test_a_town_manager_makes_a_grid_worker_who_signs_in_scoped_to_their_grids(
    identity_app: Any, make_token: Any, token_verifier: Any, identity_sql: Any
) -> None:
    grids = sorted([new_grid(), new_grid()])
    body = new_worker(grid_codes=grids)
    async with running(identity_app()) as client:
        created = await client.post(GRID_WORKERS, json=body, headers=manager(make_token))
        signed_in = await client.post(LOGIN, json={"username": body["username"],
                                                   "password": PASSWORD})
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["roles"] == ["grid_worker"]
    assert account["regions"] == grids
    assert account["display_name"] == "林网格"
    assert account["phone"] == "138****8000"
    assert "13800138000" not in created.text
    assert signed_in.status_code == 200, signed_in.text
    principal = token_verifier.verify(signed_in.json()["access_token"])
    assert principal.roles == {"grid_worker"}
    assert principal.regions == tuple(grids)
    [row] = await accounts_named(identity_sql, body["username"])
    assert row["phone_cipher"]
    assert "13800138000" not in row["phone_cipher"]
    announced = await identity_sql(
        "SELECT event_type FROM outbox WHERE envelope->'payload'->>'user_id' = :id "
        "OR envelope->'payload'->>'staff_id' = :id ORDER BY id", id=account["id"])
    assert [a["event_type"] for a in announced] == [
        "identity.user_registered", "identity.staff_directory_changed"]


@pytest.mark.parametrize("role", ["dispatcher", "supervisor"])
async def test_a_manager_of_one_town_cannot_enrol_into_another_towns_grid(
    identity_app: Any, make_token: Any, identity_sql: Any, role: str
) -> None:
    body = new_worker(grid_codes=[new_grid(TOWN), new_grid(OTHER_TOWN)])
    async with running(identity_app()) as client:
        answer = await client.post(GRID_WORKERS, json=body,
                                   headers=manager(make_token, TOWN, role))
    assert_problem(answer, 403, "out_of_scope")
    assert await accounts_named(identity_sql, body["username"]) == []


async def test_a_community_manager_enrols_only_into_their_community(
    identity_app: Any, make_token: Any
) -> None:
    community = f"{TOWN}001"
    async with running(identity_app()) as client:
        own = await client.post(GRID_WORKERS, json=new_worker(grid_codes=[f"{community}004"]),
                                headers=manager(make_token, community))
        next_door = await client.post(GRID_WORKERS,
                                      json=new_worker(grid_codes=[f"{TOWN}002004"]),
                                      headers=manager(make_token, community))
    assert own.status_code == 201, own.text
    assert_problem(next_door, 403, "out_of_scope")


@pytest.mark.parametrize("roles", [["grid_worker"], ["dept_admin"], ["resident"]])
async def test_only_managers_make_grid_worker_accounts(
    identity_app: Any, make_token: Any, roles: list[str]
) -> None:
    async with running(identity_app()) as client:
        answer = await client.post(GRID_WORKERS, json=new_worker(),
                                   headers=bearer(make_token(roles=roles, regions=[TOWN])))
    assert_problem(answer, 403, "role_required")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"grid_codes": ["350626106001"]}, "validation_error"),  # a community, not a grid
        ({"grid_codes": []}, "validation_error"),
        ({"grid_codes": ["000000000000001"]}, "grid_invalid"),
        ({"phone": "12345"}, "phone_invalid"),
        ({"password": "short"}, "password_too_weak"),
        ({"username": "Bad Name!"}, "username_invalid"),
    ],
)
async def test_bad_grid_worker_input_is_refused_and_writes_nothing(
    identity_app: Any, make_token: Any, identity_sql: Any, overrides: dict[str, Any],
    code: str
) -> None:
    body = new_worker(**overrides)
    async with running(identity_app()) as client:
        # An admin covers every region, so only the input itself can be at fault.
        answer = await client.post(GRID_WORKERS, json=body,
                                   headers=bearer(make_token(roles=["admin"])))
    assert_problem(answer, 422, code)
    assert await accounts_named(identity_sql, body["username"]) == []


async def test_a_taken_username_is_refused(identity_app: Any, make_token: Any) -> None:
    body = new_worker()
    async with running(identity_app()) as client:
        first = await client.post(GRID_WORKERS, json=body, headers=manager(make_token))
        second = await client.post(GRID_WORKERS, json={**body, "display_name": "另一人"},
                                   headers=manager(make_token))
    assert first.status_code == 201, first.text
    assert_problem(second, 409, "username_taken")


async def test_a_retry_with_the_same_key_answers_the_same_account(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    body = new_worker()
    headers = {**manager(make_token), "Idempotency-Key": f"enrol-{uuid.uuid4().hex}"}
    async with running(identity_app()) as client:
        first = await client.post(GRID_WORKERS, json=body, headers=headers)
        again = await client.post(GRID_WORKERS, json=body, headers=headers)
        other_body = await client.post(GRID_WORKERS, json=new_worker(), headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert len(await accounts_named(identity_sql, body["username"])) == 1


# -- leaving ----------------------------------------------------------------------------------


def left_message(user_id: str, grids: list[str], successor: uuid.UUID | None = None
                 ) -> Envelope:
    payload = GridWorkerLeft(
        user_id=uuid.UUID(user_id), successor_id=successor or uuid.uuid4(), grid_codes=grids,
        left_on=date(2026, 12, 6), moved_task_ids=[], handed_over_by=uuid.uuid4(),
        at=datetime.now(UTC))
    return Envelope(event_type="routing.grid_worker_left", producer="routing",
                    payload=payload.model_dump(mode="json"))


async def publish(app: FastAPI, *envelopes: Envelope) -> None:
    """As routing's relay would: onto the app's broker."""
    broker = app.state.runtime.broker
    for envelope in envelopes:
        await broker.publish(envelope.routing_key, envelope.to_bytes(),
                             message_id=str(envelope.event_id))


async def handled(app: FastAPI, count: int) -> None:
    async def done() -> bool:
        consumers = app.state.runtime.consumers
        return consumers is not None and (
            consumers.handled_total + consumers.duplicates_total >= count)
    await wait_until(done, within=20)


async def test_a_worker_who_left_is_locked_out_once_however_often_told(
    identity_app: Any, make_token: Any, identity_sql: Any, amqp_url: str, amqp_prefix: str
) -> None:
    body = new_worker()
    app = identity_app(broker="rabbitmq", amqp_url=amqp_url, amqp_prefix=amqp_prefix)
    async with running(app) as client:
        account = (await client.post(GRID_WORKERS, json=body,
                                     headers=manager(make_token))).json()
        session = (await client.post(LOGIN, json={"username": body["username"],
                                                  "password": PASSWORD})).json()
        message = left_message(account["id"], body["grid_codes"])
        # Delivered twice (a redelivery), then told again by a second message.
        await publish(app, message, message, left_message(account["id"], body["grid_codes"]))
        await handled(app, 3)
        refresh = await client.post("/api/v1/identity/refresh",
                                    json={"refresh_token": session["refresh_token"]})
        login = await client.post(LOGIN, json={"username": body["username"],
                                               "password": PASSWORD})
        listed = await client.get("/api/v1/identity/staff", params={"limit": 200},
                                  headers=bearer(await admin_token(client)))
    assert_problem(refresh, 401, "refresh_token_revoked")
    assert_problem(login, 403, "account_disabled")
    [mine] = [a for a in listed.json()["items"] if a["id"] == account["id"]]
    assert mine["disabled"] is True
    assert mine["roles"] == ["grid_worker"]
    announced = await identity_sql(
        "SELECT event_type, envelope->'payload'->>'cause' AS cause FROM outbox "
        "WHERE envelope->'payload'->>'staff_id' = :id OR envelope->'payload'->>'key' = :id "
        "ORDER BY id", id=account["id"])
    assert [(a["event_type"], a["cause"]) for a in announced] == [
        ("identity.staff_directory_changed", "created"),
        ("identity.access_revoked", None),
        ("identity.staff_directory_changed", "disabled"),
    ]


async def test_a_leaver_who_also_manages_keeps_their_other_role(
    identity_app: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    app = identity_app()
    async with running(app) as client:
        admin = bearer(await admin_token(client))
        account = (await client.post("/api/v1/identity/staff", headers=admin, json={
            "username": f"gw{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["grid_worker", "dispatcher"], "regions": [grid, TOWN]})).json()
        await publish(app, left_message(account["id"], [grid]))
        await handled(app, 1)
    [row] = await identity_sql("SELECT roles, regions, disabled FROM users WHERE id = :id",
                               id=uuid.UUID(account["id"]))
    assert (list(row["roles"]), list(row["regions"]), row["disabled"]) == (
        ["dispatcher"], [TOWN], False)


async def test_a_leaving_message_about_an_unknown_account_changes_nothing(
    identity_app: Any, identity_sql: Any
) -> None:
    app = identity_app()
    stranger = str(uuid.uuid4())
    async with running(app) as client:
        await publish(app, left_message(stranger, [new_grid()]))
        await handled(app, 1)
        assert (await client.get("/healthz")).status_code == 200
    assert await identity_sql("SELECT 1 FROM outbox WHERE envelope->'payload'->>'key' = :id",
                              id=stranger) == []
