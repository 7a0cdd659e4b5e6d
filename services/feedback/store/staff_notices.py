"""The staff inbox: notices addressed to a role over a region, or to a unit's staff, and who
has read them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, and_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import array, insert

from services.feedback.store.tables import (
    case_summaries,
    staff_notice_reads,
    staff_notices,
    units,
)
from shared.db.uow import UnitOfWork


async def add(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """False when a notice with this ``source_key`` exists (the same supervision again)."""
    result = await uow.connection.execute(
        insert(staff_notices).values(**row)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(staff_notices.c.id)
    )
    return result.first() is not None


async def case_region(uow: UnitOfWork, event_id: uuid.UUID) -> str | None:
    """The case's region as the read model knows it (None before any fact about it)."""
    query = select(case_summaries.c.region_code).where(case_summaries.c.event_id == event_id)
    return (await uow.connection.execute(query)).scalar_one_or_none()


def _with_case_no(read: Any, user_id: uuid.UUID) -> Any:
    """Notices with the caller's ``read_at`` and the case number — joined when read, since
    routing's message may be handled before the report that names the case."""
    return (
        select(staff_notices, read.c.read_at, case_summaries.c.case_no)
        .outerjoin(read, and_(read.c.notice_id == staff_notices.c.id, read.c.user_id == user_id))
        .outerjoin(case_summaries, case_summaries.c.event_id == staff_notices.c.event_id)
    )


async def unit_name(uow: UnitOfWork, unit_id: uuid.UUID) -> str | None:
    query = select(units.c.name).where(units.c.unit_id == unit_id)
    return (await uow.connection.execute(query)).scalar_one_or_none()


async def unit_region(uow: UnitOfWork, unit_id: uuid.UUID) -> str | None:
    query = select(units.c.region_code).where(units.c.unit_id == unit_id)
    return (await uow.connection.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class Reader:
    """Who reads: their region-addressed audiences and LIKE patterns of their regions (None:
    every region, for admins), the unit-addressed audiences they belong to and their units
    (None: every unit, for admins)."""

    user_id: uuid.UUID
    roles: Sequence[str]
    region_patterns: Sequence[str] | None
    unit_roles: Sequence[str]
    units: Sequence[uuid.UUID] | None


def _any_of(values: Sequence[str]) -> Any:
    return staff_notices.c.audience.overlap(array([literal(v) for v in values]))


def _region_visible(reader: Reader) -> Any:
    addressed = and_(staff_notices.c.addressed_unit_id.is_(None), _any_of(reader.roles)) \
        if reader.roles else literal(False)
    if reader.region_patterns is None:
        return addressed
    inside = or_(*(staff_notices.c.region_code.like(p) for p in reader.region_patterns)) \
        if reader.region_patterns else literal(False)
    return and_(addressed, inside)


def _unit_visible(reader: Reader) -> Any:
    if not reader.unit_roles or (reader.units is not None and not reader.units):
        return literal(False)
    mine = staff_notices.c.addressed_unit_id.is_not(None) if reader.units is None \
        else staff_notices.c.addressed_unit_id.in_(list(reader.units))
    return and_(mine, _any_of(reader.unit_roles))


def _visible(reader: Reader) -> Any:
    """Addressed to the caller: to a role they hold over a region inside their scope, to
    the staff of a unit they belong to, or to them by name."""
    to_someone = staff_notices.c.addressed_user_id
    return or_(
        and_(to_someone.is_(None), or_(_region_visible(reader), _unit_visible(reader))),
        to_someone == reader.user_id,
    )


async def page_for_staff(
    uow: UnitOfWork,
    reader: Reader,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    unread_only: bool,
) -> list[Any]:
    """Newest first, each with the caller's own ``read_at``."""
    read = staff_notice_reads
    query = _with_case_no(read, reader.user_id).where(_visible(reader))
    if unread_only:
        query = query.where(read.c.read_at.is_(None))
    if after is not None:
        created_at, last_id = after
        query = query.where(or_(
            staff_notices.c.created_at < created_at,
            and_(staff_notices.c.created_at == created_at, staff_notices.c.id < last_id),
        ))
    query = query.order_by(staff_notices.c.created_at.desc(), staff_notices.c.id.desc())
    return list((await uow.connection.execute(query.limit(limit))).all())


def _unread(reader: Reader) -> Any:
    read = staff_notice_reads
    return and_(_visible(reader), ~exists().where(
        read.c.notice_id == staff_notices.c.id, read.c.user_id == reader.user_id))


async def unread_count(uow: UnitOfWork, reader: Reader) -> int:
    query = select(func.count()).select_from(staff_notices).where(_unread(reader))
    return int((await uow.connection.execute(query)).scalar_one())


async def mark_all_read(uow: UnitOfWork, reader: Reader, *, at: datetime) -> int:
    """Marks every notice the caller can see and has not read; how many were marked."""
    unread = select(staff_notices.c.id, literal(reader.user_id, PgUUID(as_uuid=True)),
                    literal(at, DateTime(timezone=True))) \
        .where(_unread(reader))
    result = await uow.connection.execute(
        insert(staff_notice_reads)
        .from_select(["notice_id", "user_id", "read_at"], unread)
        .on_conflict_do_nothing(index_elements=["notice_id", "user_id"])
        .returning(staff_notice_reads.c.notice_id)
    )
    return len(result.all())


async def mark_read(
    uow: UnitOfWork, reader: Reader, *, notice_id: uuid.UUID, at: datetime
) -> Any:
    """The notice with the caller's ``read_at``; None when the caller cannot see it."""
    visible = (await uow.connection.execute(
        select(staff_notices.c.id).where(staff_notices.c.id == notice_id, _visible(reader))
    )).first()
    if visible is None:
        return None
    await uow.connection.execute(
        insert(staff_notice_reads)
        .values(notice_id=notice_id, user_id=reader.user_id, read_at=at)
        .on_conflict_do_nothing(index_elements=["notice_id", "user_id"])
    )
    return (await uow.connection.execute(
        _with_case_no(staff_notice_reads, reader.user_id)
        .where(staff_notices.c.id == notice_id)
    )).first()
