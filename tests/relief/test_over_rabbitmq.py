"""The whole relief path with the real broker: every step's event leaves the outbox and
reaches RabbitMQ (a queue bound to ``relief.#`` sees them, in order, once each)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from services.relief.app import create_app
from services.relief.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running, wait_until
from tests.relief.conftest import MovableClock, ReliefWorld
from tests.relief.flows import (
    BASE,
    Reviewers,
    accept,
    approve,
    auth,
    disburse,
    expect,
    new_region,
    review,
    submit,
    through_joint_review,
)
from tests.relief.identity_standin import IdentityStandIn


class Tap:
    """An exclusive queue bound to every relief event on the run's exchange."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def of(self, app_id: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["payload"].get("application_id") == app_id]


@pytest.fixture
async def rabbit_world(
    amqp_url: str,
    amqp_prefix: str,
    relief_settings: Settings,
    identity_standin: IdentityStandIn,
    token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> AsyncIterator[tuple[ReliefWorld, Tap]]:
    settings = relief_settings.model_copy(
        update={"broker": "rabbitmq", "amqp_url": amqp_url, "amqp_prefix": amqp_prefix}
    )
    clock = MovableClock()
    tap = Tap()
    app = create_app(settings, verifier=token_verifier, clock=clock)
    async with running(app) as client:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(f"{amqp_prefix}.events")
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key="relief.#")

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    tap.seen.append(json.loads(message.body))

            await queue.consume(on_message)
            region = new_region()
            yield (
                ReliefWorld(
                    client=client, identity=identity_standin, clock=clock,
                    make_token=make_token, settings=settings, region=region,
                    staff=Reviewers.mint(make_token, region),
                ),
                tap,
            )


async def test_full_path_reaches_the_broker_event_by_event(
    rabbit_world: tuple[ReliefWorld, Tap],
) -> None:
    world, tap = rabbit_world
    user_id, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    world.clock.advance(timedelta(days=7, seconds=1))
    expect(await approve(world.client, world.staff, app_id), 200)
    assert (await disburse(world.client, world.staff, app_id, month="2026-12",
                           amount_fen=80_000, key="zp-2026-12-a")).status_code == 201
    assert (await disburse(world.client, world.staff, app_id, month="2026-12",
                           amount_fen=80_000)).status_code == 200  # retried: no new event

    expected = [
        "relief.application_submitted",
        "relief.application_progressed",  # accepted
        "relief.application_progressed",  # ping_an_office
        "relief.application_progressed",  # civil_affairs
        "relief.application_progressed",  # agriculture, notice started
        "relief.application_decided",
        "relief.disbursed",
    ]

    async def all_arrived() -> bool:
        return len(tap.of(app_id)) >= len(expected)

    await wait_until(all_arrived, within=20)
    await asyncio.sleep(0.3)  # a duplicate would show up by now
    events = tap.of(app_id)
    assert [e["event_type"] for e in events] == expected
    assert {e["payload"]["applicant_user_id"] for e in events if e["event_type"] !=
            "relief.disbursed"} == {user_id}
    assert events[4]["payload"]["step"].endswith("notice_started")
    assert events[5]["payload"]["outcome"] == "approved"
    assert events[6]["payload"]["recipient_user_id"] == user_id
    assert events[6]["payload"]["amount_fen"] == 80_000
    assert all(e["producer"] == "relief" for e in events)
    unpublished = await world.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL "
                                     "AND envelope->'payload'->>'application_id' = :i", i=app_id)
    assert unpublished == 0


async def test_each_rejection_reaches_the_broker_as_a_decision(
    rabbit_world: tuple[ReliefWorld, Tap],
) -> None:
    world, tap = rabbit_world
    staff = world.staff
    ids: dict[str, str] = {}

    _, token = world.resident()
    ids["town"] = (await submit(world.client, token))["id"]
    expect(await world.client.post(f"{BASE}/applications/{ids['town']}/reject",
                                   json={"reason": "不符合"}, headers=auth(staff.town)), 200)

    _, token = world.resident()
    ids["joint_review"] = (await submit(world.client, token))["id"]
    await accept(world.client, staff, ids["joint_review"])
    expect(await review(world.client, staff, ids["joint_review"], "agriculture",
                        approve=False, opinion="有经营收入"), 200)

    _, token = world.resident()
    _, neighbour = world.resident()
    ids["notice"] = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, staff, ids["notice"])
    objection = expect(await world.client.post(
        f"{BASE}/applications/{ids['notice']}/objections", json={"text": "有车"},
        headers=auth(neighbour)), 201)
    expect(await world.client.post(
        f"{BASE}/applications/{ids['notice']}/objections/{objection['id']}/resolution",
        json={"upheld": True, "resolution": "属实"}, headers=auth(staff.civil_affairs)), 200)

    _, token = world.resident()
    ids["approval"] = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, staff, ids["approval"])
    world.clock.advance(timedelta(days=7, seconds=1))
    expect(await world.client.post(f"{BASE}/applications/{ids['approval']}/reject",
                                   json={"reason": "复核不符"},
                                   headers=auth(staff.civil_affairs)), 200)

    def decisions(app_id: str) -> list[dict[str, Any]]:
        return [e for e in tap.of(app_id) if e["event_type"] == "relief.application_decided"]

    async def all_decided() -> bool:
        return all(decisions(app_id) for app_id in ids.values())

    await wait_until(all_decided, within=20)
    for stage, app_id in ids.items():
        [decided] = decisions(app_id)
        assert decided["payload"]["outcome"] == "rejected"
        assert decided["payload"]["stage"] == stage
        assert decided["payload"]["reasons_count"] == 1
        assert decided["payload"]["notify_by"] > decided["payload"]["decided_at"]
