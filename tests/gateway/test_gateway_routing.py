"""Routing: the first segment after /api/v1/ names the service; nothing else gets through."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from gateway import SERVICES, GatewayApp
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import call_raw


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_receives_its_own_paths(
    client: httpx.AsyncClient, auth: dict[str, str], service: str
) -> None:
    response = await client.get(f"/api/v1/{service}/whoami", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"service": service}


async def test_service_root_path_routes_to_the_service(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # POST /api/v1/events and GET /api/v1/events are public API: no trailing segment.
    response = await client.get("/api/v1/events", headers=auth)
    assert response.json() == {"service": "events"}


async def test_unknown_service_is_404_unknown_service(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/v1/payments/anything", headers=auth)
    assert_problem(response, 404, "unknown_service")


async def test_internal_paths_are_never_routed(
    client: httpx.AsyncClient, auth: dict[str, str], service_apps: dict[str, FastAPI]
) -> None:
    request_id = "internal-probe-1"
    response = await client.get("/internal/secret", headers={**auth, "X-Request-ID": request_id})
    assert_problem(response, 404, "not_found")
    assert "secret" not in response.text
    assert all(request_id not in app.state.seen for app in service_apps.values())


@pytest.mark.parametrize(
    "sneaky_path",
    [
        "/api/v1/events/../../internal/secret",
        "/api/v1/events/%2e%2e/%2e%2e/internal/secret",
        "/api/v1/events/%2E%2E%2F%2E%2E%2Finternal/secret",
        "/api/v1/events/./whoami",
    ],
)
async def test_dot_segments_are_refused_so_internal_paths_stay_unreachable(
    gateway: GatewayApp,
    token: str,
    sneaky_path: str,
    service_apps: dict[str, FastAPI],
) -> None:
    request_id = f"dots-{uuid.uuid4().hex}"
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"x-request-id", request_id.encode()),
    ]
    answer = await call_raw(gateway, "GET", sneaky_path, headers)
    assert answer.status == 400
    assert answer.json()["code"] == "invalid_path"
    assert all(request_id not in app.state.seen for app in service_apps.values())


async def test_path_and_query_pass_through_unchanged(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    raw_path = "/api/v1/booking/echo"
    query = "parent=350600&name=%E6%BC%B3%E5%B7%9E&x=a%2Fb&flag"
    request = client.build_request("GET", "http://gateway.test", headers=auth)
    request.url = request.url.copy_with(raw_path=f"{raw_path}?{query}".encode())
    response = await client.send(request)
    echoed = response.json()
    assert echoed["raw_path"] == raw_path
    assert echoed["query_string"] == query


async def test_partner_api_answers_not_implemented_until_its_upstream_exists(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/open/v1/events", json={})
    assert_problem(response, 404, "not_implemented")


async def test_well_known_jwks_goes_to_identity_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": []}


async def test_other_api_versions_are_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/v2/events/whoami", headers=auth)
    assert_problem(response, 404, "not_found")
