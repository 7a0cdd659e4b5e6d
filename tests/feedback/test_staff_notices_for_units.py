"""Every staff role has an inbox: a unit's clerks are told of a new case in their queue, a
deadline drawing near, a 督办 and a co-handling request; dispatchers of a case returned to them;
supervisors of a 督办 left unanswered. Each reader keeps their own read marks; another unit's
clerk sees none of it; a redelivered or republished message adds no second notice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from pydantic import BaseModel

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.events import EventReported
from shared.contracts.routing import (
    CoHandlingStarted,
    DeadlineWarning,
    EventAssigned,
    EventQueued,
    SubtaskRef,
    SupervisionIssued,
    SupervisionOverdue,
    UnitRef,
)
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running
from tests.feedback.conftest import C1, COUNTY, TOWN_1, TOWN_2
from tests.feedback.helpers import publish, until_handled

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE_NO = "ZZ-20260302-000077"
NOTICES = "/api/v1/feedback/staff-notices"


def envelope(event_type: str, payload: BaseModel) -> Envelope:
    return Envelope(event_type=event_type, producer=event_type.split(".")[0],
                    payload=payload.model_dump(mode="json"))


def unit(name: str, kind: str, level: str, region: str) -> UnitRef:
    return UnitRef(unit_id=uuid.uuid4(), name=name, kind=kind, level=level,  # type: ignore[arg-type]
                   region_code=region)


COMMUNITY = unit("桂花社区居委会", "community", "community", C1)
POLICE = unit("铜陵派出所", "police", "town", TOWN_1)
JUDICIAL = unit("铜陵镇司法所", "judicial_office", "town", TOWN_1)


def case_messages(case_id: uuid.UUID) -> list[Envelope]:
    """One message of each kind that concerns staff, about one case in community C1."""
    return [
        envelope("events.event_reported", EventReported(
            event_id=case_id, case_no=CASE_NO, category_code="dispute_tenancy",
            major_risk="social_conflict", urgency="normal", sensitive=False, region_code=C1,
            reported_at=AT, channel="resident", reporter_id=uuid.uuid4())),
        envelope("routing.event_assigned", EventAssigned(
            event_id=case_id, seq=1, unit=COMMUNITY, reason="initial",
            accept_by=AT + timedelta(hours=2), resolve_by=AT + timedelta(days=5),
            assigned_at=AT, actor_role="system")),
        envelope("routing.event_queued", EventQueued(
            event_id=case_id, reason="returned", region_code=C1,
            queued_at=AT + timedelta(minutes=30))),
        warning(case_id),
        envelope("routing.supervision_issued", SupervisionIssued(
            supervision_id=uuid.uuid4(), event_id=case_id, case_no=CASE_NO, region_code=C1,
            unit_id=COMMUNITY.unit_id, level="listed", instruction="请当日约谈中介并回复。",
            reply_by=AT + timedelta(days=1), issued_by=uuid.uuid4(),
            at=AT + timedelta(hours=1))),
        envelope("routing.supervision_overdue", SupervisionOverdue(
            supervision_id=uuid.uuid4(), event_id=case_id, unit_id=COMMUNITY.unit_id,
            level="supervision", reply_by=AT + timedelta(days=1),
            supervisor_region_code=TOWN_1, at=AT + timedelta(days=1, minutes=1))),
        envelope("routing.co_handling_started", CoHandlingStarted(
            event_id=case_id, lead_unit_id=COMMUNITY.unit_id, at=AT + timedelta(hours=3),
            subtasks=[SubtaskRef(subtask_id=uuid.uuid4(), unit=u,
                                 due_at=AT + timedelta(days=2)) for u in (POLICE, JUDICIAL)])),
    ]


def warning(case_id: uuid.UUID) -> Envelope:
    return envelope("routing.deadline_warning", DeadlineWarning(
        event_id=case_id, unit_id=COMMUNITY.unit_id, kind="accept",
        deadline=AT + timedelta(hours=2), fraction=0.75, at=AT + timedelta(minutes=90)))


# Each message is handled once per queue that carries its type: the 督办 and co-handling
# messages also feed the units' scorecards on the "cases" queue (service/unit_work.py).
HANDLINGS = 10


async def inbox(client: AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get(NOTICES, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def unread(client: AsyncClient, token: str) -> int:
    answer = await client.get(f"{NOTICES}/unread-count",
                              headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["unread"])


async def test_each_staff_notice_reaches_the_inbox_it_concerns_once(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id = uuid.uuid4()
    messages = case_messages(case_id)
    app = create_app(feedback_settings, verifier=token_verifier)
    clerk = make_token(roles=["dept_staff"], departments=[COMMUNITY.unit_id])
    police_clerk = make_token(roles=["dept_staff"], departments=[POLICE.unit_id])
    judicial_admin = make_token(roles=["dept_admin"], departments=[JUDICIAL.unit_id])
    other_clerk = make_token(roles=["dept_staff"], departments=[uuid.uuid4()])
    dispatcher = make_token(roles=["dispatcher"], regions=[TOWN_1])
    other_dispatcher = make_token(roles=["dispatcher"], regions=[TOWN_2])
    county_supervisor = make_token(roles=["supervisor"], regions=[COUNTY])
    async with running(app) as client:
        # Every message delivered twice, and the warning republished as a new message. The
        # report and its assignment first: the assignment names the lead unit, and it travels
        # on the "cases" queue while the co-handling request travels on "notices" (a request
        # that overtakes it says "the lead unit", as it may in production).
        await publish(app, messages[:2])
        await until_handled(app, 2)
        await publish(app, messages[2:] + messages[1:] + [warning(case_id)])
        await until_handled(app, 1 + 2 * (HANDLINGS - 1) + 1)

        mine = await inbox(client, clerk)
        assert sorted(n["kind"] for n in mine) == [
            "assigned", "deadline_warning", "supervision_issued"]
        assert all(n["addressed_unit_id"] == str(COMMUNITY.unit_id) for n in mine)
        assert all(n["case_no"] == CASE_NO for n in mine)
        issued = next(n for n in mine if n["kind"] == "supervision_issued")
        assert issued["title"] == "案件挂牌督办"
        assert "请当日约谈中介并回复。" in issued["body"]
        assert "新案件" in next(n for n in mine if n["kind"] == "assigned")["title"]
        for assisting in (police_clerk, judicial_admin):
            [request] = await inbox(client, assisting)
            assert request["kind"] == "co_handling"
            assert "桂花社区居委会请求本单位协办" in request["body"]
        assert await inbox(client, other_clerk) == []
        assert [(n["kind"], n["region_code"]) for n in await inbox(client, dispatcher)] == [
            ("returned", C1)]
        assert await inbox(client, other_dispatcher) == []
        assert [(n["kind"], n["region_code"])
                for n in await inbox(client, county_supervisor)] == [
            ("supervision_overdue", TOWN_1)]

        # Another unit's clerk cannot mark it read: it does not exist for them.
        path = f"{NOTICES}/{issued['id']}/read"
        refused = await client.post(path, headers={"Authorization": f"Bearer {other_clerk}"})
        assert refused.status_code == 404
        assert refused.json()["code"] == "staff_notice_not_found"
        refused = await client.post(path, headers={"Authorization": f"Bearer {police_clerk}"})
        assert refused.status_code == 404


async def test_each_clerk_counts_and_marks_their_own_unread_notices(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id = uuid.uuid4()
    app = create_app(feedback_settings, verifier=token_verifier)
    clerk = make_token(roles=["dept_staff"], departments=[COMMUNITY.unit_id])
    colleague = make_token(roles=["dept_staff"], departments=[COMMUNITY.unit_id])
    other_clerk = make_token(roles=["dept_staff"], departments=[uuid.uuid4()])
    async with running(app) as client:
        await publish(app, case_messages(case_id))
        await until_handled(app, HANDLINGS)
        assert await unread(client, clerk) == 3
        assert await unread(client, other_clerk) == 0

        first = (await inbox(client, clerk))[0]
        read = await client.post(f"{NOTICES}/{first['id']}/read",
                                 headers={"Authorization": f"Bearer {clerk}"})
        assert read.status_code == 200
        assert read.json()["read_at"] is not None
        assert await unread(client, clerk) == 2
        assert await unread(client, colleague) == 3  # their own marks

        marked = await client.post(f"{NOTICES}/read-all",
                                   headers={"Authorization": f"Bearer {clerk}"})
        assert marked.status_code == 200
        assert marked.json() == {"marked": 2}
        assert await unread(client, clerk) == 0
        assert all(n["read_at"] is not None for n in await inbox(client, clerk))
        again = await client.post(f"{NOTICES}/read-all",
                                  headers={"Authorization": f"Bearer {clerk}"})
        assert again.json() == {"marked": 0}
        assert await unread(client, colleague) == 3
        page = await client.get(f"{NOTICES}?unread=true&limit=2",
                                headers={"Authorization": f"Bearer {colleague}"})
        assert len(page.json()["items"]) == 2
        assert page.json()["next_cursor"] is not None


async def test_an_escalation_and_an_early_warning_reach_the_receiving_units_clerks(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id = uuid.uuid4()
    town = unit("铜陵镇综治中心", "town_office", "town", TOWN_1)
    escalated = envelope("routing.event_assigned", EventAssigned(
        event_id=case_id, seq=3, unit=town, reason="escalated",
        previous_unit_id=COMMUNITY.unit_id, accept_by=AT + timedelta(hours=4),
        resolve_by=AT + timedelta(days=5), assigned_at=AT, actor_role="dept_staff",
        actor_unit_id=COMMUNITY.unit_id))
    # A warning for a unit and case feedback has heard nothing of yet: still delivered.
    early = warning(uuid.uuid4())
    app = create_app(feedback_settings, verifier=token_verifier)
    town_clerk = make_token(roles=["dept_staff"], departments=[town.unit_id])
    clerk = make_token(roles=["dept_staff"], departments=[COMMUNITY.unit_id])
    async with running(app) as client:
        await publish(app, [escalated, early])
        await until_handled(app, 2)
        [notice] = await inbox(client, town_clerk)
        assert notice["title"] == "案件上报至本单位"
        assert notice["region_code"] == TOWN_1
        [told] = await inbox(client, clerk)
        assert told["kind"] == "deadline_warning"
        assert told["region_code"] is None
        assert "受理期限2026-03-02 19:00将至（已用75%）" in told["body"]


async def test_a_resident_has_no_staff_inbox(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    app = create_app(feedback_settings, verifier=token_verifier)
    resident = make_token(roles=["resident"])
    async with running(app) as client:
        for method, path in (("GET", f"{NOTICES}/unread-count"),
                             ("POST", f"{NOTICES}/read-all")):
            answer = await client.request(method, path,
                                          headers={"Authorization": f"Bearer {resident}"})
            assert answer.status_code == 403
            assert answer.json()["code"] == "role_required"

