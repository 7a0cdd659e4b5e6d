"""Manual supervision orders (人工督办): a supervisor's instruction to the unit holding a case,
its reply, and the claim of those whose reply-by passed unanswered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.tables import metadata, units
from shared.db.leases import claim_due
from shared.db.uow import UnitOfWork

supervision_orders = Table(
    "supervision_orders", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("case_no", String(32)), Column("region_code", String(15)),
    Column("unit_id", UUID(as_uuid=True)), Column("level", String(16)),
    Column("instruction", Text), Column("instruction_original", Text),
    Column("reply_by", DateTime(timezone=True)), Column("status", String(16)),
    Column("issued_by", UUID(as_uuid=True)), Column("created_at", DateTime(timezone=True)),
    Column("reply", Text), Column("reply_original", Text),
    Column("replied_by", UUID(as_uuid=True)), Column("replied_at", DateTime(timezone=True)),
    Column("overdue_at", DateTime(timezone=True)), Column("escalated_region_code", String(15)),
    Column("lapsed_at", DateTime(timezone=True)),
)
_t = supervision_orders
# What a read returns: never the encrypted originals.
_READ = [c for c in _t.c if not c.name.endswith("_original")]


async def insert_order(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, insert(_t).values(**values).returning(*_READ))


async def get_order(uow: UnitOfWork, order_id: uuid.UUID) -> Any | None:
    """The order, locked: a reply and the overdue claim never both change it."""
    return await fetch_one(uow, select(*_READ).where(_t.c.id == order_id).with_for_update())


async def update_order(uow: UnitOfWork, order_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, update(_t).where(_t.c.id == order_id).values(**values)
                           .returning(*_READ))


async def orders_of_case(uow: UnitOfWork, event_id: uuid.UUID, limit: int) -> list[Any]:
    """A case's orders, oldest first (a case gets a handful, not pages)."""
    query = (select(*_READ).where(_t.c.event_id == event_id)
             .order_by(_t.c.created_at, _t.c.id).limit(limit))
    return await fetch_all(uow, query)


async def orders_of_unit(uow: UnitOfWork, unit_id: uuid.UUID, *, statuses: list[str],
                         after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    """The unit's orders in ``statuses``, the nearest reply-by first, ``limit`` rows after the
    keyset ``after`` (reply_by, id)."""
    query = select(*_READ).where(_t.c.unit_id == unit_id, _t.c.status.in_(statuses))
    if after is not None:
        at, order_id = after
        query = query.where(or_(_t.c.reply_by > at, and_(_t.c.reply_by == at, _t.c.id > order_id)))
    return await fetch_all(uow, query.order_by(_t.c.reply_by, _t.c.id).limit(limit))


async def orders_in_regions(uow: UnitOfWork, region_prefixes: list[str] | None, *,
                            statuses: list[str], after: tuple[datetime, uuid.UUID] | None,
                            limit: int, escalated: bool = False) -> list[Any]:
    """Orders on cases in the regions (None: everywhere), newest first, after the keyset
    ``after`` (created_at, id); ``escalated``: only those gone overdue and raised to a region
    among them."""
    query = select(*_READ).where(_t.c.status.in_(statuses))
    region = _t.c.escalated_region_code if escalated else _t.c.region_code
    if escalated:
        query = query.where(region.is_not(None))
    if region_prefixes is not None:
        if not region_prefixes:
            return []
        query = query.where(or_(*[region.startswith(p) for p in region_prefixes]))
    if after is not None:
        at, order_id = after
        query = query.where(or_(_t.c.created_at < at,
                                and_(_t.c.created_at == at, _t.c.id < order_id)))
    return await fetch_all(uow, query.order_by(_t.c.created_at.desc(), _t.c.id.desc())
                           .limit(limit))


async def claim_overdue(uow: UnitOfWork, now: datetime, limit: int) -> list[Any]:
    """Open orders whose reply-by passed, marked overdue in the same statement (the caller's
    transaction emits their events, so a crash leaves them open for the next pass)."""
    rows = await claim_due(uow, _t, due=and_(_t.c.status == "open", _t.c.reply_by <= now),
                           order_by=_t.c.reply_by, limit=limit,
                           lease={"status": "overdue", "overdue_at": now})
    return list(rows)


async def lapse_pending(uow: UnitOfWork, event_id: uuid.UUID, now: datetime) -> list[Any]:
    """The case's orders still awaiting a reply (open or overdue), now lapsed; as they were
    read before (an overdue one keeps its ``overdue_at``: it did go overdue)."""
    pending = (select(_t.c.id).where(_t.c.event_id == event_id,
                                     _t.c.status.in_(["open", "overdue"]))
               .with_for_update().scalar_subquery())
    query = (update(_t).where(_t.c.id.in_(pending)).values(status="lapsed", lapsed_at=now)
             .returning(*_READ))
    return await fetch_all(uow, query)


async def set_escalated_region(uow: UnitOfWork, order_id: uuid.UUID, region_code: str) -> None:
    await uow.connection.execute(update(_t).where(_t.c.id == order_id)
                                 .values(escalated_region_code=region_code))


async def counts_by_unit(uow: UnitOfWork, *, start: datetime, end: datetime) -> list[Any]:
    """Per supervised unit, over the orders issued in [start, end): how many at each level,
    answered in time or late, gone overdue, and still awaiting a reply."""
    answered = _t.c.status == "replied"
    query = (
        select(
            _t.c.unit_id, units.c.name.label("unit_name"), units.c.level.label("unit_level"),
            units.c.region_code.label("unit_region_code"),
            func.count().label("issued"),
            *[func.count().filter(_t.c.level == level).label(level)
              for level in ("reminder", "supervision", "listed")],
            func.count().filter(and_(answered, _t.c.overdue_at.is_(None),
                                     _t.c.replied_at <= _t.c.reply_by)).label("replied_on_time"),
            func.count().filter(and_(answered, or_(_t.c.overdue_at.is_not(None),
                                                   _t.c.replied_at > _t.c.reply_by))
                                ).label("replied_late"),
            func.count().filter(_t.c.overdue_at.is_not(None)).label("went_overdue"),
            func.count().filter(_t.c.status.in_(["open", "overdue"])).label("awaiting_reply"),
        )
        .select_from(_t.outerjoin(units, units.c.id == _t.c.unit_id))
        .where(_t.c.created_at >= start, _t.c.created_at < end)
        .group_by(_t.c.unit_id, units.c.name, units.c.level, units.c.region_code)
        .order_by(_t.c.unit_id)
    )
    return await fetch_all(uow, query)
