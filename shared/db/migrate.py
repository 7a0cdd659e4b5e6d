"""Alembic migrations per service, each in its own schema with its own version table.

Run by a command (``python -m shared.db.migrate all`` / ``make migrate``, a Kubernetes Job, the
embedded launcher, the test fixtures), never at import or app start. A transaction-scoped
advisory lock per schema makes concurrent runs (two Jobs, parallel test sessions) safe.

Each service's ``migrations/env.py`` is two lines that call :func:`run_alembic_env`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db.database import normalize_database_url

SERVICES = ("identity", "events", "routing", "feedback", "relief", "booking")
# Every schema migrated by "all": the services plus the gateway's partner app.
SCHEMAS = (*SERVICES, "partner")
_ROOT = Path(__file__).resolve().parents[2]
# Schemas whose migrations live outside services/<name>/.
_MIGRATION_DIRS = {"partner": _ROOT / "gateway" / "partner" / "migrations"}


def migrations_dir(service: str) -> Path:
    return _MIGRATION_DIRS.get(service, _ROOT / "services" / service / "migrations")


def alembic_config(service: str, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.attributes["schema"] = schema
    cfg.attributes["service"] = service
    return cfg


def run_alembic_env() -> None:
    """Body of every service's ``migrations/env.py``: migrate on the connection we were given."""
    connection: Connection | None = context.config.attributes.get("connection")
    schema: str = context.config.attributes["schema"]
    if connection is None:
        raise RuntimeError("run migrations with 'python -m shared.db.migrate', not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table_schema=schema,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade_sync(connection: Connection, service: str, schema: str, revision: str) -> None:
    cfg = alembic_config(service, schema)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(
    database_url: str, service: str, schema: str, revision: str = "head",
    *, plan_cache_mode: str | None = None,
) -> None:
    """``plan_cache_mode``: as the services' connections have it (DatabaseSettings)."""
    engine = migration_engine(database_url, plan_cache_mode=plan_cache_mode)
    try:
        await upgrade_on(engine, service, schema, revision)
    finally:
        await engine.dispose()


def migration_engine(database_url: str, *, plan_cache_mode: str | None = None) -> AsyncEngine:
    settings = {"plan_cache_mode": plan_cache_mode} if plan_cache_mode else {}
    return create_async_engine(
        normalize_database_url(database_url), connect_args={"server_settings": settings}
    )


async def upgrade_on(
    engine: AsyncEngine, service: str, schema: str, revision: str = "head"
) -> None:
    """Migrate one schema in one transaction, under a lock per schema."""
    async with engine.begin() as conn:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"migrate:{schema}"}
        )
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.run_sync(_upgrade_sync, service, schema, revision)


def schema_name(service: str, prefix: str | None) -> str:
    return f"{prefix}_{service}" if prefix else service


async def upgrade_all(
    database_url: str, services: tuple[str, ...] = SCHEMAS, prefix: str | None = None
) -> None:
    for service in services:
        await upgrade(database_url, service, schema_name(service, prefix))


def main(argv: list[str] | None = None) -> int:
    from shared.settings import DatabaseSettings

    parser = argparse.ArgumentParser(description="Apply service migrations (alembic upgrade).")
    parser.add_argument("services", nargs="+", help=f"'all' or any of {', '.join(SCHEMAS)}")
    parser.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    wanted = SCHEMAS if args.services == ["all"] else tuple(args.services)
    unknown = set(wanted) - set(SCHEMAS)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    settings = DatabaseSettings()  # migrating needs the database only, not the service secrets
    for service in wanted:
        schema = schema_name(service, settings.schema_prefix)
        asyncio.run(upgrade(settings.database_url, service, schema, args.revision,
                            plan_cache_mode=settings.db_plan_cache_mode))
        print(f"migrated {service} (schema {schema}) to {args.revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
