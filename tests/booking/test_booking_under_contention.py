"""The surge: thousands of concurrent attempts through the real app, then the invariants in SQL.

Clients behave like the mini-program: a 503 `overloaded` (the admission limiter shedding) is
retried after a short pause; every other answer is final.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter

import httpx

from tests.booking.audit import assert_quota_never_exceeded, install_quota_audit
from tests.booking.conftest import TOWN, BookingWorld

QUOTAS = {"hot": 700, "north": 150, "south": 150}


async def _attempt(
    world: BookingWorld, user: uuid.UUID, round_id: str, point: str
) -> httpx.Response:
    while True:
        response = await world.book(user, round_id, point)
        if response.status_code != 503:
            return response
        assert response.json()["code"] == "overloaded"
        assert "Retry-After" in response.headers
        await asyncio.sleep(random.uniform(0.005, 0.05))


async def test_a_surge_books_exactly_the_quota_and_nobody_twice(world_factory) -> None:  # type: ignore[no-untyped-def]
    async with world_factory(
        hot_pool_size=16, admission_queue=2000, admission_wait_seconds=60
    ) as world:
        await install_quota_audit(world)
        round_ = await world.create_round(
            points=[{"name": name, "region_code": TOWN, "quota": q} for name, q in QUOTAS.items()]
        )
        points = {p["name"]: p["id"] for p in round_["pickup_points"]}
        residents = await world.verified_residents(1500)
        # 1,050 residents want the hot point, 225 each the others: every point is oversubscribed.
        wanted = {
            user: "hot" if i < 1050 else ("north" if i < 1275 else "south")
            for i, user in enumerate(residents)
        }
        attempts = [(user, wanted[user]) for user in residents]
        # 500 residents try a second time: half at the same point, half at another.
        for i, user in enumerate(random.sample(residents, 500)):
            attempts.append((user, wanted[user] if i % 2 else random.choice(list(QUOTAS))))
        random.shuffle(attempts)
        assert len(attempts) == 2000

        responses = await asyncio.gather(
            *(_attempt(world, user, round_["id"], points[name]) for user, name in attempts)
        )

        outcomes = Counter(
            (r.status_code, r.json().get("code") if r.status_code != 201 else "booked")
            for r in responses
        )
        assert outcomes[(201, "booked")] == 1000, outcomes
        assert set(outcomes) <= {(201, "booked"), (409, "already_booked"), (410, "sold_out")}

        assert await world.scalar("SELECT count(*) FROM bookings") == 1000
        assert await world.scalar("SELECT count(DISTINCT user_id) FROM bookings") == 1000
        assert (
            await world.scalar(
                "SELECT count(*) FROM (SELECT holder_key FROM bookings "
                "GROUP BY round_id, holder_key HAVING count(*) > 1) twice"
            )
            == 0
        )
        per_point = dict(
            await world.sql("SELECT point_id::text, count(*) FROM bookings GROUP BY point_id")
        )
        assert per_point == {points[name]: quota for name, quota in QUOTAS.items()}
        assert await world.scalar("SELECT sum(taken) FROM quota_stripes") == 1000
        assert await world.scalar("SELECT count(*) FROM quota_stripes WHERE taken > 0") > 3
        confirmed = await world.sql(
            "SELECT envelope -> 'payload' ->> 'booking_id' FROM outbox "
            "WHERE event_type = 'booking.booking_confirmed'"
        )
        booked_ids = {str(row[0]) for row in await world.sql("SELECT id FROM bookings")}
        assert len(confirmed) == 1000
        assert {row[0] for row in confirmed} == booked_ids
        await assert_quota_never_exceeded(world, expected_commits=1000)


async def test_cancellations_racing_new_bookings_never_push_a_point_over_its_quota(
    world_factory,  # type: ignore[no-untyped-def]
) -> None:
    async with world_factory(
        hot_pool_size=16, admission_queue=2000, admission_wait_seconds=60
    ) as world:
        await install_quota_audit(world)
        round_ = await world.create_round(
            points=[{"name": "hot", "region_code": TOWN, "quota": 60}]
        )
        point = round_["pickup_points"][0]["id"]
        residents = await world.verified_residents(400)
        cancels = 0

        async def resident_journey(user: uuid.UUID) -> None:
            nonlocal cancels
            for _ in range(3):
                response = await _attempt(world, user, round_["id"], point)
                if response.status_code != 201:
                    return
                if random.random() < 0.5:
                    return  # keeps the unit
                cancelled = await world.client.delete(
                    f"/api/v1/booking/bookings/{response.json()['id']}",
                    headers=world.resident(user),
                )
                assert cancelled.status_code == 200
                cancels += 1

        await asyncio.gather(*(resident_journey(u) for u in residents))

        assert cancels > 20
        live = await world.scalar(
            "SELECT count(*) FROM bookings WHERE status IN ('confirmed', 'redeemed')"
        )
        assert live <= 60
        assert live == await world.scalar("SELECT sum(taken) FROM quota_stripes")
        assert await world.scalar("SELECT count(*) FROM bookings WHERE status = 'cancelled'") == (
            cancels
        )
        total = await world.scalar("SELECT count(*) FROM bookings")
        await assert_quota_never_exceeded(world, expected_commits=total + cancels)
        events = dict(await world.sql("SELECT event_type, count(*) FROM outbox GROUP BY 1"))
        assert events == {"booking.booking_confirmed": total, "booking.booking_cancelled": cancels}
