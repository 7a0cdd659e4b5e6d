"""Relief fixtures: the service app on this run's schema, a uvicorn stand-in for identity's
internal profile API, a clock tests can move (the public notice lasts 7 days)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.relief.app import create_app
from services.relief.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.settings import ServiceSettings
from shared.testing.live_server import serving
from shared.testing.plugin import Migrator, running
from tests.relief.flows import Reviewers, new_region
from tests.relief.identity_standin import IdentityStandIn

INTERNAL_KEY = "relief-tests-internal-key"


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture(scope="session")
async def identity_standin() -> AsyncIterator[IdentityStandIn]:
    standin = IdentityStandIn(internal_key=INTERNAL_KEY)
    async with serving(standin.app()) as base_url:
        standin.base_url = base_url
        yield standin


@dataclass
class ReliefWorld:
    client: httpx.AsyncClient
    identity: IdentityStandIn
    clock: MovableClock
    make_token: Callable[..., str]
    settings: Settings
    region: str
    staff: Reviewers

    def resident(self, **profile: Any) -> tuple[str, str]:
        """A verified resident of this test's region: (user_id, token)."""
        user_id = self.identity.add_resident(region_code=self.region, **profile)
        token = self.make_token(subject=user_id, roles=["resident"], verified=True)
        return str(user_id), token

    async def scalar(self, sql: str, **params: Any) -> Any:
        """One value from the relief schema (to check what was, or was not, written)."""
        engine = create_async_engine(self.settings.database_url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'SET search_path TO "{self.settings.schema}"'))
                return (await conn.execute(text(sql), params)).scalar()
        finally:
            await engine.dispose()


@pytest.fixture
async def relief_settings(
    migrator: Migrator,
    service_settings: Callable[..., ServiceSettings],
    identity_standin: IdentityStandIn,
) -> Settings:
    await migrator.ensure("relief")
    settings = service_settings(
        Settings, identity_base_url=identity_standin.base_url, internal_api_key=INTERNAL_KEY
    )
    assert isinstance(settings, Settings)
    return settings


@pytest.fixture
async def world(
    relief_settings: Settings,
    identity_standin: IdentityStandIn,
    token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> AsyncIterator[ReliefWorld]:
    clock = MovableClock()
    app = create_app(relief_settings, verifier=token_verifier, clock=clock)
    region = new_region()
    async with running(app) as client:
        yield ReliefWorld(
            client=client, identity=identity_standin, clock=clock, make_token=make_token,
            settings=relief_settings, region=region, staff=Reviewers.mint(make_token, region),
        )
