"""One guard for every service (shared.web.middleware.RefuseNulMiddleware): a NUL character,
which PostgreSQL text and jsonb cannot hold, anywhere in a JSON body, a query string or a
path is a 422 ``validation_error`` before any handler runs, so nothing is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.embedded import assemble_gateway, build_service_apps
from gateway.settings import GatewaySettings
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.db.migrate import SERVICES, schema_name
from shared.testing.plugin import Migrator
from shared.web.middleware import RefuseNulMiddleware, nul_location

GRID = "350626106001001"


class _Note(BaseModel):
    text: str  # a plain str: nothing in the schema refuses NUL


def _echo_app() -> FastAPI:
    router = APIRouter()

    @router.post("/notes")
    async def note(body: _Note) -> dict[str, str]:
        return {"text": body.text}

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(RefuseNulMiddleware)
    return app


@pytest.fixture
async def echo() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def test_the_location_of_a_nul_is_found_in_keys_values_and_deep_nesting() -> None:
    assert nul_location({"a": [1, {"b": "x\x00"}]}) == ["a", 1, "b"]
    assert nul_location({"k\x00": 1}) == ["k\x00"]
    assert nul_location([[[[["\x00"]]]]]) == [0, 0, 0, 0, 0]
    assert nul_location({"a": "\\u0000", "b": [None, 1.5, True]}) is None


async def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(
    echo: httpx.AsyncClient,
) -> None:
    response = await echo.post("/notes", content=b'{"text": "C:\\\\u0000"}',
                               headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "C:\\u0000"}


async def test_a_nul_in_utf16_json_is_refused_too(echo: httpx.AsyncClient) -> None:
    body = json.dumps({"text": "a\x00b"}).encode("utf-16")
    response = await echo.post("/notes", content=body,
                               headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "nul_character"


async def test_a_body_without_content_type_is_checked_and_other_bodies_pass_untouched(
    echo: httpx.AsyncClient,
) -> None:
    untyped = await echo.post("/notes", content=b'{"text": "a\\u0000"}')
    form = await echo.post("/notes", files={"file": ("a.bin", b"\\u0000\x00", "x/y")})
    chunked = await echo.post("/notes", content=_chunks([b'{"text": "a', b'\\u00', b'00"}']),
                              headers={"content-type": "application/json"})
    assert untyped.status_code == 422
    assert untyped.json()["errors"][0]["loc"] == ["body", "text"]
    assert form.status_code == 422  # FastAPI's own answer (a form is not a note), not ours
    assert "code" not in form.json()
    assert chunked.status_code == 422
    assert chunked.json()["code"] == "validation_error"


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# -- every service, through the gateway ----------------------------------------------------------


@pytest.fixture(scope="module")
async def platform(
    database_url: str, migrator: Migrator, run_prefix: str, signing_key: SigningKey,
    token_verifier: TokenVerifier,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Every service app and the partner app behind the real gateway, in-memory broker."""
    prefix = f"{run_prefix}n{uuid.uuid4().hex[:5]}"
    await migrator.ensure(*SERVICES, "partner", prefix=prefix)
    apps = build_service_apps(
        database_url=database_url, amqp_url=None, signing_key=signing_key,
        verifier=token_verifier,
        # Requests only: few connections, no relay, consumers or workers (an outbox row a
        # refused request wrote would stay, and be counted).
        settings_overrides={"environment": "test", "schema_prefix": prefix, "db_pool_size": 2,
                            "run_relay": False, "run_consumers": False, "run_workers": False},
    )
    gateway = assemble_gateway(GatewaySettings(), apps, token_verifier)
    async with gateway.lifespan(), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
    ) as client:
        yield client, prefix


async def _row_counts(database_url: str, schema: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = (await conn.execute(text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = :s AND table_type = 'BASE TABLE'"), {"s": schema}
            )).scalars().all()
            return {t: (await conn.execute(text(f'SELECT count(*) FROM "{schema}"."{t}"'))
                        ).scalar_one() for t in tables}
    finally:
        await engine.dispose()


_NUL_ANYWHERE: dict[str, tuple[str, str, tuple[str, ...], dict[str, Any]]] = {
    # service: method, path, roles, a body whose only fault is one NUL somewhere
    "events": ("POST", "/api/v1/events", ("resident",), {
        "category_code": "dispute_tenancy", "description": "房东不退押金", "region_code": GRID,
        "fields": {"party_role": "tenant", "note": ["ok", "楼下\x00"]}}),
    "routing": ("PUT", "/api/v1/routing/regions/350626", ("admin",), {"name": "霞浦\x00县"}),
    "feedback": ("POST", "/api/v1/feedback/ratings", ("resident",), {
        "event_id": str(uuid.uuid4()), "score": 5, "comment": "ok", "extra\x00": 1}),
    "relief": ("POST", "/api/v1/relief/applications", ("resident",), {
        "region_code": GRID, "reason": "因病\x00致贫"}),
    "booking": ("POST", "/api/v1/booking/rounds", ("admin",), {"title": "口罩\x00"}),
    "partner": ("POST", "/open/v1/events", (), {
        "request_id": "r-1", "category_code": "dispute_tenancy",
        "description": "有人\x00", "region_code": GRID}),
}


@pytest.mark.parametrize("service", sorted(_NUL_ANYWHERE))
async def test_a_nul_anywhere_in_a_json_body_is_a_422_and_nothing_is_written(
    service: str, platform: tuple[httpx.AsyncClient, str], database_url: str,
    make_token: Callable[..., str],
) -> None:
    client, prefix = platform
    method, path, roles, body = _NUL_ANYWHERE[service]
    headers = {"content-type": "application/json"}
    if roles:
        headers["authorization"] = f"Bearer {make_token(roles=list(roles))}"
    schema = schema_name(service, prefix)
    before = await _row_counts(database_url, schema)
    response = await client.request(method, path, content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["type"] == "nul_character"
    assert problem["errors"][0]["loc"][0] == "body"
    assert await _row_counts(database_url, schema) == before
