"""Manual supervision (人工督办): a supervisor in scope tells the unit holding an open case what
to do by when, at a level (提醒 reminder, 督办 supervision, 挂牌督办 listed); the unit replies,
which closes it. An order left unanswered past its reply-by is marked overdue by the
supervision worker and raised to the supervisors one level above the unit's own (as an overdue
case's supervision goes to the level above its unit). Instruction and reply are routing free
texts: stored and published with phone and ID numbers masked, the originals kept encrypted."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.routing import store
from services.routing.domain import supervisor_region
from services.routing.store import supervision as orders
from shared.auth import Principal, Role
from shared.contracts.routing import (
    SupervisionIssued,
    SupervisionLapsed,
    SupervisionLevel,
    SupervisionOverdue,
    SupervisionReplied,
)
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher
from shared.problems import Conflict, Forbidden, NotFound, RuleViolation
from shared.regions import covers, parent

from .common import load_assignment, require_member, scope_prefixes
from .originals import protect
from .unit_counts import COUNT_ROLES, day_span, readable_by

# Statuses of a case that no longer runs: nothing is left to supervise.
CLOSED = frozenset({"closed", "rated", "rejected"})
PENDING = ["open", "overdue"]
ALL_STATES = ["open", "overdue", "replied", "lapsed"]
CASE_LIST_LIMIT = 200


def order_field(order_id: uuid.UUID, part: str) -> str:
    """``part``: ``instruction`` or ``reply`` (the associated data of its original)."""
    return f"supervision.{order_id}.{part}"


def escalation_region(unit_region_code: str) -> str:
    """Where an unanswered order goes: one level above the unit's own supervisors (a
    community's order to the county, a town's and a county unit's to the city)."""
    above = supervisor_region(unit_region_code)
    return parent(above) or above


def _open_case(assignment: Any) -> uuid.UUID:
    """The unit an order on this case addresses; refuses a closed or unassigned case."""
    if assignment["status"] in CLOSED:
        raise Conflict(f"the case is {assignment['status']}", code="case_closed")
    if assignment["unit_id"] is None:
        raise Conflict("the case waits for the dispatcher: no unit holds it yet",
                       code="case_unassigned")
    unit_id: uuid.UUID = assignment["unit_id"]
    return unit_id


async def issue_supervision(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                            level: SupervisionLevel, instruction: str, reply_by: datetime,
                            now: datetime, pii: PiiCipher) -> Any:
    """The new order (as read back), announced as ``routing.supervision_issued``."""
    principal.require_role(Role.SUPERVISOR, Role.ADMIN)
    if reply_by <= now:
        raise RuleViolation("the reply-by time is in the past", code="reply_by_past")
    async with uow:
        assignment = await load_assignment(uow, event_id)
        principal.require_region(assignment["region_code"])
        unit_id = _open_case(assignment)
        order_id = uuid.uuid4()
        masked, sealed = protect(pii, event_id, order_field(order_id, "instruction"),
                                 instruction)
        row = await orders.insert_order(uow, {
            "id": order_id, "event_id": event_id, "case_no": assignment["case_no"],
            "region_code": assignment["region_code"], "unit_id": unit_id, "level": level,
            "instruction": masked, "instruction_original": sealed, "reply_by": reply_by,
            "status": "open", "issued_by": principal.subject, "created_at": now})
        unit = await store.get_any_unit(uow, unit_id)
        await uow.emit("routing.supervision_issued", SupervisionIssued(
            supervision_id=order_id, event_id=event_id, case_no=assignment["case_no"],
            region_code=assignment["region_code"], unit_id=unit_id, level=level,
            instruction=masked, reply_by=reply_by, issued_by=principal.subject, at=now,
            unit_name=unit["name"] if unit else None,
            issued_for=await _issued_for(uow, principal, assignment["region_code"])))
    return row


async def _issued_for(uow: UnitOfWork, principal: Principal, region_code: str) -> str | None:
    """Whom a supervisor acts for, as the case's trail names it: their own unit when they
    have one, else the widest of their regions over the case (an admin: none)."""
    for unit_id in principal.departments:
        unit = await store.get_any_unit(uow, unit_id)
        if unit is not None:
            return str(unit["name"])
    scopes = sorted((r for r in principal.regions if covers(r, region_code)), key=len)
    region = await store.get_region(uow, scopes[0]) if scopes else None
    return str(region["name"]) if region is not None else None


async def reply_supervision(uow: UnitOfWork, *, principal: Principal, supervision_id: uuid.UUID,
                            reply: str, now: datetime, pii: PiiCipher) -> Any:
    """Staff of the supervised unit answer; the order closes (late when it was overdue)."""
    async with uow:
        order = await orders.get_order(uow, supervision_id)
        if order is None:
            raise NotFound("no such supervision", code="supervision_not_found")
        await require_member(principal, order["unit_id"])
        if order["status"] == "replied":
            raise Conflict("this supervision was already answered", code="supervision_replied")
        if order["status"] == "lapsed":
            raise Conflict("the case closed before this supervision was answered",
                           code="case_closed")
        masked, sealed = protect(pii, order["event_id"], order_field(supervision_id, "reply"),
                                 reply)
        late = order["overdue_at"] is not None or now > order["reply_by"]
        row = await orders.update_order(uow, supervision_id, {
            "status": "replied", "reply": masked, "reply_original": sealed,
            "replied_by": principal.subject, "replied_at": now})
        unit = await store.get_any_unit(uow, order["unit_id"])
        await uow.emit("routing.supervision_replied", SupervisionReplied(
            supervision_id=supervision_id, event_id=order["event_id"], unit_id=order["unit_id"],
            level=order["level"], issued_by=order["issued_by"], late=late, at=now,
            replied_by=principal.subject, unit_name=unit["name"] if unit else None,
            reply=masked))
    return row


async def case_supervisions(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID
                            ) -> list[Any]:
    """A case's orders, for its page: staff over its region, the units it was held by when
    an order was issued, holds now or has left (read only)."""
    async with uow:
        assignment = await store.get_assignment(uow, event_id, lock=False)
        if assignment is None:
            raise NotFound("routing knows no such event", code="event_not_found")
        rows = await orders.orders_of_case(uow, event_id, CASE_LIST_LIMIT)
    # The units it has left follow what became of it, as on the case page in events.
    units = {assignment["unit_id"], *(r["unit_id"] for r in rows),
             *assignment["former_unit_ids"]} - {None}
    in_region = principal.is_staff and principal.covers_region(assignment["region_code"])
    if not in_region and not any(principal.in_department(u) for u in units):
        raise Forbidden("this case is outside your scope", code="out_of_scope")
    return rows


async def unit_supervisions(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID,
                            statuses: list[str] | None, cursor: str | None, limit: int
                            ) -> tuple[list[Any], str | None]:
    """The unit's orders (by default those awaiting its reply), nearest reply-by first: for
    its own staff, and supervisors over its region."""
    after = decode_moment_cursor(cursor)
    async with uow:
        unit = await store.get_any_unit(uow, unit_id)
        if unit is None:
            raise NotFound("no such unit", code="unit_not_found")
        oversees = (principal.has_role(Role.SUPERVISOR)
                    and principal.covers_region(unit["region_code"]))
        if not (principal.in_department(unit_id) or oversees):
            raise Forbidden("this unit is outside your scope", code="out_of_scope")
        rows = await orders.orders_of_unit(uow, unit_id, statuses=statuses or PENDING,
                                           after=after, limit=limit + 1)
    return page_of(rows, limit, lambda r: moment_cursor(r["reply_by"], r["id"]))


async def supervisions_in_scope(uow: UnitOfWork, *, principal: Principal,
                                statuses: list[str] | None, cursor: str | None, limit: int,
                                escalated: bool = False) -> tuple[list[Any], str | None]:
    """The command centre's list: orders on cases in the caller's regions, newest first;
    ``escalated``: instead, the unanswered orders raised to the caller's level."""
    principal.require_role(Role.SUPERVISOR, Role.ADMIN)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await orders.orders_in_regions(uow, scope_prefixes(principal),
                                              statuses=statuses or ALL_STATES, after=after,
                                              limit=limit + 1, escalated=escalated)
    return page_of(rows, limit, lambda r: moment_cursor(r["created_at"], r["id"]))


async def fire_overdue_supervisions(uow: UnitOfWork, *, now: datetime, limit: int = 50) -> int:
    """Mark one batch of unanswered orders overdue and raise each a level; how many. An order
    whose case closed meanwhile lapses instead: nothing is left to chase."""
    async with uow:
        due = await orders.claim_overdue(uow, now, limit)
        for order in due:
            case = await store.get_assignment(uow, order["event_id"], lock=False)
            if case is None or case["status"] in CLOSED:
                # Claimed as overdue just now, but the case had ended: it lapses instead,
                # never overdue (an order open before this release on a case closed since).
                lapsed = await orders.update_order(uow, order["id"], {
                    "status": "lapsed", "overdue_at": None, "lapsed_at": now})
                await _announce_lapse(uow, lapsed, case["status"] if case else "closed",
                                      was_overdue=False, now=now)
                continue
            unit = await store.get_any_unit(uow, order["unit_id"])
            region = escalation_region(unit["region_code"] if unit else order["region_code"])
            await orders.set_escalated_region(uow, order["id"], region)
            await uow.emit("routing.supervision_overdue", SupervisionOverdue(
                supervision_id=order["id"], event_id=order["event_id"],
                unit_id=order["unit_id"], level=order["level"], reply_by=order["reply_by"],
                supervisor_region_code=region, at=now))
    return len(due)


async def lapse_open_supervisions(uow: UnitOfWork, *, event_id: uuid.UUID, case_status: str,
                                  now: datetime) -> int:
    """The case reached a final state: every order still awaiting its reply lapses (no longer
    awaited nor chased; the overdue worker claims open orders only), each announced as
    ``routing.supervision_lapsed``, in the caller's transaction. How many."""
    lapsed = await orders.lapse_pending(uow, event_id, now)
    for order in lapsed:
        await _announce_lapse(uow, order, case_status, was_overdue=order["overdue_at"] is not None,
                              now=now)
    return len(lapsed)


async def _announce_lapse(uow: UnitOfWork, order: Any, case_status: str, *, was_overdue: bool,
                          now: datetime) -> None:
    await uow.emit("routing.supervision_lapsed", SupervisionLapsed(
        supervision_id=order["id"], event_id=order["event_id"], unit_id=order["unit_id"],
        level=order["level"], case_status=case_status, was_overdue=was_overdue, at=now))


async def supervision_counts(uow: UnitOfWork, *, principal: Principal, first: date, last: date
                             ) -> list[Any]:
    """Per unit, the orders issued from ``first`` to ``last`` (Shanghai days, inclusive): for
    the unit's own staff and staff whose regions hold the unit."""
    principal.require_role(*COUNT_ROLES)
    start, end = day_span(first, last)
    async with uow:
        rows = await orders.counts_by_unit(uow, start=start, end=end)
    return readable_by(principal, rows)
