"""Patrols (巡查) at the routing API: a patrol made on the device under its own id, its points
uploaded in numbered batches (a batch sent again is stored once), finished once with its
length and announced once, read back as a track and as the grid's coverage, each by whom
it concerns."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from services.routing import domain_geo
from tests.routing.test_grid_duty_support import (
    OTHER_TOWN,
    SQUARE,
    Duty,
    at,
    duty_fixture,  # noqa: F401  (the ``duty`` fixture)
    fresh_grid,
)

# 0.001° of latitude is about 111.2 m.
STEP = 0.001


def _points(count: int, *, start_lat: float = 24.4995, lng: float = 117.4995,
            minute: float = -30.0) -> list[dict[str, Any]]:
    """A walk due north, ``STEP`` / 10 apart (about 11 m), a second apart."""
    return [{"lat": round(start_lat + i * STEP / 10, 7), "lng": lng,
             "at": at(minute + i / 60), "accuracy_m": 8} for i in range(count)]


async def _patrol(duty: Duty, worker: dict[str, str], grid: str) -> str:
    patrol_id = str(uuid.uuid4())
    made = await duty.post("/patrols", worker, {"id": patrol_id, "grid_code": grid,
                                                "started_at": at(-30)})
    assert made.status_code == 201, made.text
    return patrol_id


async def _batch(duty: Duty, worker: dict[str, str], patrol_id: str, seq: int,
                 points: list[dict[str, Any]]) -> Any:
    return await duty.post(f"/patrols/{patrol_id}/points", worker,
                           {"batch_seq": seq, "points": points})


async def test_a_patrol_started_again_with_its_id_is_the_same_patrol(duty: Duty) -> None:
    grid = fresh_grid()
    worker_id, worker = duty.worker(grid)
    body = {"id": str(uuid.uuid4()), "grid_code": grid, "started_at": at(-30)}
    first = await duty.post("/patrols", worker, body)
    again = await duty.post("/patrols", worker, body)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["status"] == "recording"
    assert first.json()["worker_id"] == str(worker_id)
    assert await duty.sql("SELECT count(*) FROM patrols WHERE id = :i", i=body["id"]) == 1
    _, other = duty.worker(grid)
    taken = await duty.post("/patrols", other, body)
    assert (taken.status_code, taken.json()["code"]) == (409, "patrol_id_taken")


async def test_a_batch_sent_again_is_a_no_op_and_never_doubles_points(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    walk = _points(120)

    first = await _batch(duty, worker, patrol_id, 0, walk[:50])
    again = await _batch(duty, worker, patrol_id, 0, walk[:50])
    longer = await _batch(duty, worker, patrol_id, 0, walk[:70])  # a retry that grew
    second = await _batch(duty, worker, patrol_id, 1, walk[50:120])

    assert first.json() == {"patrol_id": patrol_id, "batch_seq": 0, "accepted": 50,
                            "duplicate": False}
    assert again.json() == longer.json() == {"patrol_id": patrol_id, "batch_seq": 0,
                                             "accepted": 0, "duplicate": True}
    assert second.json()["accepted"] == 70
    track = (await duty.get(f"/patrols/{patrol_id}/track", worker)).json()["points"]
    assert [p[0] for p in track] == [p["lat"] for p in walk]
    assert await duty.sql("SELECT count(*) FROM patrol_points WHERE patrol_id = :i",
                          i=patrol_id) == 120


async def test_finishing_measures_the_track_and_is_announced_once(duty: Duty) -> None:
    grid = fresh_grid()
    worker_id, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    await _batch(duty, worker, patrol_id, 0, _points(11))  # ten steps of ~11.1 m

    finished = await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-5)})
    again = await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-1)})

    assert finished.status_code == again.status_code == 200, finished.text
    assert again.json() == finished.json()
    read = finished.json()
    assert (read["status"], read["points"]) == ("finished", 11)
    assert 110 < read["distance_m"] < 112
    assert await duty.sql(
        "SELECT count(*) FROM outbox WHERE event_type = 'routing.patrol_finished' "
        "AND envelope->'payload'->>'patrol_id' = :i", i=patrol_id) == 1
    payload = await duty.sql(
        "SELECT envelope->'payload' FROM outbox WHERE event_type = 'routing.patrol_finished' "
        "AND envelope->'payload'->>'patrol_id' = :i", i=patrol_id)
    assert (payload["worker_id"], payload["grid_code"], payload["points"]) == (
        str(worker_id), grid, 11)


async def test_points_after_the_finish_are_refused_but_a_resent_batch_is_still_a_no_op(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    await _batch(duty, worker, patrol_id, 0, _points(5))
    await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-5)})

    late = await _batch(duty, worker, patrol_id, 1, _points(5, minute=-10))
    resent = await _batch(duty, worker, patrol_id, 0, _points(5))

    assert (late.status_code, late.json()["code"]) == (409, "patrol_finished")
    assert resent.json()["duplicate"] is True
    assert await duty.sql("SELECT count(*) FROM patrol_points WHERE patrol_id = :i",
                          i=patrol_id) == 5


async def test_a_patrol_that_ends_before_it_starts_or_started_in_the_future_is_refused(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    backwards = await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-31)})
    ahead = await duty.post("/patrols", worker, {"id": str(uuid.uuid4()), "grid_code": grid,
                                                 "started_at": at(10)})
    assert (backwards.status_code, backwards.json()["code"]) == (422, "ended_before_start")
    assert (ahead.status_code, ahead.json()["code"]) == (422, "time_in_future")


async def test_a_patrol_is_written_by_its_worker_and_read_by_them_and_managers_in_scope(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    _, colleague = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)

    foreign_points = await _batch(duty, colleague, patrol_id, 0, _points(3))
    foreign_finish = await duty.post(f"/patrols/{patrol_id}/finish", colleague,
                                     {"ended_at": at()})
    foreign_track = await duty.get(f"/patrols/{patrol_id}/track", colleague)
    stranger_track = await duty.get(f"/patrols/{patrol_id}/track", duty.manager(OTHER_TOWN))
    manager_track = await duty.get(f"/patrols/{patrol_id}/track", duty.manager())
    unknown = await _batch(duty, worker, str(uuid.uuid4()), 0, _points(3))
    elsewhere = await duty.post("/patrols", worker, {"id": str(uuid.uuid4()),
                                                     "grid_code": fresh_grid(),
                                                     "started_at": at()})

    for refused in (foreign_points, foreign_finish, foreign_track, stranger_track, elsewhere):
        assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")
    assert manager_track.status_code == 200
    assert (unknown.status_code, unknown.json()["code"]) == (404, "patrol_not_found")
    assert await duty.sql("SELECT count(*) FROM patrol_points WHERE patrol_id = :i",
                          i=patrol_id) == 0


async def test_a_worker_lists_only_their_own_patrols_and_a_manager_their_grids(
    duty: Duty
) -> None:
    grid = fresh_grid()
    me_id, me = duty.worker(grid)
    other_id, other = duty.worker(grid)
    mine = await _patrol(duty, me, grid)
    theirs = await _patrol(duty, other, grid)

    listed = await duty.get("/patrols", me)
    peeking = await duty.get("/patrols", me, worker_id=str(other_id))
    managed = await duty.get("/patrols", duty.manager(), grid_code=grid)
    one = await duty.get("/patrols", duty.manager(), grid_code=grid, worker_id=str(other_id))
    stranger = await duty.get("/patrols", duty.manager(OTHER_TOWN), grid_code=grid)

    assert [p["id"] for p in listed.json()["items"]] == [mine]
    assert (peeking.status_code, peeking.json()["code"]) == (403, "out_of_scope")
    assert {p["id"] for p in managed.json()["items"]} == {mine, theirs}
    assert [p["id"] for p in one.json()["items"]] == [theirs]
    assert (stranger.status_code, stranger.json()["code"]) == (403, "out_of_scope")
    assert me_id != other_id


async def test_coverage_counts_patrols_per_cell_and_the_share_of_the_area(duty: Duty) -> None:
    grid = fresh_grid()
    await duty.put(f"/grids/{grid}/area", duty.manager(), {"polygon": SQUARE})
    _, worker = duty.worker(grid)
    # Two patrols along the same line through the middle of the square, one further east.
    for lng in (117.5, 117.5, 117.5007):
        patrol_id = await _patrol(duty, worker, grid)
        await _batch(duty, worker, patrol_id, 0, _points(21, start_lat=24.499, lng=lng))

    coverage = await duty.get(f"/grids/{grid}/coverage", duty.manager())
    body = coverage.json()

    assert coverage.status_code == 200, coverage.text
    assert body["cell_m"] == 50
    assert max(c["visits"] for c in body["cells"]) == 2
    assert {c["visits"] for c in body["cells"]} == {1, 2}
    # The square is about 4 x 4 cells; two columns were walked end to end.
    assert 0.3 < body["covered_ratio"] < 0.7
    empty = await duty.get(f"/grids/{grid}/coverage", duty.manager(), since=at(60))
    assert empty.json()["cells"] == []
    assert empty.json()["covered_ratio"] == 0
    without_area = await duty.get(f"/grids/{fresh_grid()}/coverage", duty.manager())
    assert without_area.json()["covered_ratio"] is None


async def test_batches_arriving_out_of_order_make_the_track_in_recorded_order(
    duty: Duty
) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    walk = _points(30)
    for seq in (2, 0, 1):  # an offline queue flushed after a retry reordered it
        answer = await _batch(duty, worker, patrol_id, seq, walk[seq * 10:seq * 10 + 10])
        assert answer.json()["accepted"] == 10
    track = (await duty.get(f"/patrols/{patrol_id}/track", worker)).json()["points"]
    assert [p[0] for p in track] == [p["lat"] for p in walk]
    finished = await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-1)})
    assert 320 < finished.json()["distance_m"] < 325  # 29 steps of ~11.1 m, not zig-zags


async def test_only_grid_workers_record_patrols(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    manager = duty.manager()
    start = await duty.post("/patrols", manager, {"id": str(uuid.uuid4()), "grid_code": grid,
                                                  "started_at": at()})
    points = await _batch(duty, manager, patrol_id, 0, _points(2))
    finish = await duty.post(f"/patrols/{patrol_id}/finish", manager, {"ended_at": at()})
    for refused in (start, points, finish):
        assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    oversized = await _batch(duty, worker, patrol_id, 0, _points(201))
    empty = await _batch(duty, worker, patrol_id, 0, [])
    assert oversized.status_code == empty.status_code == 422


async def test_the_length_measured_in_the_database_is_the_python_geometry(duty: Duty) -> None:
    """The finish measures the track in SQL; it must agree with domain_geo's haversine over
    the same points in the order recorded: a wandering walk in every direction, standing
    still, one long jump, sent in batches out of order."""
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _patrol(duty, worker, grid)
    rng = random.Random(19)
    lat, lng = 24.4995, 117.4995
    path: list[tuple[float, float]] = []
    for i in range(137):
        if i == 60:
            lat, lng = lat + 0.02, lng - 0.03  # the phone lost its fix: a jump of ~4 km
        elif i % 23 != 0:  # every 23rd point the worker stands still
            lat, lng = lat + rng.uniform(-3e-4, 3e-4), lng + rng.uniform(-3e-4, 3e-4)
        path.append((round(lat, 7), round(lng, 7)))
    walk = [{"lat": p[0], "lng": p[1], "at": at(-30 + i / 60), "accuracy_m": 8}
            for i, p in enumerate(path)]
    batches = [walk[i:i + 20] for i in range(0, len(walk), 20)]
    for seq in (3, 0, 6, 1, 5, 2, 4):
        assert (await _batch(duty, worker, patrol_id, seq, batches[seq])).json()["accepted"]

    finished = await duty.post(f"/patrols/{patrol_id}/finish", worker, {"ended_at": at(-1)})

    expected = domain_geo.track_length_m(path)
    assert expected > 4000
    assert finished.json()["points"] == 137
    assert finished.json()["distance_m"] == pytest.approx(expected, abs=0.1)


async def test_a_patrol_of_no_points_or_one_point_has_no_length(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    empty = await _patrol(duty, worker, grid)
    single = await _patrol(duty, worker, grid)
    await _batch(duty, worker, single, 0, _points(1))

    for patrol_id, points in ((empty, 0), (single, 1)):
        finished = await duty.post(f"/patrols/{patrol_id}/finish", worker,
                                   {"ended_at": at(-1)})
        assert finished.status_code == 200, finished.text
        assert (finished.json()["points"], finished.json()["distance_m"]) == (points, 0.0)
