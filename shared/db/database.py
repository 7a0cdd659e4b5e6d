"""Async engine and session factory for one service schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    create_async_engine,
)

from shared.db.statements import json_dumps
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.db.uow import OutboxDispatcher


def normalize_database_url(url: str) -> str:
    """Accept the libpq spelling (``postgresql://``) and use the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL in the form asyncpg.connect() takes (no ``+asyncpg`` driver suffix)."""
    return make_url(normalize_database_url(url)).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


def server_settings(
    *, schema: str, application_name: str, plan_cache_mode: str | None = None
) -> dict[str, str]:
    """Session settings of every connection a service opens (its engine and any raw asyncpg
    pool): the service schema first on the search_path, a name in pg_stat_activity, and the
    configured plan_cache_mode (tests force generic plans, see DatabaseSettings)."""
    values = {"search_path": schema, "application_name": application_name[:63]}
    if plan_cache_mode:
        values["plan_cache_mode"] = plan_cache_mode
    return values


class Database:
    """The engine of one service. Every connection's search_path is the service schema, so
    tables are declared unqualified and the same code serves a prefixed test schema."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.url = normalize_database_url(settings.database_url)
        self.schema = settings.schema
        self.plan_cache_mode = settings.db_plan_cache_mode
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            # Optimistic disconnect handling: a pre-ping would cost a round trip per request;
            # after a database restart the first failing statement invalidates the pool.
            pool_pre_ping=False,
            pool_recycle=1800,
            # Transactions are the unit of work's, opened on the asyncpg connection itself
            # (see UnitOfWork); SQLAlchemy never begins or ends one.
            isolation_level="AUTOCOMMIT",
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
            connect_args={
                "server_settings": server_settings(
                    schema=self.schema,
                    application_name=f"ehome-{settings.service_name}",
                    plan_cache_mode=settings.db_plan_cache_mode,
                ),
                "timeout": 10,
            },
        )
        # Set while this process runs an outbox relay: units of work hand it what they
        # committed, to publish at once (see UnitOfWork.emit).
        self.outbox_dispatcher: OutboxDispatcher | None = None

    @property
    def notify_channel(self) -> str:
        """LISTEN/NOTIFY channel that wakes this schema's outbox relay."""
        return f"outbox_{self.schema}"[:63]

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
