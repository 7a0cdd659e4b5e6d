"""Metrics and access logs name a request by its route's whole template, prefixes included."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI

from shared.web.metrics import Metrics
from shared.web.middleware import RequestContextMiddleware


def _app_with_nested_routers(metrics: Metrics) -> FastAPI:
    cases = APIRouter()

    @cases.get("/{event_id}")
    async def read_case(event_id: int) -> dict[str, int]:
        return {"id": event_id}

    service = APIRouter(prefix="/api/v1/events")
    service.include_router(cases)
    app = FastAPI()
    app.include_router(service)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, service="events")
    return app


async def test_a_route_of_an_included_router_is_labelled_with_its_whole_path() -> None:
    metrics = Metrics("events")
    app = _app_with_nested_routers(metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        answered = await client.get("/api/v1/events/42")
        missing = await client.get("/nowhere")

    assert (answered.status_code, missing.status_code) == (200, 404)
    rendered = metrics.render().decode()
    assert 'route="/api/v1/events/{event_id}"' in rendered
    assert 'route="/{event_id}"' not in rendered
    assert 'route="unmatched"' in rendered
