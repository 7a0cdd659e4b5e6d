"""The staff directory identity publishes: each staff account's units, roles, region scopes,
whether it is active and has bound WeChat, as ``identity.staff_directory_changed``.

Every change to one of these publishes the account again, from the outbox in the change's own
transaction, with the account's ``directory_version`` raised by one: a consumer keeps the
highest version it has seen, so a message delivered late never undoes a newer one.
``republish_all`` (the ``republish-staff`` command) announces every staff account once more:
the backfill for accounts made before the directory was published, and a repair for any
consumer whose projection was lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping

from services.identity.store import staff as store
from shared.contracts.identity import StaffDirectoryChanged
from shared.db.uow import UnitOfWork
from shared.logs import get_logger

log = get_logger(__name__)


def wechat_bound(row: RowMapping) -> bool:
    """A staff account has bound WeChat; a resident's account is a WeChat login."""
    if row["kind"] == "staff":
        return row["staff_openid_index"] is not None
    return row["openid"] is not None


async def publish_staff(uow: UnitOfWork, staff_id: uuid.UUID, *, cause: str) -> RowMapping:
    """Announce the staff account as it stands in this transaction; the account's row."""
    row = await store.next_directory_version(uow, staff_id)
    await uow.emit("identity.staff_directory_changed", StaffDirectoryChanged(
        staff_id=row["id"], unit_ids=list(row["departments"] or []), roles=list(row["roles"]),
        regions=list(row["regions"] or []), active=not row["disabled"],
        wechat_bound=wechat_bound(row), version=row["directory_version"],
        changed_at=datetime.now(UTC), cause=cause,
    ))
    return row


async def republish_all(make_uow: Callable[[], UnitOfWork], *, batch_size: int = 200) -> int:
    """Publish every staff account again, ``batch_size`` accounts per transaction; how many."""
    after: uuid.UUID | None = None
    total = 0
    while True:
        uow = make_uow()
        async with uow:
            ids = await store.staff_ids_after(uow, after, limit=batch_size)
            for staff_id in ids:
                await publish_staff(uow, staff_id, cause="republished")
        total += len(ids)
        if len(ids) < batch_size:
            break
        after = ids[-1]
    log.info("staff_directory_republished", accounts=total)
    return total
