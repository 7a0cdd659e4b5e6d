"""Phone and ID numbers staff type into routing's free texts (dispatch, transfer and escalation
notes, extension reasons, co-handling tasks and answers) are stored in routing's tables and
published on the bus masked; the typed original is kept encrypted and read only by the case's
staff, with a reason, audited."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.routing.cli import mask_free_text
from services.routing.context import RoutingContext
from services.routing.service.originals import text_context
from services.routing.settings import Settings
from shared.pii import PiiCipher
from shared.testing.plugin import wait_until
from shared.web.runtime import ServiceRuntime
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    TOWN,
    TOWN_UNIT,
    Loop,
    bearer,
)

PHONE, ID_NUMBER, LANDLINE = "13812345678", "350623199001011234", "0596-2345678"
MASKED_PHONE, MASKED_ID, MASKED_LANDLINE = "138****5678", "350623********1234", "0596***5678"
# Every typed number as its digits: none may appear in a stored or published text.
PLAIN = (PHONE, ID_NUMBER, "05962345678", "2345678")
DISPATCH_NOTE = f"改派西门社区，当事人电话{PHONE}，身份证{ID_NUMBER}"
TASK = f"协助核实中介，负责人身份证{ID_NUMBER}，电话{LANDLINE}"


def _assert_no_plain_number(text: str) -> None:
    """Neither as typed nor in another spelling (full-width, spaced, hyphenated)."""
    compact = unicodedata.normalize("NFKC", text).replace(" ", "").replace("-", "")
    for number in PLAIN:
        assert number not in compact, number


def _runtime(loop: Loop) -> ServiceRuntime:
    # ``apps`` is set on the loop by tests/events/conftest.py, not declared on Loop.
    return loop.apps["routing"].state.runtime  # type: ignore[attr-defined, no-any-return]


def _cipher(loop: Loop) -> PiiCipher:
    return _runtime(loop).context_as(RoutingContext).pii


async def _routing_sql(loop: Loop, statement: str) -> Any:
    assert loop.sql is not None
    return await loop.sql("routing", statement)


async def _published(loop: Loop) -> str:
    """Every envelope routing has put in its outbox (what went, or goes, on the bus)."""
    return await _routing_sql(loop, "SELECT coalesce(string_agg(envelope::text, '|'), '') "
                                    "FROM outbox")


async def _reveal(loop: Loop, event_id: str, token: str, body: dict[str, Any] | None, *,
                  expect: int = 200) -> dict[str, Any]:
    response = await loop.routing.post(
        f"/api/v1/routing/assignments/{event_id}/original-text", json=body,
        headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


async def _returned_and_queued(loop: Loop) -> str:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "return", community, {"reason": f"非本辖区，报事人{PHONE}"})
    await wait_until(lambda: _routing_sql(
        loop, f"SELECT queued FROM assignments WHERE event_id = '{event_id}'"), within=5)
    return event_id


async def test_a_dispatch_note_is_stored_and_published_masked(loop: Loop) -> None:
    event_id = await _returned_and_queued(loop)
    await loop.route(f"assignments/{event_id}/dispatch", loop.people.dispatcher(),
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "note": DISPATCH_NOTE})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)

    masked = f"改派西门社区，当事人电话{MASKED_PHONE}，身份证{MASKED_ID}"
    published = await _routing_sql(
        loop, "SELECT envelope->'payload'->>'note' FROM outbox "
              "WHERE event_type = 'routing.event_assigned' AND "
              f"envelope->'payload'->>'event_id' = '{event_id}' AND "
              "envelope->'payload'->>'reason' = 'redispatch'")
    assert published == masked
    _assert_no_plain_number(await _published(loop))  # the return reason included
    assert await _routing_sql(
        loop, f"SELECT note FROM assignment_notes WHERE event_id = '{event_id}'") == masked
    sealed = await _routing_sql(
        loop, f"SELECT note_original FROM assignment_notes WHERE event_id = '{event_id}'")
    assert _cipher(loop).decrypt(sealed, context=text_context(uuid.UUID(event_id), "note.2")) \
        == DISPATCH_NOTE
    steps = await loop.timeline(event_id, loop.people.dispatcher())
    assert [s["note"] for s in steps if s["action"] == "redispatch"] == [masked]


async def test_escalation_extension_co_handling_and_transfer_texts_are_stored_masked(
    loop: Loop,
) -> None:
    people = loop.people
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", community)
    await loop.route(f"assignments/{event_id}/escalate", community,
                     {"reason": f"中介拒不配合，其电话{LANDLINE}"})
    await loop.wait_assigned(event_id, TOWN_UNIT)
    town = people.unit_staff(TOWN_UNIT, TOWN)
    await loop.act(event_id, "accept", town)
    await loop.route(f"assignments/{event_id}/extensions", town,
                     {"extra_working_hours": 8, "reason": f"等待房东{PHONE}回国"}, expect=201)
    subtasks = await loop.route(
        f"assignments/{event_id}/co-handling", town,
        {"unit_ids": [str(COUNTY_POLICE)], "task": TASK}, expect=201)
    await loop.route(f"subtasks/{subtasks['subtask_ids'][0]}/answer",
                     people.unit_staff(COUNTY_POLICE, COUNTY),
                     {"answer": f"已约谈，身份证{ID_NUMBER}属实"}, expect=204)
    await loop.route(f"assignments/{event_id}/transfer", town,
                     {"unit_id": str(COUNTY_JUSTICE), "reason": f"转司法所，联系{PHONE}"})
    await loop.wait_assigned(event_id, COUNTY_JUSTICE)

    where = f"WHERE event_id = '{event_id}'"
    assert await _routing_sql(loop, f"SELECT reason FROM extension_requests {where}") \
        == f"等待房东{MASKED_PHONE}回国"
    assert await _routing_sql(loop, f"SELECT task || '|' || answer FROM subtasks {where}") \
        == f"协助核实中介，负责人身份证{MASKED_ID}，电话{MASKED_LANDLINE}|" \
           f"已约谈，身份证{MASKED_ID}属实"
    assert await _routing_sql(
        loop, f"SELECT string_agg(reason || ':' || note, '|' ORDER BY seq) "
              f"FROM assignment_notes {where}") \
        == f"escalated:中介拒不配合，其电话{MASKED_LANDLINE}|transfer:转司法所，联系{MASKED_PHONE}"
    stored = await _routing_sql(loop, "SELECT concat_ws('|', "
                                      "(SELECT string_agg(t::text, '|') FROM extension_requests t),"
                                      "(SELECT string_agg(t::text, '|') FROM subtasks t),"
                                      "(SELECT string_agg(t::text, '|') FROM assignment_notes t))")
    _assert_no_plain_number(stored)
    _assert_no_plain_number(await _published(loop))


async def test_the_originals_are_read_with_a_reason_by_the_cases_staff_and_audited(
    loop: Loop,
) -> None:
    event_id = await _returned_and_queued(loop)
    await loop.route(f"assignments/{event_id}/dispatch", loop.people.dispatcher(),
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "note": DISPATCH_NOTE})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    handler = loop.people.unit_staff(OTHER_COMMUNITY_UNIT, "350626106002")
    await loop.act(event_id, "accept", handler)
    await loop.route(f"assignments/{event_id}/co-handling", handler,
                     {"unit_ids": [str(COUNTY_POLICE)], "task": TASK}, expect=201)

    refused = await _reveal(loop, event_id, handler, {"reason": "  "}, expect=400)
    assert refused["code"] == "reason_required"
    await _reveal(loop, event_id, handler, None, expect=422)
    for outsider in (loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY),  # returned it
                     loop.people.dispatcher("350603"), loop.people.resident()):
        await _reveal(loop, event_id, outsider, {"reason": "看看"}, expect=403)

    revealed = await _reveal(loop, event_id, handler, {"reason": f"回电{PHONE}核实当事人"})
    assert [(n["seq"], n["reason"], n["note"]) for n in revealed["notes"]] \
        == [(2, "redispatch", DISPATCH_NOTE)]
    assert [(s["task"], s["answer"]) for s in revealed["subtasks"]] == [(TASK, None)]
    assisting = await _reveal(loop, event_id, loop.people.unit_staff(COUNTY_POLICE, COUNTY),
                              {"reason": "协办需联系负责人"})
    assert assisting["subtasks"][0]["task"] == TASK
    await _reveal(loop, event_id, loop.people.supervisor(), {"reason": "督办核查"})

    audit = await _routing_sql(
        loop, "SELECT string_agg(role || ':' || reason, ',' ORDER BY id) FROM text_reveals "
              f"WHERE event_id = '{event_id}'")
    assert audit == (f"dept_staff:回电{MASKED_PHONE}核实当事人,dept_staff:协办需联系负责人,"
                     "supervisor:督办核查")


async def test_a_sensitive_tips_originals_are_for_supervisors_only(loop: Loop) -> None:
    created = await loop.report(category_code="telecom_fraud",
                                description="对方冒充客服骗取验证码", fields={"channel": "phone"})
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    await loop.act(event_id, "accept", police)
    await loop.route(f"assignments/{event_id}/extensions", police,
                     {"extra_working_hours": 8, "reason": f"需调取{PHONE}通话记录"}, expect=201)

    refused = await _reveal(loop, event_id, police, {"reason": "核实"}, expect=403)
    assert refused["code"] == "role_required"
    await _reveal(loop, event_id, loop.people.supervisor("350603"), {"reason": "核实"},
                  expect=403)
    revealed = await _reveal(loop, event_id, loop.people.supervisor(), {"reason": "核实号码"})
    assert [e["reason"] for e in revealed["extensions"]] == [f"需调取{PHONE}通话记录"]


async def test_texts_stored_before_masking_are_masked_in_place_by_the_operator_command(
    loop: Loop, capsys: pytest.CaptureFixture[str],
) -> None:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", community)
    await loop.route(f"assignments/{event_id}/extensions", community,
                     {"extra_working_hours": 8, "reason": "等待房东回国"}, expect=201)
    await loop.route(f"assignments/{event_id}/co-handling", community,
                     {"unit_ids": [str(COUNTY_POLICE)], "task": "协助核实"}, expect=201)
    runtime = _runtime(loop)
    settings = runtime.settings
    assert isinstance(settings, Settings)
    case = {"id": uuid.UUID(event_id), "key": event_id}
    async with runtime.uow() as uow:  # as texts written before masking
        for statement in (
            f"UPDATE extension_requests SET reason = '等待房东{PHONE}回国' WHERE event_id = :id",
            f"UPDATE subtasks SET task = '{TASK}' WHERE event_id = :id",
            "UPDATE outbox SET envelope = jsonb_set(envelope, '{payload,note}', "
            f"to_jsonb(CAST('{DISPATCH_NOTE}' AS text))) WHERE event_type = "
            "'routing.event_assigned' AND envelope->'payload'->>'event_id' = :key",
            f"INSERT INTO calendar_overrides VALUES ('2026-10-08', true, '调休，值班{PHONE}')",
        ):
            await uow.connection.execute(text(statement), case)

    assert await mask_free_text(batch_size=1, settings=settings) == 0
    assert capsys.readouterr().out.strip() == (
        "masked: 1 extension reasons, 1 sub-tasks, 1 assignment notes, 1 calendar notes")
    stored = await _routing_sql(loop, "SELECT concat_ws('|', "
                                      "(SELECT string_agg(t::text, '|') FROM extension_requests t),"
                                      "(SELECT string_agg(t::text, '|') FROM subtasks t),"
                                      "(SELECT string_agg(t::text, '|') FROM calendar_overrides t),"
                                      "(SELECT string_agg(t::text, '|') FROM assignment_notes t))")
    _assert_no_plain_number(stored)
    _assert_no_plain_number(await _published(loop))
    revealed = await _reveal(loop, event_id, community, {"reason": "核对旧记录"})
    assert [(n["seq"], n["reason"], n["note"]) for n in revealed["notes"]] \
        == [(1, "initial", DISPATCH_NOTE)]
    assert [e["reason"] for e in revealed["extensions"]] == [f"等待房东{PHONE}回国"]
    assert [s["task"] for s in revealed["subtasks"]] == [TASK]

    await mask_free_text(batch_size=1, settings=settings)  # again: nothing to do
    assert capsys.readouterr().out.strip() == (
        "masked: 0 extension reasons, 0 sub-tasks, 0 assignment notes, 0 calendar notes")
