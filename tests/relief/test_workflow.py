"""The review workflow over HTTP: the full path, each rejection path, objections, minors,
queues per agency and region, and three reviewers approving at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.relief.conftest import ReliefWorld
from tests.relief.flows import (
    AGENCIES,
    BASE,
    accept,
    approve,
    auth,
    expect,
    get,
    review,
    submit,
    through_joint_review,
    timeline_steps,
)


async def events_of(world: ReliefWorld, app_id: str) -> list[tuple[str, dict[str, Any]]]:
    engine_rows = await world.scalar(
        "SELECT coalesce(json_agg(json_build_array(event_type, envelope->'payload') ORDER BY id),"
        " '[]') FROM outbox WHERE envelope->'payload'->>'application_id' = :id",
        id=app_id,
    )
    return [(event_type, payload) for event_type, payload in engine_rows]


async def test_full_path_from_application_to_approval(world: ReliefWorld) -> None:
    user_id, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    noticed = await through_joint_review(world.client, world.staff, app_id)
    assert noticed["status"] == "in_notice"
    assert [o["agency"] for o in noticed["opinions"]] == list(AGENCIES)
    assert all("情况属实" not in o["opinion"] for o in noticed["opinions"])  # masked
    ends = datetime.fromisoformat(noticed["notice_ends_at"])
    submitted = datetime.fromisoformat(noticed["submitted_at"])
    assert timedelta(days=7) <= ends - submitted < timedelta(days=7, minutes=1)
    assert noticed["approval_due_at"] > noticed["notice_ends_at"]

    listed = expect(await world.client.get(f"{BASE}/notices", params={
        "region_code": world.region}, headers=auth(token)), 200)
    assert [n["application_id"] for n in listed["items"]] == [app_id]
    assert listed["items"][0]["applicant_name"] == "林**"

    early = await approve(world.client, world.staff, app_id)
    assert early.status_code == 409
    assert early.json()["code"] == "notice_running"

    world.clock.advance(timedelta(days=7, seconds=1))
    waiting = await get(world.client, token, app_id)
    assert waiting["status"] == "awaiting_approval"
    assert waiting["approval_overdue"] is False
    world.clock.advance(timedelta(days=20))  # past 10 working days after the notice
    assert (await get(world.client, token, app_id))["approval_overdue"] is True
    approved = expect(await approve(world.client, world.staff, app_id), 200)
    assert approved["status"] == "approved"
    assert approved["decision"]["outcome"] == "approved"

    assert await timeline_steps(world.client, token, app_id) == [
        "submitted", "accepted", "approved_by_ping_an_office", "approved_by_civil_affairs",
        "approved_by_agriculture_notice_started", "approved",
    ]
    events = await events_of(world, app_id)
    assert [e for e, _ in events] == [
        "relief.application_submitted",
        *["relief.application_progressed"] * 4,
        "relief.application_decided",
    ]
    assert all(payload["applicant_user_id"] == user_id for _, payload in events)
    assert events[-1][1]["outcome"] == "approved"


async def test_town_rejection_reaches_the_applicant_with_reasons_within_three_working_days(
    world: ReliefWorld,
) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    rejected = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/reject", json={"reason": "家庭收入超过当地低保标准"},
        headers=auth(world.staff.town),
    ), 200)
    assert rejected["status"] == "rejected"
    decision = rejected["decision"]
    assert decision["stage"] == "town"
    decided_at = datetime.fromisoformat(decision["decided_at"])
    notify_by = datetime.fromisoformat(decision["notify_by"])
    assert timedelta(days=3) <= notify_by - decided_at <= timedelta(days=8)  # 3 working days

    event_type, payload = (await events_of(world, app_id))[-1]
    assert event_type == "relief.application_decided"
    assert payload["outcome"] == "rejected"
    assert payload["reasons_count"] == 1
    assert "收入" not in str(payload)  # no PII on the bus
    assert datetime.fromisoformat(payload["notify_by"]) == notify_by

    reasons = expect(await world.client.get(f"{BASE}/applications/{app_id}/decision",
                                            headers=auth(token)), 200)
    assert reasons["reasons"] == ["家庭收入超过当地低保标准"]
    audited = await world.scalar(
        "SELECT count(*) FROM pii_access_audit WHERE application_id = :i "
        "AND field = 'decision_reasons'", i=uuid.UUID(app_id),
    )
    assert audited == 1


@pytest.mark.parametrize("rejecting", AGENCIES)
async def test_any_one_agency_rejecting_ends_the_joint_review(
    world: ReliefWorld, rejecting: str
) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    await accept(world.client, world.staff, app_id)
    other = next(a for a in AGENCIES if a != rejecting)
    expect(await review(world.client, world.staff, app_id, other), 200)
    rejected = expect(await review(world.client, world.staff, app_id, rejecting,
                                   approve=False, opinion="名下有商品房一套"), 200)
    assert rejected["status"] == "rejected"
    assert rejected["decision"]["stage"] == "joint_review"
    last = next(a for a in AGENCIES if a not in (rejecting, other))
    late = await review(world.client, world.staff, app_id, last)
    assert late.status_code == 409
    assert late.json()["code"] == "illegal_transition"
    reasons = expect(await world.client.get(f"{BASE}/applications/{app_id}/decision",
                                            headers=auth(token)), 200)
    assert reasons["reasons"] == ["名下有商品房一套"]
    assert (await events_of(world, app_id))[-1][1]["stage"] == "joint_review"


async def test_an_objection_blocks_approval_until_it_is_resolved(world: ReliefWorld) -> None:
    _, token = world.resident()
    _, neighbour = world.resident(name="王大海")
    app_id = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    objection = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/objections", json={"text": "其子在厦门工作，收入较高"},
        headers=auth(neighbour),
    ), 201)
    world.clock.advance(timedelta(days=8))
    blocked = await approve(world.client, world.staff, app_id)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "objections_open"
    late = await world.client.post(
        f"{BASE}/applications/{app_id}/objections", json={"text": "迟到的异议"},
        headers=auth(neighbour),
    )
    assert late.json()["code"] == "notice_not_running"

    resolution = f"{BASE}/applications/{app_id}/objections/{objection['id']}/resolution"
    by_town_is_fine_but_not_by_resident = await world.client.post(
        resolution, json={"upheld": False, "resolution": "x"}, headers=auth(neighbour)
    )
    assert by_town_is_fine_but_not_by_resident.status_code == 403
    resolved = expect(await world.client.post(
        resolution, json={"upheld": False, "resolution": "经核实其子已分户，不影响"},
        headers=auth(world.staff.civil_affairs),
    ), 200)
    assert resolved["open_objections"] == 0
    again = await world.client.post(
        resolution, json={"upheld": False, "resolution": "again"},
        headers=auth(world.staff.civil_affairs),
    )
    assert again.json()["code"] == "objection_already_resolved"
    assert expect(await approve(world.client, world.staff, app_id), 200)["status"] == "approved"
    assert "objection_recorded" in await timeline_steps(world.client, token, app_id)


async def test_an_upheld_objection_rejects_the_application(world: ReliefWorld) -> None:
    _, token = world.resident()
    _, neighbour = world.resident()
    app_id = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    objection = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/objections", json={"text": "家中有两辆货车"},
        headers=auth(neighbour),
    ), 201)
    rejected = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/objections/{objection['id']}/resolution",
        json={"upheld": True, "resolution": "核实有营运货车两辆"},
        headers=auth(world.staff.civil_affairs),
    ), 200)
    assert rejected["status"] == "rejected"
    assert rejected["decision"]["stage"] == "notice"
    reasons = expect(await world.client.get(f"{BASE}/applications/{app_id}/decision",
                                            headers=auth(token)), 200)
    assert reasons["reasons"] == ["核实有营运货车两辆"]


async def test_civil_affairs_rejects_at_approval(world: ReliefWorld) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    world.clock.advance(timedelta(days=7, seconds=1))
    rejected = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/reject", json={"reason": "复核发现存款超标"},
        headers=auth(world.staff.civil_affairs),
    ), 200)
    assert rejected["decision"]["stage"] == "approval"


async def test_minor_is_never_publicised_and_goes_straight_to_approval(
    world: ReliefWorld,
) -> None:
    _, token = world.resident(birth_date=date(2013, 2, 2), name="陈小红")
    _, neighbour = world.resident()
    app_id = (await submit(world.client, token, kind="tekun"))["id"]
    after = await through_joint_review(world.client, world.staff, app_id)
    assert after["status"] == "awaiting_approval"
    assert after["notice_ends_at"] is None
    listed = expect(await world.client.get(f"{BASE}/notices", params={
        "region_code": world.region}, headers=auth(neighbour)), 200)
    assert listed["items"] == []
    objection = await world.client.post(
        f"{BASE}/applications/{app_id}/objections", json={"text": "?"}, headers=auth(neighbour)
    )
    assert objection.status_code == 404  # nobody outside the case learns it exists
    assert "notice_skipped_minor" in await timeline_steps(world.client, token, app_id)
    assert expect(await approve(world.client, world.staff, app_id), 200)["status"] == "approved"


async def test_each_agency_sees_its_own_queue_within_its_region(world: ReliefWorld) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]

    async def queue(staff_token: str, **params: str) -> list[str]:
        page = expect(await world.client.get(f"{BASE}/applications", params=params,
                                             headers=auth(staff_token)), 200)
        return [item["id"] for item in page["items"]]

    staff = world.staff
    assert await queue(staff.town) == [app_id]
    assert await queue(staff.ping_an_office) == []
    await accept(world.client, staff, app_id)
    assert await queue(staff.town) == []
    for agency in AGENCIES:
        assert await queue(staff.of(agency)) == [app_id]
    expect(await review(world.client, staff, app_id, "ping_an_office"), 200)
    assert await queue(staff.ping_an_office) == []
    assert await queue(staff.agriculture) == [app_id]
    assert await queue(staff.ping_an_office, status="in_review") == [app_id]

    far = world.make_token(roles=["reviewer"], regions=["350624"],
                           extra={"agency": "agriculture"})
    assert await queue(far) == []
    outside = await review(world.client, staff, app_id, "agriculture")
    assert outside.status_code == 200
    far_review = await world.client.post(
        f"{BASE}/applications/{app_id}/reviews", json={"approve": True, "opinion": "ok"},
        headers=auth(far),
    )
    assert far_review.status_code == 403
    assert far_review.json()["code"] == "out_of_scope"
    expect(await review(world.client, staff, app_id, "civil_affairs"), 200)
    assert await queue(staff.civil_affairs) == []  # in notice: nothing to do yet
    world.clock.advance(timedelta(days=7, seconds=1))
    assert await queue(staff.civil_affairs) == [app_id]  # the notice ended: approve it

    no_agency = world.make_token(roles=["reviewer"], regions=[world.region])
    refused = await world.client.get(f"{BASE}/applications", headers=auth(no_agency))
    assert refused.json()["code"] == "agency_required"


async def test_applicants_see_only_their_own_applications(world: ReliefWorld) -> None:
    _, token = world.resident()
    _, other = world.resident()
    app_id = (await submit(world.client, token))["id"]
    assert (await world.client.get(f"{BASE}/applications/{app_id}",
                                   headers=auth(other))).status_code == 404
    assert (await world.client.get(f"{BASE}/applications/{app_id}/timeline",
                                   headers=auth(other))).status_code == 404
    theirs = expect(await world.client.get(f"{BASE}/applications", headers=auth(other)), 200)
    assert theirs["items"] == []
    stolen = await world.client.get(f"{BASE}/applications/{app_id}/decision",
                                    headers=auth(other))
    assert stolen.status_code == 404


async def test_plaintext_pii_needs_a_reason_and_every_read_is_audited(
    world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    app_id = (await submit(world.client, token, attachments=["att://proof-1"]))["id"]
    await accept(world.client, world.staff, app_id)
    expect(await review(world.client, world.staff, app_id, "agriculture",
                        opinion="承包地两亩，无其他收入"), 200)
    url = f"{BASE}/applications/{app_id}/pii-access"
    body = {"fields": ["name", "id_number", "opinions", "attachments"],
            "reason": "核对身份证与户籍信息"}
    revealed = expect(await world.client.post(
        url, json=body, headers=auth(world.staff.civil_affairs)), 200)
    profile = world.identity.profiles[uuid.UUID(user_id)]
    assert revealed["values"]["id_number"] == profile["id_number"]
    assert revealed["values"]["opinions"][0]["opinion"] == "承包地两亩，无其他收入"
    assert revealed["values"]["attachments"] == ["att://proof-1"]

    assert (await world.client.post(url, json=body, headers=auth(token))).status_code == 403
    no_reason = await world.client.post(url, json={"fields": ["name"]},
                                        headers=auth(world.staff.civil_affairs))
    assert no_reason.status_code == 422
    far = world.make_token(roles=["reviewer"], regions=["350624"],
                           extra={"agency": "civil_affairs"})
    assert (await world.client.post(url, json=body, headers=auth(far))).status_code == 403

    admin = world.make_token(roles=["admin"])
    log = expect(await world.client.get(f"{BASE}/pii-access-log",
                                        params={"application_id": app_id},
                                        headers=auth(admin)), 200)
    assert sorted(entry["field"] for entry in log["items"]) == sorted(body["fields"])
    assert {entry["reason"] for entry in log["items"]} == {body["reason"]}
    assert (await world.client.get(f"{BASE}/pii-access-log",
                                   headers=auth(token))).status_code == 403


async def test_applicant_withdraws_and_may_apply_again(world: ReliefWorld) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    withdrawn = expect(await world.client.post(f"{BASE}/applications/{app_id}/withdraw",
                                               headers=auth(token)), 200)
    assert withdrawn["status"] == "withdrawn"
    await submit(world.client, token)


async def test_three_reviewers_approving_at_once_start_the_notice_exactly_once(
    world: ReliefWorld,
) -> None:
    for _ in range(5):
        _, token = world.resident()
        app_id = (await submit(world.client, token))["id"]
        await accept(world.client, world.staff, app_id)
        responses = await asyncio.gather(
            *(review(world.client, world.staff, app_id, agency) for agency in AGENCIES)
        )
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert (await get(world.client, token, app_id))["status"] == "in_notice"
        steps = await timeline_steps(world.client, token, app_id)
        assert sum(step.endswith("_notice_started") for step in steps) == 1
        assert len(steps) == 5
        events = await events_of(world, app_id)
        assert sum(p.get("step", "").endswith("notice_started") for _, p in events) == 1
        opinions = await world.scalar(
            "SELECT count(*) FROM opinions WHERE application_id = :i", i=uuid.UUID(app_id)
        )
        assert opinions == 3


async def test_the_same_agency_reviewing_twice_at_once_counts_once(world: ReliefWorld) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    await accept(world.client, world.staff, app_id)
    responses = await asyncio.gather(
        *(review(world.client, world.staff, app_id, "civil_affairs") for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert {r.json().get("code") for r in responses if r.status_code == 409} == {
        "already_reviewed"
    }


async def test_bad_review_input_is_refused_with_a_code_and_nothing_is_written(
    world: ReliefWorld,
) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    no_reason = await world.client.post(f"{BASE}/applications/{app_id}/reject", json={},
                                        headers=auth(world.staff.town))
    assert no_reason.status_code == 422
    assert no_reason.json()["code"] == "reason_required"
    not_yet = await review(world.client, world.staff, app_id, "agriculture")
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "illegal_transition"
    await accept(world.client, world.staff, app_id)
    cases = [
        ({"approve": True, "opinion": " "}, 422, "opinion_required"),
        ({"approve": "maybe", "opinion": "ok"}, 422, "validation_error"),
        ({"opinion": "ok"}, 422, "opinion_decision_required"),
    ]
    for body, status, code in cases:
        response = await world.client.post(f"{BASE}/applications/{app_id}/reviews", json=body,
                                           headers=auth(world.staff.agriculture))
        assert response.status_code == status, body
        assert response.json()["code"] == code
    resident_review = await world.client.post(
        f"{BASE}/applications/{app_id}/reviews", json={"approve": True, "opinion": "ok"},
        headers=auth(token))
    assert resident_review.json()["code"] == "agency_required"
    bad_id = await world.client.post(f"{BASE}/applications/not-a-uuid/accept",
                                     headers=auth(world.staff.town))
    assert bad_id.status_code == 422
    assert await world.scalar("SELECT count(*) FROM opinions WHERE application_id = :i",
                              i=uuid.UUID(app_id)) == 0
    assert await timeline_steps(world.client, token, app_id) == ["submitted", "accepted"]


async def test_a_supervisor_reads_the_pii_audit_of_their_own_region_only(
    world: ReliefWorld,
) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token))["id"]
    expect(await world.client.post(
        f"{BASE}/applications/{app_id}/pii-access",
        json={"fields": ["name"], "reason": "核对林秀英的身份"},
        headers=auth(world.staff.civil_affairs)), 200)
    log_url = f"{BASE}/pii-access-log"
    far = world.make_token(roles=["supervisor"], regions=["350624"])
    near = world.make_token(roles=["supervisor"], regions=[world.region[:6]])
    everything = expect(await world.client.get(log_url, params={"limit": 200},
                                               headers=auth(far)), 200)
    assert app_id not in {entry["application_id"] for entry in everything["items"]}
    by_id = await world.client.get(log_url, params={"application_id": app_id},
                                   headers=auth(far))
    assert by_id.status_code == 404
    assert by_id.json()["code"] == "application_not_found"
    mine = expect(await world.client.get(log_url, params={"application_id": app_id},
                                         headers=auth(near)), 200)
    assert [entry["field"] for entry in mine["items"]] == ["name"]


async def test_an_audit_log_cursor_beyond_any_row_id_is_refused_not_crashed(
    world: ReliefWorld,
) -> None:
    admin = world.make_token(roles=["admin"])
    answer = await world.client.get(f"{BASE}/pii-access-log", params={"cursor": 10**20},
                                    headers=auth(admin))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error"
