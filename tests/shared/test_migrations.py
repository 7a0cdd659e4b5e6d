"""Migrations are run by a command, are repeatable, and safe when two runners race."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrate import schema_name, upgrade
from shared.testing.plugin import Migrator


async def _versions(database_url: str, schema: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def test_two_runners_racing_on_one_schema_leave_one_history(
    database_url: str, migrator: Migrator, run_prefix: str
) -> None:
    prefix = f"{run_prefix}m{uuid.uuid4().hex[:4]}"
    schema = schema_name("booking", prefix)
    await asyncio.gather(*(upgrade(database_url, "booking", schema) for _ in range(3)))
    migrator.drop_at_end("booking", prefix=prefix)
    await upgrade(database_url, "booking", schema)  # and again: nothing to do
    versions = await _versions(database_url, schema)
    assert len(versions) == 1


def test_the_migrate_command_applies_a_service_and_refuses_unknown_ones(
    database_url: str, run_prefix: str
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "EHOME_DB_SCHEMA_PREFIX": f"{run_prefix}cli",
        "PATH": "/usr/bin:/bin",
    }

    def migrate(*services: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "shared.db.migrate", *services]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    ok, bad = migrate("relief"), migrate("nonsense")
    assert ok.returncode == 0, ok.stderr
    assert f"migrated relief (schema {run_prefix}cli_relief)" in ok.stdout
    assert bad.returncode == 2
    assert "unknown services" in bad.stderr
    asyncio.run(_drop(database_url, f"{run_prefix}cli_relief"))


async def _drop(database_url: str, schema: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()
