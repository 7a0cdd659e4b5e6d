"""Throwaway schemas, made cheaply: a test run needs hundreds of freshly migrated ones.

Alembic spends about 0.3 s migrating one service's schema (it loads every revision and
compiles each operation, and PostgreSQL creates every table). Two ways round it:

- **Replay**: the first migration of a service in a run is a real one whose statements are
  recorded; a later schema gets the same statements, the schema's name swapped, the ones
  without parameters sent together in one round trip, in one transaction.
- **Reuse**: a schema a test has finished with is renamed for the next one and emptied back
  to what the migration left (its seed rows copied from the pristine template, its sequences
  set back), in one round trip: no table is created at all.

Either way a schema holds exactly what a real migration made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.migrate import upgrade_on


@dataclass(frozen=True)
class _Statement:
    sql: str
    parameters: Any  # as the driver got them: a tuple, or a list of them when ``many``
    many: bool


@dataclass(frozen=True)
class RecordedMigration:
    schema: str
    statements: tuple[_Statement, ...]

    def into(self, schema: str) -> list[_Statement]:
        """The statements, made for another schema of the same service."""
        return [
            _Statement(st.sql.replace(self.schema, schema),
                       _renamed(st.parameters, self.schema, schema), st.many)
            for st in self.statements
        ]


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, (list, tuple)):
        return type(value)(_renamed(v, old, new) for v in value)
    return value


async def record_upgrade(engine: AsyncEngine, service: str, schema: str) -> RecordedMigration:
    """Migrate ``schema`` to head for real, keeping every statement sent on the way."""
    statements: list[_Statement] = []

    def keep(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any,
             many: bool) -> None:
        statements.append(_Statement(sql, parameters, many))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        await upgrade_on(engine, service, schema)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    return RecordedMigration(schema, tuple(statements))


async def replay(engine: AsyncEngine, recorded: RecordedMigration, schema: str) -> None:
    """Make ``schema`` as the recorded migration made its own, in one transaction."""
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.transaction():
            script: list[str] = []
            for statement in recorded.into(schema):
                if not statement.parameters:
                    script.append(statement.sql)
                    continue
                if script:
                    await driver.execute(";\n".join(script))
                    script = []
                if statement.many:
                    await driver.executemany(statement.sql, statement.parameters)
                else:
                    await driver.execute(statement.sql, *statement.parameters)
            if script:
                await driver.execute(";\n".join(script))


@dataclass(frozen=True)
class Reset:
    """The SQL that empties a used schema of a service back to what its migration left, the
    seed rows copied from the pristine ``template`` (``{schema}`` stands for the used one)."""

    template: str
    script: str
    shape: str  # the names of its tables, indexes, triggers and functions (see _SHAPE)

    def of(self, schema: str) -> str:
        return self.script.replace("{schema}", schema)


_TABLES = """
SELECT c.relname, c.relkind,
       array_agg(a.attname ORDER BY a.attnum) FILTER (WHERE a.attgenerated = '') AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
GROUP BY c.relname, c.relkind ORDER BY c.relname
"""
# A test that added a table, a trigger or a function to its schema (to watch something)
# leaves a schema no reset would make like the template again: it is not reused.
_SHAPE = """
SELECT md5(string_agg(name, ',' ORDER BY name)) FROM (
    SELECT 'relation ' || relname AS name FROM pg_class WHERE relnamespace = $1::regnamespace
    UNION ALL
    SELECT 'trigger ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal  -- named by OID
    UNION ALL
    SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = $1::regnamespace
) AS objects
"""
_SEQUENCES = """
SELECT sequencename, coalesce(last_value, start_value), last_value IS NOT NULL
FROM pg_sequences WHERE schemaname = $1
"""


async def reset_of(engine: AsyncEngine, template: str) -> Reset:
    """Read the pristine ``template`` schema once: its tables, seed rows and sequences.
    Foreign keys and triggers are off while it runs (``session_replication_role``), so the
    order of the tables does not matter."""
    statements = ["SET LOCAL session_replication_role = replica"]
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        for name, kind, columns in await driver.fetch(_TABLES, template):
            used, pristine = f'"{{schema}}"."{name}"', f'"{template}"."{name}"'
            if kind == "m":
                statements.append(f"REFRESH MATERIALIZED VIEW {used}")
                continue
            statements.append(f"DELETE FROM {used}")
            if await driver.fetchval(f"SELECT EXISTS (SELECT FROM {pristine})"):
                listed = ", ".join(f'"{column}"' for column in columns)
                statements.append(f"INSERT INTO {used} ({listed}) OVERRIDING SYSTEM VALUE "
                                  f"SELECT {listed} FROM {pristine}")
        for name, value, called in await driver.fetch(_SEQUENCES, template):
            statements.append(f"""SELECT setval('"{{schema}}"."{name}"', {value}, {called})""")
        shape = await driver.fetchval(_SHAPE, f'"{template}"')
    return Reset(template, ";\n".join(statements), shape)


class ChangedSchema(Exception):
    """A used schema whose objects are not its template's any more."""


async def reuse(engine: AsyncEngine, reset: Reset, used: str, schema: str) -> None:
    """Rename the ``used`` schema to ``schema`` and empty it back, in one transaction."""
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.transaction():
            if await driver.fetchval(_SHAPE, f'"{used}"') != reset.shape:
                raise ChangedSchema(f"{used} has objects its template has not")
            # A test still holding the schema (a leaked connection) fails this, not the run.
            await driver.execute(f"SET LOCAL lock_timeout = '5s';\n"
                                 f'ALTER SCHEMA "{used}" RENAME TO "{schema}";\n'
                                 + reset.of(schema))
