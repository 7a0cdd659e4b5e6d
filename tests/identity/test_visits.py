"""Household visits (入户走访): a grid worker records whom of their grid's registry they saw;
the offline app may send the same visit again (same id, same Idempotency-Key) and it stays
one visit, announced once. Workers read their own visits, managers those of their regions."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest

from shared.testing.plugin import running, wait_until
from tests.identity.conftest import assert_problem, bearer, unique_id_number
from tests.identity.test_no_pii_in_logs import Capture

VISITS = "/api/v1/identity/visits"
PEOPLE = "/api/v1/identity/registry/people"
TOWN, OTHER_TOWN = "350626106", "350626107"


def new_grid(town: str = TOWN) -> str:
    return f"{town}{random.randint(100, 999)}{random.randint(100, 999)}"


class Worker:
    """A grid worker of one grid, with their token."""

    def __init__(self, make_token: Any, grid: str) -> None:
        self.id = uuid.uuid4()
        self.grid = grid
        self.headers = bearer(make_token(subject=self.id, roles=["grid_worker"],
                                         regions=[grid]))


async def enter_person(client: Any, worker: Worker, name: str, household: str | None = None
                       ) -> str:
    body = {"id_number": unique_id_number(), "name": name, "region_code": worker.grid,
            "household_id": household}
    answer = await client.post(PEOPLE, json=body, headers=worker.headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def visit(grid: str, people: list[str], **overrides: Any) -> dict[str, Any]:
    body = {"grid_code": grid, "registry_person_ids": people,
            "note": "独居老人身体尚好，儿子电话13912345678",
            "attachment_ids": [str(uuid.uuid4())], "location": {"lat": 24.61, "lng": 117.65},
            "visited_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}
    body.update(overrides)
    return body


async def visits_in(identity_sql: Any, grid: str) -> list[Any]:
    return await identity_sql("SELECT * FROM household_visits WHERE grid_code = :g", g=grid)


async def announced(identity_sql: Any, grid: str) -> list[dict[str, Any]]:
    rows = await identity_sql(
        "SELECT envelope FROM outbox WHERE event_type = 'identity.household_visited' "
        "AND envelope->'payload'->>'grid_code' = :g ORDER BY id", g=grid)
    return [r["envelope"]["payload"] for r in rows]


async def test_a_grid_worker_records_a_visit_to_a_household_of_their_grid(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        mother = await enter_person(client, worker, "林秀英", household="H-7")
        son = await enter_person(client, worker, "陈志明", household="H-7")
        answer = await client.post(VISITS, json=visit(worker.grid, [mother, son]),
                                   headers={**worker.headers, "Idempotency-Key": "visit-0001"})
        people = await client.get(PEOPLE, params={"region": worker.grid},
                                  headers=worker.headers)
    assert answer.status_code == 201, answer.text
    recorded = answer.json()
    assert recorded["worker_id"] == str(worker.id)
    assert recorded["household_id"] == "H-7"  # the one both people share
    assert recorded["people"] == [{"id": mother, "name_masked": "林**"},
                                  {"id": son, "name_masked": "陈**"}]
    assert recorded["note"] == "独居老人身体尚好，儿子电话139****5678"
    assert recorded["location"] == {"lat": 24.61, "lng": 117.65}
    [row] = await visits_in(identity_sql, worker.grid)
    assert "13912345678" not in row["note"]
    assert await announced(identity_sql, worker.grid) == [{
        "visit_id": recorded["id"], "worker_id": str(worker.id), "grid_code": worker.grid,
        "registry_person_ids": [mother, son], "household_id": "H-7",
        "visited_at": recorded["visited_at"].replace("+00:00", "Z")}]
    seen = {p["id"]: p["last_visited_at"] for p in people.json()["items"]}
    assert seen[mother] is not None
    assert seen[son] is not None


async def test_the_same_visit_sent_again_stays_one_visit_announced_once(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        person = await enter_person(client, worker, "黄阿婆")
        by_id = visit(worker.grid, [person], id=str(uuid.uuid4()))
        first = await client.post(VISITS, json=by_id, headers=worker.headers)
        again = await client.post(VISITS, json=by_id, headers=worker.headers)
        # The app's retry under a key of its own, its note edited since: still that visit.
        edited = await client.post(VISITS, json={**by_id, "note": "改过的记录"}, headers={
            **worker.headers, "Idempotency-Key": f"visit-{uuid.uuid4().hex}"})
        keyed = {**worker.headers, "Idempotency-Key": f"visit-{uuid.uuid4().hex}"}
        by_key = visit(worker.grid, [person], note="第二次走访")
        second = await client.post(VISITS, json=by_key, headers=keyed)
        second_again = await client.post(VISITS, json=by_key, headers=keyed)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert edited.status_code == 200, edited.text
    assert edited.json() == first.json()
    assert second.status_code == second_again.status_code == 201
    assert second_again.json() == second.json()
    assert len(await visits_in(identity_sql, worker.grid)) == 2
    assert [e["visit_id"] for e in await announced(identity_sql, worker.grid)] == [
        by_id["id"], second.json()["id"]]


async def test_the_same_visit_sent_twice_at_once_is_recorded_once(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        person = await enter_person(client, worker, "郑大伯")
        body = visit(worker.grid, [person], id=str(uuid.uuid4()))
        answers = await asyncio.gather(*(client.post(VISITS, json=body, headers=worker.headers)
                                         for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert {a.json()["id"] for a in answers} == {body["id"]}
    assert len(await visits_in(identity_sql, worker.grid)) == 1
    assert len(await announced(identity_sql, worker.grid)) == 1


async def test_a_visit_id_of_another_worker_is_not_taken_over(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    first, second = Worker(make_token, grid), Worker(make_token, grid)
    async with running(identity_app()) as client:
        person = await enter_person(client, first, "苏阿姨")
        body = visit(grid, [person], id=str(uuid.uuid4()))
        mine = await client.post(VISITS, json=body, headers=first.headers)
        theirs = await client.post(VISITS, json=body, headers=second.headers)
    assert mine.status_code == 201, mine.text
    assert_problem(theirs, 409, "visit_id_taken")
    [row] = await visits_in(identity_sql, grid)
    assert row["worker_id"] == first.id


async def test_people_outside_the_grid_are_refused_and_nothing_is_written(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    worker = Worker(make_token, new_grid())
    neighbour = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        mine = await enter_person(client, worker, "王一")
        next_door = await enter_person(client, neighbour, "王二")
        with_neighbour = await client.post(
            VISITS, json=visit(worker.grid, [mine, next_door]), headers=worker.headers)
        unknown = await client.post(
            VISITS, json=visit(worker.grid, [str(uuid.uuid4())]), headers=worker.headers)
        nobody = await client.post(VISITS, json=visit(worker.grid, []), headers=worker.headers)
    assert_problem(with_neighbour, 422, "person_not_in_grid")
    assert_problem(unknown, 422, "person_not_in_grid")
    assert_problem(nobody, 422, "validation_error")
    assert await visits_in(identity_sql, worker.grid) == []
    assert await announced(identity_sql, worker.grid) == []


async def test_visits_only_by_grid_workers_in_their_own_grid(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    worker = Worker(make_token, new_grid())
    outsider = Worker(make_token, new_grid())
    dispatcher = bearer(make_token(roles=["dispatcher"], regions=[TOWN]))
    async with running(identity_app()) as client:
        person = await enter_person(client, worker, "李奶奶")
        by_outsider = await client.post(VISITS, json=visit(worker.grid, [person]),
                                        headers=outsider.headers)
        by_dispatcher = await client.post(VISITS, json=visit(worker.grid, [person]),
                                          headers=dispatcher)
    assert_problem(by_outsider, 403, "out_of_scope")
    assert_problem(by_dispatcher, 403, "role_required")
    assert await visits_in(identity_sql, worker.grid) == []


@pytest.mark.parametrize(
    ("visited_at", "code"),
    [
        (timedelta(minutes=10), "time_in_future"),
        (-timedelta(days=8), "too_old"),
    ],
)
async def test_visit_times_far_from_now_are_refused(
    identity_app: Any, make_token: Any, identity_sql: Any, visited_at: timedelta, code: str
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        person = await enter_person(client, worker, "周伯")
        answer = await client.post(VISITS, headers=worker.headers, json=visit(
            worker.grid, [person], visited_at=(datetime.now(UTC) + visited_at).isoformat()))
    assert_problem(answer, 422, code)
    assert await visits_in(identity_sql, worker.grid) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"note": "很" * 2001},
        {"grid_code": "350626106001"},
        {"visited_at": "2026-12-06T08:00:00"},  # no offset
        {"attachment_ids": [str(uuid.uuid4()) for _ in range(10)]},
        {"location": {"lat": 91, "lng": 117.65}},
    ],
)
async def test_malformed_visits_are_refused(
    identity_app: Any, make_token: Any, overrides: dict[str, Any]
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        answer = await client.post(VISITS, headers=worker.headers,
                                   json=visit(worker.grid, [str(uuid.uuid4())], **overrides))
    assert_problem(answer, 422, "validation_error")


async def test_workers_read_their_own_visits_and_managers_those_of_their_region(
    identity_app: Any, make_token: Any
) -> None:
    grid = new_grid()
    first, second = Worker(make_token, grid), Worker(make_token, grid)
    town_manager = bearer(make_token(roles=["supervisor"], regions=[TOWN]))
    other_manager = bearer(make_token(roles=["dispatcher"], regions=[OTHER_TOWN]))
    async with running(identity_app()) as client:
        person = await enter_person(client, first, "吴婆婆")
        now = datetime.now(UTC)
        ids = []
        for worker, minutes in ((first, 30), (second, 20), (first, 10)):
            answer = await client.post(VISITS, headers=worker.headers, json=visit(
                grid, [person], visited_at=(now - timedelta(minutes=minutes)).isoformat()))
            ids.append(answer.json()["id"])
        own = await client.get(VISITS, headers=first.headers)
        others = await client.get(VISITS, params={"worker_id": str(second.id)},
                                  headers=first.headers)
        page_one = await client.get(VISITS, params={"grid_code": grid, "limit": 2},
                                    headers=town_manager)
        page_two = await client.get(VISITS, params={
            "grid_code": grid, "limit": 2, "cursor": page_one.json()["next_cursor"]},
            headers=town_manager)
        since = await client.get(VISITS, headers=town_manager, params={
            "grid_code": grid, "since": (now - timedelta(minutes=15)).isoformat()})
        by_worker = await client.get(VISITS, params={"worker_id": str(second.id)},
                                     headers=town_manager)
        elsewhere = await client.get(VISITS, params={"grid_code": grid}, headers=other_manager)
        their_region = await client.get(VISITS, headers=other_manager)
    assert [v["id"] for v in own.json()["items"]] == [ids[2], ids[0]]
    assert_problem(others, 403, "out_of_scope")
    assert [v["id"] for v in page_one.json()["items"] + page_two.json()["items"]] == [
        ids[2], ids[1], ids[0]]
    assert page_two.json()["next_cursor"] is None
    assert [v["id"] for v in since.json()["items"]] == [ids[2]]
    assert [v["id"] for v in by_worker.json()["items"]] == [ids[1]]
    assert_problem(elsewhere, 403, "out_of_scope")
    assert not {v["id"] for v in their_region.json()["items"]} & set(ids)


async def test_a_bad_cursor_is_refused(identity_app: Any, make_token: Any) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        answer = await client.get(VISITS, params={"cursor": "not-ours"},
                                  headers=worker.headers)
    assert_problem(answer, 400, "cursor_invalid")


async def test_the_visit_form_lists_the_people_of_the_workers_own_grid(
    identity_app: Any, make_token: Any
) -> None:
    worker = Worker(make_token, new_grid())
    neighbour = Worker(make_token, new_grid())
    dispatcher = bearer(make_token(roles=["dispatcher"], regions=[TOWN]))
    async with running(identity_app()) as client:
        person = await enter_person(client, worker, "何阿公")
        own = await client.get(PEOPLE, params={"region": worker.grid}, headers=worker.headers)
        other = await client.get(PEOPLE, params={"region": worker.grid},
                                 headers=neighbour.headers)
        managed = await client.get(PEOPLE, params={"region": worker.grid}, headers=dispatcher)
    assert own.status_code == 200, own.text
    assert [(p["id"], p["name"]) for p in own.json()["items"]] == [(person, "何**")]
    assert_problem(other, 403, "out_of_scope")
    assert [p["id"] for p in managed.json()["items"]] == [person]


async def test_a_manager_finds_who_in_a_grid_has_not_been_visited_lately(
    identity_app: Any, make_token: Any
) -> None:
    worker = Worker(make_token, new_grid())
    supervisor = bearer(make_token(roles=["supervisor"], regions=[TOWN]))
    async with running(identity_app()) as client:
        visited = await enter_person(client, worker, "高阿婆")
        forgotten = await enter_person(client, worker, "高阿公")
        answer = await client.post(VISITS, json=visit(worker.grid, [visited]),
                                   headers=worker.headers)
        assert answer.status_code == 201, answer.text
        since_yesterday = await client.get(PEOPLE, headers=supervisor, params={
            "region": worker.grid,
            "not_visited_since": (datetime.now(UTC) - timedelta(days=1)).isoformat()})
        since_now = await client.get(PEOPLE, headers=supervisor, params={
            "region": worker.grid,
            "not_visited_since": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
    assert [p["id"] for p in since_yesterday.json()["items"]] == [forgotten]
    assert {p["id"] for p in since_now.json()["items"]} == {visited, forgotten}


@pytest.mark.parametrize(
    ("since", "code"),
    [
        ("2026-12-06T08:00:00", "validation_error"),  # no offset: which 08:00?
        ("0001-01-01T00:00:00+14:00", "date_range_invalid"),  # no UTC instant
    ],
)
async def test_list_bounds_without_a_clear_moment_are_refused(
    identity_app: Any, make_token: Any, since: str, code: str
) -> None:
    worker = Worker(make_token, new_grid())
    async with running(identity_app()) as client:
        visits = await client.get(VISITS, params={"since": since}, headers=worker.headers)
        people = await client.get(PEOPLE, params={"not_visited_since": since},
                                  headers=worker.headers)
    assert_problem(visits, 422, code)
    assert_problem(people, 422, code)


async def test_a_visit_sent_three_times_reaches_the_broker_once(
    identity_app: Any, make_token: Any, amqp_url: str, amqp_prefix: str
) -> None:
    worker = Worker(make_token, new_grid())
    received: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    try:
        app = identity_app(broker="rabbitmq", amqp_url=amqp_url, amqp_prefix=amqp_prefix)
        async with running(app) as client:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True)
            await queue.bind(f"{amqp_prefix}.events",
                             routing_key="identity.household_visited.v1")

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                received.append(json.loads(message.body))
                await message.ack()

            await queue.consume(on_message)
            person = await enter_person(client, worker, "曾阿婆")
            body = visit(worker.grid, [person], id=str(uuid.uuid4()))
            for _ in range(3):
                answer = await client.post(VISITS, json=body, headers=worker.headers)
                assert answer.status_code in (200, 201), answer.text

            async def arrived() -> bool:
                return any(m["payload"]["visit_id"] == body["id"] for m in received)

            await wait_until(arrived, within=15)
            await asyncio.sleep(0.5)  # a second copy, were there one, would be here by now
    finally:
        await connection.close()
    mine = [m for m in received if m["payload"]["visit_id"] == body["id"]]
    assert len(mine) == 1
    assert mine[0]["producer"] == "identity"
    assert mine[0]["payload"]["registry_person_ids"] == [person]


async def test_grid_worker_accounts_and_visits_log_no_personal_data(
    identity_app: Any, make_token: Any
) -> None:
    worker = Worker(make_token, new_grid())
    phone, id_number, name = "13698765432", unique_id_number(), "欧阳走访"
    app = identity_app(log_level="DEBUG")
    root = logging.getLogger()  # after create_app: configuring logs replaces root handlers
    capture = Capture(root.handlers[0].formatter if root.handlers else None)
    previous_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        async with running(app) as client:
            created = await client.post(
                "/api/v1/identity/staff/grid-workers",
                headers=bearer(make_token(roles=["dispatcher"], regions=[TOWN])),
                json={"username": f"gw{uuid.uuid4().hex[:10]}", "password": "long-password-1",
                      "display_name": name, "phone": phone, "grid_codes": [worker.grid]})
            assert created.status_code == 201, created.text
            person = await enter_person(client, worker, name)
            note = f"{name}说电话{phone}，身份证{id_number}"
            recorded = await client.post(VISITS, json=visit(worker.grid, [person], note=note),
                                         headers=worker.headers)
            assert recorded.status_code == 201, recorded.text
            refused = await client.post(VISITS, headers=worker.headers, json=visit(
                worker.grid, [str(uuid.uuid4())], note=note))
            assert refused.status_code == 422
            await client.get(VISITS, headers=worker.headers)
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)
    logged = "\n".join(capture.lines)
    assert "household_visited" in logged  # the flow ran and was logged
    assert "grid_worker_account_created" in logged
    for needle in (phone, id_number, name):
        where = logged.find(needle)
        assert where < 0, (needle[:4], logged[max(0, where - 1500):where + 50])
