"""The staff inbox: notices addressed to a role and a region, and who has read them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_, select
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


async def unit_region(uow: UnitOfWork, unit_id: uuid.UUID) -> str | None:
    query = select(units.c.region_code).where(units.c.unit_id == unit_id)
    return (await uow.connection.execute(query)).scalar_one_or_none()


def _visible(region_patterns: Sequence[str] | None, roles: Sequence[str]) -> Any:
    """Addressed to one of ``roles`` in a region inside the caller's scope (LIKE patterns of
    their regions; None: every region, for admins)."""
    audience = staff_notices.c.audience.overlap(array([literal(r) for r in roles]))
    if region_patterns is None:
        return audience
    inside = or_(*(staff_notices.c.region_code.like(p) for p in region_patterns)) \
        if region_patterns else literal(False)
    return and_(audience, inside)


async def page_for_staff(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    roles: Sequence[str],
    region_patterns: Sequence[str] | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    unread_only: bool,
) -> list[Any]:
    """Newest first, each with the caller's own ``read_at``."""
    read = staff_notice_reads
    query = _with_case_no(read, user_id).where(_visible(region_patterns, roles))
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


async def mark_read(
    uow: UnitOfWork,
    *,
    notice_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: Sequence[str],
    region_patterns: Sequence[str] | None,
    at: datetime,
) -> Any:
    """The notice with the caller's ``read_at``; None when the caller cannot see it."""
    visible = (await uow.connection.execute(
        select(staff_notices.c.id).where(staff_notices.c.id == notice_id,
                                         _visible(region_patterns, roles))
    )).first()
    if visible is None:
        return None
    await uow.connection.execute(
        insert(staff_notice_reads).values(notice_id=notice_id, user_id=user_id, read_at=at)
        .on_conflict_do_nothing(index_elements=["notice_id", "user_id"])
    )
    return (await uow.connection.execute(
        _with_case_no(staff_notice_reads, user_id).where(staff_notices.c.id == notice_id)
    )).first()
