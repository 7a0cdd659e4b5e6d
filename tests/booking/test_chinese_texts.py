"""Residents and operators read booking (物资预约) in Chinese: booking statuses, round phases and
the one-per limit carry Chinese labels from the message catalog next to their English codes,
and a 422 refusal names what is wrong in Chinese. A label left in English fails here."""

from __future__ import annotations

from services.booking import messages
from services.booking.domain import BookingStatus, LimitPer, RoundPhase
from shared.i18n import zh_CN
from tests.booking.conftest import TOWN, BookingWorld, at
from tests.shared.chinese import CHINESE, CODE, assert_worded_in_chinese


def test_the_catalog_labels_every_status_phase_and_limit_in_chinese() -> None:
    for table, codes in ((zh_CN.BOOKING_STATUS_LABELS, BookingStatus),
                         (zh_CN.BOOKING_PHASE_LABELS, RoundPhase),
                         (zh_CN.BOOKING_LIMIT_LABELS, LimitPer)):
        assert set(table) == {c.value for c in codes}
        assert all(CODE.fullmatch(k) and CHINESE.search(v) for k, v in table.items())
    assert messages.CONFIRMED == "已预约"  # the fast lane's label, worded once at import


async def test_a_resident_books_reads_and_cancels_with_chinese_labels(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(limit_per="household")
    assert (round_["phase"], round_["phase_label"]) == ("open", "预约中")
    assert (round_["limit_per"], round_["limit_label"]) == ("household", "每户限约一份")
    listed = await world.client.get("/api/v1/booking/rounds", headers=world.operator)
    assert assert_worded_in_chinese(listed.json()) >= 2
    user, _ = await world.verified_residents(2)
    booked = await world.book(user, round_["id"], round_["pickup_points"][0]["id"])
    assert booked.status_code == 201, booked.text
    created = booked.json()
    assert (created["status"], created["status_label"]) == ("confirmed", "已预约")
    mine = await world.client.get("/api/v1/booking/bookings", headers=world.resident(user))
    [item] = mine.json()["items"]
    assert (item["status"], item["status_label"]) == ("confirmed", "已预约")
    cancelled = await world.client.delete(f"/api/v1/booking/bookings/{created['id']}",
                                          headers=world.resident(user))
    assert (cancelled.json()["status"], cancelled.json()["status_label"]) == (
        "cancelled", "已取消")


async def test_an_operator_redeems_and_reads_the_stats_with_chinese_labels(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round()
    point = round_["pickup_points"][0]["id"]
    (user,) = await world.verified_residents(1)
    code = (await world.book(user, round_["id"], point)).json()["pickup_code"]
    redeemed = await world.client.post("/api/v1/booking/redemptions", headers=world.operator,
                                       json={"pickup_code": code, "pickup_point_id": point})
    assert redeemed.status_code == 201, redeemed.text
    assert (redeemed.json()["status"], redeemed.json()["status_label"]) == ("redeemed", "已领取")
    stats = await world.client.get(f"/api/v1/booking/rounds/{round_['id']}/stats",
                                   headers=world.operator)
    assert (stats.json()["phase"], stats.json()["phase_label"]) == ("open", "预约中")
    mine = await world.client.get("/api/v1/booking/bookings", headers=world.resident(user))
    assert mine.json()["items"][0]["status_label"] == "已领取"


async def test_a_booking_without_its_time_slot_is_refused_in_chinese_and_nothing_is_booked(
    world: BookingWorld,
) -> None:
    round_ = await world.create_round(points=[{"name": "A", "region_code": TOWN, "slots": [
        {"starts_at": at(0), "ends_at": at(60), "quota": 1},
        {"starts_at": at(60), "ends_at": at(120), "quota": 1}]}])
    (user,) = await world.verified_residents(1)
    refused = await world.book(user, round_["id"], round_["pickup_points"][0]["id"])
    assert refused.status_code == 422
    problem = refused.json()
    assert (problem["code"], problem["field"]) == ("slot_required", "slot_id")
    assert problem["detail"] == "该领取点按时段预约，请选择领取时段"
    assert await world.scalar("SELECT count(*) FROM bookings") == 0
    assert await world.scalar("SELECT count(*) FROM outbox") == 0


async def test_a_round_with_crossed_windows_is_refused_in_chinese_and_not_created(
    world: BookingWorld,
) -> None:
    from tests.booking.conftest import round_body

    for body, detail in (
        (round_body(opens=30, closes=10), "预约截止时间须晚于预约开始时间"),
        (round_body(pickup_starts=60, pickup_ends=30, closes=20), "领取结束时间须晚于领取开始时间"),
        (round_body(closes=200, pickup_ends=100), "预约须在领取结束前截止"),
    ):
        refused = await world.client.post("/api/v1/booking/rounds", json=body,
                                          headers=world.operator)
        assert refused.status_code == 422, refused.text
        assert (refused.json()["code"], refused.json()["detail"]) == ("window_invalid", detail)
    assert await world.scalar("SELECT count(*) FROM rounds") == 0
