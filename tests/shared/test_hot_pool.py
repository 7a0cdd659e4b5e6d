"""A hot path's own pool (shared/db/hot_pool.py), as booking's surge claims and routing's
patrol points use it: bounded, connected lazily or up front, with the service's session
settings, and no reset round trip between borrowers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.events.settings import Settings as EventsSettings
from shared.db.hot_pool import open_hot_pool
from shared.settings import ServiceSettings
from shared.testing.plugin import PLAN_CACHE_MODE


async def test_a_hot_pool_connects_only_as_requests_come(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    settings = service_settings(EventsSettings)
    pool = await open_hot_pool(settings.database_url, schema=settings.schema, size=3,
                               application_name="ehome-test-hot")
    try:
        assert pool.get_size() == 0
        assert await pool.fetchval("SELECT 1") == 1
        assert pool.get_size() == 1
    finally:
        await pool.close()


async def test_a_pool_for_a_surge_holds_all_its_connections_before_the_first_request(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    settings = service_settings(EventsSettings)
    pool = await open_hot_pool(settings.database_url, schema=settings.schema, size=3,
                               application_name="ehome-test-hot", connect_at_start=True)
    try:
        assert pool.get_size() == 3
        assert pool.get_idle_size() == 3
    finally:
        await pool.close()


async def test_a_hot_pool_never_opens_more_than_its_size(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    settings = service_settings(EventsSettings)
    pool = await open_hot_pool(settings.database_url, schema=settings.schema, size=2,
                               application_name="ehome-test-hot")
    try:
        await asyncio.gather(*[pool.fetchval("SELECT pg_sleep(0.05)") for _ in range(6)])
        assert pool.get_size() == 2
    finally:
        await pool.close()


async def test_its_connections_carry_the_service_session_settings(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    settings = service_settings(EventsSettings)
    pool = await open_hot_pool(settings.database_url, schema=settings.schema, size=1,
                               application_name="ehome-test-hot",
                               plan_cache_mode=PLAN_CACHE_MODE)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW search_path") == settings.schema
            assert await conn.fetchval("SHOW application_name") == "ehome-test-hot"
            assert await conn.fetchval("SHOW plan_cache_mode") == PLAN_CACHE_MODE
    finally:
        await pool.close()


async def test_a_lazy_hot_pool_opens_while_the_database_is_away() -> None:
    # Port 1 refuses connections: the service must still start, and the request fails.
    pool = await open_hot_pool("postgresql://postgres@127.0.0.1:1/postgres", schema="public",
                               size=2, application_name="ehome-test-hot")
    try:
        with pytest.raises(ConnectionRefusedError):
            await pool.fetchval("SELECT 1")
    finally:
        pool.terminate()


async def test_a_borrower_gets_the_connection_without_a_reset_round_trip(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    """asyncpg's default reset (RESET ALL, UNLISTEN, ...) is a round trip per release; a hot
    path sets no session state, so the pool skips it: a setting made by one borrower is
    still there for the next (which is why hot paths must never SET anything)."""
    settings = service_settings(EventsSettings)
    pool = await open_hot_pool(settings.database_url, schema=settings.schema, size=1,
                               application_name="ehome-test-hot")
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '7s'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "7s"
    finally:
        await pool.close()

