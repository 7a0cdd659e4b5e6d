"""Grid workers over their working life (网格员), routing's part: a town or community manager
enrols a worker into grids of their scope, records their training, changes their grids, and
records their leaving with a successor who takes every open task and verification. API level
on the routing app (memory bus; the outbox shows what is announced)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.routing.app import create_app
from services.routing.service import workforce
from services.routing.settings import Settings
from shared.contracts.identity import StaffDirectoryChanged
from shared.testing.plugin import Migrator, running
from tests.events.conftest import START
from tests.events.flows import MovableClock

API = "/api/v1/routing"
TOWN = "350626106"  # 铜陵镇
COMMUNITY = "350626106001"  # 东门社区
OTHER_COMMUNITY = "350626106002"  # 西门社区, same town
OTHER_TOWN_GRID = "350623100001001"  # 绥安社区第一网格, another county
# Each test makes grids of its own (the schema is shared by the module's tests).
_GRID_NUMBERS = itertools.count(100)


@dataclass
class Team:
    """The routing app, its clock, and the cast: managers, workers, an admin."""

    client: httpx.AsyncClient
    app: FastAPI
    clock: MovableClock
    make_token: Callable[..., str]

    def manager(self, region: str = TOWN, role: str = "dispatcher",
                subject: uuid.UUID | None = None) -> dict[str, str]:
        token = self.make_token(subject=subject, roles=[role], regions=[region])
        return {"Authorization": f"Bearer {token}"}

    def worker(self, user_id: uuid.UUID, grids: list[str], **headers: str) -> dict[str, str]:
        token = self.make_token(subject=user_id, roles=["grid_worker"], regions=grids)
        return {"Authorization": f"Bearer {token}", **headers}

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token(roles=['admin'])}"}

    async def new_grid(self, community: str = COMMUNITY) -> str:
        code = f"{community}{next(_GRID_NUMBERS):03d}"
        response = await self.client.put(f"{API}/regions/{code}", headers=self.admin(),
                                          json={"name": f"测试网格{code[-3:]}"})
        assert response.status_code == 204, response.text
        return code

    async def enrol(self, grids: list[str], *, manager: dict[str, str] | None = None,
                    expect: int = 201, **overrides: Any) -> dict[str, Any]:
        body = {"user_id": str(uuid.uuid4()), "display_name": "林晓梅", "kind": "full_time",
                "grid_codes": grids, "started_on": "2026-03-01", **overrides}
        response = await self.client.post(f"{API}/grid-workers", json=body,
                                          headers=manager or self.manager())
        assert response.status_code == expect, response.text
        return dict(response.json())

    async def sql(self, statement: str) -> Any:
        async with self.app.state.runtime.uow() as uow:
            return (await uow.connection.execute(text(statement))).scalar()

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        payloads = await self.sql(
            "SELECT coalesce(jsonb_agg(envelope->'payload' ORDER BY id), '[]'::jsonb) "
            f"FROM outbox WHERE event_type = '{event_type}'")
        return list(payloads)


@asynccontextmanager
async def routing_team(migrator: Migrator, service_settings: Callable[..., Any],
                       token_verifier: Any, make_token: Callable[..., str]
                       ) -> AsyncIterator[Team]:
    """The routing app on the run's schema (memory bus), at a Wednesday 09:00 clock."""
    await migrator.ensure("routing")
    clock = MovableClock(START)
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier, clock=clock)
    async with running(app) as client:
        yield Team(client=client, app=app, clock=clock, make_token=make_token)


@pytest.fixture
async def team(migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any,
               make_token: Callable[..., str]) -> AsyncIterator[Team]:
    async with routing_team(migrator, service_settings, token_verifier, make_token) as ready:
        yield ready


def problem(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


# -- enrolment ---------------------------------------------------------------------------------


async def test_a_town_manager_enrols_a_grid_worker_with_the_phone_kept_encrypted(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid], phone="13812345678", kind="part_time")

    assert worker["status"] == "active"
    assert (worker["kind"], worker["grid_codes"]) == ("part_time", [grid])
    assert worker["phone_masked"] == "138****5678"
    assert worker["trainings"] == []
    assert worker["successor_id"] is None
    stored = await team.sql("SELECT phone FROM grid_worker_profiles "
                            f"WHERE user_id = '{worker['user_id']}'")
    assert "13812345678" not in stored  # encrypted at rest
    members = await team.client.get(f"{API}/grids/{grid}/workers", headers=team.manager())
    assert members.json()["user_ids"] == [worker["user_id"]]
    announced = [e for e in await team.outbox("routing.grid_worker_enrolled")
                 if e["user_id"] == worker["user_id"]]
    assert [(e["kind"], e["grid_codes"]) for e in announced] == [("part_time", [grid])]


async def test_a_manager_of_one_town_cannot_enrol_into_another_towns_grid(team: Team) -> None:
    grid = await team.new_grid()
    user_id = str(uuid.uuid4())
    other_town = team.manager("350623100")

    refused = await team.enrol([grid], manager=other_town, expect=403, user_id=user_id)
    mixed = await team.enrol([OTHER_TOWN_GRID, grid], manager=other_town, expect=403,
                             user_id=user_id)

    assert refused["code"] == mixed["code"] == "out_of_scope"
    assert await team.sql("SELECT count(*) FROM grid_worker_profiles "
                          f"WHERE user_id = '{user_id}'") == 0


async def test_bad_and_unknown_grid_codes_are_refused(team: Team) -> None:
    community_code = await team.enrol([COMMUNITY], expect=422)
    short = await team.enrol(["3506261060010"], expect=422)
    unknown = await team.enrol([f"{COMMUNITY}999"], expect=422)
    none = await team.enrol([], expect=422)

    assert community_code["code"] == short["code"] == "grid_invalid"
    assert unknown["code"] == "grid_unknown"
    assert none["code"] == "validation_error"


async def test_only_managers_enrol_and_an_active_worker_is_not_enrolled_twice(
    team: Team,
) -> None:
    grid = await team.new_grid()
    user_id = uuid.uuid4()
    as_worker = await team.enrol([grid], manager=team.worker(uuid.uuid4(), [grid]),
                                 expect=403, user_id=str(user_id))
    assert as_worker["code"] == "role_required"

    await team.enrol([grid], user_id=str(user_id))
    twice = await team.enrol([grid], expect=409, user_id=str(user_id))
    assert twice["code"] == "already_enrolled"


async def test_one_who_left_may_be_enrolled_again(team: Team) -> None:
    grid = await team.new_grid()
    leaver, successor = await team.enrol([grid]), await team.enrol([grid])
    left = await team.client.post(
        f"{API}/grid-workers/{leaver['user_id']}/leave", headers=team.manager(),
        json={"successor_id": successor["user_id"], "left_on": "2026-11-30"})
    assert left.status_code == 200, left.text
    changed = await team.client.patch(f"{API}/grid-workers/{leaver['user_id']}",
                                      headers=team.manager(), json={"display_name": "林"})
    assert problem(changed) == (409, "grid_worker_left")

    back = await team.enrol([grid], user_id=leaver["user_id"], started_on="2027-01-04")

    assert (back["status"], back["started_on"], back["left_on"]) == ("active", "2027-01-04",
                                                                    None)


async def test_a_manager_changes_grids_only_within_their_scope(team: Team) -> None:
    grid, second = await team.new_grid(), await team.new_grid(OTHER_COMMUNITY)
    worker = await team.enrol([grid], phone="13812345678")
    path = f"{API}/grid-workers/{worker['user_id']}"

    outside = await team.client.patch(path, headers=team.manager(),
                                      json={"grid_codes": [grid, OTHER_TOWN_GRID]})
    stripped = await team.client.patch(path, headers=team.manager("350623100"),
                                       json={"grid_codes": [OTHER_TOWN_GRID]})
    changed = await team.client.patch(path, headers=team.manager(),
                                      json={"grid_codes": [second], "display_name": "林晓"})

    assert problem(outside) == (403, "out_of_scope")
    assert problem(stripped) == (403, "out_of_scope")
    assert changed.status_code == 200, changed.text
    assert (changed.json()["grid_codes"], changed.json()["display_name"]) == ([second], "林晓")
    assert changed.json()["phone_masked"] == "138****5678"
    members = await team.client.get(f"{API}/grids/{second}/workers", headers=team.manager())
    assert members.json()["user_ids"] == [worker["user_id"]]
    announced = [e["grid_codes"] for e in await team.outbox("routing.grid_worker_enrolled")
                 if e["user_id"] == worker["user_id"]]
    assert announced == [[grid], [second]]


# -- reading profiles --------------------------------------------------------------------------


async def test_trainings_are_recorded_by_a_manager_and_read_with_the_profile(
    team: Team,
) -> None:
    grid = await team.new_grid()
    worker = await team.enrol([grid])
    path = f"{API}/grid-workers/{worker['user_id']}/trainings"
    course = {"course": "矛盾纠纷排查化解", "held_on": "2026-04-10", "result": "passed",
              "hours": 6, "note": "带教老师电话 13912345678"}

    recorded = await team.client.post(path, json=course, headers=team.manager())
    elsewhere = await team.client.post(path, json=course, headers=team.manager("350623100"))
    unknown = await team.client.post(f"{API}/grid-workers/{uuid.uuid4()}/trainings",
                                     json=course, headers=team.manager())
    bad = await team.client.post(path, json={**course, "result": "excellent"},
                                 headers=team.manager())

    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["note"] == "带教老师电话 139****5678"
    assert problem(elsewhere) == (403, "out_of_scope")
    assert problem(unknown) == (404, "grid_worker_not_found")
    assert problem(bad) == (422, "validation_error")
    mine = await team.client.get(f"{API}/grid-workers/me",
                                 headers=team.worker(uuid.UUID(worker["user_id"]), [grid]))
    assert [(t["course"], t["result"], t["hours"]) for t in mine.json()["trainings"]] == [
        ("矛盾纠纷排查化解", "passed", 6.0)]


async def test_a_worker_reads_their_own_profile_but_not_a_colleagues(team: Team) -> None:
    grid = await team.new_grid()
    worker, colleague = await team.enrol([grid]), await team.enrol([grid])
    as_worker = team.worker(uuid.UUID(worker["user_id"]), [grid])

    own = await team.client.get(f"{API}/grid-workers/{worker['user_id']}", headers=as_worker)
    other = await team.client.get(f"{API}/grid-workers/{colleague['user_id']}",
                                  headers=as_worker)
    listing = await team.client.get(f"{API}/grid-workers", headers=as_worker)
    stranger = await team.client.get(f"{API}/grid-workers/me",
                                     headers=team.worker(uuid.uuid4(), [grid]))
    far = await team.client.get(f"{API}/grid-workers/{worker['user_id']}",
                                headers=team.manager("350623100"))

    assert own.status_code == 200
    assert own.json()["user_id"] == worker["user_id"]
    assert problem(other) == (403, "role_required")
    assert problem(listing) == (403, "role_required")
    assert problem(stranger) == (404, "grid_worker_not_found")
    assert problem(far) == (403, "out_of_scope")


async def test_managers_list_the_workers_of_their_scope_a_page_at_a_time(team: Team) -> None:
    grid, other_grid = await team.new_grid(), await team.new_grid(OTHER_COMMUNITY)
    first, second = await team.enrol([grid]), await team.enrol([grid])
    neighbour = await team.enrol([other_grid])
    community_manager = team.manager(COMMUNITY, role="supervisor")

    page = await team.client.get(f"{API}/grid-workers", headers=community_manager,
                                 params={"grid_code": grid, "limit": 1})
    rest = await team.client.get(f"{API}/grid-workers", headers=community_manager,
                                 params={"grid_code": grid, "cursor": page.json()["next_cursor"]})
    community = await team.client.get(f"{API}/grid-workers", headers=community_manager,
                                      params={"limit": 200})
    outside = await team.client.get(f"{API}/grid-workers", headers=community_manager,
                                    params={"grid_code": other_grid})
    town = await team.client.get(f"{API}/grid-workers", headers=team.manager(),
                                 params={"region": OTHER_COMMUNITY, "limit": 200})

    assert [w["user_id"] for w in page.json()["items"]] == [first["user_id"]]
    assert [w["user_id"] for w in rest.json()["items"]] == [second["user_id"]]
    assert rest.json()["next_cursor"] is None
    seen = {w["user_id"] for w in community.json()["items"]}
    assert {first["user_id"], second["user_id"]} <= seen
    assert neighbour["user_id"] not in seen
    assert problem(outside) == (403, "out_of_scope")
    assert neighbour["user_id"] in {w["user_id"] for w in town.json()["items"]}
    for params, code in (({"region": "null"}, "region_invalid"),
                         ({"grid_code": COMMUNITY}, "grid_invalid"),
                         ({"cursor": "not-ours"}, "cursor_invalid")):
        refused = await team.client.get(f"{API}/grid-workers", headers=team.manager(),
                                        params=params)
        assert problem(refused)[1] == code


async def test_enrolment_training_and_leaving_retried_with_their_keys_happen_once(
    team: Team,
) -> None:
    grid = await team.new_grid()
    manager = team.manager(subject=uuid.uuid4())
    user_id = str(uuid.uuid4())
    body = {"user_id": user_id, "display_name": "黄志强", "grid_codes": [grid],
            "started_on": "2026-05-06"}
    heir = await team.enrol([grid])
    course = {"course": "消防安全", "held_on": "2026-06-01", "result": "attended"}
    leaving = {"successor_id": heir["user_id"], "left_on": "2026-12-01"}
    answers: dict[str, list[httpx.Response]] = {}
    for name, path, payload in (
        ("enrol", f"{API}/grid-workers", body),
        ("training", f"{API}/grid-workers/{user_id}/trainings", course),
        ("leave", f"{API}/grid-workers/{user_id}/leave", leaving),
    ):
        headers = {**manager, "Idempotency-Key": f"{name}-{user_id}"}
        answers[name] = [await team.client.post(path, json=payload, headers=headers)
                         for _ in range(2)]

    for name, (first, retry) in answers.items():
        assert first.status_code == retry.status_code, name
        assert first.json() == retry.json(), name
    assert answers["leave"][0].status_code == 200
    profile = (await team.client.get(f"{API}/grid-workers/{user_id}", headers=manager)).json()
    assert len(profile["trainings"]) == 1
    assert profile["status"] == "left"
    assert len([e for e in await team.outbox("routing.grid_worker_enrolled")
                if e["user_id"] == user_id]) == 1


async def _account(team: Team, staff_id: str, *, roles: list[str], active: bool,
                   version: int) -> None:
    """Identity announces a staff account (as its consumer delivers it)."""
    change = StaffDirectoryChanged(
        staff_id=uuid.UUID(staff_id), unit_ids=[], roles=roles, regions=[], active=active,
        wechat_bound=False, version=version, changed_at=team.clock(), cause="created")
    async with team.app.state.runtime.uow() as uow:
        await workforce.keep_account(uow, change)


async def test_an_account_identity_knows_as_no_grid_worker_is_not_enrolled(team: Team) -> None:
    grid = await team.new_grid()
    dispatcher, disabled, worker = (str(uuid.uuid4()) for _ in range(3))
    await _account(team, dispatcher, roles=["dispatcher"], active=True, version=1)
    await _account(team, disabled, roles=["grid_worker"], active=True, version=1)
    await _account(team, disabled, roles=["grid_worker"], active=False, version=2)
    await _account(team, worker, roles=["grid_worker"], active=True, version=3)
    await _account(team, worker, roles=["grid_worker"], active=False, version=2)  # stale

    for user_id in (dispatcher, disabled):
        refused = await team.enrol([grid], expect=422, user_id=user_id)
        assert refused["code"] == "account_not_grid_worker"
    enrolled = await team.enrol([grid], user_id=worker)
    assert enrolled["status"] == "active"
    # One identity has not announced yet is taken on trust (it was created a moment ago).
    await team.enrol([grid], user_id=str(uuid.uuid4()))
