"""Composition root of the partner app (the gateway's ``partner_upstream``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.partner.api import router
from gateway.partner.auth import AppRateLimits
from gateway.partner.clients import EventsClient, IdentityClient
from gateway.partner.context import PartnerContext
from gateway.partner.handlers import SUBSCRIPTIONS
from gateway.partner.open311.api import router as open311_router
from gateway.partner.settings import Settings
from gateway.partner.webhooks import DeliveryWorker
from shared.auth.revocations import PARTNER_APP, Revocation
from shared.http.egress import Resolver, resolve_host
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def utc_now() -> datetime:
    return datetime.now(UTC)


def _forget_disabled_app(identity: IdentityClient, revocation: Revocation) -> None:
    if revocation.kind == PARTNER_APP:
        identity.forget(revocation.key)


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring``: ``broker=`` and ``verifier=`` as for every service; ``identity_transport=``
    and ``events_transport=`` (httpx transports: in-process apps in the embedded mode and
    tests); ``webhook_resolver=`` (the host → addresses lookup the webhook sender checks and
    connects by: tests); ``clock=`` (a function returning an aware datetime: tests move time
    to walk the retry schedule)."""
    settings = settings or Settings()
    identity_transport: httpx.AsyncBaseTransport | None = wiring.pop("identity_transport", None)
    events_transport: httpx.AsyncBaseTransport | None = wiring.pop("events_transport", None)
    webhook_resolver: Resolver | None = wiring.pop("webhook_resolver", None)
    clock: Callable[[], datetime] = wiring.pop("clock", utc_now)

    async def start_partner(app: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = _build_context(settings, runtime, clock=clock,
                                         identity_transport=identity_transport,
                                         events_transport=events_transport,
                                         webhook_resolver=webhook_resolver or resolve_host)
        _register_webhook_counters(app, runtime)

    return create_service_app(
        settings,
        title="Ping'an e-Home partner API",
        routers=[router, open311_router],
        subscriptions=SUBSCRIPTIONS,
        workers=[_delivery_worker],
        on_startup=[start_partner],
        on_shutdown=[_stop_partner],
        **wiring,
    )


def _build_context(
    settings: Settings,
    runtime: ServiceRuntime,
    *,
    clock: Callable[[], datetime],
    identity_transport: httpx.AsyncBaseTransport | None,
    events_transport: httpx.AsyncBaseTransport | None,
    webhook_resolver: Resolver,
) -> PartnerContext:
    """The clients of identity (partner credentials) and events (submissions), the per-app
    rate limits and the clock."""
    identity = IdentityClient(
        base_url=settings.identity_base_url, internal_key=settings.internal_api_key,
        cache_seconds=settings.credentials_cache_seconds,
        timeout=settings.http_timeout_seconds, transport=identity_transport)
    events = EventsClient(
        base_url=settings.events_base_url, timeout=settings.http_timeout_seconds,
        internal_key=settings.internal_api_key, transport=events_transport)
    limiter = AppRateLimits(per_second=settings.rate_limit_per_second,
                            burst=settings.rate_limit_burst, overrides=settings.rate_limits)
    # A disabled app is refused within seconds, not when its cached credentials expire:
    # the revocation feed says which app, and the cache forgets it.
    unsubscribe = runtime.verifier.revocations.subscribe(
        functools.partial(_forget_disabled_app, identity))
    return PartnerContext(settings=settings, clock=clock, limiter=limiter, identity=identity,
                          events=events, webhook_resolver=webhook_resolver,
                          unsubscribe_revocations=unsubscribe)


def _register_webhook_counters(app: FastAPI, runtime: ServiceRuntime) -> None:
    """The delivery worker's counters on /metrics, registered once per app."""
    if getattr(app.state, "partner_metrics_registered", False):
        return
    app.state.partner_metrics_registered = True

    def worker_total(attr: str) -> Callable[[], float]:
        # The context of the runtime that is up now (none while stopped: 0).
        return lambda: float(getattr(getattr(runtime.context, "deliveries", None), attr, 0))

    app.state.metrics.register_counters({
        "webhook_delivered_total": worker_total("delivered_total"),
        "webhook_failed_attempts_total": worker_total("failed_attempts_total"),
    })


async def _stop_partner(app: FastAPI, runtime: ServiceRuntime) -> None:
    if isinstance(runtime.context, PartnerContext):  # None if the start hook never ran
        await runtime.context.aclose()


def _delivery_worker(runtime: ServiceRuntime) -> DeliveryWorker:
    context = runtime.context_as(PartnerContext)
    context.deliveries = DeliveryWorker(runtime, context)
    return context.deliveries
