"""``create_service_app``: the one way a service becomes a FastAPI app.

It gives every service ``/healthz``, ``/readyz``, ``/metrics`` and OpenAPI, problem+json errors,
request ids and JSON logs, and a lifespan that wires database, broker, outbox relay and
consumers, then takes them down in the order that loses nothing (see ``_shutdown``).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shared.auth.revocations import (
    RevocationSource,
    http_revocation_source,
    start_revocation_poller,
)
from shared.auth.tokens import TokenEndorser, TokenVerifier
from shared.db.database import Database
from shared.db.faults import database_answers
from shared.logs import configure_logging, get_logger
from shared.messaging.broker import Broker
from shared.messaging.consumer import ConsumerRunner, Subscription
from shared.messaging.memory import MemoryBroker
from shared.messaging.outbox import OutboxRelay
from shared.messaging.rabbit import RabbitBroker
from shared.periodic import Worker
from shared.settings import ServiceSettings
from shared.web.docs import install_offline_docs
from shared.web.metrics import NO_OPENTELEMETRY, Metrics
from shared.web.middleware import RefuseNulMiddleware, RequestContextMiddleware
from shared.web.openapi import declare_problem_responses, service_problem_statuses
from shared.web.problems import install_error_handlers, problem_response
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)

# /readyz answers within this (the probes' timeout is longer), whatever the service is doing.
READINESS_TIMEOUT_SECONDS = 2.0

Hook = Callable[[FastAPI, ServiceRuntime], Awaitable[None]]
WorkerFactory = Callable[[ServiceRuntime], Worker]


def build_broker(settings: ServiceSettings) -> Broker:
    if settings.broker == "memory":
        return MemoryBroker(unrouted_max_length=settings.unrouted_max_length)
    return RabbitBroker(
        settings.amqp_url,
        prefix=settings.amqp_prefix,
        publish_timeout=settings.publish_timeout_seconds,
        name=settings.service_name,
        unrouted_max_length=settings.unrouted_max_length,
    )


def build_verifier(settings: ServiceSettings) -> TokenVerifier:
    return TokenVerifier.from_pems(
        settings.jwt_public_keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=settings.jwks_url,
        endorser=TokenEndorser(settings.internal_api_key),
    )


@functools.cache
def freeze_startup_heap() -> None:
    """Move what start-up allocated (modules, metadata, models: most of the heap) out of the
    garbage collector's reach. Full collections then walk what requests allocate, not every
    long-lived object each time (a pause of several ms, and ~2% of the CPU under load).
    Once per process: the first app to start (later ones, as in tests, leave the heap be)."""
    gc.collect()
    gc.freeze()


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    subscriptions: Sequence[Subscription] = (),
    workers: Sequence[WorkerFactory] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    broker: Broker | None = None,
    verifier: TokenVerifier | None = None,
    version: str = "1.0.0",
    revocation_source: Callable[[ServiceRuntime], RevocationSource] | None = None,
) -> FastAPI:
    """Build a service app. ``broker`` and ``verifier`` are injected by the embedded run mode
    and by tests; otherwise they come from settings. ``revocation_source``: where the
    verifier learns of revoked tokens (identity reads its own table; tests reach identity
    in-process); otherwise identity's feed at ``EHOME_REVOCATIONS_URL``, when set."""
    configure_logging(level=settings.log_level, json=settings.log_json)
    owns_broker = broker is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ServiceRuntime(
            settings=settings,
            database=Database(settings),
            broker=broker if broker is not None else build_broker(settings),
            verifier=verifier if verifier is not None else build_verifier(settings),
        )
        app.state.runtime = runtime
        app.state.token_verifier = runtime.verifier
        try:
            await _startup(app, runtime, on_startup=on_startup, subscriptions=subscriptions,
                           workers=workers, revocation_source=revocation_source)
            yield
        finally:
            await _shutdown(app, runtime, on_shutdown=on_shutdown, owns_broker=owns_broker)

    app = _fastapi_app(title, version, lifespan)
    install_offline_docs(app, title=title)
    _declare_problems_in_openapi(app)
    metrics = Metrics(settings.service_name)
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    # Added first, so it runs inside the request context (its answers carry the request id).
    app.add_middleware(RefuseNulMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, service=settings.service_name)
    app.include_router(_ops_router(settings))
    for router in routers:
        app.include_router(router)
    return app


def _fastapi_app(
    title: str, version: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    return FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # Served from the platform's own files (shared/web/docs.py), not FastAPI's CDN page.
        docs_url=None,
        redoc_url=None,
        # No "add or drop the trailing slash" redirects: their Location would name the host
        # the service was reached as (an internal one behind the gateway). An unknown path,
        # slash or not, is a 404 problem.
        redirect_slashes=False,
        telemetry=NO_OPENTELEMETRY,
    )


async def _startup(
    app: FastAPI,
    runtime: ServiceRuntime,
    *,
    on_startup: Sequence[Hook],
    subscriptions: Sequence[Subscription],
    workers: Sequence[WorkerFactory],
    revocation_source: Callable[[ServiceRuntime], RevocationSource] | None,
) -> None:
    settings = runtime.settings
    await _load_token_keys(runtime.verifier)
    await runtime.broker.connect()
    for hook in on_startup:
        await hook(app, runtime)
    source = (revocation_source(runtime) if revocation_source is not None
              else http_revocation_source(settings, caller=settings.service_name))
    if source is not None:  # a Worker: stopped with the others
        runtime.workers.append(await start_revocation_poller(
            runtime.verifier.revocations, source,
            interval=settings.revocations_poll_seconds, name=settings.service_name))
    if settings.run_relay:
        runtime.relay = _outbox_relay(runtime)
        runtime.relay.start()
    if settings.run_consumers and subscriptions:
        runtime.consumers = _consumer_runner(runtime, subscriptions)
        await runtime.consumers.start()
    for factory in workers if settings.run_workers else ():
        worker = factory(runtime)
        worker.start()
        runtime.workers.append(worker)
    _register_worker_metrics(app, runtime)
    freeze_startup_heap()
    log.info("service_started", service=settings.service_name, schema=runtime.database.schema)


async def _load_token_keys(verifier: TokenVerifier) -> None:
    if not verifier.has_keys:
        try:
            await verifier.refresh_from_jwks(min_interval=0)
        except Exception as exc:  # identity may start after us; verify_async retries
            log.warning("jwks_unavailable_at_start", error=str(exc))


def _outbox_relay(runtime: ServiceRuntime) -> OutboxRelay:
    settings = runtime.settings
    return OutboxRelay(
        runtime.database,
        runtime.broker,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
        # Rows this process is about to publish are left to it that long; if it dies
        # first, another replica sweeps them right after.
        hold=timedelta(seconds=settings.outbox_hold_seconds),
    )


def _consumer_runner(
    runtime: ServiceRuntime, subscriptions: Sequence[Subscription]
) -> ConsumerRunner:
    settings = runtime.settings
    return ConsumerRunner(
        service=settings.service_name,
        database=runtime.database,
        broker=runtime.broker,
        subscriptions=subscriptions,
        prefetch=settings.consumer_prefetch,
        delivery_limit=settings.consumer_delivery_limit,
        # Unset: half the pool, the rest kept for requests.
        max_concurrency=settings.consumer_max_concurrency,
        batch_size=settings.consumer_batch_size,
        batches_in_flight=settings.consumer_batches_in_flight,
    )


async def _shutdown(
    app: FastAPI, runtime: ServiceRuntime, *, on_shutdown: Sequence[Hook], owns_broker: bool
) -> None:
    # uvicorn has stopped accepting and finished in-flight requests by now.
    runtime.accepting = False
    if runtime.consumers is not None:
        await runtime.consumers.stop()  # no new deliveries; in-hand ones commit and ack
    for worker in reversed(runtime.workers):
        await worker.stop()
    if runtime.relay is not None:
        await runtime.relay.stop()  # finishes the batch it has claimed
    for hook in on_shutdown:
        await hook(app, runtime)
    if owns_broker:
        await runtime.broker.close()
    await runtime.database.dispose()
    log.info("service_stopped", service=runtime.settings.service_name)


def _declare_problems_in_openapi(app: FastAPI) -> None:
    """The service's /openapi.json lists the problem+json answers each operation can give."""

    declared: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = FastAPI.openapi(app)  # cached by FastAPI until the routes change
        if not declared or declared[0] is not document:
            declare_problem_responses(document, service_problem_statuses(app.routes))
            declared[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _register_worker_metrics(app: FastAPI, runtime: ServiceRuntime) -> None:
    if getattr(app.state, "worker_metrics_registered", False):
        return
    app.state.worker_metrics_registered = True

    def read(attr: str, owner: Callable[[], object | None]) -> Callable[[], float]:
        return lambda: float(getattr(owner(), attr, 0) or 0)

    app.state.metrics.register_counters(
        {
            "outbox_published_total": read("published_total", lambda: runtime.relay),
            "outbox_publish_failures_total": read("failed_total", lambda: runtime.relay),
            # Rows left to the sweep (backlog full, broker away or stopping).
            "outbox_direct_skipped_total": read("direct_skipped_total", lambda: runtime.relay),
            "consumer_handled_total": read("handled_total", lambda: runtime.consumers),
            "consumer_duplicates_total": read("duplicates_total", lambda: runtime.consumers),
            "consumer_failures_total": read("failures_total", lambda: runtime.consumers),
            # Database failures retried in hand (never counted toward the delivery limit).
            "consumer_infrastructure_retries_total": read(
                "infrastructure_retries_total", lambda: runtime.consumers
            ),
            # Batches of two or more committed together, the messages in them, and batches
            # that failed together and were retried message by message.
            "consumer_batches_total": read("batches_total", lambda: runtime.consumers),
            "consumer_batched_messages_total": read(
                "batched_messages_total", lambda: runtime.consumers
            ),
            "consumer_batches_taken_apart_total": read(
                "batches_taken_apart_total", lambda: runtime.consumers
            ),
        }
    )


def _ops_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process is alive (the event loop answers)."""
        return {"status": "ok", "service": settings.service_name}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Dependencies answer: send traffic here. False while shutting down."""
        runtime: ServiceRuntime | None = getattr(request.app.state, "runtime", None)
        if runtime is None:
            return problem_response(503, "not_ready", "the service has not started yet")
        checks: dict[str, str] = {}
        try:
            # On a connection of its own: the answer must not queue behind a pool that busy
            # handlers or requests hold (a backlog is load, not a reason to take the pod out).
            await database_answers(runtime.database.url, within=READINESS_TIMEOUT_SECONDS)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"failed: {type(exc).__name__}"
        checks["broker"] = "ok" if await runtime.broker.ready() else "failed"
        checks["accepting"] = "ok" if runtime.accepting else "draining"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(
            503, "not_ready", "a dependency is not reachable", extra={"checks": checks}
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    return router
