"""Tasks from above (上级交办) and verification duties (核查) of grid workers: a manager gives a
task to a worker or a whole grid, the worker sees it and reports it done with evidence (once,
however often the app retries); a case in a grid that waits for its on-site check gives one
of the grid's workers a duty, done when the case is verified. API level on the routing app;
the last test follows a real case over RabbitMQ with the events app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from services.routing.service import workforce
from shared.calendar import SHANGHAI, WorkingCalendar
from shared.contracts.events import EventStatusChanged
from shared.testing.plugin import Migrator, wait_until
from tests.events.flows import COMMUNITY_UNIT, GRID, Loop, MovableClock, bearer
from tests.routing.test_grid_workforce import API, OTHER_COMMUNITY, Team, problem, routing_team


@pytest.fixture
async def team(migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any,
               make_token: Callable[..., str]) -> AsyncIterator[Team]:
    async with routing_team(migrator, service_settings, token_verifier, make_token) as ready:
        yield ready


async def _task(team: Team, grid: str, *, worker_id: str | None = None, expect: int = 201,
                manager: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    body = {"title": "走访辖区独居老人", "detail": "周五前完成，联系人 13912345678",
            "grid_code": grid, "worker_id": worker_id,
            "due_at": (team.clock() + timedelta(days=2)).isoformat(), **overrides}
    response = await team.client.post(f"{API}/grid-tasks", json=body,
                                      headers=manager or team.manager())
    assert response.status_code == expect, response.text
    return dict(response.json())


def _as(team: Team, worker: dict[str, Any], **headers: str) -> dict[str, str]:
    return team.worker(uuid.UUID(worker["user_id"]), worker["grid_codes"], **headers)


async def _tasks(team: Team, headers: dict[str, str], **params: Any) -> list[str]:
    response = await team.client.get(f"{API}/grid-tasks", headers=headers,
                                     params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


def _done(note: str = "已走访3户，均正常", **overrides: Any) -> dict[str, Any]:
    return {"note": note, "attachment_ids": [str(uuid.uuid4())],
            "location": {"lat": 23.7, "lng": 117.43}, **overrides}


# -- tasks from above --------------------------------------------------------------------------


async def test_a_manager_assigns_a_task_that_appears_in_the_workers_list_and_notices(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker, colleague = await team.enrol([grid]), await team.enrol([grid])

    task = await _task(team, grid, worker_id=worker["user_id"])

    assert (task["kind"], task["status"], task["worker_id"]) == ("assigned", "open",
                                                                 worker["user_id"])
    assert task["detail"] == "周五前完成，联系人 139****5678"
    assert [e["action"] for e in task["trail"]] == ["created"]
    assert task["id"] in await _tasks(team, _as(team, worker))
    assert task["id"] not in await _tasks(team, _as(team, colleague))
    [told] = [e for e in await team.outbox("routing.grid_task_assigned")
              if e["task_id"] == task["id"]]
    assert (told["worker_id"], told["reason"], told["kind"]) == (worker["user_id"], "new",
                                                                 "assigned")


async def test_a_task_for_the_whole_grid_reaches_every_worker_and_any_one_completes_it(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker, colleague = await team.enrol([grid]), await team.enrol([grid])

    task = await _task(team, grid)

    assert task["worker_id"] is None
    assert task["id"] in await _tasks(team, _as(team, worker), mine=True)
    assert task["id"] in await _tasks(team, _as(team, colleague))
    told = {e["worker_id"] for e in await team.outbox("routing.grid_task_assigned")
            if e["task_id"] == task["id"]}
    assert told == {worker["user_id"], colleague["user_id"]}
    done = await team.client.post(f"{API}/grid-tasks/{task['id']}/completion", json=_done(),
                                  headers=_as(team, colleague))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["completed_by"]) == ("done",
                                                                    colleague["user_id"])
    again = await team.client.post(f"{API}/grid-tasks/{task['id']}/completion", json=_done(),
                                   headers=_as(team, worker))
    assert problem(again) == (409, "task_closed")


async def test_managers_see_the_tasks_of_their_scope_and_workers_only_their_own(
    team: Team,
) -> None:
    grid, far_grid = await team.new_grid(), await team.new_grid(OTHER_COMMUNITY)
    worker, neighbour = await team.enrol([grid]), await team.enrol([far_grid])
    task = await _task(team, grid, worker_id=worker["user_id"])
    other = await _task(team, far_grid, worker_id=neighbour["user_id"])
    community_manager = team.manager(OTHER_COMMUNITY, role="supervisor")

    in_scope = await _tasks(team, community_manager)
    read = await team.client.get(f"{API}/grid-tasks/{task['id']}", headers=community_manager)
    by_neighbour = await team.client.get(f"{API}/grid-tasks/{task['id']}",
                                         headers=_as(team, neighbour))
    by_town = await _tasks(team, team.manager(), worker_id=worker["user_id"])

    assert other["id"] in in_scope
    assert task["id"] not in in_scope
    assert problem(read) == (403, "out_of_scope")
    assert problem(by_neighbour) == (403, "out_of_scope")
    assert by_town == [task["id"]]
    resident = {"Authorization": f"Bearer {team.make_token(roles=['resident'])}"}
    listed = await team.client.get(f"{API}/grid-tasks", headers=resident)
    assert problem(listed) == (403, "role_required")


async def test_a_task_is_refused_outside_scope_past_its_deadline_or_for_a_stranger(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    stranger = await team.enrol([await team.new_grid()])
    before = await team.sql("SELECT count(*) FROM grid_tasks")

    outside = await _task(team, grid, expect=403, manager=team.manager("350623100"))
    past = await _task(team, grid, expect=422,
                       due_at=(team.clock() - timedelta(hours=1)).isoformat())
    not_theirs = await _task(team, grid, expect=422, worker_id=stranger["user_id"])
    by_worker = await _task(team, grid, expect=403, manager=_as(team, worker))
    naive = await _task(team, grid, expect=422, due_at="2026-12-31T12:00:00")
    nobody = await _task(team, await team.new_grid(), expect=422)

    assert outside["code"] == "out_of_scope"
    assert past["code"] == "due_in_past"
    assert not_theirs["code"] == "worker_not_in_grid"
    assert by_worker["code"] == "role_required"
    assert naive["code"] == "validation_error"
    assert nobody["code"] == "grid_has_no_workers"
    assert await team.sql("SELECT count(*) FROM grid_tasks") == before


async def test_a_task_created_again_with_the_same_key_is_one_task(team: Team) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    headers = {**team.manager(subject=uuid.uuid4()), "Idempotency-Key": "task-key-0001"}
    body = {"title": "排查出租屋", "grid_code": grid, "worker_id": worker["user_id"],
            "due_at": (team.clock() + timedelta(days=1)).isoformat()}

    first = await team.client.post(f"{API}/grid-tasks", json=body, headers=headers)
    second = await team.client.post(f"{API}/grid-tasks", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert await team.sql(f"SELECT count(*) FROM grid_tasks WHERE grid_code = '{grid}'") == 1


# -- completion --------------------------------------------------------------------------------


async def test_a_completion_retried_with_the_same_key_is_recorded_once(team: Team) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    task = await _task(team, grid, worker_id=worker["user_id"])
    path = f"{API}/grid-tasks/{task['id']}/completion"
    headers = _as(team, worker, **{"Idempotency-Key": "done-0001-offline"})
    body = _done("走访完毕，老人电话 13812345678 已登记")

    first = await team.client.post(path, json=body, headers=headers)
    retry = await team.client.post(path, json=body, headers=headers)
    changed = await team.client.post(path, json=_done("另一份"), headers=headers)
    unkeyed = await team.client.post(path, json=body, headers=_as(team, worker))

    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    evidence = first.json()["evidence"]
    assert evidence["note"] == "走访完毕，老人电话 138****5678 已登记"
    assert evidence["location"] == {"lat": 23.7, "lng": 117.43}
    assert first.json()["on_time"] is True
    assert problem(changed) == (422, "idempotency_key_reused")
    assert problem(unkeyed) == (409, "task_closed")
    assert [e["action"] for e in first.json()["trail"]] == ["created", "completed"]
    completed = [e for e in await team.outbox("routing.grid_task_completed")
                 if e["task_id"] == task["id"]]
    assert [(e["worker_id"], e["kind"], e["on_time"]) for e in completed] == [
        (worker["user_id"], "assigned", True)]


async def test_a_late_completion_is_not_on_time_and_one_from_the_future_is_refused(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    task = await _task(team, grid, worker_id=worker["user_id"])
    path = f"{API}/grid-tasks/{task['id']}/completion"

    future = await team.client.post(path, headers=_as(team, worker), json=_done(
        completed_at=(team.clock() + timedelta(hours=1)).isoformat()))
    team.clock.advance(timedelta(days=3))
    late = await team.client.post(path, headers=_as(team, worker), json=_done())

    assert problem(future) == (422, "completion_in_future")
    assert late.status_code == 200, late.text
    assert late.json()["on_time"] is False


async def test_only_the_worker_holding_a_task_completes_it(team: Team) -> None:
    grid = await team.new_grid()
    worker, colleague = await team.enrol([grid]), await team.enrol([grid])
    task = await _task(team, grid, worker_id=worker["user_id"])
    path = f"{API}/grid-tasks/{task['id']}/completion"

    by_colleague = await team.client.post(path, json=_done(), headers=_as(team, colleague))
    by_manager = await team.client.post(path, json=_done(), headers=team.manager())
    unknown = await team.client.post(f"{API}/grid-tasks/{uuid.uuid4()}/completion",
                                     json=_done(), headers=_as(team, worker))
    empty = await team.client.post(path, json=_done(""), headers=_as(team, worker))

    assert problem(by_colleague) == (403, "not_your_task")
    assert problem(by_manager) == (403, "role_required")
    assert problem(unknown) == (404, "task_not_found")
    assert problem(empty) == (422, "validation_error")


# -- verification duties (核查) ------------------------------------------------------------------


def _step(event_id: uuid.UUID, grid: str, step: int, *, to_status: str = "result_submitted",
          action: str = "submit_result", from_status: str = "in_progress",
          at: Any = None) -> EventStatusChanged:
    return EventStatusChanged(
        event_id=event_id, case_no="ZZ20261125-0001", category_code="dispute_tenancy",
        region_code=grid, from_status=from_status, to_status=to_status, action=action,
        actor_role="dept_staff", at=at, step=step)


async def _deliver(team: Team, change: EventStatusChanged,
                   verifier_id: uuid.UUID | None = None) -> None:
    async with team.app.state.runtime.uow() as uow:
        await workforce.on_case_step(uow, change, now=team.clock(), base=WorkingCalendar(),
                                     due_days=1, verifier_id=verifier_id)


async def _duties(team: Team, event_id: uuid.UUID) -> list[dict[str, Any]]:
    response = await team.client.get(f"{API}/grid-tasks", headers=team.admin(),
                                     params={"kind": "verification", "limit": 200})
    return [t for t in response.json()["items"] if t["event_id"] == str(event_id)]


async def test_a_case_waiting_for_its_check_gives_the_least_loaded_worker_one_duty(
    team: Team,
) -> None:
    grid = await team.new_grid()
    busy, free = await team.enrol([grid]), await team.enrol([grid])
    await _task(team, grid, worker_id=busy["user_id"])
    event_id = uuid.uuid4()
    submitted = _step(event_id, grid, 5, at=team.clock())

    await _deliver(team, submitted)
    await _deliver(team, submitted)  # redelivered: still one duty

    [duty] = await _duties(team, event_id)
    assert (duty["worker_id"], duty["status"], duty["case_no"]) == (
        free["user_id"], "open", "ZZ20261125-0001")
    assert duty["title"] == "核查案件 ZZ20261125-0001"
    # Submitted on a Wednesday morning in Shanghai: due one working day later, Thursday.
    due = datetime.fromisoformat(duty["due_at"])
    assert due == WorkingCalendar().add_working_days(submitted.at, 1)
    assert due.astimezone(SHANGHAI).date() == date(2026, 11, 26)
    assert duty["id"] in await _tasks(team, _as(team, free))
    refused = await team.client.post(f"{API}/grid-tasks/{duty['id']}/completion",
                                     json=_done(), headers=_as(team, free))
    assert problem(refused) == (409, "verify_the_case")
    [told] = [e for e in await team.outbox("routing.grid_task_assigned")
              if e["task_id"] == duty["id"]]
    assert (told["kind"], told["event_id"], told["assigned_by"]) == (
        "verification", str(event_id), None)


async def test_a_worker_on_the_grids_roster_that_day_takes_the_duty_first(team: Team) -> None:
    grid = await team.new_grid()
    on_duty, free = await team.enrol([grid]), await team.enrol([grid])
    await _task(team, grid, worker_id=on_duty["user_id"])  # busier, but on duty today
    rostered = await team.client.put(f"{API}/grids/{grid}/roster/2026-11-25",
                                     headers=team.manager(),
                                     json={"worker_ids": [on_duty["user_id"]]})
    assert rostered.status_code in (200, 204), rostered.text
    event_id = uuid.uuid4()

    await _deliver(team, _step(event_id, grid, 5, at=team.clock()))

    [duty] = await _duties(team, event_id)
    assert duty["worker_id"] == on_duty["user_id"]
    assert free["user_id"] != duty["worker_id"]


async def test_the_duty_is_done_when_the_case_is_verified_and_says_by_whom(team: Team) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    event_id, verifier = uuid.uuid4(), uuid.uuid4()
    await _deliver(team, _step(event_id, grid, 5, at=team.clock()))

    await _deliver(team, _step(event_id, grid, 6, to_status="verified", action="verify",
                               from_status="result_submitted",
                               at=team.clock() + timedelta(hours=2)), verifier)

    [duty] = await _duties(team, event_id)
    assert (duty["status"], duty["on_time"], duty["completed_by"]) == ("done", True,
                                                                      str(verifier))
    assert [e["action"] for e in duty["trail"]] == ["created", "completed"]
    [completed] = [e for e in await team.outbox("routing.grid_task_completed")
                   if e["task_id"] == duty["id"]]
    assert (completed["kind"], completed["worker_id"], completed["event_id"]) == (
        "verification", str(verifier), str(event_id))
    assert worker["user_id"] == duty["worker_id"]


async def test_no_duty_without_grid_workers_or_when_the_check_came_first(team: Team) -> None:
    empty_grid, grid = await team.new_grid(), await team.new_grid()
    await team.enrol([grid])
    unmanned, in_community, overtaken = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    await _deliver(team, _step(unmanned, empty_grid, 5, at=team.clock()))
    await _deliver(team, _step(in_community, grid[:12], 5, at=team.clock()))
    # The verification (step 6) is delivered before the submission it answers (step 5).
    await _deliver(team, _step(overtaken, grid, 6, to_status="verified", action="verify",
                               from_status="result_submitted", at=team.clock()))
    await _deliver(team, _step(overtaken, grid, 5, at=team.clock()))

    for event_id in (unmanned, in_community, overtaken):
        assert await _duties(team, event_id) == []


async def test_a_failed_check_and_a_new_result_give_a_new_duty_and_a_rejection_cancels(
    team: Team,
) -> None:
    grid = await team.new_grid()
    await team.enrol([grid])
    event_id = uuid.uuid4()
    await _deliver(team, _step(event_id, grid, 5, at=team.clock()))
    await _deliver(team, _step(event_id, grid, 6, to_status="in_progress", action="verify",
                               from_status="result_submitted", at=team.clock()))
    await _deliver(team, _step(event_id, grid, 7, at=team.clock()))
    await _deliver(team, _step(event_id, grid, 8, to_status="rejected", action="reject",
                               from_status="returned", at=team.clock()))

    duties = await _duties(team, event_id)
    assert sorted(d["status"] for d in duties) == ["cancelled", "done"]


async def test_a_closure_delivered_before_its_verification_leaves_the_duty_to_it(
    team: Team,
) -> None:
    grid = await team.new_grid()
    await team.enrol([grid])
    event_id = uuid.uuid4()
    await _deliver(team, _step(event_id, grid, 5, at=team.clock()))

    await _deliver(team, _step(event_id, grid, 7, to_status="closed", action="close",
                               from_status="verified", at=team.clock()))
    await _deliver(team, _step(event_id, grid, 6, to_status="verified", action="verify",
                               from_status="result_submitted", at=team.clock()))

    [duty] = await _duties(team, event_id)
    assert duty["status"] == "done"


# -- over the bus, with the case file ----------------------------------------------------------


async def test_a_verification_duty_follows_a_real_case_over_the_bus(
    loop: Loop, clock: MovableClock,
) -> None:
    worker_id = uuid.uuid4()
    manager = loop.people.dispatcher()
    enrolled = await loop.routing.post(f"{API}/grid-workers", headers=bearer(manager), json={
        "user_id": str(worker_id), "display_name": "陈建国", "grid_codes": [GRID],
        "started_on": "2026-01-05"})
    assert enrolled.status_code == 201, enrolled.text
    worker = loop.people.make_token(subject=worker_id, roles=["grid_worker"], regions=[GRID])
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, "350626106001")
    for action, body in (("accept", None), ("start", None),
                         ("result", {"result": "押金已退还，双方签字确认"})):
        await loop.act(created["id"], action, staff, body)

    async def duty() -> dict[str, Any] | None:
        response = await loop.routing.get(f"{API}/grid-tasks", headers=bearer(worker),
                                          params={"kind": "verification"})
        items = [t for t in response.json()["items"] if t["event_id"] == created["id"]]
        return items[0] if items else None

    async def has_duty() -> bool:
        return await duty() is not None

    await wait_until(has_duty, within=15)
    await loop.act(created["id"], "verify", worker, {"passed": True, "note": "现场核实"})

    async def duty_done() -> bool:
        found = await duty()
        return found is not None and found["status"] == "done"

    await wait_until(duty_done, within=15)
    found = await duty()
    assert found is not None
    assert found["worker_id"] == str(worker_id)
    assert found["completed_by"] == str(worker_id)  # events names the verifier
    assert found["on_time"] is True
    assert found["due_at"] > clock().isoformat()
