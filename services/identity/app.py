"""Composition root of the identity service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.identity.api import router
from services.identity.context import IdentityContext, build_context, resolve_signing_key
from services.identity.handlers import build_subscriptions
from services.identity.realname import RealNameProvider
from services.identity.service.imports import abandoned_import_sweeper, start_imports
from services.identity.service.revocations import DatabaseRevocationSource
from services.identity.service.staff import ensure_bootstrap_admin
from services.identity.service.verification import verification_retry_worker
from services.identity.settings import Settings
from services.identity.wechat import WeChat
from shared.auth.tokens import SigningKey, TokenEndorser, TokenVerifier
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring``: ``broker=`` and ``verifier=`` (embedded mode, tests), ``signing_key=``
    (the launcher's key; otherwise EHOME_IDENTITY_SIGNING_KEY or, outside prod, a generated
    one), and test doubles ``wechat=`` / ``realname=``."""
    settings = settings or Settings()
    injected_key: SigningKey | None = wiring.pop("signing_key", None)
    wechat: WeChat | None = wiring.pop("wechat", None)
    realname: RealNameProvider | None = wiring.pop("realname", None)
    key = resolve_signing_key(settings, injected_key)
    verifier: TokenVerifier | None = wiring.pop("verifier", None)
    if verifier is None:
        # Identity verifies its own tokens with the key it signs with; no JWKS round trip.
        verifier = TokenVerifier(
            [key.public_key],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            endorser=TokenEndorser(settings.internal_api_key),
        )
    else:
        verifier.add_key(key.public_key)

    async def start_identity(app: FastAPI, runtime: ServiceRuntime) -> None:
        ctx = build_context(settings, key, wechat=wechat, realname=realname)
        runtime.context = ctx
        await ensure_bootstrap_admin(uow=runtime.uow(), ctx=ctx)

    async def stop_identity(app: FastAPI, runtime: ServiceRuntime) -> None:
        if isinstance(runtime.context, IdentityContext):
            await runtime.context.aclose()

    return create_service_app(
        settings,
        title="Ping'an e-Home identity",
        routers=[router],
        subscriptions=build_subscriptions(settings),
        workers=[verification_retry_worker, abandoned_import_sweeper],
        on_startup=[start_identity, start_imports],
        on_shutdown=[stop_identity],
        verifier=verifier,
        # Identity's replicas read revocations from their own table (every other process
        # polls the feed identity serves from it).
        revocation_source=DatabaseRevocationSource,
        **wiring,
    )
