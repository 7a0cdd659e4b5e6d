"""Authorisation and bad input: each refusal is a 4xx problem with a code, and nothing changes."""

from __future__ import annotations

import uuid

import pytest

from services.events.domain import TemplateField, validate_fields
from shared.problems import RuleViolation
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_POLICE,
    GRID,
    OTHER_COMMUNITY_UNIT,
    OTHER_GRID,
    Loop,
    bearer,
)


async def _cases(loop: Loop) -> int:
    assert loop.sql is not None
    return int(await loop.sql("events", "SELECT count(*) FROM cases"))


async def _outbox(loop: Loop) -> int:
    assert loop.sql is not None
    return int(await loop.sql("events", "SELECT count(*) FROM outbox"))


async def test_a_resident_cannot_read_another_residents_case(loop: Loop) -> None:
    created = await loop.report()
    stranger = loop.people.resident(subject=uuid.uuid4())
    for path in ("", "/timeline"):
        response = await loop.events.get(f"/api/v1/events/{created['id']}{path}",
                                         headers=bearer(stranger))
        assert response.status_code == 404
        assert response.json()["code"] == "event_not_found"
    listed = await loop.events.get("/api/v1/events", headers=bearer(stranger))
    assert listed.json()["items"] == []
    mine = await loop.events.get("/api/v1/events", headers=bearer(loop.people.resident()))
    assert [c["id"] for c in mine.json()["items"]] == [created["id"]]


async def test_a_department_cannot_act_on_a_case_outside_its_assignment(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    refused = await loop.act(event_id, "accept", police, expect=403)
    assert refused["code"] == "not_assigned"
    refused = await loop.route(f"assignments/{event_id}/transfer", police,
                               {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "不是我们的"},
                               expect=403)
    assert refused["code"] == "not_assigned"
    refused = await loop.route(f"assignments/{event_id}/escalate", police,
                               {"reason": "越权上报"}, expect=403)
    assert refused["code"] == "not_assigned"
    # A department outside the assignment does not even see the case.
    response = await loop.events.get(f"/api/v1/events/{event_id}", headers=bearer(police))
    assert response.status_code == 404
    case = await loop.case(event_id)
    assert case["status"] == "dispatched"
    assert case["assignee"]["unit_id"] == str(COMMUNITY_UNIT)


async def test_a_grid_worker_stays_inside_their_grid(loop: Loop) -> None:
    own = loop.people.grid_worker(GRID)
    other = loop.people.grid_worker(OTHER_GRID)
    created = await loop.report(own, on_behalf=True)
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT, token=own)
    refused = await loop.report(other, expect=403)  # reports in GRID by default
    assert refused["code"] == "out_of_scope"
    response = await loop.events.get(f"/api/v1/events/{created['id']}", headers=bearer(other))
    assert response.status_code == 404
    # Verifying needs a result first, and the other grid's worker is out of scope either way.
    refused = await loop.act(created["id"], "verify", other, {"passed": True}, expect=403)
    assert refused["code"] == "out_of_scope"
    listed = await loop.events.get("/api/v1/events", headers=bearer(other))
    assert listed.json()["items"] == []
    seen = await loop.events.get("/api/v1/events", headers=bearer(own))
    assert created["id"] in [c["id"] for c in seen.json()["items"]]


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


BAD_REPORTS = [
    ({"category_code": "no_such_category"}, 422, "category_unknown"),
    ({"fields": {}}, 422, "template_field_missing"),
    ({"fields": {"party_role": "judge"}}, 422, "template_field_invalid"),
    ({"fields": {"party_role": "tenant", "colour": "red"}}, 422, "template_field_unknown"),
    ({"region_code": "350626106"}, 422, "region_invalid"),
    ({"region_code": "350626106999"}, 422, "region_unknown"),
    ({"region_code": "not-a-code"}, 422, "region_invalid"),
    ({"attachments": [str(uuid.uuid4())]}, 400, "attachment_invalid"),
    ({"category_code": "telecom_fraud", "fields": {"channel": "phone"}}, 403,
     "verification_required"),
]


async def test_a_bad_report_is_refused_and_nothing_is_written(loop: Loop) -> None:
    resident = loop.people.resident(verified=False)
    for overrides, status, code in BAD_REPORTS:
        before_cases, before_outbox = await _cases(loop), await _outbox(loop)
        refused = await loop.report(resident, expect=status, **overrides)
        assert (refused["status"], refused["code"]) == (status, code), overrides
        assert await _cases(loop) == before_cases
        assert await _outbox(loop) == before_outbox


async def test_attachments_are_checked_by_their_bytes_and_size(loop: Loop) -> None:
    token = bearer(loop.people.resident())

    async def upload(data: bytes, declared: str) -> tuple[int, dict]:
        response = await loop.events.post("/api/v1/events/attachments", headers=token,
                                          files={"file": ("photo.jpg", data, declared)})
        return response.status_code, response.json()

    status, body = await upload(b"MZ\x90\x00 not really a photo", "image/jpeg")
    assert (status, body["code"]) == (415, "attachment_type_not_allowed")
    status, body = await upload(b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "image/jpeg")
    assert (status, body["code"]) == (413, "attachment_too_large")
    status, body = await upload(JPEG, "application/octet-stream")
    assert status == 201
    assert body["content_type"] == "image/jpeg"
    created = await loop.report(attachments=[body["id"]])
    case = await loop.case(created["id"])
    assert case["attachments"] == [body["id"]]
    # The same upload cannot be attached to a second case.
    refused = await loop.report(attachments=[body["id"]], expect=400)
    assert refused["code"] == "attachment_invalid"


async def test_an_illegal_transition_is_refused_and_changes_nothing(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    steps_before = await loop.timeline(event_id)
    refused = await loop.act(event_id, "verify", loop.people.grid_worker(), {"passed": True},
                             expect=409)
    assert refused["code"] == "illegal_transition"
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    refused = await loop.act(event_id, "result", staff, {"result": "未受理就反馈"}, expect=409)
    assert refused["code"] == "illegal_transition"
    refused = await loop.act(event_id, "return", staff, {"reason": ""}, expect=422)
    assert refused["code"] == "validation_error"
    assert (await loop.case(event_id))["status"] == "dispatched"
    assert await loop.timeline(event_id) == steps_before


async def test_a_residents_list_pages_newest_first(loop: Loop) -> None:
    ids = [(await loop.report(description=f"第{n}件 不同的事情 {uuid.uuid4().hex}"))["id"]
           for n in range(3)]
    token = bearer(loop.people.resident())
    numbers = [int(c["case_no"].rsplit("-", 1)[1]) for c in
               [await loop.case(i) for i in ids]]
    assert numbers == [1, 2, 3]  # a fresh schema: the day starts at 1, with no gaps
    first = (await loop.events.get("/api/v1/events?limit=2", headers=token)).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2]
    assert first["next_cursor"] is not None
    second = (await loop.events.get(f"/api/v1/events?limit=2&cursor={first['next_cursor']}",
                                    headers=token)).json()
    assert [c["id"] for c in second["items"]] == ids[:1]
    assert second["next_cursor"] is None
    bad = await loop.events.get("/api/v1/events?cursor=abc", headers=token)
    assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")


async def _timeline_steps(loop: Loop) -> int:
    assert loop.sql is not None
    return int(await loop.sql("events", "SELECT count(*) FROM timeline"))


NUL_REPORTS = [
    ({"description": "房东\x00不退押金"}, "validation_error"),
    ({"address": "东门路\x0012号"}, "validation_error"),
    ({"category_code": "dispute_tenancy\x00"}, "validation_error"),
    # Refused for every field of every service at the door (shared/web/middleware.py).
    ({"category_code": "illegal_business", "fields": {"business_name": "棋牌\x00室"}},
     "validation_error"),
]


async def test_text_holding_nul_is_refused_with_a_code_and_nothing_is_written(
    loop: Loop,
) -> None:
    """PostgreSQL text and jsonb cannot hold NUL: every such input is a 422, never a 500."""
    for overrides, code in NUL_REPORTS:
        before = await _cases(loop), await _outbox(loop)
        refused = await loop.report(expect=422, **overrides)
        assert refused["code"] == code, overrides
        assert (await _cases(loop), await _outbox(loop)) == before
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    before = await _timeline_steps(loop), await _outbox(loop)
    for action, token, body in [
        ("accept", staff, {"note": "已\x00签收"}),
        ("return", staff, {"reason": "不属于\x00本社区"}),
        ("start", staff, {"note": "\x00"}),
        ("result", staff, {"result": "已处理\x00"}),
        ("verify", loop.people.grid_worker(), {"passed": False, "note": "未\x00整改"}),
        ("reject", loop.people.dispatcher(), {"reason": "无效\x00举报"}),
        ("reporter-reveal", loop.people.supervisor(), {"reason": "需\x00联系"}),
    ]:
        refused = await loop.act(event_id, action, token, body, expect=422)
        assert refused["code"] == "validation_error", action
    assert (await _timeline_steps(loop), await _outbox(loop)) == before
    assert (await loop.case(event_id))["status"] == "dispatched"
    assert loop.sql is not None
    assert await loop.sql("events", "SELECT count(*) FROM reporter_reveals") == 0


async def test_a_template_number_that_is_not_finite_is_refused(loop: Loop) -> None:
    before = await _cases(loop)
    for amount in ("NaN", "Infinity", "1e999"):
        body = ('{"category_code": "dispute_labour", "description": "拖欠工资三个月",'
                f' "region_code": "{GRID}", "fields": {{"employer": "某某厂",'
                f' "unpaid_amount": {amount}}}}}')
        response = await loop.events.post(
            "/api/v1/events", content=body,
            headers=bearer(loop.people.resident(), **{"Content-Type": "application/json"}))
        assert response.status_code == 422, (amount, response.text)
        assert response.json()["code"] == "template_field_invalid"
    assert await _cases(loop) == before


async def test_bad_list_filters_and_cursors_are_refused_not_crashed(loop: Loop) -> None:
    token = bearer(loop.people.resident())
    for query, status, code in [
        ("status=%00", 422, "validation_error"),
        ("status=no_such_status", 422, "validation_error"),
        ("cursor=%00", 422, "validation_error"),  # a NUL: refused at the door (shared/web)
        ("limit=0", 422, "validation_error"),
        ("limit=100000", 422, "validation_error"),
    ]:
        response = await loop.events.get(f"/api/v1/events?{query}", headers=token)
        assert (response.status_code, response.json()["code"]) == (status, code), query
    listed = await loop.events.get("/api/v1/events?status=dispatched", headers=token)
    assert listed.status_code == 200


async def test_an_admins_category_with_nul_or_an_over_long_code_is_refused(loop: Loop) -> None:
    admin = bearer(loop.people.make_token(roles=["admin"]))
    body = {"name": "新类别", "parent_code": "public_order"}
    for code, payload in [
        ("x" * 65, body),
        ("new_kind", {**body, "name": "新\x00类别"}),
        ("new_kind", {**body, "parent_code": "public\x00order"}),
        ("new_kind", {**body, "template": [{"key": "a", "label": "标\x00签", "type": "text"}]}),
        ("new_kind", {**body, "template": [{"key": "a", "label": "标签", "type": "choice",
                                            "choices": ["是\x00"]}]}),
    ]:
        response = await loop.events.put(f"/api/v1/events/categories/{code}", json=payload,
                                         headers=admin)
        assert response.status_code == 422, (code, payload, response.text)
        assert response.json()["code"] == "validation_error"
    assert loop.sql is not None
    assert await loop.sql("events", "SELECT count(*) FROM categories WHERE code = 'new_kind'"
                                    " OR length(code) > 64") == 0
    created = await loop.events.put("/api/v1/events/categories/new_kind", json=body,
                                    headers=admin)
    assert created.status_code == 204, created.text


def test_a_phone_field_in_full_width_digits_is_refused() -> None:
    template = [TemplateField(key="contact", label="联系电话", type="phone")]
    assert validate_fields(template, {"contact": "13812345678"}) == {"contact": "13812345678"}
    with pytest.raises(RuleViolation) as caught:
        validate_fields(template, {"contact": "1３８１２３４５６７８"})  # \d took them
    assert (caught.value.code, caught.value.extra) == ("template_field_invalid",
                                                      {"field": "contact"})
