"""Unit of work: one transaction for a use case's state changes and the events they cause."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared import contracts
from shared.context import current_correlation_id
from shared.db.database import Database
from shared.messaging.envelope import Envelope
from shared.messaging.tables import outbox

_OUTBOX_COLUMNS = ("event_id", "event_type", "routing_key", "envelope")
# The outbox row and the NOTIFY that wakes the relays (PostgreSQL delivers it at commit, and
# only once per channel and transaction however often it is raised): one statement per event
# instead of a second round trip for pg_notify before every commit.
_EMIT = outbox.insert().from_select(
    list(_OUTBOX_COLUMNS),
    select(*(bindparam(name, type_=outbox.c[name].type) for name in _OUTBOX_COLUMNS))
    .select_from(func.pg_notify(bindparam("channel"), "")),
)


class UnitOfWork:
    """``async with uow:`` opens a transaction that commits on clean exit and rolls back on
    error. Nested ``async with`` blocks join the outer transaction, so a bus handler's inbox
    record and the use case it calls commit together.

    The transaction is a Core connection's (``connection``): the ORM session's bookkeeping
    (a session object, identity map and state machine per transaction, ~15 µs more per
    statement) buys nothing for Core statements. ``session`` is an ORM session joined to the
    same transaction, created on first use, for stores written against one."""

    def __init__(self, database: Database, *, producer: str) -> None:
        self._database = database
        self._producer = producer
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._depth = 0
        self._emitted: list[Envelope] = []

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._connection

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            # Joins the connection's transaction (SQLAlchemy's default join mode): closing it
            # leaves the transaction alone; __aexit__ commits or rolls back the connection.
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    @property
    def emitted(self) -> list[Envelope]:
        """Events written to the outbox in this transaction (for tests and logs)."""
        return list(self._emitted)

    async def __aenter__(self) -> UnitOfWork:
        if self._depth == 0:
            connection = self._database.engine.connect()
            await connection.start()
            try:
                await connection.begin()
            except BaseException:
                await connection.close()
                raise
            self._connection, self._session = connection, None
            self._emitted = []
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
        session, self._session = self._session, None
        assert connection is not None
        try:
            if session is not None:
                try:
                    if exc_type is None:
                        await session.flush()  # anything added to the session commits too
                finally:
                    await session.close()
            if exc_type is None:
                await connection.commit()
            else:
                await connection.rollback()
        finally:
            await connection.close()

    async def emit(
        self,
        event_type: str,
        payload: BaseModel | dict[str, Any],
        *,
        version: int | None = None,
    ) -> Envelope:
        """Record an integration event in the outbox, inside this transaction."""
        checked_version, body = contracts.validate_payload(event_type, version, payload)
        envelope = Envelope(
            event_type=event_type,
            version=checked_version,
            producer=self._producer,
            correlation_id=current_correlation_id(),
            payload=body,
        )
        await self.connection.execute(
            _EMIT,
            {
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "routing_key": envelope.routing_key,
                "envelope": envelope.model_dump(mode="json"),
                "channel": self._database.notify_channel,
            },
        )
        self._emitted.append(envelope)
        return envelope
