"""Delivers pending notifications to WeChat, outside any consumer's transaction: residents'
messages and staff notices to staff who bound WeChat alike.

One pass: claim a batch (a short transaction that leases the rows), send each with no
transaction open, then settle each in its own short transaction. A sender that dies after
claiming leaves the rows to be retried when the lease ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import RowMapping

from services.feedback.settings import Settings
from services.feedback.store import notifications as store
from services.feedback.wechat import SendResult, WeChatSubscribeClient
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.periodic import PeriodicWorker

log = get_logger(__name__)
Clock = Callable[[], datetime]


def template_id(settings: Settings, template: str) -> str:
    return {
        "case_progress": settings.template_case_progress,
        "case_closed": settings.template_case_closed,
        "staff_notice": settings.template_staff_notice,
    }[template]


class NotificationSender:
    """``client`` None means the WeChat sandbox: messages are recorded, not sent. A worker
    (start/stop) on a :class:`PeriodicWorker`; a full batch runs the next pass at once."""

    def __init__(
        self,
        *,
        new_uow: Callable[[], UnitOfWork],
        settings: Settings,
        client: WeChatSubscribeClient | None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._new_uow, self._settings, self._client, self._clock = (
            new_uow, settings, client, clock,
        )
        self._loop = PeriodicWorker(
            "feedback-notification-sender", self._tick, settings.sender_poll_seconds
        )
        self.sent_total = 0

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _tick(self) -> bool:
        return await self.send_due() >= self._settings.sender_batch_size

    async def send_due(self) -> int:
        """One pass; how many notifications it took."""
        settings = self._settings
        uow = self._new_uow()
        async with uow:
            claimed = await store.claim_due(
                uow, now=self._clock(), lease_seconds=settings.sender_lease_seconds,
                limit=settings.sender_batch_size,
            )
        for row in claimed:
            await self._deliver(row)
        return len(claimed)

    async def _deliver(self, row: RowMapping) -> None:
        template = template_id(self._settings, row["template"])
        if self._client is None:
            await self._record_in_sandbox(row, template)
            return
        result = await self._client.send(
            user_id=row["user_id"], template_id=template, page=row["page"],
            data=row["wechat_data"], state=self._settings.mini_program_state,
        )
        await self._settle(row, result)

    async def _record_in_sandbox(self, row: RowMapping, template: str) -> None:
        uow = self._new_uow()
        async with uow:
            await store.record_sandbox_message(
                uow, notification_id=row["id"], touser=f"sandbox:{row['user_id']}",
                template_id=template, page=row["page"], data=row["wechat_data"],
            )
            await store.settle(uow, row["id"], status="sandbox")
        log.info("wechat_sandbox_recorded", notification_id=str(row["id"]), kind=row["kind"])

    async def _settle(self, row: RowMapping, result: SendResult) -> None:
        settings = self._settings
        attempts: int = row["wechat_attempts"]
        status: str = result.outcome
        next_at = None
        if result.outcome == "retry":
            if attempts >= settings.wechat_max_attempts:
                status = "failed"
            else:
                status = "pending"
                delay = settings.wechat_backoff_seconds * 2 ** (attempts - 1)
                next_at = self._clock() + timedelta(seconds=delay)
        uow = self._new_uow()
        async with uow:
            await store.settle(uow, row["id"], status=status, error=result.detail or None,
                               next_at=next_at)
        if status == "sent":
            self.sent_total += 1
        log.info("wechat_delivery", notification_id=str(row["id"]), status=status,
                 attempt=attempts, detail=result.detail[:100])
