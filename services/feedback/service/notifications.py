"""Notifications: recorded in the consumer's transaction (in-app inbox + pending WeChat
delivery); sent later by the sender worker, so a slow WeChat never holds a transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.feedback import notices
from services.feedback.notices import Notice
from services.feedback.store import notifications as store
from shared.contracts.booking import BookingConfirmed
from shared.contracts.events import EventClosed, EventStatusChanged
from shared.contracts.relief import ApplicationDecided
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.problems import NotFound


async def _record(
    uow: UnitOfWork, *, user_id: uuid.UUID, event_id: uuid.UUID | None, notice: Notice,
    source_key: str,
) -> bool:
    """Add ``notice`` to the user's inbox and the WeChat queue, once per ``source_key``."""
    created_at = datetime.now(UTC)
    return await store.add(
        uow,
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "event_id": event_id,
            "kind": notice.kind,
            "title": notice.title,
            "body": notice.body,
            "source_key": source_key,
            "created_at": created_at,
            "template": notice.template,
            "page": notice.page,
            "wechat_data": notice.data,
            "wechat_status": "pending",
            "wechat_attempts": 0,
            "wechat_next_at": created_at,
        },
    )


async def record_for_status_change(
    uow: UnitOfWork, envelope: Envelope, *, reporter_id: uuid.UUID | None
) -> bool:
    """Tell the reporter (``projection.reporter_of``: named, or opened from the seal of a
    sensitive tip) about a step they care about."""
    change = envelope.payload_as(EventStatusChanged)
    if reporter_id is None:
        return False
    notice = notices.case_notice(
        change.action, event_id=str(change.event_id), case_no=change.case_no, at=change.at
    )
    if notice is None:
        return False
    return await _record(uow, user_id=reporter_id, event_id=change.event_id, notice=notice,
                         source_key=f"msg:{envelope.event_id}")


async def record_for_closure(
    uow: UnitOfWork, envelope: Envelope, *, reporter_id: uuid.UUID | None
) -> bool:
    """Tell the reporter the case is closed and may be rated (one notice per closure)."""
    closed = envelope.payload_as(EventClosed)
    if reporter_id is None:
        return False
    notice = notices.closed_notice(
        event_id=str(closed.event_id), case_no=closed.case_no, closed_at=closed.closed_at
    )
    source_key = f"closed:{closed.event_id}:{closed.closed_at.isoformat()}"
    return await _record(uow, user_id=reporter_id, event_id=closed.event_id, notice=notice,
                         source_key=source_key)


async def record_for_booking_confirmed(uow: UnitOfWork, envelope: Envelope) -> bool:
    booking = envelope.payload_as(BookingConfirmed)
    notice = notices.booking_notice(
        booking_id=str(booking.booking_id),
        round_title=booking.round_title,
        pickup_starts_at=booking.pickup_starts_at,
    )
    return await _record(uow, user_id=booking.user_id, event_id=None, notice=notice,
                         source_key=f"msg:{envelope.event_id}")


async def record_for_relief_decision(uow: UnitOfWork, envelope: Envelope) -> bool:
    decision = envelope.payload_as(ApplicationDecided)
    notice = notices.relief_decision_notice(
        application_id=str(decision.application_id), kind=decision.kind,
        outcome=decision.outcome, decided_at=decision.decided_at,
    )
    return await _record(uow, user_id=decision.applicant_user_id, event_id=None,
                         notice=notice, source_key=f"msg:{envelope.event_id}")


def after_created(row: Any) -> str:
    """The cursor after a row of a newest-first list keyed by ``(created_at, id)``."""
    return moment_cursor(row.created_at, row.id)


async def list_inbox(
    *, uow: UnitOfWork, user_id: uuid.UUID, limit: int, cursor: str | None, unread_only: bool
) -> tuple[list[Any], str | None]:
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.page_for_user(
            uow, user_id, limit=limit + 1, after=after, unread_only=unread_only
        )
    return page_of(rows, limit, after_created)


async def mark_read(*, uow: UnitOfWork, user_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
    async with uow:
        row = await store.mark_read(uow, user_id, notification_id, datetime.now(UTC))
    if row is None:
        raise NotFound("no such notification", code="notification_not_found")
    return row
