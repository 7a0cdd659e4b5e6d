"""POST …/patrols/{id}/points is answered by services/routing/fastlane.py, not FastAPI: for
every input the lane must answer exactly what the route declared in api/duty.py answers
(status, content type, body), write exactly what it writes, and keep the platform's request
ids and metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import datetime
from typing import Any, get_type_hints

import httpx
import pytest
from starlette.middleware import Middleware

from services.routing.api import duty as duty_api
from services.routing.app import create_app
from services.routing.fastlane import PatrolPointsLane, PointsPool
from services.routing.schemas_duty import PointBatch
from services.routing.settings import Settings
from shared.testing.plugin import Migrator, running
from shared.testing.tcpproxy import TcpProxy
from tests.routing.test_grid_duty_support import (
    NOW,
    ROUTING,
    Duty,
    at,
    duty_fixture,  # noqa: F401  (the ``duty`` fixture)
    fresh_grid,
)


def _points(count: int, minute: float = -20.0) -> list[dict[str, Any]]:
    return [{"lat": 24.5 + i / 10_000, "lng": 117.5, "at": at(minute + i / 60),
             "accuracy_m": 5} for i in range(count)]


_JSON = {"Content-Type": "application/json"}


def _lane_of(app: Any) -> Middleware:
    (lane,) = [m for m in app.user_middleware if m.cls is PatrolPointsLane]
    return lane


@pytest.fixture(name="framework")
async def framework_fixture(migrator: Migrator, service_settings: Callable[..., Any],
                            token_verifier: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same routing app on the same schema without the lane: FastAPI runs the route."""
    await migrator.ensure("routing")
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier, clock=lambda: NOW)
    app.user_middleware.remove(_lane_of(app))
    async with running(app) as client:
        yield client


def _answer(response: httpx.Response) -> tuple[int, str, Any]:
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)  # each request's own
    return response.status_code, response.headers["content-type"], body


async def _count(duty: Duty, patrol_id: str) -> int:
    return int(await duty.sql("SELECT count(*) FROM patrol_points WHERE patrol_id = :i",
                              i=patrol_id))


async def _start(duty: Duty, worker: dict[str, str], grid: str) -> str:
    patrol_id = str(uuid.uuid4())
    made = await duty.post("/patrols", worker, {"id": patrol_id, "grid_code": grid,
                                                "started_at": at(-30)})
    assert made.status_code == 201, made.text
    return patrol_id


async def test_the_lane_answers_every_case_exactly_as_the_declared_route(
    duty: Duty, framework: httpx.AsyncClient
) -> None:
    """The same requests, once through the lane and once through FastAPI (each on a patrol
    of its own): the same status, content type and body, and the same rows."""
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    _, colleague = duty.worker(grid)
    manager = duty.manager()

    async def story(post: Callable[..., Any]) -> tuple[list[Any], str]:
        patrol_id = await _start(duty, worker, grid)
        url = f"{ROUTING}/patrols/{patrol_id}/points"
        good = {"batch_seq": 0, "points": _points(50)}
        answers = [
            await post(url, json=good, headers=worker),
            await post(url, json=good, headers=worker),  # resent: a no-op
            await post(url, json={"batch_seq": 1, "points": []}, headers=worker),
            await post(url, json={"batch_seq": -1, "points": [{"lat": 91, "lng": 117.5,
                                                               "at": "yesterday"}]},
                       headers=worker),
            await post(url, content=b"{not json", headers=worker | _JSON),
            await post(url, content=b"{not json", headers=_JSON),  # before the token
            await post(url, content=b'{"batch_seq": 1}', headers=worker),  # no JSON type
            await post(url, content=b"", headers=worker | _JSON),
            await post(url, content=b"null", headers=worker | _JSON),
            await post(url, json={"batch_seq": 1, "points": _points(201)}, headers=worker),
            await post(f"{ROUTING}/patrols/not-a-uuid/points", json=good, headers=worker),
            await post(url, json={"batch_seq": 1, "points": _points(3)}),
            await post(url, json={"batch_seq": 1, "points": _points(3)},
                       headers={"Authorization": "Bearer x.y.z"}),
            await post(url, json={"batch_seq": 1, "points": _points(3)}, headers=colleague),
            await post(url, json={"batch_seq": 1, "points": _points(3)}, headers=manager),
            await post(f"{ROUTING}/patrols/{uuid.uuid4()}/points", json=good,
                       headers=worker),
        ]
        finished = await duty.post(f"/patrols/{patrol_id}/finish", worker,
                                   {"ended_at": at(-1)})
        assert finished.status_code == 200, finished.text
        answers += [
            await post(url, json={"batch_seq": 1, "points": _points(3)}, headers=worker),
            await post(url, json=good, headers=worker),  # resent after the finish
        ]
        return [_answer(a) for a in answers], patrol_id

    through_lane, lane_patrol = await story(duty.client.post)
    through_route, route_patrol = await story(framework.post)

    assert through_lane == [
        (*answer[:2], _same_patrol(answer[2], route_patrol, lane_patrol))
        for answer in through_route]
    assert [status for status, _, _ in through_lane] == [
        200, 200, 422, 422, 422, 422, 422, 422, 422, 422, 422, 401, 401, 403, 403, 404, 409,
        200]
    assert through_lane[0][2]["accepted"] == 50
    assert through_lane[1][2]["duplicate"] is True
    assert through_lane[-1][2]["duplicate"] is True
    assert await _count(duty, lane_patrol) == await _count(duty, route_patrol) == 50


def _same_patrol(body: Any, route_patrol: str, lane_patrol: str) -> Any:
    """The route's answer as it reads for the lane's patrol (the only difference)."""
    if isinstance(body, dict) and body.get("patrol_id") == route_patrol:
        return body | {"patrol_id": lane_patrol}
    return body


async def test_bad_input_is_refused_with_its_reasons_and_writes_nothing(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _start(duty, worker, grid)
    url = f"{ROUTING}/patrols/{patrol_id}/points"

    refused = await duty.client.post(url, headers=worker, json={
        "batch_seq": 0, "points": [*_points(2), {"lat": 24.5, "lng": 200, "at": at()}]})
    huge = await duty.client.post(url, headers=worker, content=b" " * 300_000)

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "validation_error"
    assert [e["loc"] for e in problem["errors"]] == [["body", "points", 2, "lng"]]
    assert "200" not in str(problem["errors"])  # the input is never echoed back
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    assert await _count(duty, patrol_id) == 0
    assert await duty.sql("SELECT count(*) FROM patrol_batches WHERE patrol_id = :i",
                          i=patrol_id) == 0


async def test_a_batch_without_a_token_or_of_another_worker_is_refused(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    _, colleague = duty.worker(grid)
    patrol_id = await _start(duty, worker, grid)
    url = f"{ROUTING}/patrols/{patrol_id}/points"
    batch = {"batch_seq": 0, "points": _points(3)}

    anonymous = await duty.client.post(url, json=batch)
    empty = await duty.client.post(url, json=batch, headers={"Authorization": "Bearer "})
    foreign = await duty.client.post(url, json=batch, headers=colleague)

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "token_missing")
    assert (empty.status_code, empty.json()["code"]) == (401, "token_invalid")
    assert empty.headers["www-authenticate"] == "Bearer"
    assert (foreign.status_code, foreign.json()["code"]) == (403, "out_of_scope")
    assert await _count(duty, patrol_id) == 0
    mine = await duty.client.post(url, json=batch, headers=worker)
    assert mine.json()["accepted"] == 3


async def test_the_lane_keeps_request_ids_and_metrics_and_the_framework_is_not_reached(
    duty: Duty
) -> None:
    grid = fresh_grid()
    worker_id, worker = duty.worker(grid)
    patrol_id = await _start(duty, worker, grid)
    url = f"{ROUTING}/patrols/{patrol_id}/points"

    sent = await duty.client.post(url, json={"batch_seq": 0, "points": _points(4)},
                                  headers=worker | {"X-Request-ID": "req-points-1"})

    assert sent.status_code == 200
    assert sent.headers["x-request-id"] == "req-points-1"
    assert sent.headers["content-type"] == "application/json"
    metrics = (await duty.client.get("/metrics")).text
    assert 'route="/api/v1/routing/patrols/{patrol_id}/points",service="routing",' \
           'status="200"' in metrics

    async def framework(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the points upload fell through to the framework")

    points = _lane_of(duty.app).kwargs["points"]
    assert isinstance(points, PointsPool)
    lane = PatrolPointsLane(framework, runtime=lambda: duty.app.state.runtime, points=points)
    token = worker["Authorization"]
    messages: list[MutableMapping[str, Any]] = []
    bodies = [{"type": "http.request",
               "body": httpx.Request("POST", "/", json={"batch_seq": 1,
                                                        "points": _points(2)}).read()}]

    async def receive() -> dict[str, Any]:
        return bodies.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await lane({"type": "http", "method": "POST", "path": url,
                "headers": [(b"authorization", token.encode()),
                            (b"content-type", b"application/json")]}, receive, send)
    assert messages[0]["status"] == 200
    assert await _count(duty, patrol_id) == 6
    assert worker_id


def test_the_lane_serves_the_route_api_duty_declares() -> None:
    """One declaration: the lane's path and body model are the route's."""
    declared = get_type_hints(duty_api.add_points, include_extras=True)
    assert declared["body"] is PointBatch
    assert PatrolPointsLane.route.path == f"{ROUTING}/patrols/{{patrol_id}}/points"


async def test_point_times_are_stored_to_the_microsecond_in_any_offset(duty: Duty) -> None:
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _start(duty, worker, grid)
    sent = ["2026-12-07T09:40:00.000001+08:00", "2026-12-07T01:40:00.999999Z",
            "2026-12-07T01:41:59.123457+00:00", "2026-12-06T21:42:00-04:00"]
    await duty.client.post(f"{ROUTING}/patrols/{patrol_id}/points", headers=worker, json={
        "batch_seq": 0, "points": [{"lat": 24.5, "lng": 117.5, "at": t} for t in sent]})

    track = (await duty.get(f"/patrols/{patrol_id}/track", worker)).json()["points"]

    assert [datetime.fromisoformat(p[2]) for p in track] == [
        datetime.fromisoformat(t) for t in sent]


async def test_a_batch_while_the_database_is_unreachable_is_a_503_to_retry(
    duty: Duty, migrator: Migrator, service_settings: Callable[..., Any],
    token_verifier: Any, database_url: str
) -> None:
    """As everywhere else: 503 database_unavailable with Retry-After, never a 500, and the
    batch sent again once the database is back is stored once."""
    grid = fresh_grid()
    _, worker = duty.worker(grid)
    patrol_id = await _start(duty, worker, grid)
    proxy = await TcpProxy.to_url(database_url).start()
    settings = service_settings(Settings, run_timer_scanner=False,
                                database_url=proxy.through(database_url))
    app = create_app(settings, verifier=token_verifier, clock=lambda: NOW)
    url = f"{ROUTING}/patrols/{patrol_id}/points"
    try:
        async with running(app) as client:
            first = await client.post(url, headers=worker,
                                      json={"batch_seq": 0, "points": _points(5)})
            await proxy.cut()
            cut = await client.post(url, headers=worker,
                                    json={"batch_seq": 1, "points": _points(5, -10)})
            proxy.restore()
            again = await client.post(url, headers=worker,
                                      json={"batch_seq": 1, "points": _points(5, -10)})
    finally:
        await proxy.close()

    assert first.json()["accepted"] == 5
    assert (cut.status_code, cut.json()["code"]) == (503, "database_unavailable")
    assert cut.headers["content-type"] == "application/problem+json"
    assert int(cut.headers["retry-after"]) >= 1
    assert again.json()["accepted"] == 5
    assert await _count(duty, patrol_id) == 10
