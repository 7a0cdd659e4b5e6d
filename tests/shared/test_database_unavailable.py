"""A request our own database fails (unreachable, connection lost, too many connections, a
serialization failure that survived) answers 503 ``database_unavailable`` with Retry-After,
logged as a warning without the statement; the work's own errors stay 500s."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.problems import PROBLEM_JSON
from shared.testing.plugin import running
from shared.testing.tcpproxy import TcpProxy
from shared.web.problems import install_error_handlers
from tests.shared.conftest import ProbeWorld


def _assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_a_request_while_the_database_is_unreachable_is_a_503_to_retry(
    probe_world: ProbeWorld, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged = _RecordingLog()
    monkeypatch.setattr("shared.web.problems.log", logged)
    proxy = await TcpProxy.to_url(database_url).start()
    proxied = proxy.through(database_url)
    app = probe_world.producer(broker="memory", database_url=proxied, run_relay=False)
    try:
        async with running(app) as client:
            written = await client.post("/api/v1/events/probes", json={"sequence": 1})
            assert written.status_code == 201  # pooled connections exist, then are cut
            await proxy.cut()
            for sequence in (2, 3):  # a connection lost, then none to be had
                _assert_database_unavailable(
                    await client.post("/api/v1/events/probes", json={"sequence": sequence})
                )
            proxy.restore()
            again = await client.post("/api/v1/events/probes", json={"sequence": 4})
            assert again.status_code == 201
    finally:
        await proxy.close()
    assert [event for level, event, _ in logged.calls] == ["database_unavailable"] * 2
    assert {level for level, _, _ in logged.calls} == {"warning"}  # no stack trace
    assert "INSERT" not in repr(logged.calls)  # neither the statement nor its parameters


class _RecordingLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, object]]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.calls.append(("warning", event, fields))

    def exception(self, event: str, **fields: object) -> None:
        self.calls.append(("exception", event, fields))


def _failing_app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/work")
    async def work() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/work")


@pytest.mark.parametrize("error", [
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
])
async def test_the_database_refusing_work_is_a_503_not_a_500(error: Exception) -> None:
    _assert_database_unavailable(await _get(_failing_app(error)))


async def test_an_error_of_the_work_itself_is_still_a_500() -> None:
    response = await _get(_failing_app(asyncpg.UniqueViolationError("duplicate key")))
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
