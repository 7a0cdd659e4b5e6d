"""identity.user_registered leaves through the outbox and reaches RabbitMQ."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aio_pika

from shared.testing.plugin import running, wait_until
from tests.identity.conftest import login


async def test_a_first_login_reaches_the_broker_as_user_registered(
    identity_app: Any, amqp_url: str, amqp_prefix: str
) -> None:
    received: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    try:
        app = identity_app(broker="rabbitmq", amqp_url=amqp_url, amqp_prefix=amqp_prefix)
        async with running(app) as client:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True)
            await queue.bind(f"{amqp_prefix}.events",
                             routing_key="identity.user_registered.v1")

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                received.append(json.loads(message.body))
                await message.ack()

            await queue.consume(on_message)
            pair = await login(client, f"o{uuid.uuid4().hex}")
            user_id = pair["user"]["id"]

            async def arrived() -> bool:
                return any(m["payload"]["user_id"] == user_id for m in received)

            await wait_until(arrived, within=15)
    finally:
        await connection.close()
    mine = [m for m in received if m["payload"]["user_id"] == user_id]
    assert len(mine) == 1
    assert mine[0]["event_type"] == "identity.user_registered"
    assert mine[0]["producer"] == "identity"
    assert mine[0]["payload"]["channel"] == "wechat"
