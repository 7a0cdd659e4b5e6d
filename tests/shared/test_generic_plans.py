"""The suite runs every statement under PostgreSQL's generic plan from its first execution
(plan_cache_mode = force_generic_plan), so a statement correct only under a custom plan —
which PostgreSQL leaves after five executions of a prepared statement on a connection —
fails in the first test that runs it rather than on the sixth call in production."""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import text

from services.booking.app import create_app as create_booking_app
from services.booking.context import BookingContext
from services.booking.settings import Settings as BookingSettings
from services.events.settings import Settings as EventsSettings
from shared.auth.tokens import TokenVerifier
from shared.db.database import Database
from shared.settings import DatabaseSettings, ServiceSettings
from shared.testing.plugin import PLAN_CACHE_MODE, Migrator, running


async def test_service_connections_are_planned_generically_in_tests(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    assert PLAN_CACHE_MODE == "force_generic_plan"
    database = Database(service_settings(EventsSettings))
    try:
        async with database.engine.connect() as conn:
            mode = (await conn.execute(text("SHOW plan_cache_mode"))).scalar()
    finally:
        await database.dispose()
    assert mode == "force_generic_plan"


async def test_the_booking_hot_pool_is_planned_generically_in_tests(
    migrator: Migrator,
    service_settings: Callable[..., ServiceSettings],
    token_verifier: TokenVerifier,
) -> None:
    await migrator.ensure("booking")
    settings = service_settings(BookingSettings, hot_pool_size=1)
    app = create_booking_app(settings, verifier=token_verifier)  # type: ignore[arg-type]
    async with running(app):
        pool = app.state.runtime.context_as(BookingContext).hot_pool
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"


def test_processes_the_tests_launch_read_the_same_mode_from_the_environment() -> None:
    assert os.environ["EHOME_DB_PLAN_CACHE_MODE"] == "force_generic_plan"
    assert DatabaseSettings().db_plan_cache_mode == "force_generic_plan"


async def test_without_the_setting_the_server_default_stands(
    service_settings: Callable[..., ServiceSettings],
) -> None:
    database = Database(service_settings(EventsSettings, db_plan_cache_mode=None))
    try:
        async with database.engine.connect() as conn:
            mode = (await conn.execute(text("SHOW plan_cache_mode"))).scalar()
    finally:
        await database.dispose()
    assert mode == "auto"
