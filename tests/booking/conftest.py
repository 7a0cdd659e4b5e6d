"""Fixtures of the booking tests: a running booking app, operators and verified residents,
and rounds built through the operator API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.booking.app import create_app
from services.booking.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.db.migrate import schema_name
from shared.testing.plugin import Migrator, running

COUNTY = "350623"  # 漳浦县
TOWN = "350623100"
OTHER_COUNTY = "350624"


def at(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def round_body(
    *,
    points: list[dict[str, Any]] | None = None,
    opens: float = -5,
    closes: float = 60,
    pickup_starts: float = -5,
    pickup_ends: float = 180,
    eligibility: list[str] | None = None,
    limit_per: str = "person",
    region: str = COUNTY,
) -> dict[str, Any]:
    return {
        "title": f"口罩发放 {uuid.uuid4().hex[:6]}",
        "region_code": region,
        "items": [{"name": "口罩", "quantity": 5, "unit": "只"}],
        "booking_opens_at": at(opens),
        "booking_closes_at": at(closes),
        "pickup_starts_at": at(pickup_starts),
        "pickup_ends_at": at(pickup_ends),
        "eligibility_regions": [COUNTY] if eligibility is None else eligibility,
        "limit_per": limit_per,
        "pickup_points": points
        or [{"name": "绥安镇社区服务中心", "region_code": TOWN, "quota": 10}],
    }


@dataclass
class BookingWorld:
    """One booking app on its own schema, with helpers to seed and inspect it."""

    client: httpx.AsyncClient
    app: FastAPI
    engine: AsyncEngine
    schema: str
    make_token: Callable[..., str]
    prefix: str = ""
    operator_token: str = ""
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def operator(self) -> dict[str, str]:
        return self.auth(self.operator_token)

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        async with self.engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{self.schema}"'))
            result = await conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    async def scalar(self, statement: str, **params: Any) -> Any:
        return (await self.sql(statement, **params))[0][0]

    async def verified_residents(
        self,
        count: int,
        *,
        region: str = TOWN,
        household: Callable[[int], str | None] = lambda _: None,
    ) -> list[uuid.UUID]:
        """Residents the read model knows as verified (as identity.user_verified would)."""
        users = [uuid.uuid4() for _ in range(count)]
        async with self.engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{self.schema}"'))
            await conn.execute(
                text(
                    "INSERT INTO eligible_residents (user_id, region_code, household_id, "
                    "verified_at) VALUES (:u, :r, :h, now())"
                ),
                [{"u": u, "r": region, "h": household(i)} for i, u in enumerate(users)],
            )
        for user in users:
            self.tokens[user] = self.make_token(subject=user, roles=["resident"], verified=True)
        return users

    def resident(self, user: uuid.UUID) -> dict[str, str]:
        return self.auth(self.tokens[user])

    async def create_round(self, **kwargs: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/booking/rounds", json=round_body(**kwargs), headers=self.operator
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def book(
        self, user: uuid.UUID, round_id: str, point_id: str, **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/booking/rounds/{round_id}/bookings",
            json={"pickup_point_id": point_id, **extra},
            headers=self.resident(user),
        )


@pytest.fixture
async def world_factory(
    migrator: Migrator,
    database_url: str,
    run_prefix: str,
    service_settings: Callable[..., Settings],
    token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> AsyncIterator[Callable[..., Any]]:
    """``async with world_factory(**settings) as world``: a fresh schema per world, so counts
    in SQL belong to the test alone."""
    from contextlib import asynccontextmanager

    engines: list[AsyncEngine] = []
    prefixes: set[str] = set()

    @asynccontextmanager
    async def build(
        *, prefix: str | None = None, wiring: dict[str, Any] | None = None, **overrides: Any
    ) -> AsyncIterator[BookingWorld]:
        """``prefix`` reuses an earlier world's schema (a restart); ``wiring`` reaches
        create_app (a shared broker)."""
        prefix = prefix or f"{run_prefix}{uuid.uuid4().hex[:6]}"
        await migrator.ensure("booking", prefix=prefix)
        prefixes.add(prefix)
        overrides.setdefault("amqp_prefix", prefix)
        overrides.setdefault("hot_pool_size", 4)
        settings = service_settings(Settings, schema_prefix=prefix, **overrides)
        app = create_app(settings, verifier=token_verifier, **(wiring or {}))
        engine = create_async_engine(database_url, pool_size=2)
        engines.append(engine)
        async with running(app) as client:
            world = BookingWorld(
                client=client,
                app=app,
                engine=engine,
                schema=schema_name("booking", prefix),
                make_token=make_token,
                prefix=prefix,
            )
            world.operator_token = make_token(roles=["booking_operator"], regions=[COUNTY])
            yield world

    yield build
    for engine in engines:
        await engine.dispose()
    for prefix in prefixes:
        migrator.release(prefix)


@pytest.fixture
async def world(world_factory: Callable[..., Any]) -> AsyncIterator[BookingWorld]:
    async with world_factory() as built:
        yield built
