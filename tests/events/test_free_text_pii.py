"""Phone and ID numbers people type into a case's free text (description, address, template
text values, handlers' notes and results) are stored, shown, searched and published masked;
the typed original is kept encrypted for the reporter and, with a reason, the case's staff —
and every such read is audited."""

from __future__ import annotations

import json
import unicodedata
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.events.cli import mask_free_text
from services.events.context import EventsContext
from services.events.service.originals import text_context
from shared.pii import PiiCipher
from tests.events.flows import COUNTY, COUNTY_MARKET, COUNTY_POLICE, Loop, bearer

PHONE, ID_NUMBER, LANDLINE = "13812345678", "350623199001011234", "0596-2345678"
FULL_WIDTH_PHONE, SHOP_PHONE = "１３９００００１１１１", "13600001111"
DESCRIPTION = (f"楼下棋牌室通宵营业扰民，请联系我{PHONE}，身份证{ID_NUMBER}，"
               f"或打{FULL_WIDTH_PHONE}")
ADDRESS = f"东门路12号 店主电话{LANDLINE}"
# Every typed number as its digits: none of them may appear in a stored or published text.
PLAIN = (PHONE, ID_NUMBER, "05962345678", "2345678", "13900001111", SHOP_PHONE)


def _assert_no_plain_number(text: str) -> None:
    """Neither as typed nor in another spelling (full-width, spaced, hyphenated)."""
    compact = unicodedata.normalize("NFKC", text).replace(" ", "").replace("-", "")
    for number in PLAIN:
        assert number not in compact, number


async def _report(loop: Loop) -> tuple[str, str]:
    created = await loop.report(
        category_code="illegal_business", description=DESCRIPTION, address=ADDRESS,
        fields={"business_name": f"好运棋牌室 老板{SHOP_PHONE}"},
    )
    await loop.wait_assigned(created["id"], COUNTY_MARKET)
    return created["id"], loop.people.unit_staff(COUNTY_MARKET, COUNTY)


async def _reveal(loop: Loop, event_id: str, token: str, body: dict[str, Any] | None = None,
                  *, expect: int = 200) -> dict[str, Any]:
    response = await loop.events.post(f"/api/v1/events/{event_id}/original-text", json=body,
                                      headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


def _cipher(loop: Loop) -> PiiCipher:
    runtime = loop.apps["events"].state.runtime  # type: ignore[attr-defined]
    return runtime.context_as(EventsContext).pii


async def test_numbers_typed_into_a_report_are_stored_and_shown_masked(loop: Loop) -> None:
    event_id, staff = await _report(loop)
    assert loop.sql is not None
    assert await loop.sql("events", f"SELECT description FROM cases WHERE id = '{event_id}'") \
        == "楼下棋牌室通宵营业扰民，请联系我138****5678，身份证350623********1234，或打139****1111"
    assert await loop.sql("events", f"SELECT address FROM cases WHERE id = '{event_id}'") \
        == "东门路12号 店主电话0596***5678"
    row_text = await loop.sql(
        "events", "SELECT concat_ws('|', description, address, fields::text, text_originals::text)"
                  f" FROM cases WHERE id = '{event_id}'")
    _assert_no_plain_number(row_text)
    # The originals are there, encrypted and bound to the case and field.
    sealed = await loop.sql("events", "SELECT text_originals->>'description' FROM cases "
                                      f"WHERE id = '{event_id}'")
    assert _cipher(loop).decrypt(sealed, context=text_context(uuid.UUID(event_id),
                                                              "description")) == DESCRIPTION

    case = await loop.case(event_id, staff)
    assert case["description"].endswith("身份证350623********1234，或打139****1111")
    assert case["address"] == "东门路12号 店主电话0596***5678"
    assert case["fields"]["business_name"] == "好运棋牌室 老板136****1111"
    _assert_no_plain_number(str(await loop.case(event_id)))  # the reporter's view too


async def test_the_original_text_is_read_by_the_reporter_and_with_a_reason_by_staff_audited(
    loop: Loop,
) -> None:
    event_id, staff = await _report(loop)
    await loop.act(event_id, "accept", staff, {"note": f"已电话联系举报人{PHONE}"})

    refused = await _reveal(loop, event_id, staff, expect=400)
    assert refused["code"] == "reason_required"
    await _reveal(loop, event_id, loop.people.resident(uuid.uuid4()), expect=404)
    await _reveal(loop, event_id, loop.people.unit_staff(COUNTY_POLICE, COUNTY), expect=404)

    for_staff = await _reveal(loop, event_id, staff, {"reason": "需回电核实经营者"})
    assert for_staff["description"] == DESCRIPTION
    assert for_staff["address"] == ADDRESS
    assert for_staff["fields"] == {"business_name": f"好运棋牌室 老板{SHOP_PHONE}"}
    assert [(n["action"], n["note"]) for n in for_staff["notes"]] \
        == [("accept", f"已电话联系举报人{PHONE}")]
    own = await _reveal(loop, event_id, loop.people.resident())
    assert own["description"] == DESCRIPTION

    assert loop.sql is not None
    audit = await loop.sql(
        "events", "SELECT string_agg(role || ':' || reason, ',' ORDER BY id) FROM text_reveals "
                  f"WHERE event_id = '{event_id}'")
    assert audit == "dept_staff:需回电核实经营者,reporter:own report"


async def test_a_sensitive_tips_original_text_is_for_the_staff_handling_it_only(
    loop: Loop,
) -> None:
    created = await loop.report(
        category_code="telecom_fraud", description=f"对方冒充客服，我的号码{PHONE}被盗用",
        fields={"channel": "phone"},
    )
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    dispatcher = loop.people.dispatcher()
    shown = (await loop.case(event_id, dispatcher))["description"]
    assert shown == "对方冒充客服，我的号码138****5678被盗用"
    refused = await _reveal(loop, event_id, dispatcher, {"reason": "核实"}, expect=403)
    assert refused["code"] == "role_required"
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    assert PHONE in (await _reveal(loop, event_id, police, {"reason": "核实"}))["description"]
    revealed = await _reveal(loop, event_id, loop.people.supervisor(), {"reason": "核实被盗号码"})
    assert PHONE in revealed["description"]


async def test_search_finds_a_case_by_its_words_never_by_a_typed_number(loop: Loop) -> None:
    event_id, staff = await _report(loop)

    async def found(words: str) -> list[str]:
        response = await loop.events.get("/api/v1/events", params={"q": words},
                                         headers=bearer(staff))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert event_id in await found("通宵营业")
    assert event_id in await found("东门路12号")
    for number in (PHONE, ID_NUMBER, LANDLINE, "2345678", FULL_WIDTH_PHONE):
        assert event_id not in await found(number), number
    assert event_id not in await found("100%_")  # LIKE wildcards are plain characters


async def test_handlers_texts_are_masked_in_the_timeline_and_on_the_bus(loop: Loop) -> None:
    event_id, staff = await _report(loop)
    await loop.act(event_id, "accept", staff, {"note": f"联系店主{SHOP_PHONE}"})
    await loop.act(event_id, "start", staff)
    await loop.act(event_id, "result", staff,
                   {"result": f"已责令停业，店主身份证{ID_NUMBER}，电话{LANDLINE}"})
    steps = await loop.timeline(event_id, staff)
    assert [s["note"] for s in steps if s["action"] in ("accept", "submit_result")] == [
        "联系店主136****1111", "已责令停业，店主身份证350623********1234，电话0596***5678"]
    case = await loop.case(event_id, staff)
    assert case["result"] == "已责令停业，店主身份证350623********1234，电话0596***5678"
    revealed = await _reveal(loop, event_id, staff, {"reason": "结案归档核对"})
    assert revealed["result"] == f"已责令停业，店主身份证{ID_NUMBER}，电话{LANDLINE}"

    assert loop.sql is not None
    for table, column in [("timeline", "note"), ("cases", "result_text"),
                          ("outbox", "envelope::text"), ("text_reveals", "reason")]:
        stored = await loop.sql("events", f"SELECT coalesce(string_agg({column}, '|'), '') "
                                          f"FROM {table}")
        _assert_no_plain_number(stored)
    published = await loop.sql(
        "events", "SELECT string_agg(envelope->'payload'->>'reason', '|') FROM outbox "
                  "WHERE event_type = 'events.event_status_changed' AND "
                  f"envelope->'payload'->>'event_id' = '{event_id}'")
    assert "136****1111" in published


async def test_texts_stored_before_masking_are_masked_in_place_by_the_operator_command(
    loop: Loop, capsys: pytest.CaptureFixture[str],
) -> None:
    event_id, staff = await _report(loop)
    untouched = (await loop.report())["id"]
    app = loop.apps["events"]  # type: ignore[attr-defined]
    async with app.state.runtime.uow() as uow:  # as a case written before masking
        await uow.connection.execute(text(
            "UPDATE cases SET description = :description, address = :address, "
            "fields = CAST(:fields AS jsonb), text_originals = NULL WHERE id = :id"),
            {"description": DESCRIPTION, "address": ADDRESS, "id": uuid.UUID(event_id),
             "fields": json.dumps({"business_name": f"老板{SHOP_PHONE}"})})
        await uow.connection.execute(text(
            "UPDATE timeline SET note = :note WHERE event_id = :id AND action = 'report'"),
            {"note": f"代报，联系人{PHONE}", "id": uuid.UUID(event_id)})

    assert await mask_free_text(batch_size=1, settings=app.state.settings) == 0
    assert "masked: 1 cases, 1 timeline steps" in capsys.readouterr().out
    assert loop.sql is not None
    _assert_no_plain_number(await loop.sql(
        "events", "SELECT concat_ws('|', string_agg(c.description || c.address || c.fields::text"
                  ", '|'), (SELECT string_agg(note, '|') FROM timeline)) FROM cases c"))
    case = await loop.case(event_id, staff)
    assert case["fields"]["business_name"] == "老板136****1111"
    revealed = await _reveal(loop, event_id, staff, {"reason": "核对旧案"})
    assert (revealed["description"], revealed["address"]) == (DESCRIPTION, ADDRESS)
    assert revealed["fields"] == {"business_name": f"老板{SHOP_PHONE}"}
    assert [n["note"] for n in revealed["notes"]] == [f"代报，联系人{PHONE}"]
    assert (await loop.case(untouched))["description"].startswith("房东不退押金")

    await mask_free_text(batch_size=1, settings=app.state.settings)  # again: nothing to do
    assert "masked: 0 cases, 0 timeline steps" in capsys.readouterr().out
