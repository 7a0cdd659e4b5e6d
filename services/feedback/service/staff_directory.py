"""Staff notices to the WeChat of the staff they concern.

Identity publishes each staff account (``identity.staff_directory_changed``: units, roles,
region scopes, active, WeChat bound, a version); feedback keeps the newest version of each
(an older one arriving late is dropped; the inbox drops a redelivery). When a staff notice is
recorded, one WeChat delivery per active, bound staff member of its audience is queued in the
same transaction: to a unit's staff, those who work for that unit in one of the notice's
roles; to roles over a region, those holding one of the roles with a scope covering the
region. The sender worker sends them later like residents' messages (retries with backoff,
43101 recorded, never inside a consumer's transaction) and asks identity for the openid at
that moment: a member who unbound or was disabled since is not messaged.

An account identity has not announced yet is not messaged (``republish-staff`` backfills).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.feedback import notices
from services.feedback.store import notifications as notification_store
from services.feedback.store import staff_directory as store
from shared.contracts.identity import StaffDirectoryChanged
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.messaging.envelope import Envelope
from shared.regions import ancestors, is_region_code

log = get_logger(__name__)


async def apply_change(uow: UnitOfWork, envelope: Envelope) -> bool:
    """Keep the staff member's entry unless a newer one is held."""
    change = envelope.payload_as(StaffDirectoryChanged)
    kept = await store.apply(uow, {
        "staff_id": change.staff_id, "unit_ids": sorted(set(change.unit_ids)),
        "roles": sorted(set(change.roles)), "regions": sorted(set(change.regions)),
        "active": change.active, "wechat_bound": change.wechat_bound,
        "version": change.version, "changed_at": change.changed_at,
    })
    if not kept:
        log.info("staff_directory_stale", staff_id=str(change.staff_id),
                 version=change.version)
    return kept


async def recipients(uow: UnitOfWork, notice: Mapping[str, Any]) -> list[uuid.UUID]:
    """Who of the notice's audience can be messaged on WeChat now."""
    roles: list[str] = list(notice["audience"])
    user_id = notice.get("addressed_user_id")
    if user_id is not None:
        return await store.reachable_user(uow, user_id)
    unit_id = notice.get("addressed_unit_id")
    if unit_id is not None:
        return await store.reachable_in_unit(uow, unit_id, roles)
    region = notice.get("region_code")
    if region is None or not is_region_code(region):
        return []
    return await store.reachable_over(uow, ancestors(region), roles)


async def queue_wechat(uow: UnitOfWork, notice: Mapping[str, Any]) -> int:
    """One pending WeChat delivery of ``notice`` (a staff_notices row just added) per
    recipient; how many were queued."""
    staff = await recipients(uow, notice)
    if not staff:
        return 0
    message = notices.staff_wechat_notice(
        notice_id=str(notice["id"]), kind=notice["kind"], title=notice["title"],
        body=notice["body"], occurred_at=notice["occurred_at"])
    now = datetime.now(UTC)
    rows = [{
        "id": uuid.uuid4(), "user_id": staff_id, "event_id": notice["event_id"],
        "kind": message.kind, "title": message.title[:100], "body": message.body[:500],
        "source_key": f"staff_notice:{notice['id']}:{staff_id}", "created_at": now,
        "template": message.template, "page": message.page, "wechat_data": message.data,
        "wechat_status": "pending", "wechat_attempts": 0, "wechat_next_at": now,
        "staff_notice_id": notice["id"],
    } for staff_id in staff]
    queued = await notification_store.add_many(uow, rows)
    log.info("staff_notice_wechat_queued", notice_id=str(notice["id"]), kind=notice["kind"],
             recipients=queued)
    return queued
