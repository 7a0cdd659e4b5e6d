"""The test run's cheap schemas (replayed, or reused after a test) hold exactly what a real
migration makes: the same tables, columns, indexes, constraints, seed rows and sequences."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db.database import asyncpg_dsn
from shared.db.migrate import SCHEMAS, schema_name, upgrade
from shared.testing.plugin import Migrator

_DEFINITIONS = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
       || is_nullable || ' ' || coalesce(column_default, '') || ' '
       || coalesce(generation_expression, '')
FROM information_schema.columns WHERE table_schema = $1
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
UNION ALL
SELECT 'function ' || p.proname || ' ' || md5(p.prosrc)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
UNION ALL
SELECT 'sequence ' || sequencename || ' ' || coalesce(last_value, 0)
FROM pg_sequences WHERE schemaname = $1
"""
_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
"""
# A seed row's time is when its migration ran: compared, every other column.
_TIMELESS_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = $1 AND table_name = $2 AND data_type NOT LIKE 'timestamp%'
ORDER BY ordinal_position
"""


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    yield connection
    await connection.close()


async def _fingerprint(db: asyncpg.Connection, schema: str) -> list[str]:
    """Everything a schema holds, its own name taken out so two schemas compare."""
    lines = [row[0] for row in await db.fetch(_DEFINITIONS, schema)]
    for (table,) in await db.fetch(_TABLES, schema):
        columns = ", ".join(f'"{c}"' for (c,) in await db.fetch(_TIMELESS_COLUMNS, schema, table))
        rows = await db.fetch(f'SELECT ROW({columns})::text FROM "{schema}"."{table}"')
        lines.append(f"rows {table} {sorted(row[0] for row in rows)}")
    return sorted(line.replace(schema, "<schema>") for line in lines)


async def _dirty(db: asyncpg.Connection, schema: str) -> None:
    """What a test leaves behind: seed rows gone, rows of its own, sequences moved on."""
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        for (table,) in await db.fetch(_TABLES, schema):
            await db.execute(f'DELETE FROM "{schema}"."{table}"')
        await db.execute(
            f'INSERT INTO "{schema}".inbox (event_id, consumer, event_type) VALUES ($1, $2, $3)',
            uuid.uuid4(), "a test", "left.behind")
        for (sequence,) in await db.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = $1", schema
        ):
            await db.execute(f"""SELECT setval('"{schema}"."{sequence}"', 4242)""")


@pytest.mark.parametrize("service", SCHEMAS)
async def test_a_replayed_and_a_reused_schema_match_a_real_migration(
    service: str, database_url: str, migrator: Migrator, run_prefix: str,
    db: asyncpg.Connection,
) -> None:
    real, used, replayed, reused = (f"{run_prefix}z{uuid.uuid4().hex[:6]}" for _ in range(4))
    real_schema = schema_name(service, real)
    await upgrade(database_url, service, real_schema)
    migrator.drop_at_end(service, prefix=real)
    await migrator.ensure(service, prefix=used)  # migrated, or replayed when not the first
    await _dirty(db, schema_name(service, used))
    await migrator.ensure(service, prefix=replayed)  # nothing released yet: replayed
    migrator.release(used)
    await migrator.ensure(service, prefix=reused)  # the used one, renamed and emptied back

    expected = await _fingerprint(db, real_schema)
    assert await _fingerprint(db, schema_name(service, replayed)) == expected
    assert await _fingerprint(db, schema_name(service, reused)) == expected
    assert not await db.fetchval(
        "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)",
        schema_name(service, used))


async def test_a_schema_a_test_added_a_table_to_is_not_reused(
    migrator: Migrator, run_prefix: str, db: asyncpg.Connection
) -> None:
    used, fresh = (f"{run_prefix}z{uuid.uuid4().hex[:6]}" for _ in range(2))
    await migrator.ensure("booking", prefix=used)
    await db.execute(f'CREATE TABLE "{schema_name("booking", used)}".watched (id int)')
    migrator.release(used)
    await migrator.ensure("booking", prefix=fresh)

    tables = {row[0] for row in await db.fetch(_TABLES, schema_name("booking", fresh))}
    assert "bookings" in tables
    assert "watched" not in tables
    assert await db.fetchval(  # left as it was, dropped with the run's schemas
        "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)",
        schema_name("booking", used))
