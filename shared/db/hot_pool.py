"""A hot path's own pool of raw asyncpg connections.

Booking's surge claims and routing's patrol points each run one short statement per request
straight on asyncpg (see shared/db/statements.py), on a small bounded pool of their own so a
surge cannot take the connections of the rest of the service. The connections carry the same
session settings as the service's engine (schema first on the search_path, a name in
pg_stat_activity, the configured plan_cache_mode), and are handed on without asyncpg's reset
round trip: a hot path sets no session state and never leaves a transaction open.
"""

from __future__ import annotations

import asyncpg

from shared.db.database import asyncpg_dsn, server_settings


async def _keep_session(_: asyncpg.Connection) -> None:
    """Nothing to reset between borrowers (see the module's docstring)."""


async def open_hot_pool(
    database_url: str, *, schema: str, size: int, application_name: str,
    plan_cache_mode: str | None = None, connect_at_start: bool = False,
) -> asyncpg.Pool:
    """A pool of at most ``size`` connections. By default it connects as requests come, so
    the service starts (as with its engine) while the database is away; with
    ``connect_at_start`` all ``size`` connections are opened before it returns (no first
    requests paying for a connect during a surge)."""
    return await asyncpg.create_pool(
        asyncpg_dsn(database_url),
        min_size=size if connect_at_start else 0,
        max_size=size,
        reset=_keep_session,
        server_settings=server_settings(
            schema=schema, application_name=application_name, plan_cache_mode=plan_cache_mode
        ),
    )
