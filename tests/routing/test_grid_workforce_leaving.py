"""Leaving (离岗): a grid worker leaves only with a named successor, who takes every open
task and verification duty of theirs in the same step; each move is on the task's trail with
the manager who made it. API level on the routing app (memory bus; the outbox shows what is
announced)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import pytest

from services.routing.service import workforce
from shared.calendar import WorkingCalendar
from shared.contracts.events import EventStatusChanged
from shared.testing.plugin import Migrator
from tests.routing.test_grid_workforce import (
    API,
    OTHER_COMMUNITY,
    OTHER_TOWN_GRID,
    Team,
    problem,
    routing_team,
)


@pytest.fixture
async def team(migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any,
               make_token: Callable[..., str]) -> AsyncIterator[Team]:
    async with routing_team(migrator, service_settings, token_verifier, make_token) as ready:
        yield ready


async def _open_work(team: Team, grid: str, worker: dict[str, Any]) -> list[str]:
    """Two tasks for the worker and one for the whole grid; their ids."""
    ids = []
    for title, worker_id in (("走访独居老人", worker["user_id"]), ("排查出租屋", worker["user_id"]),
                             ("张贴防诈骗海报", None)):
        response = await team.client.post(f"{API}/grid-tasks", headers=team.manager(), json={
            "title": title, "grid_code": grid, "worker_id": worker_id,
            "due_at": (team.clock() + timedelta(days=3)).isoformat()})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _verification_duty(team: Team, grid: str) -> str:
    """A case in the grid waits for its on-site check: the grid's worker gets the duty."""
    event_id = uuid.uuid4()
    change = EventStatusChanged(
        event_id=event_id, case_no="ZZ20261125-0042", category_code="dispute_tenancy",
        region_code=grid, from_status="in_progress", to_status="result_submitted",
        action="submit_result", actor_role="dept_staff", at=team.clock(), step=5)
    async with team.app.state.runtime.uow() as uow:
        await workforce.on_case_step(uow, change, now=team.clock(), base=WorkingCalendar(),
                                     due_days=1)
    return str(await team.sql(f"SELECT id FROM grid_tasks WHERE event_id = '{event_id}'"))


async def test_leaving_with_open_work_is_refused_without_a_successor_and_writes_nothing(
    team: Team,
) -> None:
    grid = await team.new_grid()
    leaver = await team.enrol([grid])
    await _open_work(team, grid, leaver)
    trail_before = await team.sql("SELECT count(*) FROM grid_task_trail")

    refused = await team.client.post(f"{API}/grid-workers/{leaver['user_id']}/leave",
                                     headers=team.manager(), json={"left_on": "2026-11-30"})

    assert problem(refused) == (409, "successor_required")
    profile = await team.client.get(f"{API}/grid-workers/{leaver['user_id']}",
                                    headers=team.manager())
    assert profile.json()["status"] == "active"
    assert await team.sql("SELECT count(*) FROM grid_task_trail") == trail_before
    assert await team.sql("SELECT count(*) FROM grid_tasks WHERE worker_id = "
                          f"'{leaver['user_id']}' AND status = 'open'") == 2
    assert not [e for e in await team.outbox("routing.grid_worker_left")
                if e["user_id"] == leaver["user_id"]]


async def test_leaving_hands_every_open_item_to_the_successor_and_the_trail_names_the_manager(
    team: Team,
) -> None:
    grid = await team.new_grid()
    leaver = await team.enrol([grid])
    successor = await team.enrol([await team.new_grid()])  # a neighbouring grid
    mine, other, for_the_grid = await _open_work(team, grid, leaver)
    duty = await _verification_duty(team, grid)
    manager_id = uuid.uuid4()
    for day in ("2026-11-30", "2026-12-01"):  # the last day, and one after it
        rostered = await team.client.put(f"{API}/grids/{grid}/roster/{day}",
                                         headers=team.manager(),
                                         json={"worker_ids": [leaver["user_id"]]})
        assert rostered.status_code < 300, rostered.text

    left = await team.client.post(
        f"{API}/grid-workers/{leaver['user_id']}/leave",
        headers=team.manager(subject=manager_id),
        json={"successor_id": successor["user_id"], "left_on": "2026-11-30",
              "reason": "调往镇综治中心"})

    assert left.status_code == 200, left.text
    # The leaver was the grid's only worker: its task for every worker moves too.
    moved = [mine, other, for_the_grid, duty]
    assert sorted(left.json()["moved_task_ids"]) == sorted(moved)
    as_successor = team.worker(uuid.UUID(successor["user_id"]), successor["grid_codes"])
    for task_id in moved:
        task = (await team.client.get(f"{API}/grid-tasks/{task_id}",
                                      headers=as_successor)).json()
        assert task["worker_id"] == successor["user_id"]
        assert task["trail"][-1] == {
            "at": task["trail"][-1]["at"], "action": "handover", "actor_id": str(manager_id),
            "from_worker_id": leaver["user_id"], "to_worker_id": successor["user_id"],
            "note": None}
    profile = (await team.client.get(f"{API}/grid-workers/{leaver['user_id']}",
                                     headers=team.manager())).json()
    assert (profile["status"], profile["left_on"], profile["successor_id"]) == (
        "left", "2026-11-30", successor["user_id"])
    members = await team.client.get(f"{API}/grids/{grid}/workers", headers=team.manager())
    assert members.json()["user_ids"] == []
    roster = await team.client.get(f"{API}/grids/{grid}/roster", headers=team.manager(),
                                   params={"since": "2026-11-30", "until": "2026-12-01"})
    # On duty to the last day, off every roster after it.
    assert [(r["day"], r["worker_ids"]) for r in roster.json()["items"]] == [
        ("2026-11-30", [leaver["user_id"]]), ("2026-12-01", [])]
    [announced] = [e for e in await team.outbox("routing.grid_worker_left")
                   if e["user_id"] == leaver["user_id"]]
    assert announced["successor_id"] == successor["user_id"]
    assert announced["handed_over_by"] == str(manager_id)
    assert sorted(announced["moved_task_ids"]) == sorted(moved)
    handed = [e for e in await team.outbox("routing.grid_task_assigned")
              if e["reason"] == "handover" and e["task_id"] in moved]
    assert {e["worker_id"] for e in handed} == {successor["user_id"]}
    assert sorted(e["kind"] for e in handed) == ["assigned"] * 3 + ["verification"]
    again = await team.client.post(f"{API}/grid-workers/{leaver['user_id']}/leave",
                                   headers=team.manager(),
                                   json={"successor_id": successor["user_id"],
                                         "left_on": "2026-11-30"})
    assert problem(again) == (409, "grid_worker_left")


async def test_a_successor_must_be_an_active_worker_serving_the_leavers_community(
    team: Team,
) -> None:
    grid = await team.new_grid()
    leaver = await team.enrol([grid])
    other_community = await team.enrol([await team.new_grid(OTHER_COMMUNITY)])
    far = await team.enrol([OTHER_TOWN_GRID], manager=team.admin())
    gone, heir = await team.enrol([grid]), await team.enrol([grid])
    await team.client.post(f"{API}/grid-workers/{gone['user_id']}/leave",
                           headers=team.manager(),
                           json={"successor_id": heir["user_id"], "left_on": "2026-11-30"})
    path = f"{API}/grid-workers/{leaver['user_id']}/leave"

    for successor_id in (leaver["user_id"], str(uuid.uuid4()), gone["user_id"],
                         other_community["user_id"], far["user_id"]):
        refused = await team.client.post(path, headers=team.manager(), json={
            "successor_id": successor_id, "left_on": "2026-11-30"})
        assert problem(refused) == (422, "successor_invalid"), successor_id
    far_manager = await team.client.post(path, headers=team.manager("350623100"), json={
        "successor_id": heir["user_id"], "left_on": "2026-11-30"})
    assert problem(far_manager) == (403, "out_of_scope")
    assert await team.sql("SELECT status FROM grid_worker_profiles "
                          f"WHERE user_id = '{leaver['user_id']}'") == "active"


async def test_leaving_without_open_work_still_names_who_would_take_over(team: Team) -> None:
    """Nothing may be left without an owner, and the leaving is announced with the
    successor: a successor is named even when nothing is open."""
    grid = await team.new_grid()
    leaver, heir = await team.enrol([grid]), await team.enrol([grid])

    refused = await team.client.post(f"{API}/grid-workers/{leaver['user_id']}/leave",
                                     headers=team.manager(), json={"left_on": "2026-11-30"})
    left = await team.client.post(f"{API}/grid-workers/{leaver['user_id']}/leave",
                                  headers=team.manager(), json={
                                      "successor_id": heir["user_id"],
                                      "left_on": str(date(2026, 11, 30))})

    assert problem(refused) == (409, "successor_required")
    assert left.status_code == 200
    assert left.json()["moved_task_ids"] == []


