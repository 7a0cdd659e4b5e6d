"""Claiming due work under a lease: the one statement every sender, retrier and sweeper uses.

A worker takes up to ``limit`` due rows and, in the same statement, moves them past a lease
(their next attempt, or a ``lease_until``), so a worker that dies mid-job leaves them to be
taken again once the lease runs out, not lost. ``FOR UPDATE SKIP LOCKED`` keeps two replicas
from ever taking the same row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.engine import RowMapping

from shared.db.uow import UnitOfWork


async def claim_due(
    uow: UnitOfWork,
    table: Table,
    *,
    due: ColumnElement[bool],
    order_by: ColumnElement[Any],
    limit: int,
    lease: Mapping[str, Any],
) -> list[RowMapping]:
    """Rows of ``table`` matching ``due`` (oldest ``order_by`` first, at most ``limit``),
    updated with ``lease`` (column → value or SQL expression) and returned as they now are."""
    chosen = (
        select(table.c.id)
        .where(due)
        .order_by(order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await uow.connection.execute(
        update(table).where(table.c.id.in_(chosen)).values(dict(lease)).returning(table)
    )
    return list(result.mappings())
