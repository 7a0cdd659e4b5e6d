"""The two processes the gateway benchmark starts (as uvicorn factories).

The upstream is a realistic service minus its database: the shared request-context middleware
(request ids, one JSON access log line, metrics), problem+json errors, an authenticated GET
that verifies the bearer token through the shared dependency, and /healthz and /readyz. The
gateway is the real one (``create_http_gateway_app``) configured from the environment."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI

from gateway.app import GatewayApp, create_http_gateway_app
from gateway.settings import GatewaySettings
from shared.auth import CurrentPrincipal, TokenVerifier
from shared.logs import configure_logging
from shared.settings import PlatformSettings
from shared.web.metrics import Metrics
from shared.web.middleware import RequestContextMiddleware
from shared.web.problems import install_error_handlers

BENCH_PATH = "/api/v1/events/bench"


def upstream_from_env() -> FastAPI:
    settings = PlatformSettings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = FastAPI(title="bench events")
    app.state.token_verifier = TokenVerifier.from_pems(
        settings.jwt_public_keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    metrics = Metrics("events")
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, service="events")
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(BENCH_PATH)
    async def my_events(principal: CurrentPrincipal) -> dict[str, object]:
        """A small list answer, roughly the size of a page of a resident's cases."""
        return {
            "items": [
                {"id": str(uuid.UUID(int=n)), "case_no": f"ZZ2026{n:06d}", "status": "accepted"}
                for n in range(3)
            ],
            "next_cursor": None,
            "subject": str(principal.subject),
        }

    # After the measured route, so routing it costs what it did. The gateway's own /readyz
    # asks this one; without a database, answering is being ready.
    @router.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    app.include_router(router)
    return app


def gateway_from_env() -> GatewayApp:
    return create_http_gateway_app(GatewaySettings())
