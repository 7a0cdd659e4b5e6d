"""Tables and queries of the partner schema (never commits; the caller's unit of work does)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
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

from shared.db.leases import claim_due as claim_leased
from shared.db.uow import UnitOfWork

metadata = MetaData()

# Column types several tables share: one spelling each.
APP_KEY = String(64)
CASE_NO = String(40)
STATUS = String(32)
EVENT_TYPE = String(64)
MOMENT = DateTime(timezone=True)
ID = UUID(as_uuid=True)


def _required(**types: Any) -> list[Column[Any]]:
    """NOT NULL columns, in the order given (most columns here are)."""
    return [Column(name, type_, nullable=False) for name, type_ in types.items()]


def _optional(**types: Any) -> list[Column[Any]]:
    return [Column(name, type_) for name, type_ in types.items()]


nonces = Table(
    "nonces", metadata,
    Column("app_key", APP_KEY, primary_key=True),
    Column("nonce", String(64), primary_key=True),
    *_required(expires_at=MOMENT),
)
partner_events = Table(
    "partner_events", metadata,
    Column("event_id", ID, primary_key=True),
    *_required(app_key=APP_KEY, request_id=String(128), request_hash=String(64), user_id=ID,
               case_no=CASE_NO, status=STATUS, last_step=Integer, created_at=MOMENT),
)
partner_channel_events = Table(
    "partner_channel_events", metadata,
    Column("event_id", ID, primary_key=True),
    *_required(seen_at=MOMENT),
)
parked_changes = Table(
    "parked_changes", metadata,
    Column("id", BigInteger, primary_key=True),
    *_required(event_id=ID, event_type=EVENT_TYPE, payload=JSONB),
)
app_sequences = Table(
    "app_sequences", metadata,
    Column("app_key", APP_KEY, primary_key=True),
    *_required(last_seq=BigInteger),
)
changes = Table(
    "changes", metadata,
    Column("app_key", APP_KEY, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    *_required(event_id=ID, case_no=CASE_NO, event_type=EVENT_TYPE),
    *_optional(from_status=STATUS),
    *_required(to_status=STATUS, action=String(32), step=Integer, at=MOMENT),
)
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", ID, primary_key=True),
    *_required(app_key=APP_KEY, event_types=ARRAY(EVENT_TYPE), callback_url=Text,
               created_at=MOMENT),
    *_optional(deleted_at=MOMENT),
)
deliveries = Table(
    "deliveries", metadata,
    Column("id", ID, primary_key=True),
    *_required(app_key=APP_KEY, subscription_id=ID, callback_url=Text, event_type=EVENT_TYPE,
               seq=BigInteger, payload=JSONB, status=String(16), attempts=Integer,
               next_attempt_at=MOMENT),
    *_optional(lease_until=MOMENT, last_status_code=Integer, last_latency_ms=Integer,
               last_error=Text),
    *_required(created_at=MOMENT),
    *_optional(finished_at=MOMENT),
)
delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", BigInteger, primary_key=True),
    *_required(delivery_id=ID, attempt=Integer, at=MOMENT),
    *_optional(status_code=Integer),
    *_required(latency_ms=Integer),
    *_optional(error=Text),
)


# -- nonces ------------------------------------------------------------------------------------


async def claim_nonce(uow: UnitOfWork, *, app_key: str, nonce: str,
                      expires_at: datetime) -> bool:
    """True the first time; False for a replay. One row per nonce in PostgreSQL, so every
    replica agrees; rows are purged once their timestamp could no longer pass the window.
    A replay carrying a later timestamp pushes the expiry out to that timestamp's: the row
    must outlive every signed call that used the nonce, the refused ones included."""
    row = insert(nonces).values(app_key=app_key, nonce=nonce, expires_at=expires_at)
    statement = row.on_conflict_do_update(
        index_elements=[nonces.c.app_key, nonces.c.nonce],
        set_={"expires_at": func.greatest(nonces.c.expires_at, row.excluded.expires_at)},
    ).returning(literal_column("xmax = 0", Boolean).label("inserted"))  # xmax 0: a fresh row
    return bool((await uow.connection.execute(statement)).scalar_one())


async def purge_nonces(uow: UnitOfWork, *, before: datetime) -> int:
    result = await uow.connection.execute(delete(nonces).where(nonces.c.expires_at < before))
    return int(result.rowcount or 0)


# -- the app's events ----------------------------------------------------------------------------


async def find_by_request(uow: UnitOfWork, app_key: str, request_id: str
                          ) -> RowMapping | None:
    result = await uow.connection.execute(select(partner_events).where(and_(
        partner_events.c.app_key == app_key, partner_events.c.request_id == request_id)))
    return result.mappings().first()


async def find_by_token(uow: UnitOfWork, token: str) -> RowMapping | None:
    """An Open311 request by its token (the request id the Open311 door gave it)."""
    result = await uow.connection.execute(
        select(partner_events.c.event_id, partner_events.c.request_id)
        .where(partner_events.c.request_id == token).limit(1))
    return result.mappings().first()


async def get_event(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = False
                    ) -> RowMapping | None:
    query = select(partner_events).where(partner_events.c.event_id == event_id)
    if lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def insert_event(uow: UnitOfWork, **values: Any) -> bool:
    result = await uow.connection.execute(
        insert(partner_events).values(**values).on_conflict_do_nothing()
        .returning(partner_events.c.event_id))
    return result.first() is not None


async def set_status(uow: UnitOfWork, event_id: uuid.UUID, status: str, step: int
                     ) -> None:
    """Keep the status of the latest step: two changes handled out of order never regress."""
    await uow.connection.execute(update(partner_events).where(and_(
        partner_events.c.event_id == event_id, partner_events.c.last_step <= step))
        .values(status=status, last_step=step))


async def list_events(uow: UnitOfWork, app_key: str, *,
                      after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[RowMapping]:
    query = select(partner_events).where(partner_events.c.app_key == app_key)
    if after is not None:  # newest first
        query = query.where(or_(partner_events.c.created_at < after[0], and_(
            partner_events.c.created_at == after[0], partner_events.c.event_id < after[1])))
    query = query.order_by(partner_events.c.created_at.desc(),
                           partner_events.c.event_id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


async def lock_event(uow: UnitOfWork, event_id: uuid.UUID) -> None:
    """Serialises a submission's index insert with the consumer that may park a change for
    the same event, so a parked change is never left behind (transaction-scoped lock)."""
    await uow.connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                          {"key": f"partner_event:{event_id}"})


async def mark_partner_channel(uow: UnitOfWork, event_id: uuid.UUID, at: datetime) -> None:
    await uow.connection.execute(
        insert(partner_channel_events).values(event_id=event_id, seen_at=at)
        .on_conflict_do_nothing())


async def is_partner_channel(uow: UnitOfWork, event_id: uuid.UUID) -> bool:
    result = await uow.connection.execute(select(partner_channel_events.c.event_id)
                                   .where(partner_channel_events.c.event_id == event_id))
    return result.first() is not None


async def park_change(uow: UnitOfWork, event_id: uuid.UUID, event_type: str,
                      payload: dict[str, Any]) -> None:
    await uow.connection.execute(insert(parked_changes).values(
        event_id=event_id, event_type=event_type, payload=payload))


async def take_parked(uow: UnitOfWork, event_id: uuid.UUID) -> list[RowMapping]:
    result = await uow.connection.execute(
        delete(parked_changes).where(parked_changes.c.event_id == event_id)
        .returning(parked_changes))
    return sorted(result.mappings(), key=lambda r: r["id"])


# -- changes feed --------------------------------------------------------------------------------


async def next_seq(uow: UnitOfWork, app_key: str) -> int:
    """The app's next sequence number. The row lock orders concurrent recorders, so the feed
    never shows seq n+1 before seq n has committed."""
    statement = insert(app_sequences).values(app_key=app_key, last_seq=1).on_conflict_do_update(
        index_elements=["app_key"], set_={"last_seq": app_sequences.c.last_seq + 1}
    ).returning(app_sequences.c.last_seq)
    return int((await uow.connection.execute(statement)).scalar_one())


async def insert_change(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(changes).values(**values))


async def list_changes(uow: UnitOfWork, app_key: str, *, after: int, limit: int
                       ) -> list[RowMapping]:
    result = await uow.connection.execute(
        select(changes).where(and_(changes.c.app_key == app_key, changes.c.seq > after))
        .order_by(changes.c.seq).limit(limit))
    return list(result.mappings())


# -- subscriptions -------------------------------------------------------------------------------


async def insert_subscription(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(subscriptions).values(**values))


async def live_subscriptions(uow: UnitOfWork, app_key: str) -> list[RowMapping]:
    result = await uow.connection.execute(
        select(subscriptions).where(and_(subscriptions.c.app_key == app_key,
                                         subscriptions.c.deleted_at.is_(None)))
        .order_by(subscriptions.c.created_at))
    return list(result.mappings())


async def delete_subscription(uow: UnitOfWork, app_key: str, subscription_id: uuid.UUID,
                              at: datetime) -> bool:
    result = await uow.connection.execute(
        update(subscriptions).where(and_(subscriptions.c.id == subscription_id,
                                         subscriptions.c.app_key == app_key,
                                         subscriptions.c.deleted_at.is_(None)))
        .values(deleted_at=at).returning(subscriptions.c.id))
    return result.first() is not None


# -- deliveries ----------------------------------------------------------------------------------


async def cancel_pending_deliveries(uow: UnitOfWork, subscription_id: uuid.UUID,
                                    at: datetime) -> None:
    """A deleted subscription's deliveries still waiting to be sent are not sent any more
    (one being sent right now finishes; its retries are not made)."""
    await uow.connection.execute(
        update(deliveries).where(and_(deliveries.c.subscription_id == subscription_id,
                                      deliveries.c.status == "pending"))
        .values(status="cancelled", finished_at=at))


async def insert_delivery(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(deliveries).values(**values).on_conflict_do_nothing())


async def claim_due(uow: UnitOfWork, *, now: datetime, lease_until: datetime,
                    limit: int, busy_apps: list[str]) -> list[RowMapping]:
    """Claim due deliveries for this worker (SKIP LOCKED: replicas never claim the same row;
    the lease hands a row to another worker if this one dies mid-send). Apps at their
    concurrency limit (``busy_apps``) are left out."""
    due = and_(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now,
               or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now))
    if busy_apps:
        due = and_(due, deliveries.c.app_key.not_in(busy_apps))
    return await claim_leased(uow, deliveries, due=due, order_by=deliveries.c.next_attempt_at,
                              limit=limit, lease={"lease_until": lease_until})


async def release_lease(uow: UnitOfWork, delivery_id: uuid.UUID) -> None:
    await uow.connection.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                          .values(lease_until=None))


async def finish_attempt(uow: UnitOfWork, delivery_id: uuid.UUID, *, attempt: int,
                         at: datetime, status_code: int | None, latency_ms: int,
                         error: str | None, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(delivery_attempts).values(
        delivery_id=delivery_id, attempt=attempt, at=at, status_code=status_code,
        latency_ms=latency_ms, error=error))
    await uow.connection.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
        attempts=attempt, last_status_code=status_code, last_latency_ms=latency_ms,
        last_error=error, lease_until=None, **values))


async def list_deliveries(uow: UnitOfWork, app_key: str, *, status: str | None,
                          after: tuple[datetime, uuid.UUID] | None, limit: int
                          ) -> list[RowMapping]:
    query = select(deliveries).where(deliveries.c.app_key == app_key)
    if status:
        query = query.where(deliveries.c.status == status)
    if after is not None:
        query = query.where(or_(deliveries.c.created_at < after[0], and_(
            deliveries.c.created_at == after[0], deliveries.c.id < after[1])))
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


async def replay_dead(uow: UnitOfWork, app_key: str, delivery_id: uuid.UUID,
                      now: datetime) -> RowMapping | None:
    result = await uow.connection.execute(
        update(deliveries).where(and_(deliveries.c.id == delivery_id,
                                      deliveries.c.app_key == app_key,
                                      deliveries.c.status == "dead"))
        .values(status="pending", next_attempt_at=now, attempts=0, finished_at=None,
                lease_until=None)
        .returning(deliveries))
    return result.mappings().first()


async def get_delivery(uow: UnitOfWork, app_key: str, delivery_id: uuid.UUID
                       ) -> RowMapping | None:
    result = await uow.connection.execute(select(deliveries).where(and_(
        deliveries.c.id == delivery_id, deliveries.c.app_key == app_key)))
    return result.mappings().first()
