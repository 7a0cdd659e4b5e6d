"""What the grid duty and patrol tests share: the routing app on a fixed clock, people's
tokens, fresh grids, and SQL on routing's schema. (No tests here.)"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.routing.app import create_app
from services.routing.settings import Settings
from shared.testing.plugin import Migrator, running
from shared.web.runtime import ServiceRuntime
from tests.events.flows import COUNTY, TOWN, bearer

ROUTING = "/api/v1/routing"
# Monday 7 December 2026, 10:00 in Shanghai.
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
OTHER_TOWN = "350626107"
# A square of about 220 m by 200 m round (24.5000, 117.5000).
SQUARE = [[24.499, 117.499], [24.499, 117.501], [24.501, 117.501], [24.501, 117.499]]


def fresh_grid(town: str = TOWN) -> str:
    """A grid of its own for each test (tests share the run's schema)."""
    return f"{town}{random.randrange(1, 999):03d}{random.randrange(1, 999):03d}"


@dataclass
class Duty:
    client: httpx.AsyncClient
    app: FastAPI
    make_token: Callable[..., str]

    def worker(self, *grids: str, subject: uuid.UUID | None = None) -> tuple[uuid.UUID,
                                                                              dict[str, str]]:
        subject = subject or uuid.uuid4()
        return subject, bearer(self.make_token(subject=subject, roles=["grid_worker"],
                                               regions=list(grids)))

    def manager(self, region: str = TOWN, role: str = "dispatcher") -> dict[str, str]:
        return bearer(self.make_token(roles=[role], regions=[region]))

    def county_supervisor(self) -> dict[str, str]:
        return self.manager(COUNTY, "supervisor")

    async def post(self, path: str, headers: dict[str, str], body: Any,
                   **more: str) -> httpx.Response:
        return await self.client.post(f"{ROUTING}{path}", json=body, headers=headers | more)

    async def get(self, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
        return await self.client.get(f"{ROUTING}{path}", headers=headers, params=params)

    async def put(self, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
        return await self.client.put(f"{ROUTING}{path}", json=body, headers=headers)

    async def enrol(self, grid: str, *, status: str = "active") -> tuple[uuid.UUID,
                                                                         dict[str, str]]:
        """A grid worker enrolled in ``grid`` (as the workforce API leaves one), and their
        token."""
        worker_id, headers = self.worker(grid)
        await self.sql(
            "INSERT INTO grid_worker_profiles (user_id, display_name, kind, grid_codes, "
            "started_on, status, created_at, updated_at) VALUES (:u, '网格员', 'full_time', "
            "ARRAY[:g], '2026-01-01', :s, now(), now()) RETURNING 1",
            u=worker_id, g=grid, s=status)
        return worker_id, headers

    async def sql(self, statement: str, **params: Any) -> Any:
        runtime: ServiceRuntime = self.app.state.runtime
        async with runtime.uow() as uow:
            return (await uow.connection.execute(text(statement), params)).scalar()


@pytest.fixture(name="duty")
async def duty_fixture(migrator: Migrator, service_settings: Callable[..., Any],
                       token_verifier: Any, make_token: Callable[..., str]
                       ) -> AsyncIterator[Duty]:
    await migrator.ensure("routing")
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier, clock=lambda: NOW)
    async with running(app) as client:
        yield Duty(client, app, make_token)


def at(minutes: float = 0.0) -> str:
    """A device time ``minutes`` after NOW (negative: before)."""
    return (NOW + timedelta(minutes=minutes)).isoformat()
