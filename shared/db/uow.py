"""Unit of work: one transaction for a use case's state changes and the events they cause."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    record and the use case it calls commit together."""

    def __init__(self, database: Database, *, producer: str) -> None:
        self._database = database
        self._producer = producer
        self._session: AsyncSession | None = None
        self._depth = 0
        self._emitted: list[Envelope] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    @property
    def emitted(self) -> list[Envelope]:
        """Events written to the outbox in this transaction (for tests and logs)."""
        return list(self._emitted)

    async def __aenter__(self) -> UnitOfWork:
        if self._depth == 0:
            self._session = self._database.session()
            await self._session.begin()
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
        session, self._session = self._session, None
        assert session is not None
        try:
            if exc_type is None:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

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
        await self.session.execute(
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
