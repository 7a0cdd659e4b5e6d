"""Identity and feedback together over RabbitMQ, this test playing routing: a clerk binds
their WeChat through identity's API, identity's directory message reaches feedback, and a
case assigned to the clerk's unit sends the clerk a subscribe message (the openid read from
identity's internal endpoint over HTTP). A clerk of another unit and a disabled clerk are not
messaged; once the clerk unbinds, the next case sends nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.feedback.app import create_app
from services.feedback.settings import Settings
from services.identity.app import create_app as create_identity_app
from services.identity.settings import Settings as IdentitySettings
from shared.auth.tokens import TokenVerifier
from shared.messaging.rabbit import RabbitBroker
from shared.settings import ServiceSettings
from shared.testing.live_server import serving
from shared.testing.plugin import Migrator, running, wait_until
from tests.feedback.helpers import sql
from tests.feedback.standin import INTERNAL_KEY, StandIn
from tests.feedback.test_staff_notices_on_wechat import COMMUNITY, POLICE, assigned, send

ADMIN_PASSWORD = "admin-password-for-staff-wechat"
PASSWORD = "clerk-password-12345"
IDENTITY = "/api/v1/identity"


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = await StandIn().start()
    yield server
    await server.stop()


@pytest.fixture
async def identity_settings(
    feedback_settings: Settings, migrator: Migrator, amqp_url: str,
    service_settings: Callable[..., ServiceSettings],
) -> IdentitySettings:
    """Identity on this test's prefix and exchange, its WeChat the sandbox of API.md
    (``sandbox:<openid>`` codes), cheap password hashing."""
    await migrator.ensure("identity", prefix=feedback_settings.schema_prefix)
    return service_settings(  # type: ignore[return-value]  # built as IdentitySettings
        IdentitySettings, schema_prefix=feedback_settings.schema_prefix,
        amqp_prefix=feedback_settings.amqp_prefix, broker="rabbitmq", amqp_url=amqp_url,
        internal_api_key=INTERNAL_KEY, bootstrap_admin_password=ADMIN_PASSWORD,
        argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


async def staff_member(client: httpx.AsyncClient, admin: dict[str, str], unit: uuid.UUID,
                       openid: str | None) -> tuple[uuid.UUID, dict[str, str]]:
    """A clerk of ``unit`` created by the admin, logged in, with WeChat ``openid`` bound."""
    username = f"clerk{uuid.uuid4().hex[:10]}"
    created = await client.post(f"{IDENTITY}/staff", headers=admin, json={
        "username": username, "password": PASSWORD, "roles": ["dept_staff"],
        "regions": [COMMUNITY.region_code], "departments": [str(unit)]})
    assert created.status_code == 201, created.text
    login = await client.post(f"{IDENTITY}/staff-login",
                              json={"username": username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    if openid is not None:
        bound = await client.post(f"{IDENTITY}/staff/me/wechat", headers=headers,
                                  json={"code": f"sandbox:{openid}"})
        assert bound.status_code == 200, bound.text
    return uuid.UUID(created.json()["id"]), headers


async def projected(app: FastAPI, staff_id: uuid.UUID, **expected: Any) -> None:
    async def holds() -> bool:
        rows = await sql(app, "SELECT active, wechat_bound FROM staff_directory "
                              "WHERE staff_id = :s", s=staff_id)
        return bool(rows) and all(getattr(rows[0], k) == v for k, v in expected.items())
    await wait_until(holds, within=15)


async def test_a_clerk_who_bound_wechat_is_messaged_for_a_case_in_their_units_queue(
    feedback_settings: Settings, identity_settings: IdentitySettings, amqp_url: str,
    standin: StandIn, token_verifier: TokenVerifier,
) -> None:
    identity = create_identity_app(identity_settings, verifier=token_verifier)
    routing = RabbitBroker(amqp_url, prefix=feedback_settings.amqp_prefix, publish_timeout=5,
                           name="routing")
    await routing.connect()
    try:
        async with running(identity) as client, serving(identity) as identity_url:
            feedback = create_app(feedback_settings.model_copy(update={
                "broker": "rabbitmq", "amqp_url": amqp_url,
                "wechat_api_base": standin.base_url, "identity_base_url": identity_url,
                "internal_api_key": INTERNAL_KEY, "sender_poll_seconds": 0.05,
            }), verifier=token_verifier)
            async with running(feedback):
                await _scenario(client, feedback, routing, standin)
    finally:
        await asyncio.wait_for(routing.close(), timeout=10)


async def _scenario(client: httpx.AsyncClient, feedback: FastAPI, routing: RabbitBroker,
                    standin: StandIn) -> None:
    login = await client.post(f"{IDENTITY}/staff-login",
                              json={"username": "admin", "password": ADMIN_PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    tag = uuid.uuid4().hex[:8]
    clerk, clerk_headers = await staff_member(client, admin, COMMUNITY.unit_id, f"oc-{tag}")
    police, _ = await staff_member(client, admin, POLICE.unit_id, f"op-{tag}")
    leaver, _ = await staff_member(client, admin, COMMUNITY.unit_id, f"ol-{tag}")
    unbound, _ = await staff_member(client, admin, COMMUNITY.unit_id, None)
    disabled = await client.post(f"{IDENTITY}/staff/{leaver}/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    await projected(feedback, clerk, active=True, wechat_bound=True)
    await projected(feedback, police, wechat_bound=True)
    await projected(feedback, leaver, active=False)
    await projected(feedback, unbound, wechat_bound=False)

    await send(routing, assigned(uuid.uuid4(), COMMUNITY))

    async def messaged() -> bool:
        return any(m["touser"] == f"oc-{tag}" for m in standin.sent)
    await wait_until(messaged, within=15)

    unbind = await client.delete(f"{IDENTITY}/staff/me/wechat", headers=clerk_headers)
    assert unbind.status_code == 204
    await projected(feedback, clerk, wechat_bound=False)
    await send(routing, assigned(uuid.uuid4(), COMMUNITY))

    async def recorded() -> bool:
        return len(await sql(feedback, "SELECT id FROM staff_notices")) == 2
    await wait_until(recorded, within=15)
    await asyncio.sleep(0.5)  # a message queued by mistake would be sent by now
    assert [m["touser"] for m in standin.sent] == [f"oc-{tag}"]
    assert standin.sent[0]["data"]["thing1"]["value"] == "新案件待办"
    assert not standin.calls[f"op-{tag}"]
    assert not standin.calls[f"ol-{tag}"]
