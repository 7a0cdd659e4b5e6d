"""A partner app's submission goes through the events API like a resident's: phone and ID
numbers in its description and address are stored masked, and the partner reads them masked
(it reads as its user, who reads the originals through the audited reveal)."""

from __future__ import annotations

import uuid

from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, GRID, bearer
from tests.partner.conftest import APP_A, Clock, Platform, StandInIdentity, signer_for


async def test_numbers_in_a_partner_submission_are_stored_and_read_masked(
    platform: Platform, identity: StandInIdentity, clock: Clock
) -> None:
    user_id = uuid.uuid4()
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    identity.phones[phone] = user_id
    partner = signer_for(platform.gateway, clock, identity, APP_A)
    created = await partner.call("POST", "/open/v1/events", {
        "request_id": f"xlxq-{uuid.uuid4().hex[:10]}", "phone": phone,
        "category_code": "dispute_tenancy", "region_code": GRID,
        "description": "房东不退押金，房东电话１３８-１２３４-５６７８",
        "address": "身份证350623199001011234的房屋",
        "fields": {"party_role": "tenant"},
    })
    assert created.status_code == 201, created.text
    event_id = created.json()["event_id"]

    read = await partner.call("GET", f"/open/v1/events/{event_id}")
    assert read.status_code == 200, read.text
    assert read.json()["description"] == "房东不退押金，房东电话138****5678"
    assert read.json()["address"] == "身份证350623********1234的房屋"
    loop = platform.loop
    loop.people.resident_id = user_id  # the partner's user is the reporter
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    case = await loop.case(event_id, loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY))
    assert case["description"] == "房东不退押金，房东电话138****5678"
    revealed = await loop.events.post(f"/api/v1/events/{event_id}/original-text",
                                      headers=bearer(loop.people.resident()))
    assert revealed.json()["address"] == "身份证350623199001011234的房屋"
