"""Unit of work: one transaction for a use case's state changes and the events they cause."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol, cast

import asyncpg
import orjson
from asyncpg.transaction import Transaction
from pydantic import BaseModel
from sqlalchemy import Interval, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import contracts
from shared.context import current_correlation_id
from shared.db.database import Database
from shared.db.statements import Statement
from shared.messaging.envelope import Envelope, publish_key
from shared.messaging.tables import outbox

_NO_PARAMS: Mapping[str, Any] = {}
_OUTBOX_COLUMNS = ("event_id", "event_type", "routing_key", "envelope")
# The outbox row and the NOTIFY that wakes the relays (PostgreSQL delivers it at commit, and
# only once per channel and transaction however often it is raised): one statement per event
# instead of a second round trip for pg_notify before every commit.
_EMIT = Statement(
    outbox.insert().from_select(
        list(_OUTBOX_COLUMNS),
        select(*(bindparam(name, type_=outbox.c[name].type) for name in _OUTBOX_COLUMNS))
        .select_from(func.pg_notify(bindparam("channel"), "")),
    )
)
# With a dispatcher in this process: no NOTIFY (it serialises committing transactions on a
# database-wide lock, and nobody else needs waking), and the row is held from the relays'
# sweep until ``now() + hold``, while this process publishes it.
_EMIT_HELD = Statement(
    outbox.insert()
    .values(
        {name: bindparam(name, type_=outbox.c[name].type) for name in _OUTBOX_COLUMNS}
        | {"next_attempt_at": func.now() + bindparam("hold", type_=Interval)}
    )
    .returning(outbox.c.id)
)


# A transaction's outbox rows in one statement, in the order they were emitted (each row's id
# follows that order, so the relays publish them in it).
_EMIT_MANY_COLUMNS = (
    " SELECT e.event_id, e.event_type, e.routing_key, CAST(e.envelope AS jsonb){extra}"
    " FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS text[]),"
    " CAST(:routing_keys AS text[]), CAST(:envelopes AS text[])) WITH ORDINALITY"
    " AS e(event_id, event_type, routing_key, envelope, position)"
)
_EMIT_MANY = Statement(text(
    "INSERT INTO outbox (event_id, event_type, routing_key, envelope)"
    + _EMIT_MANY_COLUMNS.format(extra="")
    + " CROSS JOIN (SELECT pg_notify(:channel, '')) AS notified ORDER BY e.position"
))
_EMIT_MANY_HELD = Statement(text(
    "INSERT INTO outbox (event_id, event_type, routing_key, envelope, next_attempt_at)"
    + _EMIT_MANY_COLUMNS.format(extra=", now() + CAST(:hold AS interval)")
    + " ORDER BY e.position RETURNING id, event_id"
))


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A committed outbox row, as the dispatcher publishes it."""

    id: int
    event_id: uuid.UUID
    routing_key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An integration event ready for its outbox row: the one way an outbox row is built,
    whether ``UnitOfWork.emit`` writes it or a measured fast path writes it in its own SQL."""

    envelope: Envelope
    routing_key: str
    values: dict[str, Any]  # the envelope as JSON-ready values (the row's ``envelope`` column)

    @property
    def body(self) -> bytes:
        return orjson.dumps(self.values)

    def row(self) -> dict[str, Any]:
        """The outbox columns, by name."""
        return {
            "event_id": self.envelope.event_id,
            "event_type": self.envelope.event_type,
            "routing_key": self.routing_key,
            "envelope": self.values,
        }


def outbox_entry(
    event_type: str,
    payload: BaseModel | dict[str, Any],
    *,
    producer: str,
    version: int | None = None,
) -> OutboxEntry:
    """Check the payload against its contract and wrap it in an envelope with the current
    correlation id, published under its contract's topic."""
    checked_version, body = contracts.validate_payload(event_type, version, payload)
    envelope = Envelope(
        event_type=event_type,
        version=checked_version,
        producer=producer,
        correlation_id=current_correlation_id(),
        payload=body,
    )
    key = publish_key(envelope, contracts.topic_of(event_type, checked_version, body))
    return OutboxEntry(envelope, key, envelope.model_dump(mode="json"))


class OutboxDispatcher(Protocol):
    """Publishes a transaction's outbox rows as soon as it commits (the relay of this process).
    Rows it never gets to publish are left to the relays' sweep once ``hold`` has passed."""

    @property
    def hold(self) -> timedelta: ...

    def dispatch(self, records: list[OutboxRecord]) -> None: ...


async def _abandon(connection: AsyncConnection, raw: asyncpg.Connection, transaction: Transaction
                   ) -> None:
    """Roll back after an error. A connection that cannot (an operation cut off by a
    cancellation, a lost server) is discarded, never handed on; and nothing raised here may
    take the place of the error being handled (a swallowed cancellation hangs its task)."""
    try:
        if raw.is_in_transaction():
            await transaction.rollback()
    except Exception:
        try:
            await connection.invalidate()
        except Exception:
            raw.terminate()
    except BaseException:
        raw.terminate()  # cancelled while rolling back: close it without awaiting anything
        raise


class UnitOfWork:
    """``async with uow:`` opens a transaction that commits on clean exit and rolls back on
    error. Nested ``async with`` blocks join the outer transaction, so a bus handler's inbox
    record and the use case it calls commit together.

    The transaction is the asyncpg connection's own. SQLAlchemy runs that connection in
    autocommit mode (the engine's setting), so it never opens or ends a transaction itself: its
    Core statements (through ``connection``) run inside the one PostgreSQL has open, and so do
    hot-path ``Statement``s run through ``fetch``/``fetchrow``/``fetchval``/``execute`` without
    SQLAlchemy's execution machinery. A store function takes the unit of work and uses one of
    the two; nothing uses the ORM."""

    def __init__(self, database: Database, *, producer: str) -> None:
        self._database = database
        self._producer = producer
        self._connection: AsyncConnection | None = None
        self._raw: asyncpg.Connection | None = None
        self._transaction: Transaction | None = None
        self._depth = 0
        self._emitted: list[Envelope] = []
        self._pending: list[OutboxEntry] = []  # emitted, written just before the commit
        self._records: list[OutboxRecord] = []

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._connection

    @property
    def emitted(self) -> list[Envelope]:
        """Events written to the outbox in this transaction (for tests and logs)."""
        return list(self._emitted)

    # -- hot-path statements ---------------------------------------------------------------

    def _driver(self) -> asyncpg.Connection:
        if self._raw is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._raw

    async def fetch(
        self, statement: Statement, params: Mapping[str, Any] = _NO_PARAMS
    ) -> list[asyncpg.Record]:
        return await self._driver().fetch(statement.sql, *statement.arguments(params))

    async def fetchrow(
        self, statement: Statement, params: Mapping[str, Any] = _NO_PARAMS
    ) -> asyncpg.Record | None:
        return await self._driver().fetchrow(statement.sql, *statement.arguments(params))

    async def fetchval(self, statement: Statement, params: Mapping[str, Any] = _NO_PARAMS) -> Any:
        return await self._driver().fetchval(statement.sql, *statement.arguments(params))

    async def execute(self, statement: Statement, params: Mapping[str, Any] = _NO_PARAMS) -> int:
        """Run a statement; how many rows it touched."""
        status = await self._driver().execute(statement.sql, *statement.arguments(params))
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    # -- transaction -------------------------------------------------------------------------

    async def __aenter__(self) -> UnitOfWork:
        if self._depth == 0:
            connection = self._database.engine.connect()
            await connection.start()
            try:
                raw = cast(asyncpg.Connection,
                           (await connection.get_raw_connection()).driver_connection)
                transaction = raw.transaction()
                await transaction.start()
            except BaseException:
                await connection.invalidate()  # BEGIN may or may not have happened
                await connection.close()
                raise
            self._connection, self._raw, self._transaction = connection, raw, transaction
            self._emitted, self._pending, self._records = [], [], []
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        connection, self._connection = self._connection, None
        raw, self._raw = self._raw, None
        transaction, self._transaction = self._transaction, None
        assert connection is not None
        assert raw is not None
        assert transaction is not None
        try:
            if exc_type is None:
                await self._write_outbox(raw)
                await transaction.commit()
        except BaseException:
            await _abandon(connection, raw, transaction)
            raise
        else:
            if exc_type is not None:
                await _abandon(connection, raw, transaction)
        finally:
            self._pending = []
            await connection.close()
        records, self._records = self._records, []
        dispatcher = self._database.outbox_dispatcher
        if exc_type is None and records and dispatcher is not None:
            dispatcher.dispatch(records)

    async def emit(
        self,
        event_type: str,
        payload: BaseModel | dict[str, Any],
        *,
        version: int | None = None,
    ) -> Envelope:
        """Record an integration event in the outbox, inside this transaction. The payload is
        checked now; the rows of a transaction are written together just before it commits
        (one statement for a consumer's whole batch, not one per event)."""
        if self._depth == 0:
            raise RuntimeError("unit of work used outside 'async with'")
        entry = outbox_entry(event_type, payload, producer=self._producer, version=version)
        self._pending.append(entry)
        self._emitted.append(entry.envelope)
        return entry.envelope

    async def _write_outbox(self, raw: asyncpg.Connection) -> None:
        """The transaction's outbox rows, in the order they were emitted: held for this
        process's dispatcher when it has one (their ids kept for it), else announced to every
        relay by NOTIFY."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        dispatcher = self._database.outbox_dispatcher
        if len(pending) == 1:
            await self._write_one(raw, pending[0], dispatcher)
            return
        columns = {
            "event_ids": [entry.envelope.event_id for entry in pending],
            "event_types": [entry.envelope.event_type for entry in pending],
            "routing_keys": [entry.routing_key for entry in pending],
            "envelopes": [entry.body.decode() for entry in pending],
        }
        if dispatcher is None:
            await raw.execute(_EMIT_MANY.sql, *_EMIT_MANY.arguments(
                columns | {"channel": self._database.notify_channel}))
            return
        rows = await raw.fetch(_EMIT_MANY_HELD.sql, *_EMIT_MANY_HELD.arguments(
            columns | {"hold": dispatcher.hold}))
        ids = {row["event_id"]: row["id"] for row in rows}
        self._records.extend(
            OutboxRecord(ids[entry.envelope.event_id], entry.envelope.event_id,
                         entry.routing_key, entry.body)
            for entry in pending)

    async def _write_one(self, raw: asyncpg.Connection, entry: OutboxEntry,
                         dispatcher: OutboxDispatcher | None) -> None:
        params = entry.row()
        if dispatcher is None:
            await raw.execute(_EMIT.sql, *_EMIT.arguments(
                params | {"channel": self._database.notify_channel}))
            return
        row_id = await raw.fetchval(_EMIT_HELD.sql, *_EMIT_HELD.arguments(
            params | {"hold": dispatcher.hold}))
        self._records.append(
            OutboxRecord(row_id, entry.envelope.event_id, entry.routing_key, entry.body))
