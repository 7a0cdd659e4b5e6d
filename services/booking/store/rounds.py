"""Rounds, pickup points, slots and their quota stripes: writes by operators, reads for
listings and statistics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, insert, or_, select, text, tuple_, update

from services.booking.store.tables import AnyRow, pickup_points, quota_stripes, rounds, slots
from shared.db.uow import UnitOfWork


async def insert_round(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(rounds).values(**values))


async def insert_point(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(pickup_points).values(**values))


async def insert_slot(
    uow: UnitOfWork, values: dict[str, Any], capacities: Sequence[int]
) -> None:
    await uow.connection.execute(insert(slots).values(**values))
    await uow.connection.execute(
        insert(quota_stripes),
        [
            {
                "slot_id": values["id"],
                "point_id": values["point_id"],
                "round_id": values["round_id"],
                "stripe_no": number,
                "capacity": capacity,
                "taken": 0,
            }
            for number, capacity in enumerate(capacities)
        ],
    )


async def get_round(uow: UnitOfWork, round_id: uuid.UUID) -> AnyRow | None:
    return (await uow.connection.execute(select(rounds).where(rounds.c.id == round_id))).first()


async def round_points(uow: UnitOfWork, round_id: uuid.UUID) -> list[AnyRow]:
    return list(
        (
            await uow.connection.execute(
                select(pickup_points)
                .where(pickup_points.c.round_id == round_id)
                .order_by(pickup_points.c.position)
            )
        ).all()
    )


async def get_point(uow: UnitOfWork, point_id: uuid.UUID) -> AnyRow | None:
    return (
        await uow.connection.execute(select(pickup_points).where(pickup_points.c.id == point_id))
    ).first()


async def slot_quotas(uow: UnitOfWork, round_ids: Sequence[uuid.UUID]) -> list[AnyRow]:
    """Per slot: its point, window, quota (sum of capacities) and units handed out."""
    if not round_ids:
        return []
    return list(
        (
            await uow.connection.execute(
                select(
                    slots.c.id,
                    slots.c.round_id,
                    slots.c.point_id,
                    slots.c.starts_at,
                    slots.c.ends_at,
                    func.coalesce(func.sum(quota_stripes.c.capacity), 0).label("quota"),
                    func.coalesce(func.sum(quota_stripes.c.taken), 0).label("taken"),
                )
                .select_from(slots.outerjoin(quota_stripes, quota_stripes.c.slot_id == slots.c.id))
                .where(slots.c.round_id.in_(round_ids))
                .group_by(slots.c.id)
                .order_by(slots.c.starts_at, slots.c.id)
            )
        ).all()
    )


async def lock_slot_stripes(uow: UnitOfWork, slot_id: uuid.UUID) -> list[AnyRow]:
    """Every stripe of a slot, locked in one order (bookings on it wait for the change)."""
    return list(
        (
            await uow.connection.execute(
                select(quota_stripes.c.id, quota_stripes.c.taken)
                .where(quota_stripes.c.slot_id == slot_id)
                .order_by(quota_stripes.c.stripe_no)
                .with_for_update()
            )
        ).all()
    )


async def set_capacities(uow: UnitOfWork, capacities: dict[int, int]) -> None:
    for stripe_id, capacity in capacities.items():
        await uow.connection.execute(
            update(quota_stripes).where(quota_stripes.c.id == stripe_id).values(capacity=capacity)
        )


async def rounds_not_ended(
    uow: UnitOfWork,
    *,
    now: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AnyRow]:
    """Rounds whose booking window has not closed, by opening time."""
    query = select(rounds).where(rounds.c.booking_closes_at > now)
    if after is not None:
        query = query.where(tuple_(rounds.c.booking_opens_at, rounds.c.id) > tuple_(*after))
    query = query.order_by(rounds.c.booking_opens_at, rounds.c.id).limit(limit)
    return list((await uow.connection.execute(query)).all())


async def rounds_in_scope(
    uow: UnitOfWork,
    *,
    region_prefixes: Sequence[str] | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AnyRow]:
    """Rounds owned by any of the regions (by code prefix; None means all), newest first."""
    query = select(rounds)
    if region_prefixes is not None:
        query = query.where(
            or_(false(), *(rounds.c.region_code.startswith(p) for p in region_prefixes))
        )
    if after is not None:
        query = query.where(tuple_(rounds.c.booking_opens_at, rounds.c.id) < tuple_(*after))
    query = query.order_by(rounds.c.booking_opens_at.desc(), rounds.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).all())


_STATS = text(
    """
    SELECT point_id,
           count(*) FILTER (WHERE status IN ('confirmed', 'redeemed')) AS booked,
           count(*) FILTER (WHERE status = 'redeemed') AS redeemed,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE status = 'no_show') AS no_show
    FROM bookings WHERE round_id = :round_id
    GROUP BY point_id
    """
)


async def booking_counts(uow: UnitOfWork, round_id: uuid.UUID) -> dict[uuid.UUID, AnyRow]:
    rows = (await uow.connection.execute(_STATS, {"round_id": round_id})).all()
    return {row.point_id: row for row in rows}


async def rounds_due_for_release(uow: UnitOfWork, *, now: datetime, limit: int) -> list[AnyRow]:
    """Rounds whose pickup window has ended and whose no-shows are not released yet, locked
    so two timer replicas never release the same round at once."""
    return list(
        (
            await uow.connection.execute(
                select(rounds.c.id, rounds.c.pickup_ends_at)
                .where(rounds.c.no_shows_released_at.is_(None), rounds.c.pickup_ends_at <= now)
                .order_by(rounds.c.pickup_ends_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def mark_released(uow: UnitOfWork, round_id: uuid.UUID, at: datetime) -> None:
    await uow.connection.execute(
        update(rounds).where(rounds.c.id == round_id).values(no_shows_released_at=at)
    )
