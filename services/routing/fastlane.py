"""Patrol points without the framework in between.

``POST /api/v1/routing/patrols/{patrol_id}/points`` is the upload every grid worker's phone
makes every few seconds while on patrol (issue #19's bench: 5,000 workers x 10 batches), and
is answered here as plain ASGI. The route in api/duty.py stays its one declaration (its
OpenAPI); this lane takes the path from that route and validates with the same declarations
(the path's UUID, the ``PointBatch`` body), so the two answer alike: measured in-process, the
use case costs about 0.9 ms of CPU a batch, the same request through FastAPI about 2.2 ms.
The batch goes in as one autocommit statement on a small pool of raw connections of its own
(one round trip, not BEGIN/statement/COMMIT); a batch that stores nothing is answered by the
ordinary use case, with its reasons. It sits inside the request-context middleware: request
ids, the access log and metrics are unchanged. The plumbing is shared/web/fastlane.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope

from services.routing.api import duty as duty_api
from services.routing.api import router
from services.routing.schemas_duty import PointBatch
from services.routing.service.duty.patrols import add_points_now
from shared.auth.tokens import ENDORSEMENT_HEADER
from shared.db.hot_pool import open_hot_pool
from shared.settings import ServiceSettings
from shared.web.fastlane import (
    Invalid,
    JsonBody,
    ServiceLane,
    bearer,
    checked,
    read_body,
    request_headers,
)
from shared.web.runtime import ServiceRuntime

# 200 points of about 100 bytes each, with room for a pretty-printed body.
_MAX_BODY = 256 * 1024
# Connections of the points pool at most: each holds one short statement at a time. Half
# the bench's 32 uploads at once: at 8, batches queued behind a slow commit (p99 224-363 ms at
# 1,000 workers), at 32 no better (230 ms); at 16, 146-153 ms.
POOL_SIZE = 16
_PATROL_ID = TypeAdapter(uuid.UUID)
_BODY = JsonBody(PointBatch)


def _declared_path() -> str:
    """The path of the route api/duty.py declares for the points upload."""
    for route in duty_api.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is duty_api.add_points:
            return router.prefix + route.path
    raise RuntimeError("api/duty.py declares no points upload route")


class PointsPool:
    """The lane's pool of raw connections, opened when the service starts."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self.pool: asyncpg.Pool | None = None

    async def open(self, _: FastAPI, runtime: ServiceRuntime) -> None:
        # Connected as uploads come, so the service starts while the database is away.
        self.pool = await open_hot_pool(
            self._settings.database_url, schema=runtime.database.schema,
            size=min(POOL_SIZE, self._settings.db_pool_size),
            application_name="ehome-routing-points",
            plan_cache_mode=runtime.database.plan_cache_mode)

    async def close(self, _: FastAPI, __: ServiceRuntime) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()


class PatrolPointsLane(ServiceLane):
    template = _declared_path()

    def __init__(self, app: ASGIApp, *, runtime: Callable[[], ServiceRuntime | None],
                 points: PointsPool) -> None:
        super().__init__(app, runtime=runtime)
        self._points = points

    def ready(self) -> bool:
        return super().ready() and self._points.pool is not None

    async def handle(self, params: tuple[str, ...], scope: Scope, receive: Receive
                     ) -> tuple[int, dict[str, Any]]:
        runtime, pool = self.started(), self._points.pool
        assert pool is not None  # ready() said so
        headers = request_headers(scope)
        # In the framework's order: the body read and decoded, the token, then the inputs.
        raw = await read_body(receive, limit=_MAX_BODY,
                              too_large="a batch is at most 200 points")
        decoded = _BODY.decode(raw, headers.get("content-type"))
        principal = await runtime.verifier.verify_async(
            bearer(headers.get("authorization")), headers.get(ENDORSEMENT_HEADER))
        errors: list[dict[str, Any]] = []
        patrol_id = checked(_PATROL_ID, params[0], ["path", "patrol_id"], errors)
        batch = _BODY.validate(decoded, errors)
        if errors or batch is None:
            raise Invalid(errors)
        accepted = await add_points_now(pool, runtime.uow(), principal=principal,
                                        patrol_id=patrol_id, batch=batch)
        return 200, accepted.model_dump(mode="json")
