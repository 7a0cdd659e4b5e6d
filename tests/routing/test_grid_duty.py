"""Grid duty (网格员值守) at the routing API: grid areas and rosters, today's duty, check-ins
with the device's place and time (far outside the grid: flagged, never refused; a queued
check sent twice: recorded once), daily logs, and who may do each."""

from __future__ import annotations

import uuid
from datetime import date

from services.routing.service.duty import leave_rosters
from tests.events.flows import bearer
from tests.routing.test_grid_duty_support import (
    OTHER_TOWN,
    SQUARE,
    Duty,
    at,
    duty_fixture,  # noqa: F401  (the ``duty`` fixture)
    fresh_grid,
)

# About 2.2 km north of SQUARE's top edge; and 100 m north of it.
FAR = {"lat": 24.521, "lng": 117.500}
NEAR_OUTSIDE = {"lat": 24.5019, "lng": 117.500}
INSIDE = {"lat": 24.500, "lng": 117.500}


async def _grid_with_area(duty: Duty) -> str:
    grid = fresh_grid()
    drawn = await duty.put(f"/grids/{grid}/area", duty.manager(), {"polygon": SQUARE})
    assert drawn.status_code == 200, drawn.text
    return grid


def _check(grid: str, place: dict[str, float], kind: str = "in", **more: object) -> dict:
    return {"kind": kind, "grid_code": grid, "at": at(-1), "accuracy_m": 12, **place, **more}


async def test_a_check_in_far_outside_the_grid_is_recorded_and_flagged_not_refused(
    duty: Duty
) -> None:
    grid = await _grid_with_area(duty)
    worker_id, worker = duty.worker(grid)

    inside = await duty.post("/duty/check-ins", worker, _check(grid, INSIDE))
    near = await duty.post("/duty/check-ins", worker, _check(grid, NEAR_OUTSIDE))
    far = await duty.post("/duty/check-ins", worker, _check(grid, FAR, kind="out"))

    assert inside.status_code == near.status_code == far.status_code == 201, far.text
    assert (inside.json()["distance_m"], inside.json()["flagged"]) == (0.0, False)
    assert 50 < near.json()["distance_m"] < 500
    assert near.json()["flagged"] is False
    assert far.json()["flagged"] is True
    assert far.json()["flag_reason"] == "far_outside_grid"
    assert 2000 < far.json()["distance_m"] < 2400
    flagged = await duty.get("/duty/check-ins", duty.manager(), grid_code=grid, flagged=True)
    assert [c["id"] for c in flagged.json()["items"]] == [far.json()["id"]]
    assert flagged.json()["items"][0]["worker_id"] == str(worker_id)


async def test_a_check_in_in_a_grid_without_an_area_says_so_but_is_not_flagged(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    made = await duty.post("/duty/check-ins", worker, _check(grid, FAR))
    assert made.status_code == 201, made.text
    assert {k: made.json()[k] for k in ("distance_m", "flagged", "flag_reason")} == {
        "distance_m": None, "flagged": False, "flag_reason": "no_area"}
    missing = await duty.get(f"/grids/{grid}/area", duty.manager())
    assert (missing.status_code, missing.json()["code"]) == (404, "no_area")


async def test_a_check_in_from_the_future_or_over_a_week_old_is_refused_and_not_written(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    ahead = await duty.post("/duty/check-ins", worker, _check(grid, INSIDE, at=at(6)))
    stale = await duty.post("/duty/check-ins", worker,
                            _check(grid, INSIDE, at=at(-7 * 24 * 60 - 1)))
    slack = await duty.post("/duty/check-ins", worker, _check(grid, INSIDE, at=at(4)))
    week = await duty.post("/duty/check-ins", worker,
                           _check(grid, INSIDE, at=at(-7 * 24 * 60 + 1)))

    assert (ahead.status_code, ahead.json()["code"]) == (422, "time_in_future")
    assert (stale.status_code, stale.json()["code"]) == (422, "too_old")
    assert slack.status_code == week.status_code == 201
    assert await duty.sql("SELECT count(*) FROM check_ins WHERE grid_code = :g", g=grid) == 2


async def test_a_queued_check_in_sent_again_is_recorded_once(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    check_id = str(uuid.uuid4())
    first = await duty.post("/duty/check-ins", worker, _check(grid, INSIDE, id=check_id))
    again = await duty.post("/duty/check-ins", worker, _check(grid, INSIDE, id=check_id))
    keyed = _check(grid, INSIDE, kind="out")
    key = {"Idempotency-Key": "check-out-0001"}
    by_key = [await duty.post("/duty/check-ins", worker, keyed, **key) for _ in range(2)]

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert by_key[0].json() == by_key[1].json()
    assert await duty.sql("SELECT count(*) FROM check_ins WHERE grid_code = :g", g=grid) == 2
    _, thief = duty.worker(grid)
    taken = await duty.post("/duty/check-ins", thief, _check(grid, INSIDE, id=check_id))
    assert (taken.status_code, taken.json()["code"]) == (409, "check_in_id_taken")


async def test_a_worker_checks_in_only_in_their_own_grids(duty: Duty) -> None:
    grid, other = fresh_grid(), fresh_grid()
    _, worker = duty.worker(grid)
    refused = await duty.post("/duty/check-ins", worker, _check(other, INSIDE))
    resident = bearer(duty.make_token(roles=["resident"]))
    not_staff = await duty.post("/duty/check-ins", resident, _check(grid, INSIDE))
    manager = await duty.post("/duty/check-ins", duty.manager(), _check(grid, INSIDE))

    assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")
    assert (not_staff.status_code, not_staff.json()["code"]) == (403, "role_required")
    assert (manager.status_code, manager.json()["code"]) == (403, "role_required")
    assert await duty.sql("SELECT count(*) FROM check_ins WHERE grid_code IN (:a, :b)",
                          a=grid, b=other) == 0


async def test_a_worker_reads_only_their_own_check_ins(duty: Duty) -> None:
    grid = fresh_grid()
    me_id, me = duty.worker(grid)
    other_id, other = duty.worker(grid)
    await duty.post("/duty/check-ins", me, _check(grid, INSIDE))
    await duty.post("/duty/check-ins", other, _check(grid, INSIDE))

    mine = await duty.get("/duty/check-ins", me)
    peeking = await duty.get("/duty/check-ins", me, worker_id=str(other_id))
    both = await duty.get("/duty/check-ins", duty.manager(), grid_code=grid)

    assert [c["worker_id"] for c in mine.json()["items"]] == [str(me_id)]
    assert (peeking.status_code, peeking.json()["code"]) == (403, "out_of_scope")
    assert {c["worker_id"] for c in both.json()["items"]} == {str(me_id), str(other_id)}


async def test_a_manager_of_another_town_cannot_draw_the_grid_or_set_its_roster(
    duty: Duty
) -> None:
    grid = fresh_grid()
    stranger = duty.manager(OTHER_TOWN)
    area = await duty.put(f"/grids/{grid}/area", stranger, {"polygon": SQUARE})
    roster = await duty.put(f"/grids/{grid}/roster/2026-12-07", stranger,
                            {"worker_ids": [str(uuid.uuid4())]})
    reading = await duty.get("/duty/check-ins", stranger, grid_code=grid)
    coverage = await duty.get(f"/grids/{grid}/coverage", stranger)
    _, worker = duty.worker(grid)
    by_worker = await duty.put(f"/grids/{grid}/area", worker, {"polygon": SQUARE})

    for refused in (area, roster, reading, coverage):
        assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")
    assert (by_worker.status_code, by_worker.json()["code"]) == (403, "role_required")
    county = await duty.put(f"/grids/{grid}/area", duty.county_supervisor(),
                            {"polygon": SQUARE})
    assert county.status_code == 200, county.text


async def test_an_area_that_encloses_nothing_is_refused(duty: Duty) -> None:
    grid = fresh_grid()
    line = [[24.5, 117.5], [24.501, 117.501], [24.502, 117.502]]
    refused = await duty.put(f"/grids/{grid}/area", duty.manager(), {"polygon": line})
    too_few = await duty.put(f"/grids/{grid}/area", duty.manager(), {"polygon": SQUARE[:2]})
    assert (refused.status_code, refused.json()["code"]) == (422, "area_invalid")
    assert too_few.status_code == 422
    drawn = await duty.put(f"/grids/{grid}/area", duty.manager(), {"polygon": SQUARE})
    assert drawn.json()["centre"] == [24.5, 117.5]
    read = await duty.get(f"/grids/{grid}/area", duty.worker(grid)[1])
    assert read.json()["polygon"] == SQUARE


async def test_todays_duty_shows_the_shift_and_the_check_in_until_check_out(
    duty: Duty
) -> None:
    grid = fresh_grid()
    worker_id, worker = await duty.enrol(grid)
    set_ = await duty.put(f"/grids/{grid}/roster/2026-12-07", duty.manager(),
                          {"worker_ids": [str(worker_id)], "starts": "08:30", "ends": "17:30"})
    await duty.put(f"/grids/{grid}/roster/2026-12-08", duty.manager(), {"worker_ids": []})
    assert set_.status_code == 200, set_.text

    before = (await duty.get("/duty/today", worker)).json()
    checked = (await duty.post("/duty/check-ins", worker, _check(grid, INSIDE))).json()
    during = (await duty.get("/duty/today", worker)).json()
    await duty.post("/duty/check-ins", worker, _check(grid, INSIDE, kind="out", at=at()))
    after = (await duty.get("/duty/today", worker)).json()

    assert before["day"] == "2026-12-07"
    assert before["shifts"] == [{"grid_code": grid, "grid_name": None, "starts": "08:30",
                                 "ends": "17:30"}]
    assert before["checked_in"] is None
    assert during["checked_in"]["id"] == checked["id"]
    assert after["checked_in"] is None
    week = await duty.get(f"/grids/{grid}/roster", worker, since="2026-12-07")
    assert [(r["day"], r["worker_ids"]) for r in week.json()["items"]] == [
        ("2026-12-07", [str(worker_id)]), ("2026-12-08", [])]


async def test_a_shift_that_ends_before_it_starts_is_refused(duty: Duty) -> None:
    grid = fresh_grid()
    refused = await duty.put(f"/grids/{grid}/roster/2026-12-07", duty.manager(),
                             {"worker_ids": [], "starts": "17:30", "ends": "08:30"})
    assert (refused.status_code, refused.json()["code"]) == (422, "shift_hours_invalid")


async def test_a_daily_log_is_kept_masked_and_once(duty: Duty) -> None:
    grid = fresh_grid()
    worker_id, worker = duty.worker(grid)
    body = {"id": str(uuid.uuid4()), "day": "2026-12-07", "grid_code": grid,
            "text": "走访独居老人，子女电话13812345678，已登记"}
    first = await duty.post("/duty/logs", worker, body)
    again = await duty.post("/duty/logs", worker, body)

    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["text"] == "走访独居老人，子女电话138****5678，已登记"
    assert again.json()["id"] == first.json()["id"]
    assert await duty.sql("SELECT count(*) FROM duty_logs WHERE grid_code = :g", g=grid) == 1
    stored = await duty.sql("SELECT text || coalesce(text_original, '') FROM duty_logs "
                            "WHERE grid_code = :g", g=grid)
    assert "13812345678" not in stored
    listed = await duty.get("/duty/logs", duty.manager(), grid_code=grid)
    assert [log["worker_id"] for log in listed.json()["items"]] == [str(worker_id)]


async def test_a_daily_log_for_a_future_day_or_another_grid_is_refused(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    future = await duty.post("/duty/logs", worker,
                             {"day": "2026-12-08", "grid_code": grid, "text": "巡查"})
    elsewhere = await duty.post("/duty/logs", worker,
                                {"day": "2026-12-07", "grid_code": fresh_grid(), "text": "巡查"})
    blank = await duty.post("/duty/logs", worker,
                            {"day": "2026-12-07", "grid_code": grid, "text": "   "})
    assert (future.status_code, future.json()["code"]) == (422, "time_in_future")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "out_of_scope")
    assert blank.status_code == 422


async def test_a_time_outside_this_century_is_a_validation_error_not_a_crash(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    ancient = await duty.post("/duty/check-ins", worker,
                              _check(grid, INSIDE, at="0001-01-01T00:00:00+05:00"))
    listed = await duty.get("/duty/check-ins", duty.manager(),
                            since="9999-12-31T23:59:59-12:00")
    assert ancient.status_code == listed.status_code == 422


async def test_check_ins_are_listed_newest_first_a_page_at_a_time(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    made = [(await duty.post("/duty/check-ins", worker,
                             _check(grid, INSIDE, at=at(-minutes)))).json()["id"]
            for minutes in (30, 20, 10)]
    first = (await duty.get("/duty/check-ins", worker, limit=2)).json()
    second = (await duty.get("/duty/check-ins", worker, limit=2,
                             cursor=first["next_cursor"])).json()
    assert [c["id"] for c in first["items"] + second["items"]] == made[::-1]
    assert second["next_cursor"] is None
    bad = await duty.get("/duty/check-ins", worker, cursor="not-ours")
    assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")


async def test_rosters_are_read_by_the_grids_people_over_at_most_62_days(duty: Duty) -> None:
    grid = fresh_grid()
    _, outsider = duty.worker(fresh_grid())
    resident = bearer(duty.make_token(roles=["resident"]))
    too_long = await duty.get(f"/grids/{grid}/roster", duty.manager(),
                              since="2026-12-01", until="2027-03-01")
    backwards = await duty.get(f"/grids/{grid}/roster", duty.manager(),
                               since="2026-12-08", until="2026-12-01")
    foreign = await duty.get(f"/grids/{grid}/roster", outsider)
    today = await duty.get("/duty/today", resident)

    assert (too_long.status_code, too_long.json()["code"]) == (422, "date_range_invalid")
    assert (backwards.status_code, backwards.json()["code"]) == (422, "date_range_invalid")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "out_of_scope")
    assert (today.status_code, today.json()["code"]) == (403, "role_required")


async def test_a_worker_reads_only_their_own_logs(duty: Duty) -> None:
    grid = fresh_grid()
    me_id, me = duty.worker(grid)
    other_id, other = duty.worker(grid)
    for headers in (me, other):
        await duty.post("/duty/logs", headers, {"day": "2026-12-07", "grid_code": grid,
                                                "text": "巡查正常"})
    mine = await duty.get("/duty/logs", me)
    peeking = await duty.get("/duty/logs", me, worker_id=str(other_id))
    assert [log["worker_id"] for log in mine.json()["items"]] == [str(me_id)]
    assert (peeking.status_code, peeking.json()["code"]) == (403, "out_of_scope")


async def test_a_roster_names_only_active_workers_of_the_grid(duty: Duty) -> None:
    grid = fresh_grid()
    member_id, _ = await duty.enrol(grid)
    left_id, _ = await duty.enrol(grid, status="left")
    elsewhere_id, _ = await duty.enrol(fresh_grid())
    for stranger in (left_id, elsewhere_id, uuid.uuid4()):
        refused = await duty.put(f"/grids/{grid}/roster/2026-12-07", duty.manager(),
                                 {"worker_ids": [str(member_id), str(stranger)]})
        assert (refused.status_code, refused.json()["code"]) == (422, "worker_not_in_grid")
    assert await duty.sql("SELECT count(*) FROM duty_rosters WHERE grid_code = :g",
                          g=grid) == 0
    kept = await duty.put(f"/grids/{grid}/roster/2026-12-07", duty.manager(),
                          {"worker_ids": [str(member_id), str(member_id)]})
    assert kept.json()["worker_ids"] == [str(member_id)]


async def test_a_worker_who_leaves_is_taken_off_the_rosters_after_their_last_day(
    duty: Duty
) -> None:
    grid = fresh_grid()
    leaver_id, _ = await duty.enrol(grid)
    stayer_id, _ = await duty.enrol(grid)
    both = {"worker_ids": [str(leaver_id), str(stayer_id)]}
    for day in ("2026-12-07", "2026-12-08", "2026-12-09"):
        await duty.put(f"/grids/{grid}/roster/{day}", duty.manager(), both)

    runtime = duty.app.state.runtime
    async with runtime.uow() as uow:
        changed = await leave_rosters(uow, worker_id=leaver_id, left_on=date(2026, 12, 7))

    week = await duty.get(f"/grids/{grid}/roster", duty.manager(), since="2026-12-07")
    assert changed == 2
    assert [r["worker_ids"] for r in week.json()["items"]] == [
        [str(leaver_id), str(stayer_id)], [str(stayer_id)], [str(stayer_id)]]
