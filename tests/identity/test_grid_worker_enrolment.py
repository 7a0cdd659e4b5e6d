"""A grid worker's account follows their grid work in routing: re-enrolled after leaving, it
works again; its grids change with the enrolment; a late message never undoes a newer one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from shared.auth.tokens import TokenVerifier
from shared.contracts.routing import GridWorkerEnrolled
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running
from tests.identity.conftest import admin_token, assert_problem, bearer
from tests.identity.test_grid_worker_accounts import (
    GRID_WORKERS,
    LOGIN,
    PASSWORD,
    handled,
    left_message,
    manager,
    new_grid,
    new_worker,
    publish,
)

REFRESH = "/api/v1/identity/refresh"


def enrolled_message(user_id: str, grids: list[str], at: datetime) -> Envelope:
    payload = GridWorkerEnrolled(user_id=uuid.UUID(user_id), kind="full_time", grid_codes=grids,
                                 started_on=date(2026, 12, 1), enrolled_by=uuid.uuid4(), at=at)
    return Envelope(event_type="routing.grid_worker_enrolled", producer="routing",
                    payload=payload.model_dump(mode="json"))


def left_at(user_id: str, grids: list[str], at: datetime) -> Envelope:
    message = left_message(user_id, grids)
    message.payload["at"] = at.isoformat()
    return message


async def told(app: FastAPI, *envelopes: Envelope) -> None:
    """Deliver the messages one after the other, each handled before the next."""
    consumers = app.state.runtime.consumers
    for envelope in envelopes:
        done = consumers.handled_total + consumers.duplicates_total
        await publish(app, envelope)
        await handled(app, done + 1)


async def make_worker(client: Any, make_token: Any, grids: list[str]) -> tuple[str, Any]:
    body = new_worker(grid_codes=grids)
    created = await client.post(GRID_WORKERS, json=body, headers=manager(make_token))
    assert created.status_code == 201, created.text
    return created.json()["id"], body


async def sign_in(client: Any, body: dict[str, Any]) -> Any:
    return await client.post(LOGIN, json={"username": body["username"], "password": PASSWORD})


async def test_a_worker_re_enrolled_after_leaving_signs_in_again_with_their_new_grids(
    identity_app: Any, make_token: Any, token_verifier: TokenVerifier
) -> None:
    first_grid, new = new_grid(), new_grid()
    now = datetime.now(UTC)
    app = identity_app()
    async with running(app) as client:
        user_id, body = await make_worker(client, make_token, [first_grid])
        await told(app, enrolled_message(user_id, [first_grid], now),
                   left_at(user_id, [first_grid], now + timedelta(days=30)))
        while_gone = await sign_in(client, body)
        await told(app, enrolled_message(user_id, [new], now + timedelta(days=60)))
        back = await sign_in(client, body)
    assert_problem(while_gone, 403, "account_disabled")
    assert back.status_code == 200, back.text
    assert token_verifier.verify(back.json()["access_token"]).regions == (new,)


async def test_grids_follow_the_enrolment_and_one_taken_away_ends_the_sessions(
    identity_app: Any, make_token: Any, token_verifier: TokenVerifier
) -> None:
    first, second = sorted([new_grid(), new_grid()])
    now = datetime.now(UTC)
    app = identity_app()
    async with running(app) as client:
        user_id, body = await make_worker(client, make_token, [first])
        session = (await sign_in(client, body)).json()
        await told(app, enrolled_message(user_id, [first, second], now))
        widened = await client.post(REFRESH, json={"refresh_token": session["refresh_token"]})
        assert widened.status_code == 200, widened.text
        await told(app, enrolled_message(user_id, [second], now + timedelta(minutes=1)))
        narrowed = await client.post(REFRESH,
                                     json={"refresh_token": widened.json()["refresh_token"]})
        again = await sign_in(client, body)
    assert token_verifier.verify(widened.json()["access_token"]).regions == (first, second)
    assert_problem(narrowed, 401, "refresh_token_revoked")
    assert token_verifier.verify(again.json()["access_token"]).regions == (second,)


async def test_a_late_message_never_undoes_a_newer_one(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    now = datetime.now(UTC)
    app = identity_app()
    async with running(app) as client:
        gone_id, gone = await make_worker(client, make_token, [grid])
        back_id, back = await make_worker(client, make_token, [grid])
        await told(app,
                   # Left after the enrolment, but the leaving arrives first.
                   left_at(gone_id, [grid], now + timedelta(hours=1)),
                   enrolled_message(gone_id, [new_grid()], now),
                   # Re-enrolled after leaving; the leaving arrives last.
                   enrolled_message(back_id, [grid], now + timedelta(hours=2)),
                   left_at(back_id, [grid], now + timedelta(hours=1)))
        gone_login = await sign_in(client, gone)
        back_login = await sign_in(client, back)
    assert_problem(gone_login, 403, "account_disabled")
    assert back_login.status_code == 200, back_login.text
    [row] = await identity_sql("SELECT regions FROM users WHERE id = :id",
                               id=uuid.UUID(gone_id))
    assert list(row["regions"]) == [grid]


async def test_an_account_an_admin_disabled_stays_disabled_when_re_enrolled(
    identity_app: Any, make_token: Any
) -> None:
    grid = new_grid()
    now = datetime.now(UTC)
    app = identity_app()
    async with running(app) as client:
        user_id, body = await make_worker(client, make_token, [grid])
        await told(app, left_at(user_id, [grid], now))
        admin = bearer(await admin_token(client))
        disabled = await client.post(f"/api/v1/identity/staff/{user_id}/disable",
                                     headers=admin)
        assert disabled.status_code == 200, disabled.text
        await told(app, enrolled_message(user_id, [grid], now + timedelta(hours=1)))
        login = await sign_in(client, body)
    assert_problem(login, 403, "account_disabled")


async def test_an_enrolment_never_gives_an_account_the_grid_worker_role(
    identity_app: Any, identity_sql: Any
) -> None:
    app = identity_app()
    async with running(app) as client:
        admin = bearer(await admin_token(client))
        dispatcher = (await client.post("/api/v1/identity/staff", headers=admin, json={
            "username": f"d{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["dispatcher"], "regions": ["350626107"]})).json()
        await told(app, enrolled_message(dispatcher["id"], [new_grid()], datetime.now(UTC)))
    [row] = await identity_sql("SELECT roles, regions FROM users WHERE id = :id",
                               id=uuid.UUID(dispatcher["id"]))
    assert (list(row["roles"]), list(row["regions"])) == (["dispatcher"], ["350626107"])
