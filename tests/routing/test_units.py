"""Admins manage units: create (a 派出所 under a town, with the categories it handles), rename,
move and retire; rules target a created unit by its kind; a unit holding open cases is not
retired until they are transferred; only admins manage units."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.routing.app import create_app
from services.routing.settings import Settings
from shared.testing.plugin import Migrator, running
from tests.events.flows import COMMUNITY, GRID, TOWN, TOWN_UNIT, Loop, bearer

UNITS = "/api/v1/routing/units"


@pytest.fixture
async def client(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any
) -> AsyncIterator[httpx.AsyncClient]:
    await migrator.ensure("routing")
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier)
    async with running(app) as client:
        yield client


def _admin(make_token: Callable[..., str]) -> dict[str, str]:
    return bearer(make_token(roles=["admin"]))


async def test_a_police_station_created_under_a_town_receives_the_cases_a_rule_sends_it(
    loop: Loop, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    created = await loop.routing.post(UNITS, headers=admin, json={
        "name": "铜陵派出所", "kind": "police_station", "region_code": TOWN,
        "categories": ["dispute_tenancy", "telecom_fraud"]})
    assert created.status_code == 201, created.text
    station = created.json()
    assert {k: station[k] for k in ("name", "kind", "level", "region_code", "categories",
                                    "active")} == {
        "name": "铜陵派出所", "kind": "police_station", "level": "town", "region_code": TOWN,
        "categories": ["dispute_tenancy", "telecom_fraud"], "active": True}
    rule = await loop.routing.put("/api/v1/routing/rules/dispute_tenancy/town", headers=admin,
                                  json={"unit_kind": "police_station", "entry": True})
    assert rule.status_code == 204, rule.text

    case = await loop.report()
    await loop.wait_assigned(case["id"], uuid.UUID(station["id"]))
    listed = await loop.routing.get(UNITS, params={"region": TOWN}, headers=admin)
    assert station["id"] in [u["id"] for u in listed.json()["items"]]


async def test_a_unit_holding_open_cases_is_retired_only_after_they_are_transferred(
    loop: Loop, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    station = (await loop.routing.post(UNITS, headers=admin, json={
        "name": "铜陵派出所", "kind": "police_station", "region_code": TOWN,
        "categories": ["dispute_tenancy"]})).json()
    await loop.routing.put("/api/v1/routing/rules/dispute_tenancy/town", headers=admin,
                           json={"unit_kind": "police_station", "entry": True})
    case = await loop.report()
    station_id = uuid.UUID(station["id"])
    await loop.wait_assigned(case["id"], station_id)

    refused = await loop.routing.post(f"{UNITS}/{station_id}/retire", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "unit_has_open_cases")
    assert (await loop.routing.get(f"{UNITS}/{station_id}", headers=admin)).json()["active"]

    await loop.route(f"assignments/{case['id']}/transfer",
                     loop.people.unit_staff(station_id, TOWN),
                     {"unit_id": str(TOWN_UNIT), "reason": "不属派出所管辖，转综治中心"})
    await loop.wait_assigned(case["id"], TOWN_UNIT)
    retired = await loop.routing.post(f"{UNITS}/{station_id}/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    assert retired.json()["active"] is False
    again = await loop.routing.patch(f"{UNITS}/{station_id}", headers=admin,
                                     json={"name": "铜陵派出所（撤销）"})
    assert (again.status_code, again.json()["code"]) == (409, "unit_retired")

    # Retired: not offered for dispatch, routing or new rules any more.
    listed = await loop.routing.get(UNITS, params={"region": TOWN}, headers=admin)
    assert station["id"] not in [u["id"] for u in listed.json()["items"]]
    everything = await loop.routing.get(UNITS, params={"region": TOWN, "include_retired": True},
                                        headers=admin)
    assert station["id"] in [u["id"] for u in everything.json()["items"]]
    back = await loop.routing.post(f"/api/v1/routing/assignments/{case['id']}/transfer",
                                   headers=bearer(loop.people.unit_staff(TOWN_UNIT, TOWN)),
                                   json={"unit_id": str(station_id), "reason": "转回派出所"})
    assert (back.status_code, back.json()["code"]) == (404, "unit_not_found")
    rule = await loop.routing.put("/api/v1/routing/rules/telecom_fraud/town", headers=admin,
                                  json={"unit_kind": "police_station", "entry": True})
    assert (rule.status_code, rule.json()["code"]) == (409, "unit_kind_retired")
    # Its place is free: a successor of the same kind can be created in the town.
    successor = await loop.routing.post(UNITS, headers=admin, json={
        "name": "铜陵派出所（新址）", "kind": "police_station", "region_code": TOWN})
    assert successor.status_code == 201, successor.text


async def test_a_rename_or_move_keeps_the_unit_id_and_is_audited(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    kind = f"judicial_{uuid.uuid4().hex[:8]}"
    created = (await client.post(UNITS, headers=admin, json={
        "name": "铜陵司法所", "kind": kind, "region_code": TOWN})).json()
    renamed = await client.patch(f"{UNITS}/{created['id']}", headers=admin,
                                 json={"name": "铜陵镇司法所"})
    assert (renamed.status_code, renamed.json()["name"]) == (200, "铜陵镇司法所")
    moved = await client.patch(f"{UNITS}/{created['id']}", headers=admin,
                               json={"region_code": "350626100", "categories": ["dispute_family"]})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["id"], moved.json()["region_code"], moved.json()["categories"]) == (
        created["id"], "350626100", ["dispute_family"])
    up_a_level = await client.patch(f"{UNITS}/{created['id']}", headers=admin,
                                    json={"region_code": "350626"})
    assert (up_a_level.status_code, up_a_level.json()["code"]) == (422, "unit_level_mismatch")
    one = (await client.get(f"{UNITS}/{created['id']}", headers=admin)).json()
    assert (one["name"], one["region_code"]) == ("铜陵镇司法所", "350626100")
    history = (await client.get(f"{UNITS}/{created['id']}/history", headers=admin,
                                params={"limit": 2})).json()
    assert [h["action"] for h in history["items"]] == ["changed", "changed"]
    assert history["items"][1]["before"]["name"] == "铜陵司法所"
    rest = (await client.get(f"{UNITS}/{created['id']}/history", headers=admin,
                             params={"cursor": history["next_cursor"]})).json()
    assert [h["action"] for h in rest["items"]] == ["created"]
    staff = bearer(make_token(roles=["dept_staff"]))
    assert (await client.get(f"{UNITS}/{created['id']}/history",
                             headers=staff)).status_code == 403


async def test_only_admins_manage_units_and_bad_input_writes_nothing(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    kind = f"police_station_{uuid.uuid4().hex[:8]}"
    body = {"name": "铜陵派出所", "kind": kind, "region_code": TOWN}
    for roles in (["supervisor"], ["dispatcher"], ["dept_admin"]):
        token = bearer(make_token(roles=roles, regions=["350600"]))
        refused = await client.post(UNITS, headers=token, json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "role_required"), roles
    bad: list[tuple[dict[str, Any], int, str]] = [
        ({**body, "kind": "Police Station"}, 422, "unit_kind_invalid"),
        ({**body, "kind": "dispatcher"}, 422, "unit_kind_invalid"),
        ({**body, "region_code": "350626106001001"}, 422, "unit_region_invalid"),
        ({**body, "region_code": "350626999"}, 422, "unit_region_invalid"),
        ({**body, "categories": ["DROP TABLE"]}, 422, "category_code_invalid"),
        ({**body, "name": "派\x00出所"}, 422, "validation_error"),
    ]
    for request, status, code in bad:
        response = await client.post(UNITS, headers=admin, json=request)
        assert (response.status_code, response.json()["code"]) == (status, code), request
    everything = await client.get(UNITS, params={"include_retired": True, "limit": 200},
                                  headers=admin)
    assert kind not in [u["kind"] for u in everything.json()["items"]]
    assert (await client.post(UNITS, headers=admin, json=body)).status_code == 201
    twice = await client.post(UNITS, headers=admin, json={**body, "name": "另一个派出所"})
    assert (twice.status_code, twice.json()["code"]) == (409, "unit_kind_taken")
    community = await client.post(UNITS, headers=admin, json={**body, "region_code": COMMUNITY})
    assert community.status_code == 201
    assert GRID.startswith(COMMUNITY)


async def test_units_are_listed_a_page_at_a_time(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    first = await client.get(UNITS, params={"region": "350626", "limit": 5}, headers=admin)
    page = first.json()
    assert len(page["items"]) == 5
    assert page["next_cursor"]
    second = (await client.get(UNITS, params={"region": "350626", "limit": 5,
                                              "cursor": page["next_cursor"]},
                               headers=admin)).json()
    assert not {u["id"] for u in page["items"]} & {u["id"] for u in second["items"]}
    bad = await client.get(UNITS, params={"cursor": "not-a-cursor"}, headers=admin)
    assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")
    resident = await client.get(UNITS, headers=bearer(make_token(roles=["resident"])))
    assert resident.status_code == 403


async def test_a_unit_with_categories_receives_no_other_category_through_the_rules(
    loop: Loop, make_token: Callable[..., str]
) -> None:
    admin = _admin(make_token)
    created = await loop.routing.post(UNITS, headers=admin, json={
        "name": "铜陵派出所", "kind": "police_station", "region_code": TOWN,
        "categories": ["telecom_fraud"]})
    assert created.status_code == 201, created.text
    await loop.routing.put("/api/v1/routing/rules/dispute_tenancy/town", headers=admin,
                           json={"unit_kind": "police_station", "entry": True})
    case = await loop.report()
    assert loop.sql is not None
    deadline = asyncio.get_running_loop().time() + 5
    while (reason := await loop.sql("routing", "SELECT max(queue_reason) FROM assignments "
                                    f"WHERE event_id = '{case['id']}'")) is None:
        assert asyncio.get_running_loop().time() < deadline, "never routed"
        await asyncio.sleep(0.05)
    # Not the station's category: the rule finds no unit and the dispatcher triages it.
    assert reason == "no_rule"
    unit_id = await loop.sql("routing", "SELECT CAST(max(CAST(unit_id AS text)) AS text) "
                             f"FROM assignments WHERE event_id = '{case['id']}'")
    assert unit_id is None
