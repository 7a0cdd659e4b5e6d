"""Staff notices reach the WeChat of the staff they concern, over RabbitMQ, with this test
playing identity (its staff directory messages; the openids through the stand-in of its
internal endpoint) and routing (assignments, 督办): a bound clerk of the unit is messaged, a
clerk of another unit, an unbound clerk and a disabled one are not; a supervisor whose scope
covers the case's region is told of a 督办, one of another county is not; WeChat busy is
retried and delivered once; a redelivered or republished message sends nothing more; a late,
older directory entry never undoes a newer one; while WeChat is down the notice is still
recorded at once and delivered when WeChat is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.identity import StaffDirectoryChanged
from shared.contracts.routing import EventAssigned, EventOverdue, UnitRef
from shared.messaging.envelope import Envelope
from shared.messaging.rabbit import RabbitBroker
from shared.testing.plugin import running, wait_until
from tests.feedback.conftest import C1, COUNTY, TOWN_1
from tests.feedback.helpers import sql
from tests.feedback.standin import INTERNAL_KEY, StandIn

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COMMUNITY = UnitRef(unit_id=uuid.uuid4(), name="桂花社区居委会", kind="community",
                    level="community", region_code=C1)
POLICE = UnitRef(unit_id=uuid.uuid4(), name="铜陵派出所", kind="police", level="town",
                 region_code=TOWN_1)
OTHER_COUNTY = "350624"


def staff_entry(staff_id: uuid.UUID, *, version: int = 1, units: list[uuid.UUID] | None = None,
                roles: list[str] | None = None, regions: list[str] | None = None,
                active: bool = True, bound: bool = True) -> Envelope:
    """identity.staff_directory_changed as identity's relay publishes it."""
    payload = StaffDirectoryChanged(
        staff_id=staff_id, unit_ids=units or [], roles=roles or ["dept_staff"],
        regions=regions or [], active=active, wechat_bound=bound, version=version,
        changed_at=AT, cause="created")
    return Envelope(event_type="identity.staff_directory_changed", producer="identity",
                    payload=payload.model_dump(mode="json"))


def assigned(case_id: uuid.UUID, unit: UnitRef, seq: int = 1) -> Envelope:
    payload = EventAssigned(
        event_id=case_id, seq=seq, unit=unit, reason="initial",
        accept_by=AT + timedelta(hours=2), resolve_by=AT + timedelta(days=5),
        assigned_at=AT, actor_role="system")
    return Envelope(event_type="routing.event_assigned", producer="routing",
                    payload=payload.model_dump(mode="json"))


def overdue(case_id: uuid.UUID, supervisor_region: str) -> Envelope:
    payload = EventOverdue(
        event_id=case_id, unit_id=COMMUNITY.unit_id, unit_level="community", kind="accept",
        deadline=AT, supervision_id=uuid.uuid4(), supervisor_region_code=supervisor_region,
        at=AT + timedelta(minutes=1))
    return Envelope(event_type="routing.event_overdue", producer="routing",
                    payload=payload.model_dump(mode="json"))


def republished(envelope: Envelope) -> Envelope:
    """The same fact published again under a new message id (a producer's second relay)."""
    return Envelope(event_type=envelope.event_type, producer=envelope.producer,
                    payload=envelope.payload)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = await StandIn().start()
    yield server
    await server.stop()


@pytest.fixture
async def other_services(feedback_settings: Settings, amqp_url: str
                         ) -> AsyncIterator[RabbitBroker]:
    """Identity's and routing's relays: publishing on the run's exchange."""
    broker = RabbitBroker(amqp_url, prefix=feedback_settings.amqp_prefix, publish_timeout=5,
                          name="identity-and-routing")
    await broker.connect()
    yield broker
    await asyncio.wait_for(broker.close(), timeout=10)


def wechat_settings(feedback_settings: Settings, amqp_url: str, standin: StandIn,
                    **overrides: Any) -> Settings:
    return feedback_settings.model_copy(update={
        "broker": "rabbitmq", "amqp_url": amqp_url, "wechat_api_base": standin.base_url,
        "identity_base_url": standin.base_url, "internal_api_key": INTERNAL_KEY,
        "wechat_backoff_seconds": 0.05, "sender_poll_seconds": 0.05, **overrides})


async def send(broker: RabbitBroker, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        await broker.publish(envelope.routing_key, envelope.to_bytes(),
                             message_id=str(envelope.event_id))


async def directory_holds(app: FastAPI, entries: dict[uuid.UUID, int]) -> None:
    """Wait until the projection holds each staff member at (at least) the version."""
    async def held() -> bool:
        rows = await sql(app, "SELECT staff_id, version FROM staff_directory")
        versions = {r.staff_id: r.version for r in rows}
        return all(versions.get(k, 0) >= v for k, v in entries.items())
    await wait_until(held, within=15)


async def deliveries(app: FastAPI) -> dict[uuid.UUID, list[Any]]:
    rows = await sql(app, "SELECT user_id, kind, wechat_status, wechat_attempts, template, "
                          "staff_notice_id FROM notifications WHERE staff_notice_id IS NOT NULL")
    found: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        found.setdefault(row.user_id, []).append(row)
    return found


def audience_of_a_community_case(standin: StandIn) -> tuple[list[Envelope], dict[str, Any]]:
    """Staff around a community's case: who should be messaged, and who should not."""
    clerk = standin.user("o-clerk")
    busy_clerk = standin.user("o-busy", [-1, 0])
    other_unit_clerk = standin.user("o-police")
    unbound_clerk = standin.user("o-unbound")
    disabled_clerk = standin.user("o-disabled")
    late_clerk = standin.user("o-late")
    supervisor = standin.user("o-supervisor")
    other_supervisor = standin.user("o-other-supervisor")
    dispatcher = standin.user("o-dispatcher")
    unit = [COMMUNITY.unit_id]
    directory = [
        staff_entry(clerk, units=unit),
        staff_entry(busy_clerk, units=unit, roles=["dept_admin"]),
        staff_entry(other_unit_clerk, units=[POLICE.unit_id]),
        staff_entry(unbound_clerk, units=unit, bound=False),
        staff_entry(disabled_clerk, units=unit, active=False),
        # Disabled (version 2), then the older "created" entry arrives late: still disabled.
        staff_entry(late_clerk, units=unit, version=2, active=False),
        staff_entry(supervisor, roles=["supervisor"], regions=[COUNTY]),
        staff_entry(other_supervisor, roles=["supervisor"], regions=[OTHER_COUNTY]),
        staff_entry(dispatcher, roles=["dispatcher"], regions=[COUNTY]),
    ]
    return directory, {"clerk": clerk, "busy_clerk": busy_clerk, "late_clerk": late_clerk,
                       "supervisor": supervisor, "dispatcher": dispatcher}


async def test_a_units_bound_clerks_and_the_supervisors_over_the_region_are_messaged(
    feedback_settings: Settings, amqp_url: str, standin: StandIn,
    other_services: RabbitBroker, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    directory, who = audience_of_a_community_case(standin)
    clerk, late_clerk, unit = who["clerk"], who["late_clerk"], [COMMUNITY.unit_id]
    case_id = uuid.uuid4()
    assignment, supervision = assigned(case_id, COMMUNITY), overdue(case_id, TOWN_1)
    app = create_app(wechat_settings(feedback_settings, amqp_url, standin),
                     verifier=token_verifier)
    async with running(app) as client:
        await send(other_services, *directory)
        await directory_holds(app, {clerk: 1, late_clerk: 2, who["dispatcher"]: 1})
        await send(other_services, staff_entry(late_clerk, units=unit, version=1))
        # Redelivered (same message id) and republished (new id): nothing more is sent.
        await send(other_services, assignment, supervision, assignment,
                   republished(assignment))

        async def settled() -> bool:
            rows = [r for rs in (await deliveries(app)).values() for r in rs]
            return len(rows) == 3 and all(r.wechat_status == "sent" for r in rows)
        await wait_until(settled, within=20)
        await asyncio.sleep(0.5)  # any late duplicate or stray message would land by now
        found = await deliveries(app)
        late = await sql(app, "SELECT version, active FROM staff_directory "
                              "WHERE staff_id = :s", s=late_clerk)
        resident_view = await client.get(
            "/api/v1/feedback/notifications",
            headers={"Authorization": f"Bearer {make_token(subject=clerk)}"})
        inbox = await client.get(
            "/api/v1/feedback/staff-notices",
            headers={"Authorization": "Bearer " + make_token(
                subject=clerk, roles=["dept_staff"], departments=[COMMUNITY.unit_id])})

    assert {k: [(r.kind, r.wechat_attempts) for r in v] for k, v in found.items()} == {
        clerk: [("assigned", 1)], who["busy_clerk"]: [("assigned", 2)],
        who["supervisor"]: [("supervision", 1)]}
    assert_only_the_audience_was_messaged(standin)
    assert (late[0].version, late[0].active) == (2, False)
    # The delivery rows are no one's resident notifications; the staff inbox has the notice.
    assert resident_view.json()["items"] == []
    assert [i["kind"] for i in inbox.json()["items"]] == ["assigned"]
    assert str(found[clerk][0].staff_notice_id) == inbox.json()["items"][0]["id"]


def assert_only_the_audience_was_messaged(standin: StandIn) -> None:
    assert {m["touser"] for m in standin.sent} == {"o-clerk", "o-busy", "o-supervisor"}
    assert len(standin.sent) == 3
    assert standin.calls["o-busy"] == 2  # busy once, then delivered once
    for silent in ("o-police", "o-unbound", "o-disabled", "o-late", "o-other-supervisor",
                   "o-dispatcher"):
        assert standin.calls[silent] == 0, silent
    to_clerk = next(m for m in standin.sent if m["touser"] == "o-clerk")
    assert to_clerk["template_id"] == "tmpl-staff-notice"
    assert to_clerk["data"]["thing1"]["value"] == "新案件待办"
    assert to_clerk["data"]["time2"]["value"] == "2026-03-02 17:00"
    assert to_clerk["page"].startswith("pages/staff/notices/detail?id=")
    to_supervisor = next(m for m in standin.sent if m["touser"] == "o-supervisor")
    assert to_supervisor["data"]["thing1"]["value"] == "案件督办"


async def test_while_wechat_is_down_the_notice_is_recorded_and_sent_when_it_is_back(
    feedback_settings: Settings, amqp_url: str, standin: StandIn,
    other_services: RabbitBroker, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    clerk = standin.user("o-clerk-down")
    standin.gateway_errors.add("o-clerk-down")  # WeChat's gateway answers 502
    settings = wechat_settings(feedback_settings, amqp_url, standin, wechat_max_attempts=30,
                               wechat_backoff_seconds=0.02)
    app = create_app(settings, verifier=token_verifier)
    token = make_token(subject=clerk, roles=["dept_staff"], departments=[COMMUNITY.unit_id])
    async with running(app) as client:
        await send(other_services, staff_entry(clerk, units=[COMMUNITY.unit_id]))
        await directory_holds(app, {clerk: 1})
        await send(other_services, assigned(uuid.uuid4(), COMMUNITY))

        async def retrying() -> bool:
            rows = (await deliveries(app)).get(clerk, [])
            return bool(rows) and rows[0].wechat_attempts >= 2
        await wait_until(retrying, within=15)
        inbox = await client.get("/api/v1/feedback/staff-notices",
                                 headers={"Authorization": f"Bearer {token}"})
        pending = (await deliveries(app))[clerk][0]
        standin.gateway_errors.discard("o-clerk-down")

        async def sent() -> bool:
            return (await deliveries(app))[clerk][0].wechat_status == "sent"
        await wait_until(sent, within=15)
    assert [i["kind"] for i in inbox.json()["items"]] == ["assigned"]
    assert pending.wechat_status == "pending"
    assert [m["touser"] for m in standin.sent] == ["o-clerk-down"]
