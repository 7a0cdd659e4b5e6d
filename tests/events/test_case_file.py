"""The case file: idempotent intake, duplicate hints, sensitive tips, extensions, transfer,
failed checks, ratings and the four musts."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from services.events.seed import REGIONS as EVENTS_REGIONS
from services.events.service.intake import DUPLICATE_PAGE
from services.routing import seed as routing_seed
from services.routing.seed import unit_id
from shared.contracts.feedback import EventRated as FeedbackRated
from shared.messaging.envelope import Envelope
from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    Loop,
    bearer,
)


def test_events_knows_every_community_and_grid_routing_seeds() -> None:
    routing = {code: name for code, name in routing_seed.REGIONS if len(code) >= 12}
    assert dict(EVENTS_REGIONS) == routing


async def test_a_retried_report_with_the_same_key_opens_one_case(loop: Loop) -> None:
    key = f"report-{uuid.uuid4().hex}"
    body = {"description": "楼道堆放杂物 retry"}
    first = await loop.report(idempotency_key=key, **body)
    second = await loop.report(idempotency_key=key, **body)
    assert first == second
    listed = await loop.events.get("/api/v1/events", headers=bearer(loop.people.resident()))
    assert [c["id"] for c in listed.json()["items"]] == [first["id"]]
    reused = await loop.report(idempotency_key=key, expect=422, description="另一件事情")
    assert reused["code"] == "idempotency_key_reused"


async def test_a_similar_report_in_the_same_community_is_linked_not_merged(loop: Loop) -> None:
    first = await loop.report(description="东门路12号出租房房东拒不退还押金三千元")
    second = await loop.report(loop.people.resident(subject=uuid.uuid4()),
                               description="东门路12号出租房的房东拒不退还押金")
    assert second["possible_duplicate_of"] == first["id"]
    assert second["id"] != first["id"]
    steps = await loop.timeline(second["id"], loop.people.supervisor())
    (reported,) = [s for s in steps if s["action"] == "report"]
    assert reported["note"] == "疑似重复上报，与此前一条上报相同"
    unrelated = await loop.report(description="小区门口路灯不亮了好几天")
    assert unrelated["possible_duplicate_of"] is None


async def test_the_original_is_found_behind_a_page_of_unrelated_reports(loop: Loop) -> None:
    rng = random.Random(7)
    for _ in range(DUPLICATE_PAGE):  # a busy community: a full page of other matters first
        noise = "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(14))
        await loop.report(description=noise)
    original = await loop.report(description="西街菜市场门口井盖缺失三天了有人差点掉下去")
    again = await loop.report(loop.people.resident(subject=uuid.uuid4()),
                              description="西街菜市场门口的井盖缺失三天了")
    assert again["possible_duplicate_of"] == original["id"]


async def test_handlers_never_see_who_reported_a_fraud_and_a_reveal_is_audited(
    loop: Loop,
) -> None:
    created = await loop.report(
        category_code="telecom_fraud", description="冒充客服要求转账",
        fields={"channel": "phone", "loss_amount": 5000, "suspect_phone": "13800138000"},
    )
    event_id = created["id"]
    case = await loop.wait_assigned(event_id, COUNTY_POLICE)  # the entry rule: county police
    assert case["reporter_id"] == str(loop.people.resident_id)  # the reporter sees themself
    assert case["fields"]["suspect_phone"] == "13800138000"
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    seen = await loop.case(event_id, police)
    assert seen["reporter_id"] is None
    # The reported number is evidence for the police handling it (encrypted at rest).
    assert seen["fields"]["suspect_phone"] == "13800138000"
    assert loop.sql is not None
    leaked = await loop.sql(
        "events",
        "SELECT count(*) FROM outbox WHERE envelope->'payload'->>'reporter_id' IS NOT NULL",
    )
    assert leaked == 0
    stored = await loop.sql("events", f"SELECT fields->>'suspect_phone' FROM cases "
                                      f"WHERE id = '{event_id}'")
    assert "13800138000" not in stored  # encrypted at rest

    refused = await loop.events.post(f"/api/v1/events/{event_id}/reporter-reveal",
                                     json={"reason": "想知道"}, headers=bearer(police))
    assert refused.status_code == 403
    supervisor = loop.people.supervisor()
    revealed = await loop.events.post(f"/api/v1/events/{event_id}/reporter-reveal",
                                      json={"reason": "需联系举报人补充证据"},
                                      headers=bearer(supervisor))
    assert revealed.status_code == 200
    assert revealed.json()["reporter_id"] == str(loop.people.resident_id)
    audits = await loop.sql("events", f"SELECT count(*) FROM reporter_reveals "
                                      f"WHERE event_id = '{event_id}'")
    assert audits == 1


async def test_an_approved_extension_moves_the_resolve_deadline(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    case = await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", staff)
    asked = await loop.route(f"assignments/{event_id}/extensions", staff,
                             {"extra_working_hours": 14, "reason": "等待双方到场"}, expect=201)
    outsider = loop.people.supervisor("350623")
    await loop.route(f"extensions/{asked['id']}/decision", outsider, {"approve": True},
                     expect=403)
    await loop.route(f"extensions/{asked['id']}/decision", loop.people.supervisor(),
                     {"approve": True}, expect=204)
    extended = await loop.wait_for(event_id, lambda c: c["resolve_by"] != case["resolve_by"])
    assert extended["resolve_by"] > case["resolve_by"]
    actions = [s["action"] for s in await loop.timeline(event_id)]
    assert "extension_request" in actions
    assert "extend" in actions
    await loop.route(f"extensions/{asked['id']}/decision", loop.people.supervisor(),
                     {"approve": False}, expect=409)


async def test_a_transferred_case_belongs_to_the_new_unit(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", staff)
    await loop.route(f"assignments/{event_id}/transfer", staff,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "房屋属西门社区"})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    other = loop.people.unit_staff(OTHER_COMMUNITY_UNIT, "350626106002")
    queue = await loop.routing.get(f"/api/v1/routing/units/{OTHER_COMMUNITY_UNIT}/work-queue",
                                   headers=bearer(other))
    assert event_id in [i["event_id"] for i in queue.json()["items"]]
    refused = await loop.routing.get(f"/api/v1/routing/units/{OTHER_COMMUNITY_UNIT}/work-queue",
                                     headers=bearer(staff))
    assert refused.status_code == 403


async def test_a_failed_check_sends_the_case_back_with_a_new_deadline(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", staff)
    await loop.act(event_id, "result", staff, {"result": "已协调"})
    failed = await loop.act(event_id, "verify", loop.people.grid_worker(),
                            {"passed": False, "note": "现场核查押金仍未退还"})
    assert failed["status"] == "in_progress"
    await wait_until(lambda: _has(loop, event_id, "deadline"), within=5)
    closed = await loop.act(event_id, "result", staff, {"result": "押金已当面退还"})
    assert closed["status"] == "result_submitted"
    closed = await loop.act(event_id, "verify", loop.people.dispatcher(), {"passed": True})
    assert closed["status"] == "closed"


async def _rate(loop: Loop, event_id: str, rating: str, *, default: bool = False) -> None:
    """What the feedback service publishes when the reporter rates the latest closure."""
    case = await loop.case(event_id)
    envelope = Envelope(
        event_type="feedback.event_rated", producer="feedback",
        payload=FeedbackRated(
            event_id=uuid.UUID(event_id), rating=rating, default_applied=default,  # type: ignore[arg-type]
            rated_at=datetime.now(UTC),
            closure_closed_at=datetime.fromisoformat(case["closed_at"]), closure_seq=1,
            rework=rating == "dissatisfied",
        ).model_dump(mode="json"),
    )
    broker = loop.apps["events"].state.runtime.broker  # type: ignore[attr-defined]
    await broker.publish(envelope.routing_key, envelope.to_bytes(),
                         message_id=str(envelope.event_id))


async def test_a_rating_completes_the_loop_and_dissatisfaction_reopens_it(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)

    await _rate(loop, event_id, "dissatisfied")
    reopened = await loop.wait_for(event_id, lambda c: c["status"] == "in_progress")
    assert reopened["closed_loop_complete"] is False
    await wait_until(lambda: _has(loop, event_id, "deadline"), within=5)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "result", staff, {"result": "重办：押金已退"})
    await loop.act(event_id, "verify", loop.people.grid_worker(), {"passed": True})
    await _rate(loop, event_id, "satisfied", default=True)
    case = await loop.wait_for(event_id, lambda c: c["status"] == "rated")
    assert case["closed_loop_complete"] is True
    actions = [s["action"] for s in await loop.timeline(event_id)]
    assert actions.count("rate") == 2
    assert actions.count("rework") == 1
    assert loop.sql is not None
    rated_events = await loop.sql(
        "events", "SELECT count(*) FROM outbox WHERE event_type = 'events.event_rated'")
    assert rated_events == 2


async def _has(loop: Loop, event_id: str, action: str) -> bool:
    return any(s["action"] == action for s in await loop.timeline(event_id))


async def test_an_unmatched_report_waits_for_the_dispatcher_who_may_reject_it(
    loop: Loop,
) -> None:
    created = await loop.report(category_code="political_security", description="可疑传单",
                                fields={})
    event_id = created["id"]
    await wait_until(lambda: _has(loop, event_id, "queue"), within=5)
    city_dispatcher = loop.people.dispatcher("350600")
    queue = await loop.routing.get("/api/v1/routing/queue", headers=bearer(city_dispatcher))
    assert event_id in [i["event_id"] for i in queue.json()["items"]]
    elsewhere = loop.people.dispatcher("350623")
    queue = await loop.routing.get("/api/v1/routing/queue", headers=bearer(elsewhere))
    assert event_id not in [i["event_id"] for i in queue.json()["items"]]
    listed = await loop.events.get("/api/v1/events", headers=bearer(city_dispatcher))
    assert event_id in [c["id"] for c in listed.json()["items"]]
    rejected = await loop.act(event_id, "reject", city_dispatcher, {"reason": "重复无效信息"})
    assert rejected["status"] == "rejected"

    async def left_queue() -> bool:
        response = await loop.routing.get("/api/v1/routing/queue",
                                          headers=bearer(city_dispatcher))
        return event_id not in [i["event_id"] for i in response.json()["items"]]

    await wait_until(left_queue, within=5)


async def test_a_community_added_to_the_directory_takes_reports_and_has_its_unit(
    loop: Loop,
) -> None:
    admin = loop.people.make_token(roles=["admin"])
    for code, name in (("350626106003", "南门社区"), ("350626106003001", "南门社区第一网格")):
        response = await loop.routing.put(f"/api/v1/routing/regions/{code}",
                                          json={"name": name}, headers=bearer(admin))
        assert response.status_code == 204, response.text
    orphan = await loop.routing.put("/api/v1/routing/regions/350626199001",
                                    json={"name": "无主社区"}, headers=bearer(admin))
    assert orphan.json()["code"] == "region_parent_unknown"

    async def events_knows_it() -> bool:
        response = await loop.events.post(
            "/api/v1/events", headers=bearer(loop.people.resident()),
            json={"category_code": "dispute_neighbour", "description": "楼上漏水",
                  "region_code": "350626106003001"})
        if response.status_code == 201:
            created.append(response.json()["id"])
        return response.status_code == 201

    created: list[str] = []
    await wait_until(events_knows_it, within=5)
    await loop.wait_assigned(created[0], unit_id("350626106003", "community"))


async def test_a_calendar_override_moves_the_deadlines_of_new_cases(loop: Loop) -> None:
    admin = loop.people.make_token(roles=["admin"])
    # Thursday 26 November declared a local day off: Wednesday 09:00 + 7 working hours now
    # ends on Friday at 09:00 instead of Thursday.
    response = await loop.routing.put("/api/v1/routing/calendar/overrides/2026-11-26",
                                      json={"workday": False, "note": "local holiday"},
                                      headers=bearer(admin))
    assert response.status_code == 204
    created = await loop.report()
    case = await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    assert case["accept_by"].startswith("2026-11-27T01:00")


async def test_a_calendar_override_at_the_calendars_edge_is_refused_and_reports_still_route(
    loop: Loop,
) -> None:
    """0001-01-01 and 9999-12-31 reach PostgreSQL as -infinity / infinity: stored, they made
    every later report's routing fail until the message was parked."""
    admin = bearer(loop.people.make_token(roles=["admin"]))
    for day in ("0001-01-01", "9999-12-31", "1000-06-01"):
        response = await loop.routing.put(f"/api/v1/routing/calendar/overrides/{day}",
                                          json={"workday": True}, headers=admin)
        assert (response.status_code, response.json()["code"]) == (422, "day_invalid"), day
    assert loop.sql is not None
    assert await loop.sql("routing", "SELECT count(*) FROM calendar_overrides") == 0
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
