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
from sqlalchemy import Interval, bindparam, func, select
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
            self._emitted, self._records = [], []
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
                await transaction.commit()
        except BaseException:
            await _abandon(connection, raw, transaction)
            raise
        else:
            if exc_type is not None:
                await _abandon(connection, raw, transaction)
        finally:
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
        """Record an integration event in the outbox, inside this transaction."""
        entry = outbox_entry(event_type, payload, producer=self._producer, version=version)
        params = entry.row()
        dispatcher = self._database.outbox_dispatcher
        if dispatcher is None:
            await self.execute(_EMIT, params | {"channel": self._database.notify_channel})
        else:
            row_id = await self.fetchval(_EMIT_HELD, params | {"hold": dispatcher.hold})
            self._records.append(
                OutboxRecord(row_id, entry.envelope.event_id, entry.routing_key, entry.body)
            )
        self._emitted.append(entry.envelope)
        return entry.envelope
