"""Grid workers' profiles (网格员 and part-time 网格协管员): a manager enrols an account made
by identity into grids of their scope, changes its grids, kind, name or phone, records the
courses it takes; the worker reads their own. Enrolment and a change of grids are announced
as ``routing.grid_worker_enrolled``. The phone is kept encrypted and shown masked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing.schemas_workforce import (
    GridWorkerCreate,
    GridWorkerRead,
    GridWorkerUpdate,
    TrainingCreate,
    TrainingRead,
)
from services.routing.service.common import scope_prefixes
from services.routing.store import workforce as rows
from shared.auth import Principal
from shared.contracts.routing import GridWorkerEnrolled
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher, mask_and_seal
from shared.problems import Conflict, RuleViolation
from shared.regions import descendant_prefix, is_region_code

from .accounts import require_grid_worker_account
from .common import (
    load_profile,
    phone_context,
    profiles_read,
    read_as,
    require_grid_code,
    require_grids,
    require_manager,
    require_manages,
    require_worker,
)


async def enrol(uow: UnitOfWork, *, principal: Principal, cmd: GridWorkerCreate,
                idempotency_key: str | None, now: datetime, pii: PiiCipher) -> GridWorkerRead:
    """A new profile, or a fresh one for a worker who left; 409 ``already_enrolled`` while
    active. A retry with the same Idempotency-Key answers what the first attempt did."""
    require_manager(principal)

    async def work() -> tuple[int, GridWorkerRead]:
        return 201, await _enrol(uow, principal, cmd, now, pii)

    async with uow:
        _, read = await idempotency.once(
            uow, scope=f"routing.grid_worker_enrol:{principal.subject}", key=idempotency_key,
            request=cmd, answer=GridWorkerRead, work=work)
    return read


async def _enrol(uow: UnitOfWork, principal: Principal, cmd: GridWorkerCreate, now: datetime,
                 pii: PiiCipher) -> GridWorkerRead:
    """In the caller's transaction."""
    grid_codes = await require_grids(uow, principal, cmd.grid_codes)
    require_grid_worker_account(await rows.staff_account(uow, cmd.user_id))
    existing = await rows.get_profile(uow, cmd.user_id, lock=True)
    if existing is not None and existing["status"] == "active":
        raise Conflict("this account is already an active grid worker",
                       code="already_enrolled")
    profile = await rows.upsert_profile(uow, {
        "user_id": cmd.user_id, "display_name": cmd.display_name, "kind": cmd.kind,
        "grid_codes": grid_codes, "started_on": cmd.started_on,
        "phone": pii.encrypt_optional(cmd.phone, context=phone_context(cmd.user_id)),
        "status": "active", "left_on": None, "successor_id": None, "left_reason": None,
        "left_reason_original": None, "enrolled_by": principal.subject,
        "created_at": now, "updated_at": now})
    await rows.set_memberships(uow, cmd.user_id, grid_codes)
    await _announce(uow, profile, principal, now)
    [read] = await profiles_read(uow, pii, [profile])
    return read


async def change(uow: UnitOfWork, *, principal: Principal, user_id: uuid.UUID,
                 cmd: GridWorkerUpdate, now: datetime, pii: PiiCipher) -> GridWorkerRead:
    """New grids (each in the manager's scope), kind, name or phone of an active worker."""
    async with uow:
        profile = await load_profile(uow, user_id, lock=True)
        require_manages(principal, profile)
        if profile["status"] != "active":
            raise Conflict("this grid worker has left", code="grid_worker_left")
        changes: dict[str, Any] = {"updated_at": now}
        if cmd.display_name is not None:
            changes["display_name"] = cmd.display_name
        if cmd.kind is not None:
            changes["kind"] = cmd.kind
        if cmd.phone is not None:
            changes["phone"] = pii.encrypt(cmd.phone, context=phone_context(user_id))
        if cmd.grid_codes is not None:
            # The grids given up must be the manager's too: one town does not strip another's.
            for code in profile["grid_codes"]:
                if code not in cmd.grid_codes:
                    principal.require_region(code)
            changes["grid_codes"] = await require_grids(uow, principal, cmd.grid_codes)
            await rows.set_memberships(uow, user_id, changes["grid_codes"])
        updated = await rows.update_profile(uow, user_id, changes)
        announced = ("grid_codes", "kind", "display_name")
        if any(updated[key] != profile[key] for key in announced):
            await _announce(uow, updated, principal, now)
        [read] = await profiles_read(uow, pii, [updated])
    return read


async def _announce(uow: UnitOfWork, profile: Any, principal: Principal, now: datetime) -> None:
    await uow.emit("routing.grid_worker_enrolled", GridWorkerEnrolled(
        user_id=profile["user_id"], kind=profile["kind"], grid_codes=list(profile["grid_codes"]),
        started_on=profile["started_on"], enrolled_by=principal.subject, at=now,
        display_name=profile["display_name"]))


async def profile(uow: UnitOfWork, *, principal: Principal, user_id: uuid.UUID,
                  pii: PiiCipher) -> GridWorkerRead:
    """The worker themself, or a manager over one of their grids."""
    async with uow:
        found = await load_profile(uow, user_id)
        if principal.subject != user_id:
            require_manages(principal, found)
        [read] = await profiles_read(uow, pii, [found])
    return read


async def own_profile(uow: UnitOfWork, *, principal: Principal, pii: PiiCipher
                      ) -> GridWorkerRead:
    require_worker(principal)
    return await profile(uow, principal=principal, user_id=principal.subject, pii=pii)


async def profiles(uow: UnitOfWork, *, principal: Principal, grid_code: str | None,
                   region: str | None, status: str | None, cursor: str | None, limit: int,
                   pii: PiiCipher) -> tuple[list[GridWorkerRead], str | None]:
    """Workers with a grid in the manager's scope (narrowed to ``region`` or ``grid_code``,
    each in scope), in enrolment order, a page at a time."""
    require_manager(principal)
    after = decode_moment_cursor(cursor)
    prefixes = scope_prefixes(principal)
    if region is not None:
        if not is_region_code(region):
            raise RuleViolation(f"{region!r} is not a region code", code="region_invalid")
        principal.require_region(region)
        prefixes = [descendant_prefix(region)]
    if grid_code is not None:
        require_grid_code(grid_code)
        principal.require_region(grid_code)
    async with uow:
        found = await rows.list_profiles(uow, prefixes=prefixes, grid_code=grid_code,
                                         status=status, after=after, limit=limit + 1)
        page, next_cursor = page_of(found, limit,
                                    lambda r: moment_cursor(r["created_at"], r["user_id"]))
        return await profiles_read(uow, pii, page), next_cursor


async def add_training(uow: UnitOfWork, *, principal: Principal, user_id: uuid.UUID,
                       cmd: TrainingCreate, idempotency_key: str | None, now: datetime,
                       pii: PiiCipher) -> TrainingRead:
    """A course a worker (active or not: a record of the past) took; the note masked, its
    original kept encrypted. A retry with the same Idempotency-Key records nothing more."""

    async def work() -> tuple[int, TrainingRead]:
        return 201, await _add_training(uow, principal, user_id, cmd, now, pii)

    async with uow:
        _, read = await idempotency.once(
            uow, scope=f"routing.grid_training:{principal.subject}:{user_id}",
            key=idempotency_key, request=cmd, answer=TrainingRead, work=work)
    return read


async def _add_training(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID,
                        cmd: TrainingCreate, now: datetime, pii: PiiCipher) -> TrainingRead:
    found = await load_profile(uow, user_id)
    require_manages(principal, found)
    training_id = uuid.uuid4()
    note, sealed = (None, None) if cmd.note is None else mask_and_seal(
        pii, cmd.note, context=f"routing.grid_training:{training_id}:note")
    row = await rows.insert_training(uow, {
        "id": training_id, "user_id": user_id, "course": cmd.course, "held_on": cmd.held_on,
        "result": cmd.result, "hours": cmd.hours, "note": note, "note_original": sealed,
        "recorded_by": principal.subject, "recorded_at": now})
    return read_as(TrainingRead, row)
