"""The staff inbox: routing's supervision (督办) and escalation decisions turned into notices
for the supervisors (and, for escalations, dispatchers) whose region scope covers them.

A notice is addressed to roles and one region, not to people: staff accounts and their scopes
live in identity, and whoever holds the role over that region — now or after a re-scope —
sees it. One notice per cause (the supervision record; the escalation message), so a
redelivered or republished message adds nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.feedback.scoring import SHANGHAI
from services.feedback.service.notifications import after_created
from services.feedback.service.scorecards import region_like
from services.feedback.store import staff_notices as store
from shared.auth.principal import Principal, Role
from shared.contracts.routing import EventEscalated, EventOverdue
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.messaging.envelope import Envelope
from shared.paging import decode_moment_cursor, page_of
from shared.problems import NotFound
from shared.regions import is_region_code

log = get_logger(__name__)

SUPERVISION = "supervision"
ESCALATION = "escalation"
# 督办 is the supervisors' instrument; an escalation also concerns the dispatchers of the
# level that receives the case.
AUDIENCE: dict[str, list[str]] = {
    SUPERVISION: [Role.SUPERVISOR.value],
    ESCALATION: [Role.SUPERVISOR.value, Role.DISPATCHER.value],
}
STAFF_ROLES = (Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN)
LEVEL_NAMES = {"grid": "网格", "community": "社区", "town": "镇街", "county": "县区",
               "city": "市"}
DEADLINE_NAMES = {"accept": "受理", "resolve": "办结"}


class CaseRegionUnknown(RuntimeError):
    """An escalation arrived before anything told feedback where the case is: the message
    is retried (the assignment and the report are on their way on another queue)."""


async def record_for_overdue(uow: UnitOfWork, envelope: Envelope) -> bool:
    """Tell the supervisors of ``supervisor_region_code`` that a deadline passed and a
    supervision record exists. One notice per supervision record."""
    overdue = envelope.payload_as(EventOverdue)
    deadline = overdue.deadline.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    added = await store.add(uow, {
        "id": uuid.uuid4(),
        "kind": SUPERVISION,
        "audience": AUDIENCE[SUPERVISION],
        "region_code": overdue.supervisor_region_code,
        "event_id": overdue.event_id,
        "unit_id": overdue.unit_id,
        "title": "案件督办",
        "body": f"{DEADLINE_NAMES[overdue.kind]}期限{deadline}已过，已立督办，"
                f"请督促承办单位办理。",
        "source_key": f"supervision:{overdue.supervision_id}",
        "occurred_at": overdue.at,
        "created_at": datetime.now(UTC),
    })
    if added:
        log.info("supervision_notice", event_id=str(overdue.event_id),
                 region_code=overdue.supervisor_region_code)
    return added


async def record_for_escalation(uow: UnitOfWork, envelope: Envelope) -> bool:
    """Tell the supervisors and dispatchers over the unit that now holds the case (its
    region, or the case's own when that unit is not yet known here)."""
    escalated = envelope.payload_as(EventEscalated)
    region = await store.unit_region(uow, escalated.to_unit_id)
    if region is None:
        region = await store.case_region(uow, escalated.event_id)
    if region is None:
        raise CaseRegionUnknown(f"no region known yet for case {escalated.event_id}")
    how = "自动" if escalated.automatic else "经办单位"
    added = await store.add(uow, {
        "id": uuid.uuid4(),
        "kind": ESCALATION,
        "audience": AUDIENCE[ESCALATION],
        "region_code": region,
        "event_id": escalated.event_id,
        "unit_id": escalated.to_unit_id,
        "title": "案件升级",
        "body": f"已由{LEVEL_NAMES[escalated.from_level]}级{how}上报至"
                f"{LEVEL_NAMES[escalated.to_level]}级办理。",
        "source_key": f"msg:{envelope.event_id}",
        "occurred_at": escalated.at,
        "created_at": datetime.now(UTC),
    })
    return added


def _scope(principal: Principal) -> tuple[list[str], list[str] | None]:
    """The audiences the caller belongs to and LIKE patterns of their regions (None: all)."""
    principal.require_role(*STAFF_ROLES)
    if principal.has_role(Role.ADMIN):
        return [Role.SUPERVISOR.value, Role.DISPATCHER.value], None
    roles = [r for r in (Role.SUPERVISOR.value, Role.DISPATCHER.value) if principal.has_role(r)]
    return roles, [region_like(code) for code in sorted(principal.regions)
                   if is_region_code(code)]


async def list_for_staff(
    *, uow: UnitOfWork, principal: Principal, limit: int, cursor: str | None,
    unread_only: bool,
) -> tuple[list[Any], str | None]:
    roles, patterns = _scope(principal)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.page_for_staff(
            uow, user_id=principal.subject, roles=roles, region_patterns=patterns,
            limit=limit + 1, after=after, unread_only=unread_only,
        )
    return page_of(rows, limit, after_created)


async def mark_read(*, uow: UnitOfWork, principal: Principal, notice_id: uuid.UUID) -> Any:
    roles, patterns = _scope(principal)
    async with uow:
        row = await store.mark_read(
            uow, notice_id=notice_id, user_id=principal.subject, roles=roles,
            region_patterns=patterns, at=datetime.now(UTC),
        )
    if row is None:
        # Not 403: a notice outside the caller's scope is not theirs to know of.
        raise NotFound("no such notice", code="staff_notice_not_found")
    return row
