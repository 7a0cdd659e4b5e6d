"""The disbursement ledger: one row per recipient, kind and month. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from services.relief.store.tables import applications, disbursements
from shared.db.uow import UnitOfWork
from shared.regions import descendant_prefix


async def post_once(uow: UnitOfWork, values: dict[str, Any]) -> RowMapping | None:
    """Insert the payment; None when that recipient's month (of that kind) is already paid."""
    statement = (
        insert(disbursements)
        .values(**values)
        .on_conflict_do_nothing(constraint="disbursements_once_per_recipient_kind_month")
        .returning(disbursements)
    )
    return (await uow.connection.execute(statement)).mappings().first()


async def post_month(
    uow: UnitOfWork,
    *,
    region_code: str,
    month: date,
    kinds: list[str],
    statuses: list[str],
    posted_by: uuid.UUID,
    now: datetime,
) -> list[RowMapping]:
    """The monthly run: pay every payable application of ``region_code`` (and below) its
    granted monthly amount for ``month``, in one statement. Recipients already paid for that
    month are skipped by the unique constraint, so re-running a month pays nobody twice.
    Returns the rows it inserted.

    The applications are locked first, in id order, as a single posting locks its one
    application before inserting: both take locks in the same order and cannot deadlock."""
    payable = (
        applications.c.region_code.startswith(descendant_prefix(region_code)),
        applications.c.status.in_(statuses),
        applications.c.kind.in_(kinds),
        applications.c.monthly_amount_fen.is_not(None),
    )
    await uow.connection.execute(
        select(applications.c.id).where(*payable).order_by(applications.c.id).with_for_update()
    )
    source = select(
        func.gen_random_uuid(),
        applications.c.id,
        applications.c.applicant_user_id,
        applications.c.kind,
        applications.c.region_code,
        literal(month),
        applications.c.monthly_amount_fen,
        literal(posted_by),
        literal(now),
    ).where(*payable)
    statement = (
        insert(disbursements)
        .from_select(
            ["id", "application_id", "recipient_user_id", "kind", "region_code", "month",
             "amount_fen", "posted_by", "posted_at"],
            source,
        )
        .on_conflict_do_nothing(constraint="disbursements_once_per_recipient_kind_month")
        .returning(disbursements)
    )
    return list((await uow.connection.execute(statement)).mappings())


async def find(
    uow: UnitOfWork, *, recipient_user_id: uuid.UUID, kind: str, month: date
) -> RowMapping | None:
    query = select(disbursements).where(
        disbursements.c.recipient_user_id == recipient_user_id,
        disbursements.c.kind == kind,
        disbursements.c.month == month,
    )
    return (await uow.connection.execute(query)).mappings().first()


@dataclass(frozen=True)
class Totals:
    amount_fen: int
    person_times: int
    recipients: int


async def totals(
    uow: UnitOfWork, *, region_code: str, first: date, last: date, kind: str | None
) -> Totals:
    """Sum of payments in ``region_code`` (and below) for months ``first``..``last``.
    Each row is one person paid for one month: one person-time."""
    query = select(
        func.coalesce(func.sum(disbursements.c.amount_fen), 0),
        func.count(),
        func.count(func.distinct(disbursements.c.recipient_user_id)),
    ).where(
        disbursements.c.region_code.startswith(descendant_prefix(region_code)),
        disbursements.c.month.between(first, last),
    )
    if kind is not None:
        query = query.where(disbursements.c.kind == kind)
    amount, count, recipients = (await uow.connection.execute(query)).one()
    return Totals(amount_fen=int(amount), person_times=int(count), recipients=int(recipients))
