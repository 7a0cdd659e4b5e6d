"""POST /api/v1/events is answered by services/events/fastlane.py, not FastAPI: for every
input the lane must answer exactly what the route declared in api.py answers (status, content
type, headers that matter, body), write exactly what it writes, and keep the platform's
request ids and metrics."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, get_type_hints

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware import Middleware

from services.events import api, service
from services.events.app import create_app
from services.events.fastlane import ReportFastLane
from services.events.schemas import EventCreate
from services.events.settings import Settings
from shared.testing.plugin import running
from shared.web.deps import IdempotencyKey
from tests.events.flows import GRID, OTHER_GRID, Loop, MovableClock, bearer

URL = "/api/v1/events"
_JSON = {"Content-Type": "application/json"}
_CASE_NO = re.compile(r"^[A-Z]+-\d{8}-\d{6}$")
Post = Callable[..., Awaitable[httpx.Response]]


def _lane_of(app: Any) -> Middleware:
    (lane,) = [m for m in app.user_middleware if m.cls is ReportFastLane]
    return lane


def _count_lane_answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the lane answers from now on (its ``handle`` is looked up on the class)."""
    answered: list[str] = []
    handle = ReportFastLane.handle

    async def counted(self: ReportFastLane, params: tuple[str, ...], scope: Any,
                      receive: Any) -> tuple[int, dict[str, Any]]:
        answered.append(scope["path"])
        return await handle(self, params, scope, receive)

    monkeypatch.setattr(ReportFastLane, "handle", counted)
    return answered


@pytest.fixture(name="framework")
async def framework_fixture(loop: Loop, service_settings: Callable[..., Any],
                            token_verifier: Any, clock: MovableClock, tmp_path: Any
                            ) -> AsyncIterator[httpx.AsyncClient]:
    """The events app on the loop's schema without the lane: FastAPI runs the route. Its
    outbox is the loop's (relayed by the loop's events app); it consumes nothing."""
    lane_app = loop.apps["events"]  # type: ignore[attr-defined]
    settings = service_settings(Settings, schema_prefix=lane_app.state.settings.schema_prefix,
                                attachment_dir=str(tmp_path), run_relay=False,
                                run_consumers=False)
    app = create_app(settings, verifier=token_verifier, clock=clock)
    app.user_middleware.remove(_lane_of(app))
    async with running(app) as client:
        yield client


def _report(**overrides: Any) -> dict[str, Any]:
    """A report no other report resembles (no duplicate hint differs between two runs)."""
    body: dict[str, Any] = {
        "category_code": "dispute_tenancy",
        "description": f"{uuid.uuid4().hex} {uuid.uuid4().hex}",
        "region_code": GRID,
        "fields": {"party_role": "tenant"},
    }
    return body | overrides


def _answer(response: httpx.Response) -> tuple[int, str, str | None, Any]:
    """What a client sees, with the values that differ by nature (ids) made placeholders."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)  # each request's own
        if response.status_code == 201:
            assert _CASE_NO.match(body["case_no"]), body
            body |= {"id": "<id>", "case_no": "<case_no>"}
    return (response.status_code, response.headers["content-type"],
            response.headers.get("www-authenticate"), body)


async def _story(loop: Loop, post: Post) -> tuple[list[Any], uuid.UUID, list[str]]:
    """Every kind of report, through ``post``, by a resident of its own."""
    subject = uuid.uuid4()
    resident = bearer(loop.people.resident(subject=subject))
    unverified = bearer(loop.people.resident(subject=subject, verified=False))
    key = {"Idempotency-Key": f"report-{uuid.uuid4().hex}"}
    first = _report()
    answers = [
        await post(URL, json=first, headers=resident | key),
        await post(URL, json=first, headers=resident | key),  # retried: the same answer
        await post(URL, json=_report(), headers=resident | key),  # the key reused
        await post(URL, json=_report(), headers=resident),  # no key: a case of its own
        await post(URL, json=_report()),
        await post(URL, json=_report(), headers={"Authorization": "Bearer "}),
        await post(URL, json=_report(), headers={"Authorization": "Bearer x.y.z"}),
        await post(URL, json=_report(), headers={"Authorization": "Basic abc"}),
        await post(URL, json=_report(description="x", region_code=1), headers=resident),
        await post(URL, json=_report(colour="red"), headers=resident),  # extra: forbidden
        await post(URL, content=b"{not json", headers=resident | _JSON),
        await post(URL, content=b"{not json", headers=_JSON),  # refused before the token
        await post(URL, json=_report(description="x")),  # the token before the body
        await post(URL, content=b'{"category_code": "x"}', headers=resident),  # not JSON
        await post(URL, content=b"", headers=resident | _JSON),
        await post(URL, content=b"null", headers=resident | _JSON),
        await post(URL, json={"description": "x"},
                   headers=resident | {"Idempotency-Key": "short"}),
        await post(URL, json=_report(), headers=resident | {"Idempotency-Key": "bad key!"}),
        await post(URL, json=_report(category_code="no_such_category"), headers=resident),
        await post(URL, json=_report(fields={}), headers=resident),
        await post(URL, json=_report(region_code="350626106999"), headers=resident),
        await post(URL, json=_report(attachments=[str(uuid.uuid4())]), headers=resident),
        await post(URL, json=_report(category_code="telecom_fraud",
                                     fields={"channel": "phone"}), headers=unverified),
        await post(URL, json=_report(), headers=bearer(loop.people.grid_worker(OTHER_GRID))),
        await post(URL, json=_report(), headers=bearer(loop.people.dispatcher())),
    ]
    created = [a.json()["id"] for a in answers if a.status_code == 201]
    return [_answer(a) for a in answers], subject, created


async def _written(loop: Loop, subject: uuid.UUID, created: set[str]) -> tuple[int, ...]:
    """Cases by the reporter, and outbox rows, events.event_reported and idempotency keys."""
    assert loop.sql is not None
    ids = ", ".join(f"'{i}'" for i in created)
    return (
        await loop.sql("events", f"SELECT count(*) FROM cases WHERE reporter_id = '{subject}'"),
        await loop.sql("events", "SELECT count(*) FROM outbox WHERE event_type = "
                       f"'events.event_reported' AND envelope->'payload'->>'event_id' IN ({ids})"),
        await loop.sql("events", "SELECT count(*) FROM idempotency_keys WHERE scope = "
                       f"'events.report:{subject}'"),
    )


async def test_the_lane_answers_every_case_exactly_as_the_declared_route(
    loop: Loop, framework: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same requests, once through the lane and once through FastAPI (each by a resident
    of its own): the same status, content type and body, and the same rows."""
    answered = _count_lane_answers(monkeypatch)
    through_lane, lane_subject, lane_created = await _story(loop, loop.events.post)
    assert answered == [URL] * len(through_lane)  # the lane took every one
    through_route, route_subject, route_created = await _story(loop, framework.post)
    assert len(answered) == len(through_lane)  # and none of the framework's

    assert through_lane == through_route
    assert [(status, body.get("code")) for status, _, _, body in through_lane] == [
        (201, None), (201, None), (422, "idempotency_key_reused"), (201, None),
        (401, "token_missing"), (401, "token_invalid"), (401, "token_invalid"),
        (401, "token_invalid"), (422, "validation_error"), (422, "validation_error"),
        (422, "validation_error"), (422, "validation_error"), (401, "token_missing"),
        (422, "validation_error"), (422, "validation_error"), (422, "validation_error"),
        (422, "validation_error"), (422, "validation_error"), (422, "category_unknown"),
        (422, "template_field_missing"), (422, "region_unknown"), (400, "attachment_invalid"),
        (403, "verification_required"), (403, "out_of_scope"), (403, "role_required"),
    ]
    assert through_lane[0][3] == {"id": "<id>", "case_no": "<case_no>", "status": "reported",
                                  "possible_duplicate_of": None}
    assert through_lane[8][3]["errors"] == [
        {"loc": ["body", "description"], "msg": "String should have at least 2 characters",
         "type": "string_too_short"},
        {"loc": ["body", "region_code"], "msg": "Input should be a valid string",
         "type": "string_type"}]
    assert [e["loc"] for e in through_lane[16][3]["errors"]] == [
        ["header", "Idempotency-Key"], ["body", "category_code"], ["body", "description"],
        ["body", "region_code"]]
    # The retry answered the first case; two cases each way, one event each, one key each.
    assert lane_created[0] == lane_created[1] != lane_created[2]
    assert route_created[0] == route_created[1] != route_created[2]
    assert await _written(loop, lane_subject, {*lane_created}) == (2, 2, 1)
    assert await _written(loop, route_subject, {*route_created}) == (2, 2, 1)


async def test_a_reported_case_reads_the_same_through_either_way(
    loop: Loop, framework: httpx.AsyncClient
) -> None:
    token = bearer(loop.people.resident())
    body = _report(address="Dongmen Road 12", location={"lat": 23.7, "lng": 117.4},
                   urgency="urgent")
    by_lane = (await loop.events.post(URL, json=body, headers=token)).json()
    by_route = (await framework.post(URL, json=body | {"description": _report()["description"]},
                                     headers=token)).json()

    cases = [(await framework.get(f"{URL}/{created['id']}", headers=token)).json()
             for created in (by_lane, by_route)]

    different = {"id", "case_no", "description", "reported_at", "accept_by", "resolve_by",
                 "status", "assignee"}  # routing assigns each in its own time
    lane_case, route_case = ({k: v for k, v in case.items() if k not in different}
                             for case in cases)
    assert lane_case == route_case
    assert lane_case["address"] == "Dongmen Road 12"
    assert cases[0]["description"] == body["description"]
    assert cases[0]["case_no"] == by_lane["case_no"]


async def test_the_lane_keeps_request_ids_and_metrics_and_the_framework_is_not_reached(
    loop: Loop
) -> None:
    app = loop.apps["events"]  # type: ignore[attr-defined]
    sent = await loop.events.post(URL, json=_report(), headers=bearer(
        loop.people.resident(), **{"X-Request-ID": "req-report-1"}))

    assert sent.status_code == 201
    assert sent.headers["x-request-id"] == "req-report-1"
    assert sent.headers["content-type"] == "application/json"
    metrics = (await loop.events.get("/metrics")).text
    assert 'route="/api/v1/events",service="events",status="201"' in metrics

    async def framework(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the report fell through to the framework")

    lane = ReportFastLane(framework, runtime=lambda: app.state.runtime)
    messages: list[MutableMapping[str, Any]] = []
    bodies = [{"type": "http.request", "body": httpx.Request("POST", "/", json=_report()).read()}]

    async def receive() -> dict[str, Any]:
        return bodies.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    token = bearer(loop.people.resident())["Authorization"]
    await lane({"type": "http", "method": "POST", "path": URL,
                "headers": [(b"authorization", token.encode()),
                            (b"content-type", b"application/json")]}, receive, send)
    assert messages[0]["status"] == 201
    assert loop.sql is not None
    created = json.loads(messages[1]["body"])
    assert await loop.sql("events", f"SELECT count(*) FROM cases WHERE id = '{created['id']}'") == 1


async def test_a_body_past_the_limit_is_refused_unread(loop: Loop) -> None:
    """The one answer the route has not: it declares no limit, the lane reads 64 KiB."""
    huge = await loop.events.post(URL, content=b" " * 70_000,
                                  headers=bearer(loop.people.resident(), **_JSON))
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    assert huge.headers["content-type"] == "application/problem+json"


async def test_an_exhausted_pool_is_answered_as_the_framework_answers_it(
    loop: Loop, framework: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def exhausted(*_: Any, **__: Any) -> Any:
        raise PoolTimeout("QueuePool limit of size 5 overflow 0 reached")

    monkeypatch.setattr(service, "report_event", exhausted)
    token = bearer(loop.people.resident())
    answers = [await post(URL, json=_report(), headers=token)
               for post in (loop.events.post, framework.post)]

    assert [_answer(a) for a in answers] == [_answer(answers[1])] * 2
    assert (answers[0].status_code, answers[0].json()["code"]) == (503, "overloaded")
    assert answers[0].headers["retry-after"] == answers[1].headers["retry-after"] == "1"


def test_the_lane_serves_the_route_api_py_declares() -> None:
    """One declaration: the lane's path, body model and header rule are the route's."""
    declared = get_type_hints(api.report, include_extras=True)
    assert declared["body"] is EventCreate
    assert declared["key"] == IdempotencyKey
    assert ReportFastLane.route.path == URL
    assert ReportFastLane.method == "POST"
