"""The in-app inbox and the WeChat delivery queue (the same rows; a staff notice's WeChat
delivery is a queue row only)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from services.feedback.store.tables import notifications, wechat_sandbox_messages
from shared.db import leases
from shared.db.uow import UnitOfWork

# Rows that carry a staff notice to WeChat are delivery only: staff read notices in their own
# inbox (staff_notices), never among a resident's notifications.
_in_inbox = notifications.c.staff_notice_id.is_(None)


async def add(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """False when a notification with this ``source_key`` exists (a redelivered cause)."""
    result = await uow.connection.execute(
        insert(notifications)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(notifications.c.id)
    )
    return result.first() is not None


async def add_many(uow: UnitOfWork, rows: list[dict[str, Any]]) -> int:
    """Queue several; a row whose ``source_key`` exists is skipped. How many were added."""
    if not rows:
        return 0
    result = await uow.connection.execute(
        insert(notifications)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(notifications.c.id)
    )
    return len(result.all())


async def page_for_user(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    unread_only: bool,
) -> list[Any]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    query = select(notifications).where(notifications.c.user_id == user_id, _in_inbox)
    if unread_only:
        query = query.where(notifications.c.read_at.is_(None))
    if after is not None:
        created_at, last_id = after
        query = query.where(
            or_(
                notifications.c.created_at < created_at,
                and_(notifications.c.created_at == created_at, notifications.c.id < last_id),
            )
        )
    query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
    return list((await uow.connection.execute(query.limit(limit))).all())


async def mark_read(
    uow: UnitOfWork, user_id: uuid.UUID, notification_id: uuid.UUID, at: datetime
) -> Any:
    """The row (read or not before); None when it is not this user's."""
    await uow.connection.execute(
        update(notifications)
        .where(
            notifications.c.id == notification_id,
            notifications.c.user_id == user_id,
            notifications.c.read_at.is_(None),
            _in_inbox,
        )
        .values(read_at=at)
    )
    return (
        await uow.connection.execute(
            select(notifications).where(
                notifications.c.id == notification_id, notifications.c.user_id == user_id,
                _in_inbox,
            )
        )
    ).first()


async def claim_due(
    uow: UnitOfWork, *, now: datetime, lease_seconds: float, limit: int
) -> list[RowMapping]:
    """Take up to ``limit`` messages due for WeChat delivery (shared.db.leases): their next
    attempt moves past the lease, and the attempt is counted."""
    return await leases.claim_due(
        uow,
        notifications,
        due=and_(notifications.c.wechat_status == "pending",
                 notifications.c.wechat_next_at <= now),
        order_by=notifications.c.wechat_next_at,
        limit=limit,
        lease={
            "wechat_next_at": now + timedelta(seconds=lease_seconds),
            "wechat_attempts": notifications.c.wechat_attempts + 1,
        },
    )


async def settle(
    uow: UnitOfWork,
    notification_id: uuid.UUID,
    *,
    status: str,
    error: str | None = None,
    next_at: datetime | None = None,
) -> None:
    await uow.connection.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(wechat_status=status, wechat_error=error and error[:300], wechat_next_at=next_at)
    )


async def record_sandbox_message(
    uow: UnitOfWork,
    *,
    notification_id: uuid.UUID,
    touser: str,
    template_id: str,
    page: str,
    data: dict[str, Any],
) -> None:
    await uow.connection.execute(
        insert(wechat_sandbox_messages).values(
            notification_id=notification_id,
            touser=touser,
            template_id=template_id,
            page=page,
            data=data,
        )
    )
