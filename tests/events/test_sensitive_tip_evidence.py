"""A sensitive tip (a fraud report): the reported number is evidence. The staff who handle or
oversee the case read it, and the texts, as typed; each such read is audited; the reporter
stays hidden from them; the number stays encrypted at rest; nobody else reads it in full."""

from __future__ import annotations

import uuid
from typing import Any

from services.events.service.queries import EVIDENCE_READ
from tests.events.flows import COUNTY, COUNTY_MARKET, COUNTY_POLICE, Loop, bearer

SUSPECT = "13900000000"
MASKED = "139****0000"
DESCRIPTION = f"有人用{SUSPECT}冒充客服，要求我转账到安全账户"


async def _fraud_tip(loop: Loop) -> str:
    created = await loop.report(
        category_code="telecom_fraud", description=DESCRIPTION,
        fields={"channel": "phone", "loss_amount": 3000, "suspect_phone": SUSPECT},
    )
    await loop.wait_assigned(created["id"], COUNTY_POLICE)
    return str(created["id"])


def _shows_in_full(case: dict[str, Any]) -> bool:
    return case["fields"]["suspect_phone"] == SUSPECT and case["description"] == DESCRIPTION


def _shows_masked(case: dict[str, Any]) -> bool:
    return (case["fields"]["suspect_phone"] == MASKED and SUSPECT not in case["description"]
            and MASKED in case["description"])


async def test_the_police_handling_a_fraud_tip_read_the_reported_number_as_typed(
    loop: Loop,
) -> None:
    event_id = await _fraud_tip(loop)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)

    case = await loop.case(event_id, police)

    assert _shows_in_full(case)
    assert case["reporter_id"] is None  # the informant stays hidden
    assert loop.sql is not None
    stored = await loop.sql("events", "SELECT description || (fields->>'suspect_phone') "
                                      f"FROM cases WHERE id = '{event_id}'")
    assert SUSPECT not in stored  # still masked and encrypted at rest
    audit = await loop.sql(
        "events", "SELECT string_agg(role || ':' || reason, ',') FROM text_reveals "
                  f"WHERE event_id = '{event_id}'")
    assert audit == f"dept_staff:{EVIDENCE_READ}"
    # Lists stay masked: only opening the case (audited) shows the evidence.
    listed = await loop.events.get("/api/v1/events", headers=bearer(police))
    assert _shows_masked(next(c for c in listed.json()["items"] if c["id"] == event_id))


async def test_assisting_units_and_supervisors_in_scope_read_it_others_do_not(
    loop: Loop,
) -> None:
    event_id = await _fraud_tip(loop)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    await loop.act(event_id, "accept", police)
    await loop.route(f"assignments/{event_id}/co-handling", police,
                     {"unit_ids": [str(COUNTY_MARKET)], "task": "协查涉诈商户"}, expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=police)

    assert _shows_in_full(await loop.case(event_id, loop.people.unit_staff(COUNTY_MARKET,
                                                                           COUNTY)))
    assert _shows_in_full(await loop.case(event_id, loop.people.supervisor()))
    # Staff of the region who do not handle or oversee it see the case, not the evidence.
    assert _shows_masked(await loop.case(event_id, loop.people.dispatcher()))
    # Another county's supervisor and another resident do not even see the case.
    for outsider in (loop.people.supervisor("350623"), loop.people.resident(uuid.uuid4())):
        response = await loop.events.get(f"/api/v1/events/{event_id}", headers=bearer(outsider))
        assert response.status_code == 404
    # The reporter reads their own report's number (as before); the texts stay as shown.
    own = await loop.case(event_id)
    assert own["fields"]["suspect_phone"] == SUSPECT
