"""Daily logs (民情日志): what a worker saw in their grid that day. Stored with phone and ID
numbers masked, the typed original encrypted beside it where masking changed it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from services.routing.schemas_duty import LogCreate, LogList, LogRead
from services.routing.store import duty as store
from shared.auth import Principal
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher, mask_and_seal
from shared.problems import Conflict, RuleViolation

from .access import OLDEST, reading_scope, require_worker_of, shanghai_day, shaped


def log_context(log_id: uuid.UUID) -> str:
    """The associated data of a log's encrypted original."""
    return f"routing.duty_log.{log_id}.text"


def _check_day(day: date, now: datetime) -> None:
    today = shanghai_day(now)
    if day > today:
        raise RuleViolation("the log's day is in the future", code="time_in_future")
    if day < today - timedelta(days=OLDEST.days):
        raise RuleViolation("the log's day is more than seven days ago", code="too_old")


async def write_log(uow: UnitOfWork, *, principal: Principal, cmd: LogCreate,
                    idempotency_key: str | None, now: datetime, pii: PiiCipher
                    ) -> tuple[int, LogRead]:
    """The same client-made ``id`` or Idempotency-Key again answers the log first written."""
    require_worker_of(principal, cmd.grid_code)
    _check_day(cmd.day, now)

    async def record() -> tuple[int, LogRead]:
        log_id = cmd.id or uuid.uuid4()
        row = await store.get_log(uow, log_id)
        if row is None:
            masked, sealed = mask_and_seal(pii, cmd.text, context=log_context(log_id))
            row = await store.insert_log(uow, {
                "id": log_id, "worker_id": principal.subject, "grid_code": cmd.grid_code,
                "day": cmd.day, "text": masked, "text_original": sealed, "recorded_at": now,
            })
        if row["worker_id"] != principal.subject:
            raise Conflict("another log has this id", code="log_id_taken")
        return 201, shaped(LogRead, row)

    async with uow:
        return await idempotency.once(
            uow, scope=f"routing.duty_log:{principal.subject}", key=idempotency_key,
            request=cmd, answer=LogRead, work=record)


async def list_logs(uow: UnitOfWork, *, principal: Principal, worker_id: uuid.UUID | None,
                    grid_code: str | None, since: date | None, until: date | None,
                    cursor: str | None, limit: int) -> LogList:
    worker, prefixes = reading_scope(principal, worker_id, grid_code)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_logs(uow, prefixes=prefixes, worker_id=worker,
                                     grid_code=grid_code, since=since, until=until,
                                     after=after, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda r: moment_cursor(r["recorded_at"], r["id"]))
    return LogList(items=[shaped(LogRead, r) for r in page],
                   next_cursor=next_cursor)
