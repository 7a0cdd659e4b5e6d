"""Queries on applications, opinions, objections, the timeline and the PII audit. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, insert, literal_column, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from services.relief.store.tables import (
    applications,
    objections,
    opinions,
    pii_access_audit,
    steps,
)
from shared.db.uow import UnitOfWork
from shared.regions import descendant_prefix

OPEN_STATUSES = ("submitted", "in_review", "in_notice", "awaiting_approval")
# The partial unique index's predicate, in literals: PostgreSQL picks the arbiter index of
# ON CONFLICT only from a predicate it can prove while planning, and a generic plan (what a
# prepared statement gets from its sixth execution on a connection) sees parameters there.
_OPEN = applications.c.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])


def in_regions(regions: Sequence[str] | None) -> ColumnElement[bool]:
    """Rows whose region lies in any of ``regions`` (None: everywhere, for admins)."""
    if regions is None:
        return true()
    if not regions:
        return false()
    return or_(*(applications.c.region_code.startswith(descendant_prefix(r)) for r in regions))


async def insert_if_none_open(uow: UnitOfWork, values: dict[str, Any]) -> bool:
    """Insert an application unless the person already has an open one of that kind.
    The partial unique index decides, so two simultaneous submissions cannot both win."""
    statement = (
        pg_insert(applications)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[applications.c.id_number_index, applications.c.kind],
            index_where=_OPEN,
        )
        .returning(applications.c.id)
    )
    return (await uow.connection.execute(statement)).first() is not None


async def get(uow: UnitOfWork, application_id: uuid.UUID, *, lock: bool = False
              ) -> RowMapping | None:
    query = select(applications).where(applications.c.id == application_id)
    if lock:
        # Serialises concurrent reviews of one application: the third approval sees the
        # other two and starts the notice exactly once.
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def save(uow: UnitOfWork, application_id: uuid.UUID, **values: Any) -> None:
    await uow.connection.execute(
        update(applications)
        .where(applications.c.id == application_id)
        .values(updated_at=func.now(), **values)
    )


async def list_for_applicant(
    uow: UnitOfWork, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[RowMapping]:
    query = select(applications).where(
        or_(applications.c.applicant_user_id == user_id, applications.c.submitted_by == user_id)
    )
    return await _page(uow, query, after, limit)


async def list_queue(
    uow: UnitOfWork, *, regions: Sequence[str] | None, statuses: Sequence[str],
    awaiting_agency: str | None, now: datetime, after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[RowMapping]:
    """Applications in scope whose status is one of ``statuses``; with ``awaiting_agency``,
    applications in review only while that agency has not given its opinion.
    ``awaiting_approval`` includes notices that have ended (the status turns without a
    timer)."""
    status_filters: list[ColumnElement[bool]] = [applications.c.status.in_(statuses)]
    if "awaiting_approval" in statuses:
        status_filters.append(
            and_(applications.c.status == "in_notice", applications.c.notice_ends_at <= now)
        )
    query = select(applications).where(in_regions(regions), or_(*status_filters))
    if "in_notice" in statuses and "awaiting_approval" not in statuses:
        query = query.where(
            or_(applications.c.status != "in_notice", applications.c.notice_ends_at > now)
        )
    if awaiting_agency is not None:
        reviewed = select(opinions.c.application_id).where(
            opinions.c.application_id == applications.c.id, opinions.c.agency == awaiting_agency
        )
        query = query.where(or_(applications.c.status != "in_review", ~reviewed.exists()))
    return await _page(uow, query, after, limit)


async def _page(
    uow: UnitOfWork, query: Select[Any], after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[RowMapping]:
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                applications.c.submitted_at > at,
                and_(applications.c.submitted_at == at, applications.c.id > last_id),
            )
        )
    query = query.order_by(applications.c.submitted_at, applications.c.id).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


async def record_payments(
    uow: UnitOfWork,
    application_ids: list[uuid.UUID],
    *,
    status: str,
    at: datetime,
    actor_id: uuid.UUID,
    note: str,
) -> None:
    """Count one payment on each application (the monthly run) and note it on the timeline."""
    if not application_ids:
        return
    await uow.connection.execute(
        update(applications)
        .where(applications.c.id.in_(application_ids))
        .values(payments=applications.c.payments + 1, status=status, updated_at=at)
    )
    await uow.connection.execute(
        insert(steps),
        [
            {"application_id": i, "at": at, "step": "disbursed", "status": status,
             "actor_id": actor_id, "actor_role": "reviewer", "actor_agency": "civil_affairs",
             "note": note}
            for i in application_ids
        ],
    )


# -- opinions, objections, timeline ---------------------------------------------------------


async def opinions_of(uow: UnitOfWork, application_id: uuid.UUID) -> list[RowMapping]:
    query = (
        select(opinions)
        .where(opinions.c.application_id == application_id)
        .order_by(opinions.c.reviewed_at)
    )
    return list((await uow.connection.execute(query)).mappings())


async def insert_opinion(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(opinions).values(**values))


async def insert_objection(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(objections).values(**values))


async def get_objection(uow: UnitOfWork, objection_id: uuid.UUID) -> RowMapping | None:
    query = select(objections).where(objections.c.id == objection_id).with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def resolve_objection(uow: UnitOfWork, objection_id: uuid.UUID, **values: Any
                            ) -> None:
    await uow.connection.execute(
        update(objections).where(objections.c.id == objection_id).values(**values)
    )


async def objections_of(uow: UnitOfWork, application_id: uuid.UUID) -> list[RowMapping]:
    query = (
        select(objections)
        .where(objections.c.application_id == application_id)
        .order_by(objections.c.filed_at)
    )
    return list((await uow.connection.execute(query)).mappings())


async def add_step(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(steps).values(**values))


async def steps_of(uow: UnitOfWork, application_id: uuid.UUID) -> list[RowMapping]:
    query = select(steps).where(steps.c.application_id == application_id).order_by(steps.c.id)
    return list((await uow.connection.execute(query)).mappings())


async def record_access(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(pii_access_audit).values(**values))


async def access_log(
    uow: UnitOfWork, *, application_id: uuid.UUID | None, before: int | None, limit: int,
    regions: Sequence[str] | None = None,
) -> list[RowMapping]:
    """Newest first; ``regions``: only reads of applications in those regions (None: all)."""
    query = select(pii_access_audit)
    if regions is not None:
        query = query.where(pii_access_audit.c.application_id.in_(
            select(applications.c.id).where(in_regions(regions))
        ))
    if application_id is not None:
        query = query.where(pii_access_audit.c.application_id == application_id)
    if before is not None:
        query = query.where(pii_access_audit.c.id < before)
    query = query.order_by(pii_access_audit.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())
