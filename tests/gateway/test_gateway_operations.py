"""Health, readiness, metrics, the merged OpenAPI document, Swagger UI, and the lifespan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
from fastapi import FastAPI

from gateway import SERVICES, AsgiUpstream, GatewayApp, create_gateway_app
from gateway.openapi import merge_documents
from gateway.upstreams import UpstreamUnavailable
from shared.auth import TokenVerifier
from shared.testing.live_server import closed_port
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import asgi_upstreams, gateway_settings, http_upstreams
from tests.gateway.stand_in_services import create_stand_in


async def test_healthz_answers_while_the_process_lives(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_is_200_when_every_upstream_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == dict.fromkeys(SERVICES, "ok")


async def test_readyz_stays_200_but_degraded_when_one_upstream_is_down_or_not_ready(
    verifier: TokenVerifier, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    not_ready = create_stand_in("events")
    not_ready.state.ready = False
    upstreams = {
        **asgi_upstreams({"events": not_ready, "booking": create_stand_in("booking")}),
        **http_upstreams({"relief": f"http://127.0.0.1:{closed_port()}"}),
    }
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {
            "events": "failed: status 503",
            "booking": "ok",
            "relief": "failed: upstream_unavailable",
        },
    }


async def test_readyz_is_503_when_no_upstream_is_ready(
    verifier: TokenVerifier, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    not_ready = create_stand_in("events")
    not_ready.state.ready = False
    upstreams = {
        **asgi_upstreams({"events": not_ready}),
        **http_upstreams({"relief": f"http://127.0.0.1:{closed_port()}"}),
    }
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get("/readyz")
    body = assert_problem(response, 503, "not_ready")
    assert body["checks"] == {
        "events": "failed: status 503",
        "relief": "failed: upstream_unavailable",
    }


async def test_metrics_count_requests_by_service_and_status(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await client.get("/api/v1/relief/whoami", headers=auth)
    await client.get("/api/v1/relief/whoami")  # 401
    text = (await client.get("/metrics")).text
    assert (
        'http_requests_total{method="GET",route="/api/v1/relief/*",service="gateway",status="200"}'
        in text
    )
    assert (
        'http_requests_total{method="GET",route="/api/v1/relief/*",service="gateway",status="401"}'
        in text
    )
    assert "http_request_duration_seconds_bucket" in text


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


async def test_merged_openapi_has_every_services_public_paths_and_no_internal_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert "/api/v1/events/page" in paths
    assert "/api/v1/booking/page" in paths
    assert "/api/v1/identity/wechat-login" in paths
    assert all(path.startswith(("/api/v1/", "/open/v1/")) for path in paths)
    assert not any("internal" in path or path == "/readyz" for path in paths)


async def test_merged_openapi_renames_clashing_schemas_and_rewrites_refs(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    # Both services define "Page" differently: one keeps the name, the other is renamed.
    assert {"Page", "BookingPage"} <= set(schemas)
    assert schemas["Page"]["properties"]["items"]["items"]["$ref"].endswith("/Event")
    assert schemas["BookingPage"]["properties"]["items"]["items"]["$ref"].endswith("/Booking")
    booking_page = document["paths"]["/api/v1/booking/page"]["get"]
    booking_schema = booking_page["responses"]["200"]["content"]["application/json"]["schema"]
    assert booking_schema["$ref"] == "#/components/schemas/BookingPage"
    # The identical "Point" is shared, not duplicated.
    assert "Point" in schemas
    assert "BookingPoint" not in schemas
    # Every reference resolves.
    for ref in _refs(document):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][section], ref


async def test_merged_openapi_marks_public_operations(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/api/v1/identity/wechat-login"]["post"]["security"] == []
    assert "security" not in document["paths"]["/api/v1/booking/page"]["get"]


def test_merge_renames_a_schema_whose_only_difference_is_a_renamed_reference() -> None:
    item_a = {"type": "object", "properties": {"a": {"type": "string"}}}
    item_b = {"type": "object", "properties": {"b": {"type": "integer"}}}
    page = {"type": "object", "properties": {"item": {"$ref": "#/components/schemas/Item"}}}
    documents = {
        "events": {"paths": {}, "components": {"schemas": {"Item": item_a, "Page": page}}},
        "booking": {"paths": {}, "components": {"schemas": {"Item": item_b, "Page": page}}},
    }
    merged = merge_documents(documents, is_public=lambda method, path: False)
    schemas = merged["components"]["schemas"]
    # Page looks identical in both, but booking's points at booking's Item.
    assert (
        schemas["BookingPage"]["properties"]["item"]["$ref"] == "#/components/schemas/BookingItem"
    )
    assert schemas["Page"]["properties"]["item"]["$ref"] == "#/components/schemas/Item"


class DownOnceUpstream(AsgiUpstream):
    """Its OpenAPI document is unavailable the first time it is asked for."""

    openapi_calls = 0

    async def openapi(self) -> dict[str, Any]:
        self.openapi_calls += 1
        if self.openapi_calls == 1:
            raise UpstreamUnavailable(self.name, "connection refused")
        return await super().openapi()


async def test_openapi_document_is_rebuilt_when_a_service_was_missing(
    verifier: TokenVerifier, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    booking = DownOnceUpstream("booking", create_stand_in("booking"))
    upstreams = {**asgi_upstreams({"events": create_stand_in("events")}), "booking": booking}
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        first = (await client.get("/openapi.json")).json()
        second = (await client.get("/openapi.json")).json()
        third = (await client.get("/openapi.json")).json()
    assert first["info"]["x-ehome-missing-services"] == ["booking"]
    assert "/api/v1/booking/page" not in first["paths"]
    assert "/api/v1/events/page" in first["paths"]
    assert "/api/v1/booking/page" in second["paths"]
    assert "x-ehome-missing-services" not in second["info"]
    assert third == second
    assert booking.openapi_calls == 2  # the complete document was cached


async def test_swagger_ui_is_served_at_docs(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


async def test_lifespan_starts_mounted_apps_in_order_and_stops_them_in_reverse(
    verifier: TokenVerifier,
) -> None:
    log: list[str] = []
    apps: list[FastAPI] = [create_stand_in(name, lifespan_log=log) for name in SERVICES]
    gateway: GatewayApp = create_gateway_app(
        gateway_settings(),
        upstreams=asgi_upstreams(dict(zip(SERVICES, apps, strict=True))),
        verifier=verifier,
        mounted_apps=apps,
    )
    async with gateway.lifespan():
        assert log == [f"start:{name}" for name in SERVICES]
    assert log[len(SERVICES) :] == [f"stop:{name}" for name in reversed(SERVICES)]
