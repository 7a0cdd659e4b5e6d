"""A round from opening to pickup: booking, its refusals, cancellation, codes and redemption."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from services.booking.domain import PickupCodes
from services.booking.settings import Settings
from tests.booking.conftest import COUNTY, OTHER_COUNTY, TOWN, BookingWorld

BOOK = "/api/v1/booking/rounds/{}/bookings"


def _point(round_: dict, index: int = 0) -> str:
    return round_["pickup_points"][index]["id"]


async def test_operator_opens_a_round_with_pickup_points_and_quotas(world: BookingWorld) -> None:
    round_ = await world.create_round(
        points=[
            {"name": "A", "region_code": TOWN, "quota": 7},
            {"name": "B", "region_code": TOWN, "quota": 3},
        ]
    )
    assert round_["phase"] == "open"
    assert [p["quota"] for p in round_["pickup_points"]] == [7, 3]
    assert [p["remaining"] for p in round_["pickup_points"]] == [7, 3]
    stripes = await world.scalar("SELECT sum(capacity) FROM quota_stripes")
    assert stripes == 10


async def test_a_verified_resident_books_and_gets_a_signed_pickup_code(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round()
    (user,) = await world.verified_residents(1)
    response = await world.book(user, round_["id"], _point(round_))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    codes = PickupCodes(Settings(environment="test").pickup_code_secret)
    assert codes.verify(body["pickup_code"]) == uuid.UUID(body["id"])

    events = await world.sql("SELECT event_type, envelope FROM outbox")
    assert [e.event_type for e in events] == ["booking.booking_confirmed"]
    payload = events[0].envelope["payload"]
    assert payload["booking_id"] == body["id"]
    assert payload["user_id"] == str(user)
    assert payload["pickup_point_id"] == _point(round_)
    assert await world.scalar("SELECT taken FROM quota_stripes WHERE taken > 0") == 1


async def test_a_second_booking_in_the_same_round_is_refused_even_at_another_point(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(
        points=[
            {"name": "A", "region_code": TOWN, "quota": 5},
            {"name": "B", "region_code": TOWN, "quota": 5},
        ]
    )
    (user,) = await world.verified_residents(1)
    assert (await world.book(user, round_["id"], _point(round_, 0))).status_code == 201
    again = await world.book(user, round_["id"], _point(round_, 1))
    assert again.status_code == 409
    assert again.json()["code"] == "already_booked"
    assert await world.scalar("SELECT count(*) FROM bookings") == 1
    assert await world.scalar("SELECT sum(taken) FROM quota_stripes") == 1


async def test_a_retry_with_the_same_idempotency_key_answers_the_first_booking(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round()
    (user,) = await world.verified_residents(1)
    url = BOOK.format(round_["id"])
    body = {"pickup_point_id": _point(round_)}
    headers = {**world.resident(user), "Idempotency-Key": "retry-0001"}
    first = await world.client.post(url, json=body, headers=headers)
    again = await world.client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other_key = {**world.resident(user), "Idempotency-Key": "retry-0002"}
    refused = await world.client.post(url, json=body, headers=other_key)
    assert (refused.status_code, refused.json()["code"]) == (409, "already_booked")
    bad_key = {**world.resident(user), "Idempotency-Key": "no spaces allowed"}
    assert (await world.client.post(url, json=body, headers=bad_key)).status_code == 422
    assert await world.scalar("SELECT count(*) FROM bookings") == 1
    assert await world.scalar("SELECT count(*) FROM outbox") == 1


async def test_one_per_household_refuses_the_second_member(world: BookingWorld) -> None:
    round_ = await world.create_round(limit_per="household")
    first, second, elsewhere = await world.verified_residents(
        3, household=lambda i: "H-1" if i < 2 else "H-2"
    )
    assert (await world.book(first, round_["id"], _point(round_))).status_code == 201
    refused = await world.book(second, round_["id"], _point(round_))
    assert refused.status_code == 409
    assert refused.json()["code"] == "already_booked"
    assert (await world.book(elsewhere, round_["id"], _point(round_))).status_code == 201


async def test_booking_past_the_quota_is_sold_out(world: BookingWorld) -> None:
    round_ = await world.create_round(points=[{"name": "A", "region_code": TOWN, "quota": 2}])
    users = await world.verified_residents(3)
    statuses = [(await world.book(u, round_["id"], _point(round_))).status_code for u in users]
    assert statuses == [201, 201, 410]
    last = await world.book(users[2], round_["id"], _point(round_))
    assert last.json()["code"] == "sold_out"


async def test_an_unverified_resident_is_not_eligible(world: BookingWorld) -> None:
    round_ = await world.create_round()
    stranger = uuid.uuid4()
    world.tokens[stranger] = world.make_token(subject=stranger, roles=["resident"])
    response = await world.book(stranger, round_["id"], _point(round_))
    assert response.status_code == 403
    assert response.json()["code"] == "not_eligible"
    assert response.json()["reason"] == "not_verified"


async def test_a_resident_of_another_region_is_not_eligible(world: BookingWorld) -> None:
    round_ = await world.create_round(eligibility=[TOWN])
    (outsider,) = await world.verified_residents(1, region=f"{OTHER_COUNTY}100")
    response = await world.book(outsider, round_["id"], _point(round_))
    assert response.status_code == 403
    assert response.json()["reason"] == "region"
    (insider,) = await world.verified_residents(1, region=f"{TOWN}201")
    assert (await world.book(insider, round_["id"], _point(round_))).status_code == 201


async def test_booking_before_the_window_opens_is_too_early(world: BookingWorld) -> None:
    round_ = await world.create_round(opens=30, closes=90)
    (user,) = await world.verified_residents(1)
    response = await world.book(user, round_["id"], _point(round_))
    assert response.status_code == 425
    assert response.json()["code"] == "round_not_open"
    assert int(response.headers["Retry-After"]) > 0


async def test_booking_after_the_window_closes_is_refused(world: BookingWorld) -> None:
    round_ = await world.create_round(opens=-60, closes=-30, pickup_starts=-30)
    (user,) = await world.verified_residents(1)
    response = await world.book(user, round_["id"], _point(round_))
    assert response.status_code == 409
    assert response.json()["code"] == "round_not_open"


async def test_unknown_rounds_points_and_bad_bodies_are_refused_and_nothing_is_written(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round()
    (user,) = await world.verified_residents(1)
    headers = world.resident(user)
    cases = [
        (BOOK.format(uuid.uuid4()), {"pickup_point_id": _point(round_)}, 404, "round_not_found"),
        (
            BOOK.format(round_["id"]),
            {"pickup_point_id": str(uuid.uuid4())},
            404,
            "pickup_point_not_found",
        ),
        (BOOK.format(round_["id"]), {}, 422, "validation_error"),
        (BOOK.format(round_["id"]), {"pickup_point_id": "not-a-uuid"}, 422, "validation_error"),
        (
            BOOK.format(round_["id"]),
            {"pickup_point_id": _point(round_), "extra": 1},
            422,
            "validation_error",
        ),
        (BOOK.format("nope"), {"pickup_point_id": _point(round_)}, 422, "validation_error"),
    ]
    for path, body, status, code in cases:
        response = await world.client.post(path, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), path
    no_token = await world.client.post(
        BOOK.format(round_["id"]), json={"pickup_point_id": _point(round_)}
    )
    assert no_token.status_code == 401
    staff = await world.client.post(
        BOOK.format(round_["id"]), json={"pickup_point_id": _point(round_)}, headers=world.operator
    )
    assert (staff.status_code, staff.json()["code"]) == (403, "role_required")
    assert await world.scalar("SELECT count(*) FROM bookings") == 0
    assert await world.scalar("SELECT count(*) FROM outbox") == 0


async def test_a_point_with_time_slots_books_by_slot(world: BookingWorld) -> None:
    from tests.booking.conftest import at

    round_ = await world.create_round(
        points=[
            {
                "name": "A",
                "region_code": TOWN,
                "slots": [
                    {"starts_at": at(0), "ends_at": at(60), "quota": 1},
                    {"starts_at": at(60), "ends_at": at(120), "quota": 1},
                ],
            }
        ]
    )
    point = round_["pickup_points"][0]
    assert point["quota"] == 2
    late_slot = point["slots"][1]["id"]
    a, b, c = await world.verified_residents(3)
    unnamed = await world.book(a, round_["id"], point["id"])
    assert (unnamed.status_code, unnamed.json()["code"]) == (422, "slot_required")
    assert (await world.book(a, round_["id"], point["id"], slot_id=late_slot)).status_code == 201
    full = await world.book(b, round_["id"], point["id"], slot_id=late_slot)
    assert full.json()["code"] == "sold_out"
    early = point["slots"][0]["id"]
    assert (await world.book(c, round_["id"], point["id"], slot_id=early)).status_code == 201


async def test_quota_can_be_raised_while_open_but_never_below_what_is_booked(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(points=[{"name": "A", "region_code": TOWN, "quota": 2}])
    quota_url = f"/api/v1/booking/rounds/{round_['id']}/pickup-points/{_point(round_)}/quota"
    users = await world.verified_residents(4)
    for user in users[:2]:
        assert (await world.book(user, round_["id"], _point(round_))).status_code == 201
    assert (await world.book(users[2], round_["id"], _point(round_))).status_code == 410

    lowered = await world.client.put(quota_url, json={"quota": 1}, headers=world.operator)
    assert (lowered.status_code, lowered.json()["code"]) == (409, "quota_below_booked")
    raised = await world.client.put(quota_url, json={"quota": 3}, headers=world.operator)
    assert raised.status_code == 200
    assert raised.json()["pickup_points"][0]["remaining"] == 1
    assert (await world.book(users[2], round_["id"], _point(round_))).status_code == 201
    assert (await world.book(users[3], round_["id"], _point(round_))).status_code == 410
    exact = await world.client.put(quota_url, json={"quota": 3}, headers=world.operator)
    assert exact.status_code == 200
    bad = await world.client.put(quota_url, json={"quota": -1}, headers=world.operator)
    assert bad.status_code == 422
    resident = await world.client.put(
        quota_url, json={"quota": 9}, headers=world.resident(users[0])
    )
    assert resident.status_code == 403
    outsider = world.auth(world.make_token(roles=["booking_operator"], regions=[OTHER_COUNTY]))
    assert (await world.client.put(quota_url, json={"quota": 9}, headers=outsider)).json()[
        "code"
    ] == "out_of_scope"


async def test_cancelling_returns_the_unit_at_once(world: BookingWorld) -> None:
    round_ = await world.create_round(points=[{"name": "A", "region_code": TOWN, "quota": 1}])
    first, second = await world.verified_residents(2)
    booking = (await world.book(first, round_["id"], _point(round_))).json()
    assert (await world.book(second, round_["id"], _point(round_))).status_code == 410

    url = f"/api/v1/booking/bookings/{booking['id']}"
    other = await world.client.delete(url, headers=world.resident(second))
    assert (other.status_code, other.json()["code"]) == (404, "booking_not_found")
    cancelled = await world.client.delete(url, headers=world.resident(first))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["pickup_code"] is None
    again = await world.client.delete(url, headers=world.resident(first))
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")

    assert (await world.book(second, round_["id"], _point(round_))).status_code == 201
    rebook = await world.book(first, round_["id"], _point(round_))
    assert rebook.json()["code"] == "sold_out"
    types = [r.event_type for r in await world.sql("SELECT event_type FROM outbox ORDER BY id")]
    assert types == [
        "booking.booking_confirmed",
        "booking.booking_cancelled",
        "booking.booking_confirmed",
    ]


async def test_the_pickup_code_is_shown_as_a_qr_image(world: BookingWorld) -> None:
    round_ = await world.create_round()
    owner, other = await world.verified_residents(2)
    booking = (await world.book(owner, round_["id"], _point(round_))).json()
    url = f"/api/v1/booking/bookings/{booking['id']}/qr"
    png = await world.client.get(url, headers=world.resident(owner))
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = await world.client.get(url, params={"format": "svg"}, headers=world.resident(owner))
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    assert (await world.client.get(url, headers=world.resident(other))).status_code == 404
    bad = await world.client.get(url, params={"format": "gif"}, headers=world.resident(owner))
    assert bad.status_code == 422
    await world.client.delete(
        f"/api/v1/booking/bookings/{booking['id']}", headers=world.resident(owner)
    )
    gone = await world.client.get(url, headers=world.resident(owner))
    assert (gone.status_code, gone.json()["code"]) == (409, "booking_not_redeemable")


async def test_a_code_is_redeemed_once_at_its_own_point_by_an_operator_in_scope(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(
        points=[
            {"name": "A", "region_code": TOWN, "quota": 5},
            {"name": "B", "region_code": f"{COUNTY}101", "quota": 5},
        ]
    )
    (user,) = await world.verified_residents(1)
    booking = (await world.book(user, round_["id"], _point(round_, 0))).json()
    code = booking["pickup_code"]
    url = "/api/v1/booking/redemptions"

    wrong_point = await world.client.post(
        url,
        json={"pickup_code": code, "pickup_point_id": _point(round_, 1)},
        headers=world.operator,
    )
    assert (wrong_point.status_code, wrong_point.json()["code"]) == (409, "wrong_pickup_point")
    other_town = world.auth(world.make_token(roles=["booking_operator"], regions=[f"{COUNTY}101"]))
    out_of_scope = await world.client.post(
        url, json={"pickup_code": code, "pickup_point_id": _point(round_, 0)}, headers=other_town
    )
    assert (out_of_scope.status_code, out_of_scope.json()["code"]) == (403, "out_of_scope")
    by_resident = await world.client.post(
        url,
        json={"pickup_code": code, "pickup_point_id": _point(round_, 0)},
        headers=world.resident(user),
    )
    assert by_resident.status_code == 403
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    refused = await world.client.post(
        url,
        json={"pickup_code": forged, "pickup_point_id": _point(round_, 0)},
        headers=world.operator,
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "pickup_code_invalid")

    town_operator = world.auth(world.make_token(roles=["booking_operator"], regions=[TOWN]))
    first = await world.client.post(
        url,
        json={"pickup_code": code, "pickup_point_id": _point(round_, 0)},
        headers=town_operator,
    )
    assert first.status_code == 201, first.text
    assert first.json()["items"][0]["name"] == "口罩"
    second = await world.client.post(
        url,
        json={"pickup_code": code, "pickup_point_id": _point(round_, 0)},
        headers=town_operator,
    )
    assert second.status_code == 409
    assert second.json()["code"] == "already_redeemed"
    first_at = datetime.fromisoformat(first.json()["redeemed_at"])
    assert datetime.fromisoformat(second.json()["redeemed_at"]) == first_at
    assert first_at.isoformat() in second.json()["detail"]

    mine = await world.client.get(
        f"/api/v1/booking/bookings/{booking['id']}", headers=world.resident(user)
    )
    assert mine.json()["status"] == "redeemed"
    cancel = await world.client.delete(
        f"/api/v1/booking/bookings/{booking['id']}", headers=world.resident(user)
    )
    assert (cancel.status_code, cancel.json()["code"]) == (409, "already_redeemed")
    types = [r.event_type for r in await world.sql("SELECT event_type FROM outbox ORDER BY id")]
    assert types == ["booking.booking_confirmed", "booking.redeemed"]


async def test_redemption_before_the_pickup_window_is_refused(world: BookingWorld) -> None:
    round_ = await world.create_round(pickup_starts=30)
    (user,) = await world.verified_residents(1)
    booking = (await world.book(user, round_["id"], _point(round_))).json()
    response = await world.client.post(
        "/api/v1/booking/redemptions",
        json={"pickup_code": booking["pickup_code"], "pickup_point_id": _point(round_)},
        headers=world.operator,
    )
    assert (response.status_code, response.json()["code"]) == (409, "pickup_not_open")


async def test_the_remaining_operator_refusals_have_their_own_codes(world: BookingWorld) -> None:
    from tests.booking.conftest import at, round_body

    outside = round_body(
        points=[
            {
                "name": "A",
                "region_code": TOWN,
                "slots": [{"starts_at": at(-60), "ends_at": at(30), "quota": 1}],
            }
        ]
    )
    response = await world.client.post(
        "/api/v1/booking/rounds", json=outside, headers=world.operator
    )
    assert (response.status_code, response.json()["code"]) == (422, "slot_invalid")

    round_ = await world.create_round()
    quota_url = f"/api/v1/booking/rounds/{round_['id']}/pickup-points/{_point(round_)}/quota"
    unknown_slot = await world.client.put(
        quota_url, json={"quota": 5, "slot_id": str(uuid.uuid4())}, headers=world.operator
    )
    assert (unknown_slot.status_code, unknown_slot.json()["code"]) == (404, "slot_not_found")
    unknown_point = await world.client.put(
        f"/api/v1/booking/rounds/{round_['id']}/pickup-points/{uuid.uuid4()}/quota",
        json={"quota": 5},
        headers=world.operator,
    )
    assert unknown_point.json()["code"] == "pickup_point_not_found"

    ended = await world.create_round(opens=-120, closes=-90, pickup_starts=-90, pickup_ends=-60)
    too_late = await world.client.put(
        f"/api/v1/booking/rounds/{ended['id']}/pickup-points/{_point(ended)}/quota",
        json={"quota": 50},
        headers=world.operator,
    )
    assert (too_late.status_code, too_late.json()["code"]) == (422, "round_ended")

    (user,) = await world.verified_residents(1)
    booking = (await world.book(user, round_["id"], _point(round_))).json()
    await world.client.delete(
        f"/api/v1/booking/bookings/{booking['id']}", headers=world.resident(user)
    )
    redeem_url = "/api/v1/booking/redemptions"
    cancelled = await world.client.post(
        redeem_url,
        json={"pickup_code": booking["pickup_code"], "pickup_point_id": _point(round_)},
        headers=world.operator,
    )
    assert (cancelled.status_code, cancelled.json()["code"]) == (410, "booking_cancelled")
    nowhere = await world.client.post(
        redeem_url,
        json={"pickup_code": booking["pickup_code"], "pickup_point_id": str(uuid.uuid4())},
        headers=world.operator,
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "pickup_point_not_found")
    unknown_round = await world.client.get(
        f"/api/v1/booking/rounds/{uuid.uuid4()}", headers=world.operator
    )
    assert (unknown_round.status_code, unknown_round.json()["code"]) == (404, "round_not_found")


async def test_the_booking_fast_lane_keeps_the_platform_contract(world: BookingWorld) -> None:
    """POST …/bookings is answered by services/booking/fastlane.py, not FastAPI: request ids,
    metrics, problem+json and input checks must be the same as everywhere else."""
    round_ = await world.create_round()
    (user,) = await world.verified_residents(1)
    url = BOOK.format(round_["id"])
    headers = {**world.resident(user), "X-Request-ID": "req-fastlane-1"}
    booked = await world.client.post(url, json={"pickup_point_id": _point(round_)}, headers=headers)
    assert booked.status_code == 201
    assert booked.headers["x-request-id"] == "req-fastlane-1"
    assert booked.headers["content-type"] == "application/json"

    malformed = await world.client.post(
        url,
        content=b"{not json",
        headers={**world.resident(user), "Content-Type": "application/json"},
    )
    assert (malformed.status_code, malformed.json()["code"]) == (422, "validation_error")
    assert malformed.headers["content-type"] == "application/problem+json"
    assert malformed.json()["request_id"]
    huge = await world.client.post(url, content=b"x" * 20_000, headers=world.resident(user))
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    empty_bearer = await world.client.post(
        url, json={"pickup_point_id": _point(round_)}, headers={"Authorization": "Bearer "}
    )
    assert (empty_bearer.status_code, empty_bearer.json()["code"]) == (401, "token_invalid")
    assert empty_bearer.headers["www-authenticate"] == "Bearer"
    forged = await world.client.post(
        url, json={"pickup_point_id": _point(round_)}, headers={"Authorization": "Bearer x.y.z"}
    )
    assert (forged.status_code, forged.json()["code"]) == (401, "token_invalid")

    metrics = (await world.client.get("/metrics")).text
    assert 'route="/api/v1/booking/rounds/{round_id}/bookings",service="booking",status="201"' in (
        metrics
    )
    assert await world.scalar("SELECT count(*) FROM bookings") == 1

    # And it really is the fast lane answering: the app behind it is never reached.
    from services.booking.fastlane import BookingFastLane

    async def framework(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the booking request fell through to the framework")

    lane = BookingFastLane(framework, runtime=lambda: world.app.state.runtime)
    (second,) = await world.verified_residents(1)
    sent: list[MutableMapping[str, Any]] = []
    body = [{"type": "http.request", "body": f'{{"pickup_point_id":"{_point(round_)}"}}'.encode()}]

    async def receive() -> dict:
        return body.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    token = world.tokens[second]
    await lane(
        {
            "type": "http",
            "method": "POST",
            "path": url,
            "headers": [
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),  # as FastAPI, JSON only as JSON
            ],
        },
        receive,
        send,
    )
    assert sent[0]["status"] == 201


async def test_the_route_in_api_py_only_declares_what_the_fast_lane_answers(
    world: BookingWorld,
) -> None:
    """One declaration of POST …/bookings: api.py's route is its OpenAPI and never runs; the
    fast lane checks the path, body model and Idempotency-Key rule that route declares, so
    its refusals are the ones FastAPI would give."""
    from typing import Any, cast, get_type_hints

    import pytest

    from services.booking import api, fastlane
    from services.booking.schemas import BookingCreate
    from shared.web.deps import IdempotencyKey

    declared = get_type_hints(api.create_booking, include_extras=True)
    assert declared["body"] is fastlane.BookingCreate is BookingCreate
    assert declared["idempotency_key"] == IdempotencyKey
    assert fastlane.ROUTE.path == api.router.prefix + api.BOOKINGS_PATH
    assert "idempotency-key" in str(world.app.openapi()["paths"][fastlane.ROUTE.path]).lower()
    with pytest.raises(RuntimeError, match="fastlane"):
        await api.create_booking(
            uuid.uuid4(), BookingCreate(pickup_point_id=uuid.uuid4()), cast(Any, None)
        )

    (user,) = await world.verified_residents(1)
    refused = await world.client.post(
        BOOK.format("not-a-uuid"),
        json={"slot_id": "x"},
        headers={**world.resident(user), "Idempotency-Key": "short"},
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    assert [(e["loc"], e["type"]) for e in refused.json()["errors"]] == [
        (["path", "round_id"], "uuid_parsing"),
        (["header", "Idempotency-Key"], "string_too_short"),
        (["body", "pickup_point_id"], "missing"),
        (["body", "slot_id"], "uuid_parsing"),
    ]
