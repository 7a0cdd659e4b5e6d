"""Composition root of the events service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.events.api import router
from services.events.handlers import SUBSCRIPTIONS
from services.events.service import Clock
from services.events.settings import Settings
from services.events.storage import AttachmentStorage, LocalDirStorage
from shared.contracts.events import ReporterSeal
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests), and
    optionally ``clock`` (a callable returning an aware datetime) and ``storage``."""
    settings = settings or Settings()
    clock: Clock | None = wiring.pop("clock", None)
    storage: AttachmentStorage = wiring.pop("storage", None) or LocalDirStorage(
        settings.attachment_dir
    )

    pii = settings.pii_cipher()
    reporter_seal = ReporterSeal(settings.reporter_seal_keys,
                                 active_kid=settings.reporter_seal_active_key_id)

    async def collaborators(_: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.state["storage"] = storage
        runtime.state["pii"] = pii
        runtime.state["reporter_seal"] = reporter_seal
        if clock is not None:
            runtime.state["clock"] = clock

    return create_service_app(
        settings,
        title="Ping'an e-Home events",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        on_startup=[collaborators],
        **wiring,
    )
