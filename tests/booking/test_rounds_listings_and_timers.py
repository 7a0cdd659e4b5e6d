"""What residents and operators see (round lists, own bookings, live statistics), the no-show
timer, and shedding under overload."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from services.booking.admission import AdmissionLimiter
from shared.problems import ServiceUnavailable
from shared.testing.plugin import wait_until
from tests.booking.conftest import COUNTY, OTHER_COUNTY, TOWN, BookingWorld


async def test_residents_see_the_open_and_upcoming_rounds_they_may_book(
    world: BookingWorld,
) -> None:
    open_round = await world.create_round()
    upcoming = await world.create_round(opens=60, closes=120, pickup_starts=60, pickup_ends=240)
    await world.create_round(opens=-60, closes=-30, pickup_starts=-30)  # booking closed
    await world.create_round(eligibility=[f"{COUNTY}101"])  # another town's round
    (user,) = await world.verified_residents(1)

    listed = await world.client.get("/api/v1/booking/rounds", headers=world.resident(user))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(r["id"], r["phase"]) for r in items] == [
        (open_round["id"], "open"),
        (upcoming["id"], "upcoming"),
    ]
    first_page = await world.client.get(
        "/api/v1/booking/rounds", params={"limit": 1}, headers=world.resident(user)
    )
    assert [r["id"] for r in first_page.json()["items"]] == [open_round["id"]]
    second_page = await world.client.get(
        "/api/v1/booking/rounds",
        params={"limit": 1, "cursor": first_page.json()["next_cursor"]},
        headers=world.resident(user),
    )
    assert [r["id"] for r in second_page.json()["items"]] == [upcoming["id"]]
    assert second_page.json()["next_cursor"] is None

    unverified = world.auth(world.make_token(roles=["resident"]))
    nothing = await world.client.get("/api/v1/booking/rounds", headers=unverified)
    assert nothing.json()["items"] == []
    bad_cursor = await world.client.get(
        "/api/v1/booking/rounds", params={"cursor": "%%%"}, headers=world.resident(user)
    )
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "cursor_invalid")
    assert (await world.client.get("/api/v1/booking/rounds")).status_code == 401


async def test_operators_see_the_rounds_of_their_regions_only(world: BookingWorld) -> None:
    mine = await world.create_round()
    others = world.auth(world.make_token(roles=["booking_operator"], regions=[OTHER_COUNTY]))
    theirs = await world.client.post(
        "/api/v1/booking/rounds",
        json={
            **(await _body(region=OTHER_COUNTY, eligibility=[OTHER_COUNTY])),
        },
        headers=others,
    )
    assert theirs.status_code == 201, theirs.text
    listed = await world.client.get("/api/v1/booking/rounds", headers=world.operator)
    assert [r["id"] for r in listed.json()["items"]] == [mine["id"]]
    hidden = await world.client.get(
        f"/api/v1/booking/rounds/{theirs.json()['id']}/stats", headers=world.operator
    )
    assert (hidden.status_code, hidden.json()["code"]) == (403, "out_of_scope")


async def _body(**kwargs: Any) -> dict[str, Any]:
    from tests.booking.conftest import round_body

    body = round_body(**kwargs)
    for point in body["pickup_points"]:
        point["region_code"] = f"{kwargs['region']}100"
    return body


async def test_opening_a_round_refuses_bad_windows_regions_and_outsiders(
    world: BookingWorld,
) -> None:
    from tests.booking.conftest import round_body

    url = "/api/v1/booking/rounds"
    backwards = round_body(opens=30, closes=10)
    response = await world.client.post(url, json=backwards, headers=world.operator)
    assert (response.status_code, response.json()["code"]) == (422, "window_invalid")
    foreign = round_body(eligibility=[OTHER_COUNTY])
    response = await world.client.post(url, json=foreign, headers=world.operator)
    assert (response.status_code, response.json()["code"]) == (403, "out_of_scope")
    bad_code = round_body(eligibility=["12345"])
    response = await world.client.post(url, json=bad_code, headers=world.operator)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    no_quota = round_body(points=[{"name": "A", "region_code": TOWN}])
    response = await world.client.post(url, json=no_quota, headers=world.operator)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    (user,) = await world.verified_residents(1)
    response = await world.client.post(url, json=round_body(), headers=world.resident(user))
    assert (response.status_code, response.json()["code"]) == (403, "role_required")
    assert await world.scalar("SELECT count(*) FROM rounds") == 0


async def test_opening_a_round_with_unstorable_text_times_or_regions_is_refused_not_a_crash(
    world: BookingWorld,
) -> None:
    """Input PostgreSQL cannot store (a NUL character, a moment with no UTC instant) or a
    code that is no region is a 4xx with a stable code, and nothing is written."""
    from tests.booking.conftest import round_body

    url = "/api/v1/booking/rounds"
    admin = world.auth(world.make_token(roles=["admin"]))
    nul_title = round_body()
    nul_title["title"] = "口罩\x00发放"
    nul_item = round_body()
    nul_item["items"][0]["name"] = "口罩\x00"
    nul_point = round_body()
    nul_point["pickup_points"][0]["address"] = "绥安镇\x00"
    for body in (nul_title, nul_item, nul_point):
        response = await world.client.post(url, json=body, headers=world.operator)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    year_one = round_body()
    year_one["booking_opens_at"] = "0001-01-01T00:00:00+10:00"
    year_end = round_body()
    year_end["pickup_ends_at"] = "9999-12-31T23:59:59-10:00"
    for body in (year_one, year_end):
        response = await world.client.post(url, json=body, headers=world.operator)
        assert (response.status_code, response.json()["code"]) == (422, "window_invalid")
    no_region = round_body(region="000000")
    no_point_region = round_body(points=[{"name": "A", "region_code": "000000100", "quota": 1}])
    for body in (no_region, no_point_region):
        response = await world.client.post(url, json=body, headers=admin)
        assert (response.status_code, response.json()["code"]) == (400, "region_invalid")
    assert await world.scalar("SELECT count(*) FROM rounds") == 0


async def test_statistics_follow_bookings_redemptions_and_cancellations_live(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(
        points=[
            {"name": "A", "region_code": TOWN, "quota": 5},
            {"name": "B", "region_code": TOWN, "quota": 2},
        ]
    )
    a, b = (p["id"] for p in round_["pickup_points"])
    users = await world.verified_residents(4)
    booked = [(await world.book(u, round_["id"], a)).json() for u in users[:3]]
    await world.book(users[3], round_["id"], b)
    await world.client.delete(
        f"/api/v1/booking/bookings/{booked[0]['id']}", headers=world.resident(users[0])
    )
    redeemed = await world.client.post(
        "/api/v1/booking/redemptions",
        json={"pickup_code": booked[1]["pickup_code"], "pickup_point_id": a},
        headers=world.operator,
    )
    assert redeemed.status_code == 201

    stats = await world.client.get(
        f"/api/v1/booking/rounds/{round_['id']}/stats", headers=world.operator
    )
    assert stats.status_code == 200
    body = stats.json()
    per_point = {p["name"]: p for p in body["points"]}
    assert {
        k: per_point["A"][k]
        for k in ("quota", "booked", "redeemed", "cancelled", "no_show", "remaining")
    } == {
        "quota": 5,
        "booked": 2,
        "redeemed": 1,
        "cancelled": 1,
        "no_show": 0,
        "remaining": 3,
    }
    assert (per_point["B"]["booked"], per_point["B"]["remaining"]) == (1, 1)
    assert (body["quota"], body["booked"], body["remaining"]) == (7, 3, 4)
    resident = await world.client.get(
        f"/api/v1/booking/rounds/{round_['id']}/stats", headers=world.resident(users[0])
    )
    assert resident.status_code == 403


async def test_a_resident_lists_their_own_bookings_newest_first(world: BookingWorld) -> None:
    rounds = [await world.create_round() for _ in range(3)]
    user, other = await world.verified_residents(2)
    for round_ in rounds:
        assert (
            await world.book(user, round_["id"], round_["pickup_points"][0]["id"])
        ).status_code == 201
    await world.book(other, rounds[0]["id"], rounds[0]["pickup_points"][0]["id"])
    page = await world.client.get(
        "/api/v1/booking/bookings", params={"limit": 2}, headers=world.resident(user)
    )
    assert [b["round_id"] for b in page.json()["items"]] == [rounds[2]["id"], rounds[1]["id"]]
    assert all(b["pickup_code"] for b in page.json()["items"])
    rest = await world.client.get(
        "/api/v1/booking/bookings",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=world.resident(user),
    )
    assert [b["round_id"] for b in rest.json()["items"]] == [rounds[0]["id"]]
    assert rest.json()["next_cursor"] is None
    too_many = await world.client.get(
        "/api/v1/booking/bookings", params={"limit": 1000}, headers=world.resident(user)
    )
    assert too_many.status_code == 422


async def test_a_forged_list_cursor_is_refused_not_a_crash(world: BookingWorld) -> None:
    """Every list decodes its cursor with shared.paging before any query (the edge cases are
    tested once, in tests/shared/test_paging.py): a moment with no UTC instant is 400
    ``cursor_invalid`` for operators and residents alike, never a 500."""
    from datetime import datetime, timedelta, timezone

    from shared.paging import moment_cursor

    (user,) = await world.verified_residents(1)
    no_instant = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=10)))
    cursor = moment_cursor(no_instant, uuid.uuid4())
    for path, headers in (
        ("/api/v1/booking/rounds", world.operator),
        ("/api/v1/booking/rounds", world.resident(user)),
        ("/api/v1/booking/bookings", world.resident(user)),
    ):
        answer = await world.client.get(path, params={"cursor": cursor}, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (400, "cursor_invalid"), (
            path,
            answer.text,
        )


async def test_no_shows_are_released_after_the_pickup_window_even_across_a_restart(
    world_factory: Any,
) -> None:
    async with world_factory(no_show_scan_seconds=0.1) as first:
        round_ = await first.create_round(points=[{"name": "A", "region_code": TOWN, "quota": 3}])
        point = round_["pickup_points"][0]["id"]
        users = await first.verified_residents(3)
        booked = [(await first.book(u, round_["id"], point)).json() for u in users]
        await first.client.post(
            "/api/v1/booking/redemptions",
            json={"pickup_code": booked[0]["pickup_code"], "pickup_point_id": point},
            headers=first.operator,
        )
        tokens = dict(first.tokens)
    # While no process runs, the pickup window ends.
    await first.sql(
        "UPDATE rounds SET booking_opens_at = now() - interval '3 hours', "
        "booking_closes_at = now() - interval '2 hours', "
        "pickup_starts_at = now() - interval '2 hours', "
        "pickup_ends_at = now() - interval '1 minute' WHERE id = :id",
        id=uuid.UUID(round_["id"]),
    )
    async with world_factory(prefix=first.prefix, no_show_scan_seconds=0.1) as second:
        second.tokens.update(tokens)

        async def released() -> bool:
            return bool(
                await second.scalar(
                    "SELECT no_shows_released_at IS NOT NULL FROM rounds WHERE id = :id",
                    id=uuid.UUID(round_["id"]),
                )
            )

        await wait_until(released, within=10)
        statuses = Counter(row[0] for row in await second.sql("SELECT status FROM bookings"))
        assert statuses == {"redeemed": 1, "no_show": 2}
        assert await second.scalar("SELECT sum(taken) FROM quota_stripes") == 1
        no_show_events = await second.scalar(
            "SELECT count(*) FROM outbox WHERE event_type = 'booking.booking_cancelled' "
            "AND envelope -> 'payload' ->> 'reason' = 'no_show'"
        )
        assert no_show_events == 2
        lapsed = await second.client.get(
            f"/api/v1/booking/bookings/{booked[1]['id']}", headers=second.resident(users[1])
        )
        assert (lapsed.json()["status"], lapsed.json()["pickup_code"]) == ("no_show", None)
        too_late = await second.client.post(
            "/api/v1/booking/redemptions",
            json={"pickup_code": booked[1]["pickup_code"], "pickup_point_id": point},
            headers=second.operator,
        )
        assert (too_late.status_code, too_late.json()["code"]) == (410, "booking_released")
        stats = await second.client.get(
            f"/api/v1/booking/rounds/{round_['id']}/stats", headers=second.operator
        )
        assert stats.json()["no_show"] == 2
        assert stats.json()["phase"] == "ended"


async def test_an_overloaded_service_sheds_at_once_with_retry_after(world_factory: Any) -> None:
    async with world_factory(
        admission_concurrency=2, admission_queue=3, admission_wait_seconds=0.05
    ) as world:
        round_ = await world.create_round(points=[{"name": "A", "region_code": TOWN, "quota": 500}])
        users = await world.verified_residents(200)
        responses = await asyncio.gather(
            *(world.book(u, round_["id"], round_["pickup_points"][0]["id"]) for u in users)
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses[503] > 0, statuses
        assert statuses[201] > 0, statuses
        assert set(statuses) == {201, 503}
        shed = next(r for r in responses if r.status_code == 503)
        assert shed.json()["code"] == "overloaded"
        assert shed.headers["Retry-After"] == "1"
        assert await world.scalar("SELECT count(*) FROM bookings") == statuses[201]
        metrics = (await world.client.get("/metrics")).text
        assert f'booking_shed_total{{service="booking"}} {float(statuses[503])}' in metrics


async def test_the_admission_limiter_lets_a_short_line_wait_and_sheds_the_rest() -> None:
    limiter = AdmissionLimiter(concurrency=1, queue=1, wait_seconds=0.5, retry_after_seconds=2)
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.admit():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable) as shed:
        async with limiter.admit():
            pass
    assert shed.value.extra["reason"] == "queue_full"
    assert shed.value.headers["Retry-After"] == "2"
    release.set()
    await asyncio.gather(holder, waiter)
    assert (limiter.admitted_total, limiter.shed_total) == (2, 1)

    slow = AdmissionLimiter(concurrency=1, queue=5, wait_seconds=0.05, retry_after_seconds=1)
    blocker = asyncio.Event()

    async def block() -> None:
        async with slow.admit():
            await blocker.wait()

    task = asyncio.create_task(block())
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable) as timed_out:
        async with slow.admit():
            pass
    assert timed_out.value.extra["reason"] == "wait_timeout"
    blocker.set()
    await task
    async with slow.admit():  # the slot came back: nothing leaked
        pass
