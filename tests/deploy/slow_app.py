"""The real feedback service with one extra slow route, so the graceful-shutdown test has a
request in flight when SIGTERM arrives. Test-only: uvicorn loads it with
``--factory tests.deploy.slow_app:create_app``."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.feedback.app import create_app as create_feedback_app
from shared.logs import get_logger

log = get_logger(__name__)


def create_app() -> FastAPI:
    app = create_feedback_app()  # settings from the environment, as in a container

    async def slow(seconds: float = 2.0) -> dict[str, float]:
        log.info("slow_request_started", seconds=seconds)
        await asyncio.sleep(seconds)
        log.info("slow_request_finished", seconds=seconds)
        return {"slept": seconds}

    app.add_api_route("/test-only/slow", slow, methods=["GET"])
    return app
