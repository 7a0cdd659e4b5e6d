"""The command centre's map: where a region's recent cases were reported, for dispatchers,
supervisors and admins of that region only; sensitive and unlocated cases stay off it."""

from __future__ import annotations

from tests.events.flows import COUNTY, GRID, Loop, bearer

DONGMEN = {"lat": 23.7011, "lng": 117.4305}


async def _points(loop: Loop, token: str, region: str = COUNTY, **params: int) -> object:
    return await loop.events.get(f"/api/v1/events/points/{region}", headers=bearer(token),
                                 params=params)


async def test_a_dispatcher_sees_where_the_county_cases_were_reported(loop: Loop) -> None:
    located = await loop.report(location=DONGMEN)
    await loop.report()  # no location: nothing to draw

    response = await _points(loop, loop.people.dispatcher())

    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["id"] for p in body["items"]] == [located["id"]]
    point = body["items"][0]
    assert (point["lat"], point["lng"]) == (DONGMEN["lat"], DONGMEN["lng"])
    assert point["category_code"] == "dispute_tenancy"
    assert point["region_code"] == GRID
    assert "description" not in point
    assert body["truncated"] is False


async def test_the_map_says_when_it_shows_only_the_newest_cases(loop: Loop) -> None:
    first = await loop.report(location=DONGMEN)
    second = await loop.report(location=DONGMEN)

    body = (await _points(loop, loop.people.supervisor(), limit=1)).json()

    assert [p["id"] for p in body["items"]] in ([second["id"]], [first["id"]])
    assert body["truncated"] is True


async def test_another_countys_dispatcher_is_refused(loop: Loop) -> None:
    await loop.report(location=DONGMEN)

    response = await _points(loop, loop.people.dispatcher("350603"))

    assert response.status_code == 403
    assert response.json()["code"] == "out_of_scope"


async def test_a_resident_or_unit_staff_cannot_read_the_map(loop: Loop) -> None:
    response = await _points(loop, loop.people.resident())

    assert response.status_code == 403


async def test_a_malformed_region_is_refused(loop: Loop) -> None:
    response = await _points(loop, loop.people.dispatcher(), region="east")

    assert response.status_code == 400
    assert response.json()["code"] == "region_invalid"


async def test_a_sensitive_tip_stays_off_the_map(loop: Loop) -> None:
    tip = await loop.report(
        category_code="telecom_fraud", description="冒充客服要求转账", location=DONGMEN,
        fields={"channel": "phone", "loss_amount": 5000, "suspect_phone": "13800138000"})
    plain = await loop.report(location=DONGMEN)

    body = (await _points(loop, loop.people.dispatcher())).json()

    assert [p["id"] for p in body["items"]] == [plain["id"]]
    assert tip["id"] not in {p["id"] for p in body["items"]}
