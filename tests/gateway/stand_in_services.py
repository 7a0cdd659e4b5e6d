"""Small stand-ins for the six services: each says who it is, echoes what reached it, can be
slow, can answer problem+json, and publishes an OpenAPI document with a clashing schema name.
They need no database, so the gateway can be tested on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"


class Point(BaseModel):
    """Identical in every service: the merged document keeps one copy."""

    lat: float
    lng: float


class Event(BaseModel):
    id: str
    where: Point


class Booking(BaseModel):
    id: str
    pickup_code: str


# Two services each call their list envelope "Page", with different items: a clash the
# merged OpenAPI document has to resolve by renaming one of them.
class EventsSchemas:
    class Page(BaseModel):
        items: list[Event]


class BookingSchemas:
    class Page(BaseModel):
        items: list[Booking]


def create_stand_in(name: str, lifespan_log: list[str] | None = None) -> FastAPI:
    """One stand-in service. ``app.state.seen`` records the request ids that reached it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if lifespan_log is not None:
            lifespan_log.append(f"start:{name}")
        yield
        if lifespan_log is not None:
            lifespan_log.append(f"stop:{name}")

    app = FastAPI(title=f"stand-in {name}", lifespan=lifespan)
    app.state.seen = []
    app.state.ready = True
    base = f"/api/v1/{name}"

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        app.state.seen.append(request.headers.get("x-request-id"))
        return await call_next(request)

    @app.get(base)
    async def root() -> dict[str, str]:
        return {"service": name}

    @app.get(f"{base}/whoami")
    async def whoami() -> dict[str, str]:
        return {"service": name}

    @app.api_route(
        f"{base}/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
    )
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "service": name,
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "query_string": request.scope["query_string"].decode("latin-1"),
            "headers": [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in request.scope["headers"]
            ],
            "body_length": len(body),
            "body": body.decode("utf-8", "replace"),
        }

    @app.get(f"{base}/slow", include_in_schema=False)
    async def slow(seconds: float = 2.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"service": name, "slept": str(seconds)}

    @app.get(f"{base}/problem")
    async def problem() -> JSONResponse:
        return JSONResponse(
            {
                "type": "https://ehome.example/problems/already_booked",
                "title": "Conflict",
                "status": 409,
                "detail": f"{name} says you already booked",
                "code": "already_booked",
                "request_id": "from-the-service",
            },
            status_code=409,
            media_type=PROBLEM_JSON,
        )

    @app.get(f"{base}/hop-by-hop", include_in_schema=False)
    async def hop_by_hop() -> Response:
        return Response(
            b"{}",
            media_type="application/json",
            headers={
                "Keep-Alive": "timeout=99",
                "Proxy-Authenticate": "Basic",
                "Trailer": "X-Checksum",
                "Connection": "x-upstream-private",
                "X-Upstream-Private": "for-the-next-hop-only",
                "X-Upstream-Public": "kept",
            },
        )

    @app.get("/internal/secret")
    async def internal_secret() -> dict[str, str]:
        return {"secret": f"{name} internal data"}

    @app.get("/readyz")
    async def readyz() -> Response:
        if app.state.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    _add_service_specific_routes(app, name, base)
    return app


def _add_service_specific_routes(app: FastAPI, name: str, base: str) -> None:
    if name == "identity":

        @app.post(f"{base}/wechat-login")
        async def wechat_login() -> dict[str, str]:
            return {"access_token": "issued-by-the-stand-in"}

        @app.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, list[str]]:
            return {"keys": []}

    elif name == "events":

        @app.get(f"{base}/categories")
        async def categories() -> dict[str, list[str]]:
            return {"items": ["road", "noise"]}

        @app.get(f"{base}/page", response_model=EventsSchemas.Page)
        async def events_page() -> dict[str, Any]:
            return {"items": []}

    elif name == "booking":

        @app.get(f"{base}/page", response_model=BookingSchemas.Page)
        async def bookings_page() -> dict[str, Any]:
            return {"items": []}

        @app.get(f"{base}/where", response_model=Point)
        async def where() -> dict[str, float]:
            return {"lat": 24.5, "lng": 117.6}
