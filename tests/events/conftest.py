"""Two real apps — events and routing — over RabbitMQ, in fresh schemas per test
(``feedback_loop``: feedback too, for the reporter's notices and rating).

``EHOME_LOOP_BROKER=memory`` runs the same flows on the in-memory broker (same outbox, relay,
inbox and consumer code) for a machine without RabbitMQ; the default, and CI, is RabbitMQ."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.events.app import create_app as create_events
from services.events.settings import Settings as EventsSettings
from services.feedback.app import create_app as create_feedback
from services.feedback.settings import Settings as FeedbackSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import Settings as RoutingSettings
from shared.calendar import SHANGHAI
from shared.db.migrate import schema_name
from shared.messaging.memory import MemoryBroker
from shared.testing.plugin import Migrator, running
from tests.events.flows import Loop, MovableClock, People

# A Wednesday morning in office hours, so deadlines are easy to reason about.
START = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def bus(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the bus: RabbitMQ (skipping, or failing in CI, where it is absent), or the
    in-memory broker when EHOME_LOOP_BROKER=memory."""
    if os.environ.get("EHOME_LOOP_BROKER") == "memory":
        return {"broker": "memory"}
    return {"broker": "rabbitmq", "amqp_url": request.getfixturevalue("amqp_url")}


@pytest.fixture
async def loop(
    migrator: Migrator,
    database_url: str,
    run_prefix: str,
    service_settings: Callable[..., Any],
    bus: dict[str, Any],
    token_verifier: Any,
    make_token: Callable[..., str],
    clock: MovableClock,
    tmp_path: Any,
) -> AsyncIterator[Loop]:
    async with _loop(
        migrator, database_url, run_prefix, service_settings, bus, token_verifier, make_token,
        clock, tmp_path, with_feedback=False,
    ) as running_loop:
        yield running_loop


@pytest.fixture
async def feedback_loop(
    migrator: Migrator,
    database_url: str,
    run_prefix: str,
    service_settings: Callable[..., Any],
    bus: dict[str, Any],
    token_verifier: Any,
    make_token: Callable[..., str],
    clock: MovableClock,
    tmp_path: Any,
) -> AsyncIterator[Loop]:
    """The loop with the feedback app on the same bus (``loop.apps["feedback"]``, its
    client as ``loop.feedback``)."""
    async with _loop(
        migrator, database_url, run_prefix, service_settings, bus, token_verifier, make_token,
        clock, tmp_path, with_feedback=True,
    ) as running_loop:
        yield running_loop


@asynccontextmanager
async def _loop(
    migrator: Migrator,
    database_url: str,
    run_prefix: str,
    service_settings: Callable[..., Any],
    bus: dict[str, Any],
    token_verifier: Any,
    make_token: Callable[..., str],
    clock: MovableClock,
    tmp_path: Any,
    *,
    with_feedback: bool,
) -> AsyncIterator[Loop]:
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    services = ("events", "routing", "feedback") if with_feedback else ("events", "routing")
    await migrator.ensure(*services, prefix=prefix)
    wiring: dict[str, Any] = {"schema_prefix": prefix, "amqp_prefix": prefix,
                              "outbox_poll_seconds": 0.2, **bus}
    apps_wiring: dict[str, Any] = {"verifier": token_verifier, "clock": clock}
    if bus["broker"] == "memory":
        apps_wiring["broker"] = MemoryBroker()  # one bus shared by both apps
    events_app = create_events(
        service_settings(EventsSettings, attachment_dir=str(tmp_path), **wiring),
        **apps_wiring,
    )
    routing_app = create_routing(
        service_settings(RoutingSettings, timer_scan_seconds=0.1, **wiring),
        **apps_wiring,
    )
    engine = create_async_engine(database_url)

    async def sql(service: str, statement: str) -> Any:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{schema_name(service, prefix)}"'))
            return (await conn.execute(text(statement))).scalar_one()

    async with AsyncExitStack() as stack:
        events = await stack.enter_async_context(running(events_app))
        routing = await stack.enter_async_context(running(routing_app))
        loop = Loop(events=events, routing=routing, people=People(make_token), sql=sql)
        loop.apps = {"events": events_app, "routing": routing_app}  # type: ignore[attr-defined]
        if with_feedback:
            feedback_app = create_feedback(
                service_settings(FeedbackSettings, default_rating_after_days=36500,
                                 sender_poll_seconds=0.1, **wiring),
                **{k: v for k, v in apps_wiring.items() if k != "clock"},
            )
            loop.feedback = await stack.enter_async_context(  # type: ignore[attr-defined]
                running(feedback_app))
            loop.apps["feedback"] = feedback_app  # type: ignore[attr-defined]
        yield loop
    await engine.dispose()
    migrator.release(prefix)
