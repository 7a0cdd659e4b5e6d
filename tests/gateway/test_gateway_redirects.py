"""No answer through the gateway names an internal host: services do not redirect to add or
drop a trailing slash (404 problem instead), and any Location a service builds from the
address it was reached at is made relative to the public one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from gateway import AsgiUpstream, create_gateway_app
from gateway.upstreams import public_locations
from shared.auth import TokenVerifier
from shared.settings import ServiceSettings
from shared.web import create_service_app
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import gateway_settings


async def test_a_trailing_slash_through_the_gateway_names_no_internal_host(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The stand-ins keep FastAPI's slash redirects: what they answer is the gateway's to
    clean, in-process (host "events") and over HTTP (host 127.0.0.1) alike."""
    response = await client.get("/api/v1/events/whoami/", headers=auth)
    assert response.status_code == 307
    location = response.headers["location"]
    assert location == "/api/v1/events/whoami", location
    followed = await client.get(location, headers=auth)
    assert followed.json() == {"service": "events"}


def test_an_absolute_location_to_another_host_is_left_alone() -> None:
    headers = [(b"location", b"https://example.org/pay?x=1")]
    assert public_locations(headers, "events") == headers
    cleaned = public_locations([(b"Location", b"http://events:8000//evil.test/x?q=1")], "events")
    assert cleaned == [(b"Location", b"/evil.test/x?q=1")]


@pytest.fixture
async def real_service_client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    """A service built the one way services are built (create_service_app), behind the
    gateway in-process; routing a request needs no database."""
    router = APIRouter()

    @router.get("/api/v1/events")
    async def list_events() -> list[str]:
        return []

    settings = ServiceSettings(
        environment="test", database_url="postgresql://unused@127.0.0.1:1/none", broker="memory"
    )
    service = create_service_app(settings, title="events", routers=[router], verifier=verifier)
    gateway = create_gateway_app(
        gateway_settings(public_paths=[("GET", "/api/v1/events")]),
        upstreams={"events": AsgiUpstream("events", service)},
        verifier=verifier,
    )
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


async def test_a_trailing_slash_on_a_service_is_a_404_problem_not_a_redirect(
    real_service_client: httpx.AsyncClient,
) -> None:
    response = await real_service_client.get("/api/v1/events/")
    assert_problem(response, 404, "not_found")
    assert "location" not in response.headers
    assert (await real_service_client.get("/api/v1/events")).status_code == 200
