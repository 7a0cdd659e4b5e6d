"""The gateway app: the proxy on the hot path, a small FastAPI app for everything else.

``create_gateway_app`` returns a raw ASGI app that sends ``/api/...``, ``/open/...``,
``/open311/...`` and the well-known JWKS path straight to ``Proxy``, ``/console``, ``/grid``
and ``/h5`` to the built web apps (``gateway/console.py``, ``gateway/grid_app.py``,
``gateway/h5_app.py``) and the rest (``/healthz``, ``/readyz``, ``/metrics``,
``/openapi.json``, ``/docs``, the lifespan) to an operations app. The operations app owns the
lifespan: it enters each in-process service app's lifespan (embedded mode), starts the
upstreams, and takes all of it down in reverse order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.console import Console
from gateway.errors import UpstreamError
from gateway.grid_app import GridApp
from gateway.h5_app import H5App
from gateway.openapi import OpenApiAggregator
from gateway.proxy import BodyLimits, Proxy, PublicPaths
from gateway.ratelimit import RateLimiter
from gateway.settings import SERVICES, GatewaySettings
from gateway.upstreams import HttpUpstream, Upstream
from shared.auth.revocations import (
    RevocationSource,
    http_revocation_source,
    start_revocation_poller,
)
from shared.auth.tokens import TokenEndorser, TokenVerifier
from shared.context import accept_id as accept_request_id
from shared.context import request_id_var
from shared.logs import configure_logging, get_logger
from shared.problems import PROBLEM_JSON, problem_body
from shared.web.app import freeze_startup_heap
from shared.web.docs import install_offline_docs
from shared.web.metrics import NO_OPENTELEMETRY, Metrics
from shared.web.middleware import RequestContextMiddleware
from shared.web.problems import install_error_handlers, problem_response

log = get_logger(__name__)


# The methods the platform serves. Any other (TRACE, CONNECT, PROPFIND, ...) is refused
# before routing and authentication, whatever the path: 405, not a 401 that would suggest a
# token could make it work.
SUPPORTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ALLOW = ", ".join(sorted(SUPPORTED_METHODS)).encode()


async def _refuse_method(scope: Scope, send: Send) -> None:
    sent_id = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
    request_id = accept_request_id(sent_id.decode("latin-1") or None)
    token = request_id_var.set(request_id)
    try:
        method = scope["method"][:32]
        body = orjson.dumps(
            problem_body(405, "method_not_allowed", f"the method {method} is not supported")
        )
    finally:
        request_id_var.reset(token)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"allow", _ALLOW),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": 405, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GatewayApp:
    """The ASGI entry point. Holds its parts as attributes for the run modes and tests."""

    def __init__(
        self,
        *,
        proxy: Proxy,
        ops: FastAPI,
        metrics: Metrics,
        limiter: RateLimiter,
        anonymous_limiter: RateLimiter,
        openapi: OpenApiAggregator,
        console: Console,
        grid: GridApp,
        h5: H5App,
    ) -> None:
        self.proxy = proxy
        self.console = console
        self.grid = grid
        self.h5 = h5
        self.ops = ops
        self.metrics = metrics
        self.limiter = limiter
        self.anonymous_limiter = anonymous_limiter
        self.openapi = openapi
        self._ops_with_ids = RequestContextMiddleware(ops, metrics=metrics, service="gateway")
        # The built web apps, each with request ids and metrics like every other answer.
        self._webapps = [(app, RequestContextMiddleware(app, metrics=metrics, service="gateway"))
                         for app in (console, grid, h5)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] not in SUPPORTED_METHODS:
                await _refuse_method(scope, send)
            elif Proxy.handles(scope["path"]):
                await self.proxy(scope, receive, send)
            else:
                await self._web_or_ops(scope)(scope, receive, send)
        else:
            await self._ops_with_ids(scope, receive, send)

    def _web_or_ops(self, scope: Scope) -> ASGIApp:
        """The web app whose prefix the path is under, else the operations app."""
        path = scope["path"]
        return next((served for app, served in self._webapps if app.handles(path)),
                    self._ops_with_ids)

    def lifespan(self) -> AbstractAsyncContextManager[Any]:
        """Run start-up and shut-down without an ASGI server (embedded runner, tests)."""
        return self.ops.router.lifespan_context(self.ops)


def create_gateway_app(
    settings: GatewaySettings,
    *,
    upstreams: Mapping[str, Upstream],
    verifier: TokenVerifier,
    mounted_apps: Sequence[FastAPI] = (),
    partner_upstream: Upstream | None = None,
    revocation_source: RevocationSource | None = None,
    console: Console | None = None,
    grid: GridApp | None = None,
    h5: H5App | None = None,
) -> GatewayApp:
    """Build the gateway.

    ``upstreams`` maps a service name (the first segment after ``/api/v1/``) to the way to
    reach it. ``mounted_apps`` are in-process service apps whose lifespans the gateway runs
    (embedded mode). ``partner_upstream``, when given, serves ``/open/v1/...``: partner calls
    are signed per partner app rather than carrying bearer tokens, so it authenticates them
    itself; without it those paths answer 404 ``not_implemented``. ``revocation_source``:
    identity's feed of revoked tokens, polled into ``verifier`` (the embedded mode needs none:
    its verifier is identity's own, which identity keeps current). ``console``: the staff
    console's files (default: ``ConsoleSettings`` from the environment); ``grid``: the grid
    workers' app's (default: ``GridSettings`` from the environment); ``h5``: the residents' web
    pages' (default: ``H5Settings`` from the environment).
    """
    configure_logging(level=settings.log_level, json=settings.log_json)
    metrics = Metrics("gateway")
    is_public = PublicPaths(settings.public_paths)
    limiter, anonymous_limiter = _rate_limiters(settings)
    proxy = _proxy(settings, upstreams=upstreams, verifier=verifier,
                   limiters=(limiter, anonymous_limiter), is_public=is_public, metrics=metrics,
                   partner_upstream=partner_upstream)
    documented: dict[str, Upstream] = dict(upstreams)
    if partner_upstream is not None:
        documented[partner_upstream.name] = partner_upstream
    aggregator = OpenApiAggregator(
        documented,
        is_public=is_public,
        cache_seconds=settings.openapi_cache_seconds,
        fetch_timeout=settings.upstream_timeout_seconds,
    )
    lifespan = _gateway_lifespan(
        settings,
        mounted_apps=mounted_apps,
        started=list(documented.values()),
        verifier=verifier,
        revocation_source=revocation_source,
        upstream_names=sorted(upstreams),
    )
    ops = _ops_app(settings, upstreams=upstreams, aggregator=aggregator, metrics=metrics,
                   lifespan=lifespan)
    return GatewayApp(proxy=proxy, ops=ops, metrics=metrics, limiter=limiter,
                      anonymous_limiter=anonymous_limiter, openapi=aggregator,
                      console=console or Console(), grid=grid or GridApp(),
                      h5=h5 or H5App())


def _proxy(settings: GatewaySettings, *, upstreams: Mapping[str, Upstream],
           verifier: TokenVerifier, limiters: tuple[RateLimiter, RateLimiter],
           is_public: PublicPaths, metrics: Metrics, partner_upstream: Upstream | None
           ) -> Proxy:
    limiter, anonymous_limiter = limiters
    return Proxy(
        upstreams=upstreams,
        verifier=verifier,
        limiter=limiter,
        anonymous_limiter=anonymous_limiter,
        is_public=is_public,
        body_limits=BodyLimits.from_settings(settings),
        metrics=metrics,
        endorser=TokenEndorser(settings.internal_api_key),
        partner_upstream=partner_upstream,
        max_in_flight=settings.upstream_max_in_flight,
        retry_after_seconds=settings.retry_after_seconds,
    )


def _rate_limiters(settings: GatewaySettings) -> tuple[RateLimiter, RateLimiter]:
    """The limiter for callers with a token and the one for anonymous callers (whose rate and
    burst default to the first's)."""
    limiter = RateLimiter(
        rate_per_second=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        max_clients=settings.rate_limit_max_clients,
    )
    anonymous_limiter = RateLimiter(
        rate_per_second=settings.anonymous_rate_limit_per_second or settings.rate_limit_per_second,
        burst=settings.anonymous_rate_limit_burst or settings.rate_limit_burst,
        max_clients=settings.rate_limit_max_clients,
    )
    return limiter, anonymous_limiter


def _gateway_lifespan(
    settings: GatewaySettings,
    *,
    mounted_apps: Sequence[FastAPI],
    started: Sequence[Upstream],
    verifier: TokenVerifier,
    revocation_source: RevocationSource | None,
    upstream_names: list[str],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The operations app's lifespan: mounted services, then upstreams, token keys and the
    revocation poller; all taken down in reverse order."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Services first (in order), so the upstreams have something to talk to; the
            # stack unwinds in reverse: upstream clients close, then services stop, last first.
            for service_app in mounted_apps:
                await stack.enter_async_context(service_app.router.lifespan_context(service_app))
            for upstream in started:
                await upstream.start()
                stack.push_async_callback(upstream.close)
            await _load_token_keys(verifier)
            if revocation_source is not None:  # identity's feed of revoked tokens
                poller = await start_revocation_poller(
                    verifier.revocations, revocation_source,
                    interval=settings.revocations_poll_seconds, name="gateway")
                stack.push_async_callback(poller.stop)
            freeze_startup_heap()
            log.info("gateway_started", upstreams=upstream_names, embedded=len(mounted_apps))
            yield
            log.info("gateway_stopping")

    return lifespan


def create_http_gateway_app(settings: GatewaySettings) -> GatewayApp:
    """The distributed-mode gateway: every service (and the partner app, when
    ``partner_url`` is set) over HTTP, token keys from settings."""

    def over_http(name: str, url: str) -> HttpUpstream:
        return HttpUpstream(
            name,
            url,
            settings.upstream_timeout_seconds,
            connect_timeout=settings.upstream_connect_timeout_seconds,
            pool_size=settings.upstream_pool_size,
            keepalive_seconds=settings.upstream_keepalive_seconds,
            idle_timeout=settings.upstream_idle_timeout_seconds,
        )

    upstreams = {name: over_http(name, url) for name, url in settings.upstream_urls.items()}
    unknown = set(upstreams) - set(SERVICES)
    if unknown:
        raise ValueError(f"upstream_urls names unknown services: {sorted(unknown)}")
    verifier = TokenVerifier.from_pems(
        settings.jwt_public_keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=settings.jwks_url,
    )
    partner = over_http("partner", settings.partner_url) if settings.partner_url else None
    return create_gateway_app(
        settings, upstreams=upstreams, verifier=verifier, partner_upstream=partner,
        revocation_source=http_revocation_source(settings, caller="gateway"),
    )


async def _load_token_keys(verifier: TokenVerifier) -> None:
    if verifier.has_keys:
        return
    try:
        await verifier.refresh_from_jwks(min_interval=0)
    except httpx.HTTPError as exc:
        # Identity may start after the gateway; verify_async fetches the keys on first use.
        log.warning("jwks_unavailable_at_start", error=str(exc) or type(exc).__name__)


def _ops_app(
    settings: GatewaySettings,
    *,
    upstreams: Mapping[str, Upstream],
    aggregator: OpenApiAggregator,
    metrics: Metrics,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> FastAPI:
    # FastAPI's own OpenAPI and docs would describe these few operational routes; the
    # gateway's /openapi.json and /docs describe the public API instead.
    app = FastAPI(
        title="Ping'an e-Home gateway",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # an unknown path is a 404 problem, as on every service
        telemetry=NO_OPENTELEMETRY,
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive (the event loop answers)."""
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz")
    async def readyz() -> Response:
        """Ready while at least one upstream answers its /readyz (checked concurrently).

        One service's outage must not take every gateway replica out of the load balancer:
        the gateway still serves the other services and answers 503 for the missing one. The
        body lists every upstream, and says "degraded" when some are not ready."""
        names = list(upstreams)
        results = await asyncio.gather(
            *(
                _check_ready(upstreams[name], limit_seconds=settings.readiness_timeout_seconds)
                for name in names
            )
        )
        checks = dict(zip(names, results, strict=True))
        healthy = [name for name, result in checks.items() if result == "ok"]
        if not healthy:
            return problem_response(
                503, "not_ready", "no upstream service is ready", extra={"checks": checks}
            )
        status = "ready" if len(healthy) == len(checks) else "degraded"
        return JSONResponse({"status": status, "checks": checks})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/openapi.json")
    async def openapi_document() -> Response:
        return Response(await aggregator.document_bytes(), media_type="application/json")

    install_offline_docs(app, title="Ping'an e-Home API", openapi_url="/openapi.json")
    return app


async def _check_ready(upstream: Upstream, *, limit_seconds: float) -> str:
    headers = [(b"x-request-id", (request_id_var.get() or "").encode())]
    try:
        async with asyncio.timeout(limit_seconds):
            answer = await upstream.send("GET", "/readyz", headers, b"")
    except TimeoutError:
        return "failed: timeout"
    except UpstreamError as exc:
        return f"failed: {exc.code}"
    return "ok" if answer.status == 200 else f"failed: status {answer.status}"
