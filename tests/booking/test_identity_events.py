"""Eligibility is learnt from identity's events, never asked of identity on the hot path; the
booking's own events leave through the outbox."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from shared.contracts.identity import UserVerified
from shared.messaging.envelope import Envelope
from shared.messaging.memory import MemoryBroker
from shared.messaging.rabbit import RabbitBroker
from shared.testing.plugin import wait_until
from tests.booking.conftest import TOWN, BookingWorld


def user_verified(user: uuid.UUID, *, region: str, at: datetime) -> Envelope:
    payload = UserVerified(user_id=user, verified_at=at, region_code=region, household_id="H-9")
    return Envelope(
        event_type="identity.user_verified", producer="identity", payload=payload.model_dump()
    )


async def _known_region(world: BookingWorld, user: uuid.UUID) -> str | None:
    rows = await world.sql("SELECT region_code FROM eligible_residents WHERE user_id = :u", u=user)
    return rows[0][0] if rows else None


async def test_a_verified_event_makes_the_resident_eligible_and_older_news_never_wins(
    world_factory: Any,
) -> None:
    broker = MemoryBroker()
    async with world_factory(wiring={"broker": broker}) as world:
        round_ = await world.create_round(eligibility=[TOWN])
        user = uuid.uuid4()
        world.tokens[user] = world.make_token(subject=user, roles=["resident"], verified=True)
        point = round_["pickup_points"][0]["id"]
        refused = await world.book(user, round_["id"], point)
        assert refused.json()["code"] == "not_eligible"

        now = datetime.now(UTC)
        fresh = user_verified(user, region=f"{TOWN}201", at=now)
        await broker.publish(fresh.routing_key, fresh.to_bytes(), message_id=str(fresh.event_id))
        await broker.publish(fresh.routing_key, fresh.to_bytes(), message_id=str(fresh.event_id))
        stale = user_verified(user, region="350624100", at=now - timedelta(days=1))
        await broker.publish(stale.routing_key, stale.to_bytes(), message_id=str(stale.event_id))

        async def handled() -> bool:
            return await world.scalar("SELECT count(*) FROM inbox") == 2

        await wait_until(handled, within=5)
        assert await _known_region(world, user) == f"{TOWN}201"
        assert (await world.book(user, round_["id"], point)).status_code == 201


async def test_over_rabbitmq_identity_verifies_a_resident_who_books_and_the_booking_is_published(
    world_factory: Any, amqp_url: str
) -> None:
    async with world_factory(broker="rabbitmq", amqp_url=amqp_url) as world:
        connection = await aio_pika.connect(amqp_url)
        identity = RabbitBroker(amqp_url, prefix=world.prefix, publish_timeout=5, name="identity")
        try:
            channel = await connection.channel()
            observer = await channel.declare_queue("", exclusive=True)
            await observer.bind(f"{world.prefix}.events", routing_key="booking.#")
            published: list[dict[str, Any]] = []

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                published.append(json.loads(message.body))
                await message.ack()

            await observer.consume(on_message)
            await identity.connect()

            round_ = await world.create_round(eligibility=[TOWN])
            user = uuid.uuid4()
            world.tokens[user] = world.make_token(subject=user, roles=["resident"])
            event = user_verified(user, region=f"{TOWN}201", at=datetime.now(UTC))
            await identity.publish(
                event.routing_key, event.to_bytes(), message_id=str(event.event_id)
            )

            async def eligible() -> bool:
                return await _known_region(world, user) is not None

            await wait_until(eligible, within=15)
            booked = await world.book(user, round_["id"], round_["pickup_points"][0]["id"])
            assert booked.status_code == 201

            async def confirmed() -> bool:
                return any(m["event_type"] == "booking.booking_confirmed" for m in published)

            await wait_until(confirmed, within=15)
            message = next(m for m in published if m["event_type"] == "booking.booking_confirmed")
            assert message["payload"]["booking_id"] == booked.json()["id"]
            assert message["payload"]["user_id"] == str(user)
            assert message["producer"] == "booking"
            await asyncio.sleep(0.2)
            assert await world.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        finally:
            await identity.close()
            await connection.close()
