"""Supervision (督办) and escalation reach the staff inbox: one notice per supervision record
however often routing's message arrives, seen by the supervisors whose scope covers the region
routing names — and by nobody outside it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.events import EventReported
from shared.contracts.routing import EventEscalated, EventOverdue
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running
from tests.feedback.conftest import C1, COUNTY, TOWN_1, TOWN_2
from tests.feedback.helpers import publish, until_handled

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def reported(event_id: uuid.UUID) -> Envelope:
    payload = EventReported(
        event_id=event_id, case_no="ZZ-20260302-000042", category_code="dispute_tenancy",
        major_risk="social_conflict", urgency="normal", sensitive=False, region_code=C1,
        reported_at=AT, channel="resident", reporter_id=uuid.uuid4())
    return Envelope(event_type="events.event_reported", producer="events",
                    payload=payload.model_dump(mode="json"))


def overdue(event_id: uuid.UUID, supervision_id: uuid.UUID) -> Envelope:
    payload = EventOverdue(
        event_id=event_id, unit_id=uuid.uuid4(), unit_level="community", kind="accept",
        deadline=AT + timedelta(hours=1), supervision_id=supervision_id,
        supervisor_region_code=TOWN_1, at=AT + timedelta(hours=1, minutes=1))
    return Envelope(event_type="routing.event_overdue", producer="routing",
                    payload=payload.model_dump(mode="json"))


def escalated(event_id: uuid.UUID) -> Envelope:
    payload = EventEscalated(
        event_id=event_id, from_unit_id=uuid.uuid4(), to_unit_id=uuid.uuid4(),
        from_level="community", to_level="town", automatic=True, at=AT + timedelta(hours=2))
    return Envelope(event_type="routing.event_escalated", producer="routing",
                    payload=payload.model_dump(mode="json"))


async def test_an_overdue_case_gives_one_supervision_notice_to_the_supervisors_over_it(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id = uuid.uuid4()
    supervision = uuid.uuid4()
    first = overdue(case_id, supervision)
    republished = overdue(case_id, supervision)  # the same record, another message
    app = create_app(feedback_settings, verifier=token_verifier)
    town_supervisor = make_token(roles=["supervisor"], regions=[TOWN_1])
    county_supervisor = make_token(roles=["supervisor"], regions=[COUNTY])
    other_supervisor = make_token(roles=["supervisor"], regions=[TOWN_2])
    community_supervisor = make_token(roles=["supervisor"], regions=[C1])
    town_dispatcher = make_token(roles=["dispatcher"], regions=[TOWN_1])
    resident = make_token(roles=["resident"])
    async with running(app) as client:
        await publish(app, [reported(case_id), first, first, republished])
        await until_handled(app, 4)

        async def notices(token: str) -> list[dict[str, Any]]:
            answer = await client.get("/api/v1/feedback/staff-notices",
                                      headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            return answer.json()["items"]

        seen = await notices(town_supervisor)
        assert len(seen) == 1
        notice = seen[0]
        assert notice["kind"] == "supervision"
        assert notice["region_code"] == TOWN_1
        assert notice["event_id"] == str(case_id)
        assert notice["case_no"] == "ZZ-20260302-000042"
        assert "督办" in notice["body"]
        assert notice["read_at"] is None
        assert [n["id"] for n in await notices(county_supervisor)] == [notice["id"]]
        assert await notices(other_supervisor) == []
        assert await notices(community_supervisor) == []  # below the town: not theirs
        assert await notices(town_dispatcher) == []  # 督办 is for supervisors
        refused = await client.get("/api/v1/feedback/staff-notices",
                                   headers={"Authorization": f"Bearer {resident}"})
        assert refused.status_code == 403

        path = f"/api/v1/feedback/staff-notices/{notice['id']}/read"
        outside = await client.post(path, headers={"Authorization": f"Bearer {other_supervisor}"})
        assert outside.status_code == 404
        assert outside.json()["code"] == "staff_notice_not_found"
        read = await client.post(path, headers={"Authorization": f"Bearer {town_supervisor}"})
        assert read.status_code == 200
        assert read.json()["read_at"] is not None
        assert (await notices(town_supervisor))[0]["read_at"] is not None
        assert (await notices(county_supervisor))[0]["read_at"] is None  # their own state
        unread = await client.get("/api/v1/feedback/staff-notices?unread=true",
                                  headers={"Authorization": f"Bearer {town_supervisor}"})
        assert unread.json()["items"] == []


async def test_an_escalation_is_told_to_supervisors_and_dispatchers_over_the_case(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id = uuid.uuid4()
    message = escalated(case_id)
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, [reported(case_id)])
        await until_handled(app, 1)
        await publish(app, [message, message])
        await until_handled(app, 3)
        for token in (make_token(roles=["dispatcher"], regions=[TOWN_1]),
                      make_token(roles=["supervisor"], regions=[COUNTY]),
                      make_token(roles=["admin"])):
            answer = await client.get("/api/v1/feedback/staff-notices",
                                      headers={"Authorization": f"Bearer {token}"})
            items = answer.json()["items"]
            assert [(n["kind"], n["region_code"]) for n in items] == [("escalation", C1)]
            assert "社区级自动上报至镇街级" in items[0]["body"]
        outsider = make_token(roles=["dispatcher"], regions=[TOWN_2])
        answer = await client.get("/api/v1/feedback/staff-notices",
                                  headers={"Authorization": f"Bearer {outsider}"})
        assert answer.json()["items"] == []
