"""Two real service apps, built by the real factory with the real settings of two services:
``events`` produces probe events through its outbox, ``feedback`` consumes them through its
inbox. Each writes to a small table of its own schema so tests can count effects in SQL."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.events.settings import Settings as EventsSettings
from services.feedback.settings import Settings as FeedbackSettings
from shared.contracts.platform import Probe
from shared.db.migrate import schema_name
from shared.db.uow import UnitOfWork
from shared.messaging.broker import Broker
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator
from shared.web import Uow, create_service_app


class ProbeIn(BaseModel):
    sequence: int
    note: str = ""


@dataclass
class ProbeSink:
    """The consumer's behaviour and what it observed."""

    attempts: Counter[int] = field(default_factory=Counter)

    async def handle(self, envelope: Envelope, uow: UnitOfWork) -> None:
        probe = envelope.payload_as(Probe)
        self.attempts[probe.sequence] += 1
        if probe.note == "always_fail":
            raise RuntimeError("this handler can never succeed")
        if probe.note == "fail_once" and self.attempts[probe.sequence] == 1:
            raise RuntimeError("transient failure")
        await uow.connection.execute(
            text("INSERT INTO probe_seen (event_id, sequence) VALUES (:id, :seq)"),
            {"id": envelope.event_id, "seq": probe.sequence},
        )


def probe_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/events")

    @router.post("/probes", status_code=201)
    async def write_probe(body: ProbeIn, uow: Uow) -> dict[str, Any]:
        async with uow:
            await uow.connection.execute(
                text("INSERT INTO probe_written (sequence) VALUES (:seq)"), {"seq": body.sequence}
            )
            envelope = await uow.emit("platform.probe", Probe(**body.model_dump()))
        return {"event_id": str(envelope.event_id)}

    return router


async def create_probe_tables(database_url: str, prefix: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{schema_name("events", prefix)}".probe_written '
                "(id bigserial PRIMARY KEY, sequence int NOT NULL)"
            )
        )
        await conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{schema_name("feedback", prefix)}".probe_seen '
                "(event_id uuid PRIMARY KEY, sequence int NOT NULL)"
            )
        )
    await engine.dispose()


@dataclass
class ProbeWorld:
    prefix: str
    database_url: str
    build_settings: Callable[..., ServiceSettings]

    def producer(self, *, shared_broker: Broker | None = None, **overrides: Any) -> FastAPI:
        overrides.setdefault("amqp_prefix", self.prefix)
        settings = self.build_settings(EventsSettings, schema_prefix=self.prefix, **overrides)
        return create_service_app(
            settings, title="events (probe)", routers=[probe_router()], broker=shared_broker
        )

    def consumer(
        self,
        sink: ProbeSink,
        *,
        shared_broker: Broker | None = None,
        wants: Callable[[Envelope], bool] | None = None,
        **overrides: Any,
    ) -> FastAPI:
        overrides.setdefault("amqp_prefix", self.prefix)
        overrides.setdefault("consumer_delivery_limit", 2)
        settings = self.build_settings(FeedbackSettings, schema_prefix=self.prefix, **overrides)
        subscription = Subscription("platform.probe", sink.handle, purpose="probes", wants=wants)
        return create_service_app(
            settings, title="feedback (probe)", subscriptions=[subscription], broker=shared_broker
        )

    async def seen(self) -> int:
        """Probe events the consumer has handled (rows of its probe_seen)."""
        return int(await self.scalar("SELECT count(*) FROM probe_seen"))

    async def seen_is(self, count: int) -> bool:
        return await self.seen() == count

    async def scalar(self, sql: str, *, service: str = "feedback") -> Any:
        """Run ``sql`` in the schema of ``service`` (events produces, feedback consumes)."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                schema = schema_name(service, self.prefix)
                await conn.execute(text(f'SET search_path TO "{schema}"'))
                return (await conn.execute(text(sql))).scalar_one()
        finally:
            await engine.dispose()


@pytest.fixture
async def probe_world(
    migrator: Migrator,
    database_url: str,
    run_prefix: str,
    service_settings: Callable[..., ServiceSettings],
) -> ProbeWorld:
    """A fresh pair of schemas per test, so counts in SQL belong to that test alone."""
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("events", "feedback", prefix=prefix)
    await create_probe_tables(database_url, prefix)
    return ProbeWorld(prefix, database_url, service_settings)
