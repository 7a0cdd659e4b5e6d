"""Household visits (入户走访): a grid worker records whom of their grid's registry they saw,
with a note, photos and the place; the app may queue a visit offline and send it later, so
the same id (or Idempotency-Key) again answers the visit already recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    VisitCreate,
    VisitLocation,
    VisitPage,
    VisitPerson,
    VisitRead,
)
from services.identity.service.accounts import NAME
from services.identity.store import visits as store
from shared.auth.principal import Principal, Role
from shared.contracts.identity import HouseholdVisited
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import mask_name, mask_personal_numbers
from shared.problems import Conflict, Forbidden

log = get_logger(__name__)
# Town and community managers (平安办) read the visits of their regions.
MANAGER_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)


async def record_visit(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: VisitCreate,
    idempotency_key: str | None, now: datetime,
) -> tuple[int, VisitRead]:
    """201 and the new visit, or 200 and the one already recorded under the same id."""
    actor.require_role(Role.GRID_WORKER)
    actor.require_region(cmd.grid_code)
    domain.check_visit_time(cmd.visited_at, now=now)
    recorded: list[uuid.UUID] = []

    async def record() -> tuple[int, VisitRead]:
        status, visit = await _record(uow, ctx, actor, cmd)
        if status == 201:
            recorded.append(visit.id)
        return status, visit

    async with uow:
        if cmd.id is not None and (known := await store.get_visit(uow, cmd.id)) is not None:
            # The id names the visit: sent again, with whatever key or body, it is this one
            # (the first version stands), never a refusal the app would take for a failure.
            return 200, await _known(uow, ctx, actor, known)
        status, visit = await idempotency.once(
            uow, scope=f"identity.visit:{actor.subject}", key=idempotency_key, request=cmd,
            answer=VisitRead, work=record)
    if recorded:  # committed now; a retry recorded nothing
        log.info("household_visited", visit_id=str(visit.id), grid=cmd.grid_code,
                 people=len(visit.people))
    return status, visit


async def _record(uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: VisitCreate
                  ) -> tuple[int, VisitRead]:
    person_ids = domain.distinct_in_order(cmd.registry_person_ids)
    found = {row["id"]: row for row in await store.people(uow, person_ids)}
    domain.check_people_in_grid(
        person_ids, {pid: row["region_code"] for pid, row in found.items()}, cmd.grid_code)
    row = await store.insert_visit(uow, {
        "id": cmd.id or uuid.uuid4(),
        "worker_id": actor.subject,
        "grid_code": cmd.grid_code,
        "household_id": domain.visit_household(
            cmd.household_id, (found[p]["household_id"] for p in person_ids)),
        "person_ids": person_ids,
        # Free text may hold a phone or ID number: only its masked form is kept.
        "note": mask_personal_numbers(cmd.note),
        "attachment_ids": domain.distinct_in_order(cmd.attachment_ids),
        "lat": cmd.location.lat if cmd.location else None,
        "lng": cmd.location.lng if cmd.location else None,
        "visited_at": cmd.visited_at,
    })
    if row is None:  # the same id sent twice at once: the other request recorded it
        assert cmd.id is not None
        known = await store.get_visit(uow, cmd.id)
        assert known is not None
        return 200, await _known(uow, ctx, actor, known)
    await store.mark_visited(uow, person_ids, cmd.visited_at)
    await uow.emit("identity.household_visited", HouseholdVisited(
        visit_id=row["id"], worker_id=actor.subject, grid_code=cmd.grid_code,
        registry_person_ids=person_ids, household_id=row["household_id"],
        visited_at=cmd.visited_at))
    return 201, _view(ctx, row, found.values())


async def _known(uow: UnitOfWork, ctx: IdentityContext, actor: Principal, row: RowMapping
                 ) -> VisitRead:
    """A visit already recorded under the id sent: the sender's own, answered again."""
    if row["worker_id"] != actor.subject:
        raise Conflict("another visit has this id", code="visit_id_taken")
    return _view(ctx, row, await store.people(uow, row["person_ids"]))


def _view(ctx: IdentityContext, row: RowMapping, people: Iterable[RowMapping]) -> VisitRead:
    names = {p["id"]: mask_name(ctx.pii.decrypt(p["name_cipher"], context=NAME)) or ""
             for p in people}
    location = (VisitLocation(lat=row["lat"], lng=row["lng"])
                if row["lat"] is not None and row["lng"] is not None else None)
    return VisitRead(
        id=row["id"], grid_code=row["grid_code"], worker_id=row["worker_id"],
        household_id=row["household_id"],
        people=[VisitPerson(id=p, name_masked=names.get(p, "")) for p in row["person_ids"]],
        note=row["note"], attachment_ids=list(row["attachment_ids"]), location=location,
        visited_at=row["visited_at"], recorded_at=row["recorded_at"],
    )


async def list_visits(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, grid_code: str | None,
    worker_id: uuid.UUID | None, since: datetime | None, until: datetime | None,
    cursor: str | None, limit: int,
) -> VisitPage:
    """Managers: the visits of their regions; a grid worker: their own."""
    prefixes: list[str] | None
    if actor.has_role(*MANAGER_ROLES):
        if grid_code is not None:
            actor.require_region(grid_code)
            prefixes = [grid_code]
        elif Role.ADMIN in actor.roles:
            prefixes = None
        else:
            prefixes = [domain.region_match_prefix(r) for r in actor.regions]
    elif actor.has_role(Role.GRID_WORKER):
        if worker_id not in (None, actor.subject):
            raise Forbidden("grid workers see their own visits", code="out_of_scope")
        worker_id = actor.subject
        prefixes = None if grid_code is None else [grid_code]
    else:
        raise Forbidden("your role does not allow this", code="role_required")
    after = decode_moment_cursor(cursor)
    since, until = domain.in_utc(since), domain.in_utc(until)
    async with uow:
        rows = await store.list_visits(uow, worker_id=worker_id, grid_prefixes=prefixes,
                                       since=since, until=until, after=after,
                                       limit=limit + 1)
        page, next_cursor = page_of(rows, limit,
                                    lambda row: moment_cursor(row["visited_at"], row["id"]))
        people = await store.people(
            uow, domain.distinct_in_order(p for row in page for p in row["person_ids"]))
    return VisitPage(items=[_view(ctx, row, people) for row in page], next_cursor=next_cursor)
