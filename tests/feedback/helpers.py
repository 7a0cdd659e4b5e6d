"""Helpers of the feedback tests: publish lifecycle messages into a running app, read its
schema in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from shared.messaging.envelope import Envelope
from shared.testing.plugin import wait_until
from shared.web.runtime import ServiceRuntime


def runtime_of(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime  # app.state is untyped
    return runtime


async def publish(app: FastAPI, envelopes: Sequence[Envelope]) -> None:
    """Put messages on the app's broker as their producers' relays would."""
    broker = runtime_of(app).broker
    for envelope in envelopes:
        await broker.publish(envelope.routing_key, envelope.to_bytes(),
                             message_id=str(envelope.event_id))


async def sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    uow = runtime_of(app).uow()
    async with uow:
        return list((await uow.connection.execute(text(statement), params)).all())


async def until_handled(app: FastAPI, count: int) -> None:
    """Wait until the app's consumers handled ``count`` messages in all."""
    async def done() -> bool:
        consumers = runtime_of(app).consumers
        return consumers is not None and (
            consumers.handled_total + consumers.duplicates_total >= count)
    await wait_until(done, within=15)


async def outbox(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    rows = await sql(app, "SELECT envelope FROM outbox WHERE event_type = :t ORDER BY id",
                     t=event_type)
    return [r.envelope["payload"] for r in rows]
