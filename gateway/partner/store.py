"""Tables and queries of the partner schema (never commits; the caller's unit of work does)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

metadata = MetaData()

nonces = Table(
    "nonces", metadata,
    Column("app_key", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
partner_events = Table(
    "partner_events", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("app_key", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("case_no", String(40), nullable=False),
    Column("status", String(32), nullable=False),
    Column("last_step", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
partner_channel_events = Table(
    "partner_channel_events", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
parked_changes = Table(
    "parked_changes", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", JSONB, nullable=False),
)
app_sequences = Table(
    "app_sequences", metadata,
    Column("app_key", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)
changes = Table(
    "changes", metadata,
    Column("app_key", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("case_no", String(40), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("step", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("app_key", String(64), nullable=False),
    Column("event_types", ARRAY(String(64)), nullable=False),
    Column("callback_url", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)
deliveries = Table(
    "deliveries", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("app_key", String(64), nullable=False),
    Column("subscription_id", UUID(as_uuid=True), nullable=False),
    Column("callback_url", Text, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_latency_ms", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)
delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("delivery_id", UUID(as_uuid=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text),
)


# -- nonces ------------------------------------------------------------------------------------


async def claim_nonce(session: AsyncSession, *, app_key: str, nonce: str,
                      expires_at: datetime) -> bool:
    """True the first time; False for a replay. One row per nonce in PostgreSQL, so every
    replica agrees; rows are purged once their timestamp could no longer pass the window.
    A replay carrying a later timestamp pushes the expiry out to that timestamp's: the row
    must outlive every signed call that used the nonce, the refused ones included."""
    statement = insert(nonces).values(app_key=app_key, nonce=nonce, expires_at=expires_at)
    statement = statement.on_conflict_do_update(
        index_elements=[nonces.c.app_key, nonces.c.nonce],
        set_={"expires_at": func.greatest(nonces.c.expires_at, statement.excluded.expires_at)},
    ).returning(literal_column("xmax = 0").label("inserted"))  # xmax 0: a fresh row
    return bool((await session.execute(statement)).scalar_one())


async def purge_nonces(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(nonces).where(nonces.c.expires_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- the app's events ----------------------------------------------------------------------------


async def find_by_request(session: AsyncSession, app_key: str, request_id: str
                          ) -> RowMapping | None:
    result = await session.execute(select(partner_events).where(and_(
        partner_events.c.app_key == app_key, partner_events.c.request_id == request_id)))
    return result.mappings().first()


async def get_event(session: AsyncSession, event_id: uuid.UUID, *, lock: bool = False
                    ) -> RowMapping | None:
    query = select(partner_events).where(partner_events.c.event_id == event_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def insert_event(session: AsyncSession, **values: Any) -> bool:
    result = await session.execute(
        insert(partner_events).values(**values).on_conflict_do_nothing()
        .returning(partner_events.c.event_id))
    return result.first() is not None


async def set_status(session: AsyncSession, event_id: uuid.UUID, status: str, step: int
                     ) -> None:
    """Keep the status of the latest step: two changes handled out of order never regress."""
    await session.execute(update(partner_events).where(and_(
        partner_events.c.event_id == event_id, partner_events.c.last_step <= step))
        .values(status=status, last_step=step))


async def list_events(session: AsyncSession, app_key: str, *,
                      after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[RowMapping]:
    query = select(partner_events).where(partner_events.c.app_key == app_key)
    if after is not None:  # newest first
        query = query.where(or_(partner_events.c.created_at < after[0], and_(
            partner_events.c.created_at == after[0], partner_events.c.event_id < after[1])))
    query = query.order_by(partner_events.c.created_at.desc(),
                           partner_events.c.event_id.desc()).limit(limit)
    return list((await session.execute(query)).mappings())


async def lock_event(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Serialises a submission's index insert with the consumer that may park a change for
    the same event, so a parked change is never left behind (transaction-scoped lock)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                          {"key": f"partner_event:{event_id}"})


async def mark_partner_channel(session: AsyncSession, event_id: uuid.UUID, at: datetime) -> None:
    await session.execute(insert(partner_channel_events).values(event_id=event_id, seen_at=at)
                          .on_conflict_do_nothing())


async def is_partner_channel(session: AsyncSession, event_id: uuid.UUID) -> bool:
    result = await session.execute(select(partner_channel_events.c.event_id)
                                   .where(partner_channel_events.c.event_id == event_id))
    return result.first() is not None


async def park_change(session: AsyncSession, event_id: uuid.UUID, event_type: str,
                      payload: dict[str, Any]) -> None:
    await session.execute(insert(parked_changes).values(
        event_id=event_id, event_type=event_type, payload=payload))


async def take_parked(session: AsyncSession, event_id: uuid.UUID) -> list[RowMapping]:
    result = await session.execute(
        delete(parked_changes).where(parked_changes.c.event_id == event_id)
        .returning(parked_changes))
    return sorted(result.mappings(), key=lambda r: r["id"])


# -- changes feed --------------------------------------------------------------------------------


async def next_seq(session: AsyncSession, app_key: str) -> int:
    """The app's next sequence number. The row lock orders concurrent recorders, so the feed
    never shows seq n+1 before seq n has committed."""
    statement = insert(app_sequences).values(app_key=app_key, last_seq=1)
    statement = statement.on_conflict_do_update(
        index_elements=["app_key"], set_={"last_seq": app_sequences.c.last_seq + 1}
    ).returning(app_sequences.c.last_seq)
    return int((await session.execute(statement)).scalar_one())


async def insert_change(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(changes).values(**values))


async def list_changes(session: AsyncSession, app_key: str, *, after: int, limit: int
                       ) -> list[RowMapping]:
    result = await session.execute(
        select(changes).where(and_(changes.c.app_key == app_key, changes.c.seq > after))
        .order_by(changes.c.seq).limit(limit))
    return list(result.mappings())


# -- subscriptions -------------------------------------------------------------------------------


async def insert_subscription(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(subscriptions).values(**values))


async def live_subscriptions(session: AsyncSession, app_key: str) -> list[RowMapping]:
    result = await session.execute(
        select(subscriptions).where(and_(subscriptions.c.app_key == app_key,
                                         subscriptions.c.deleted_at.is_(None)))
        .order_by(subscriptions.c.created_at))
    return list(result.mappings())


async def delete_subscription(session: AsyncSession, app_key: str, subscription_id: uuid.UUID,
                              at: datetime) -> bool:
    result = await session.execute(
        update(subscriptions).where(and_(subscriptions.c.id == subscription_id,
                                         subscriptions.c.app_key == app_key,
                                         subscriptions.c.deleted_at.is_(None)))
        .values(deleted_at=at).returning(subscriptions.c.id))
    return result.first() is not None


# -- deliveries ----------------------------------------------------------------------------------


async def cancel_pending_deliveries(session: AsyncSession, subscription_id: uuid.UUID,
                                    at: datetime) -> None:
    """A deleted subscription's deliveries still waiting to be sent are not sent any more
    (one being sent right now finishes; its retries are not made)."""
    await session.execute(
        update(deliveries).where(and_(deliveries.c.subscription_id == subscription_id,
                                      deliveries.c.status == "pending"))
        .values(status="cancelled", finished_at=at))


async def insert_delivery(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(deliveries).values(**values).on_conflict_do_nothing())


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime,
                    limit: int, busy_apps: list[str]) -> list[RowMapping]:
    """Claim due deliveries for this worker (SKIP LOCKED: replicas never claim the same row;
    the lease hands a row to another worker if this one dies mid-send)."""
    due = (
        select(deliveries.c.id)
        .where(and_(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now,
                    or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)))
        .order_by(deliveries.c.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True)
    )
    if busy_apps:
        due = due.where(deliveries.c.app_key.not_in(busy_apps))
    result = await session.execute(
        update(deliveries).where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(lease_until=lease_until).returning(deliveries))
    return list(result.mappings())


async def release_lease(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    await session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                          .values(lease_until=None))


async def finish_attempt(session: AsyncSession, delivery_id: uuid.UUID, *, attempt: int,
                         at: datetime, status_code: int | None, latency_ms: int,
                         error: str | None, values: dict[str, Any]) -> None:
    await session.execute(insert(delivery_attempts).values(
        delivery_id=delivery_id, attempt=attempt, at=at, status_code=status_code,
        latency_ms=latency_ms, error=error))
    await session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
        attempts=attempt, last_status_code=status_code, last_latency_ms=latency_ms,
        last_error=error, lease_until=None, **values))


async def list_deliveries(session: AsyncSession, app_key: str, *, status: str | None,
                          after: tuple[datetime, uuid.UUID] | None, limit: int
                          ) -> list[RowMapping]:
    query = select(deliveries).where(deliveries.c.app_key == app_key)
    if status:
        query = query.where(deliveries.c.status == status)
    if after is not None:
        query = query.where(or_(deliveries.c.created_at < after[0], and_(
            deliveries.c.created_at == after[0], deliveries.c.id < after[1])))
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc()).limit(limit)
    return list((await session.execute(query)).mappings())


async def replay_dead(session: AsyncSession, app_key: str, delivery_id: uuid.UUID,
                      now: datetime) -> RowMapping | None:
    result = await session.execute(
        update(deliveries).where(and_(deliveries.c.id == delivery_id,
                                      deliveries.c.app_key == app_key,
                                      deliveries.c.status == "dead"))
        .values(status="pending", next_attempt_at=now, attempts=0, finished_at=None,
                lease_until=None)
        .returning(deliveries))
    return result.mappings().first()


async def get_delivery(session: AsyncSession, app_key: str, delivery_id: uuid.UUID
                       ) -> RowMapping | None:
    result = await session.execute(select(deliveries).where(and_(
        deliveries.c.id == delivery_id, deliveries.c.app_key == app_key)))
    return result.mappings().first()
