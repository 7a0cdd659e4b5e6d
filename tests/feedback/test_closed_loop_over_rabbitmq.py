"""End to end over RabbitMQ, with this test playing the events and routing services:
close → notification in the inbox and the WeChat sandbox → dissatisfied rating → rework
request on the bus → reassigned with a new deadline → closed again → rated → closed loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
from fastapi import FastAPI

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.events import EventClosed, EventStatusChanged
from shared.contracts.routing import DeadlineChanged
from shared.messaging.broker import Broker, Delivery, QueueSpec
from shared.messaging.envelope import Envelope
from shared.messaging.memory import MemoryBroker
from shared.messaging.rabbit import RabbitBroker
from shared.testing.plugin import running, wait_until
from tests.feedback.conftest import C1, TOWN_1
from tests.feedback.helpers import sql
from tests.feedback.lifecycle import SH, Spec, Unit, at, build


async def test_dissatisfied_rating_goes_round_the_loop_to_closed_loop_complete(
    feedback_settings: Settings, amqp_url: str, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    settings = feedback_settings.model_copy(update={"broker": "rabbitmq", "amqp_url": amqp_url})
    other_services = RabbitBroker(amqp_url, prefix=settings.amqp_prefix, publish_timeout=5,
                                  name="events-and-routing")
    await other_services.connect()
    try:
        await _closed_loop(create_app(settings, verifier=token_verifier), other_services,
                           make_token)
    finally:
        await asyncio.wait_for(other_services.close(), timeout=10)


async def test_the_same_loop_over_the_in_memory_broker(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    """The same scenario where no RabbitMQ answers (the embedded run mode's broker)."""
    shared = MemoryBroker()
    app = create_app(feedback_settings, verifier=token_verifier, broker=shared)
    try:
        await _closed_loop(app, shared, make_token)
    finally:
        await shared.close()


async def _closed_loop(app: FastAPI, other_services: Broker,
                       make_token: Callable[..., str]) -> None:
    unit = Unit(uuid.uuid4(), "绥安镇综治中心", TOWN_1)
    # The first closure lies in the past; the ratings are stamped by the service's own clock
    # (now), so the rework and the second closure are stamped between the two ratings.
    day = (datetime.now(SH) - timedelta(days=3)).date()
    case = build(Spec("loop", unit, C1, day))
    eid, reporter = case.spec.event_id, case.spec.reporter_id
    received: dict[str, list[dict[str, object]]] = {}

    async def on_feedback_event(delivery: Delivery) -> None:
        envelope = Envelope.model_validate(orjson.loads(delivery.body))
        received.setdefault(envelope.event_type, []).append(envelope.payload)
        await delivery.ack()

    await other_services.consume(
        QueueSpec(consumer="routing-and-events-probe", purpose=uuid.uuid4().hex[:8],
                  routing_keys=("feedback.rework_requested.v1", "feedback.event_rated.v1")),
        on_feedback_event)

    async def send(*envelopes: Envelope) -> None:
        for envelope in envelopes:
            await other_services.publish(envelope.routing_key, envelope.to_bytes(),
                                         message_id=str(envelope.event_id))

    headers = {"Authorization": f"Bearer {make_token(subject=reporter)}"}
    async with running(app) as client:
        await send(*case.envelopes)

        async def inbox_kinds() -> list[str]:
            page = await client.get("/api/v1/feedback/notifications", headers=headers)
            return [i["kind"] for i in page.json()["items"]]

        async def closed_is_told() -> bool:
            return "closed" in await inbox_kinds()
        await wait_until(closed_is_told, within=20)

        async def in_sandbox() -> bool:
            rows = await sql(app, "SELECT data FROM wechat_sandbox_messages "
                                  "WHERE touser = :u", u=f"sandbox:{reporter}")
            return any(r.data["phrase2"]["value"] == "已办结" for r in rows)
        await wait_until(in_sandbox, within=10)

        first = await client.post("/api/v1/feedback/ratings", headers=headers,
                                  json={"event_id": str(eid), "rating": "dissatisfied",
                                        "comment": "噪音依旧"})
        assert first.status_code == 201, first.text

        async def rework_requested() -> bool:
            return bool(received.get("feedback.rework_requested"))
        await wait_until(rework_requested, within=20)
        [rework] = received["feedback.rework_requested"]
        assert rework["unit_id"] == str(unit.unit_id)
        assert rework["closure_seq"] == 1

        # Routing reopens to the same unit with a new deadline; events records the steps.
        reopened = datetime.now(SH)  # after the dissatisfied rating, before the next one
        closed_again = reopened + timedelta(milliseconds=2)
        common = {"event_id": eid, "case_no": "PA-loop", "category_code":
                  "dispute.neighbour", "region_code": C1, "reporter_id": reporter}

        def step(action: str, to_status: str, moment: object) -> Envelope:
            return Envelope(event_type="events.event_status_changed", producer="events",
                            payload=EventStatusChanged(
                                **common, from_status="x", to_status=to_status,
                                action=action, actor_role="dept_staff", at=moment,
                            ).model_dump(mode="json"))
        await send(
            Envelope(event_type="routing.deadline_changed", producer="routing",
                     payload=DeadlineChanged(
                         event_id=eid, unit_id=unit.unit_id, accept_by=reopened,
                         resolve_by=closed_again + timedelta(days=1), reason="rework",
                         at=reopened).model_dump(mode="json")),
            step("rework", "in_progress", reopened),
            step("submit_result", "result_submitted", closed_again - timedelta(milliseconds=1)),
            step("close", "closed", closed_again),
            Envelope(event_type="events.event_closed", producer="events",
                     payload=EventClosed(
                         **{k: v for k, v in common.items() if k != "reporter_id"},
                         reporter_id=reporter, major_risk="social_conflict",
                         urgency="normal", lead_unit_id=unit.unit_id,
                         handling_unit_ids=[unit.unit_id], reported_at=at(day, 9),
                         first_dispatched_at=at(day, 9, 5), accepted_at=at(day, 9, 30),
                         result_submitted_at=closed_again - timedelta(milliseconds=1),
                         closed_at=closed_again, accept_by=at(day, 10),
                         resolve_by=closed_again + timedelta(days=1), accepted_on_time=True,
                         resolved_on_time=True, escalation_count=0, return_count=0,
                         rework_count=1, classified=True, dispatch_trail_recorded=True,
                         result_recorded=True).model_dump(mode="json")),
        )

        async def closed_twice() -> bool:
            kinds = await inbox_kinds()
            return kinds.count("closed") == 2 and "rework" in kinds
        await wait_until(closed_twice, within=20)

        second = await client.post("/api/v1/feedback/ratings", headers=headers,
                                   json={"event_id": str(eid), "rating": "satisfied"})
        assert second.status_code == 201, second.text
        assert second.json()["closure_seq"] == 2

        async def both_ratings_published() -> bool:
            return len(received.get("feedback.event_rated", [])) == 2
        await wait_until(both_ratings_published, within=20)
        assert [(r["rating"], r["closure_seq"], r["rework"])
                for r in received["feedback.event_rated"]] == [
            ("dissatisfied", 1, True), ("satisfied", 2, False)]
        [row] = await sql(app, "SELECT status, is_closed, closed_loop, rework_count, "
                               "handling_hours FROM case_summaries WHERE event_id = :e",
                          e=eid)
        assert tuple(row)[:4] == ("rated", True, True, 1)
        assert row.handling_hours is not None

        supervisor = make_token(roles=["supervisor"], regions=[TOWN_1])
        staff = {"Authorization": f"Bearer {supervisor}"}
        card = await client.get("/api/v1/feedback/scorecards/units", headers=staff,
                                params={"period": "month", "date": day.isoformat()})
        [mine] = card.json()["items"]
        assert (mine["rework_count"], mine["closed_loop_rate"]) == (1, 1.0)
