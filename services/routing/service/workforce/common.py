"""What the grid workers' use cases share: who may manage whom, grid checks, and how a
profile and a task are read back."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel

from services.routing import store
from services.routing.schemas_workforce import (
    GridTaskRead,
    GridWorkerRead,
    TrailEntry,
    TrainingRead,
)
from services.routing.store import workforce as rows
from shared.auth import Principal, Role
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_phone
from shared.problems import Forbidden, NotFound, RuleViolation
from shared.regions import is_region_code, region_level

M = TypeVar("M", bound=BaseModel)
# A town or community 平安办 manager: within their region scope only (admins everywhere).
MANAGER_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)


def is_manager(principal: Principal) -> bool:
    return principal.is_staff and principal.has_role(*MANAGER_ROLES)


def require_manager(principal: Principal) -> None:
    if not is_manager(principal):
        raise Forbidden("for town and community managers", code="role_required")


def require_worker(principal: Principal) -> None:
    if not (principal.is_staff and principal.has_role(Role.GRID_WORKER)):
        raise Forbidden("for grid workers", code="role_required")


def require_grid_code(code: str) -> None:
    """A grid code has 15 digits (GB/T 2260 and four more levels down)."""
    if not is_region_code(code) or region_level(code) != "grid":
        raise RuleViolation(f"{code!r} is not a grid code", code="grid_invalid")


async def require_grids(uow: UnitOfWork, principal: Principal, codes: list[str]) -> list[str]:
    """The codes, deduplicated in their order: each a grid code in the caller's scope that
    the directory knows as an active grid."""
    unique = list(dict.fromkeys(codes))
    for code in unique:
        require_grid_code(code)
        principal.require_region(code)
    for code in unique:
        region = await store.get_region(uow, code)
        if region is None or region["level"] != "grid" or not region["active"]:
            raise RuleViolation(f"no active grid {code}", code="grid_unknown")
    return unique


def read_as(model: type[M], row: Any, **extra: Any) -> M:
    """``row`` as ``model``: its fields only (reads never leak other columns)."""
    values = {k: row[k] for k in model.model_fields if k in row}
    return model.model_validate({**values, **extra})


def phone_context(user_id: uuid.UUID) -> str:
    """Associated data of a worker's encrypted phone: it does not decrypt on another row."""
    return f"routing.grid_worker:{user_id}:phone"


def covers_any(principal: Principal, grid_codes: list[str]) -> bool:
    return any(principal.covers_region(code) for code in grid_codes)


async def load_profile(uow: UnitOfWork, user_id: uuid.UUID, *, lock: bool = False) -> Any:
    profile = await rows.get_profile(uow, user_id, lock=lock)
    if profile is None:
        raise NotFound("no such grid worker", code="grid_worker_not_found")
    return profile


def require_manages(principal: Principal, profile: Any) -> None:
    """A manager over at least one of the worker's grids."""
    require_manager(principal)
    if not covers_any(principal, list(profile["grid_codes"])):
        raise Forbidden("this grid worker is outside your scope", code="out_of_scope")


async def profiles_read(uow: UnitOfWork, pii: PiiCipher, profiles: list[Any]
                        ) -> list[GridWorkerRead]:
    """Profiles with their trainings, the phone masked (decrypted here, never returned)."""
    trainings = await rows.trainings_of(uow, [p["user_id"] for p in profiles])
    by_worker: dict[uuid.UUID, list[TrainingRead]] = {}
    for training in trainings:
        by_worker.setdefault(training["user_id"], []).append(
            read_as(TrainingRead, training))
    return [
        GridWorkerRead(
            user_id=p["user_id"], display_name=p["display_name"], kind=p["kind"],
            grid_codes=list(p["grid_codes"]), started_on=p["started_on"],
            phone_masked=mask_phone(pii.decrypt_optional(
                p["phone"], context=phone_context(p["user_id"]))),
            status=p["status"], left_on=p["left_on"], successor_id=p["successor_id"],
            trainings=by_worker.get(p["user_id"], []))
        for p in profiles
    ]


async def tasks_read(uow: UnitOfWork, tasks: list[Any]) -> list[GridTaskRead]:
    """Tasks with their trails, oldest entry first."""
    trails = await rows.trails_of(uow, [t["id"] for t in tasks])
    by_task: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for entry in trails:
        by_task.setdefault(entry["task_id"], []).append(
            {k: entry[k] for k in TrailEntry.model_fields})
    return [read_as(GridTaskRead, t, trail=by_task.get(t["id"], [])) for t in tasks]


def trail_entry(task_id: uuid.UUID, action: str, at: Any, *, actor_id: uuid.UUID | None,
                from_worker_id: uuid.UUID | None = None, to_worker_id: uuid.UUID | None = None,
                note: str | None = None) -> dict[str, Any]:
    return {"task_id": task_id, "action": action, "at": at, "actor_id": actor_id,
            "from_worker_id": from_worker_id, "to_worker_id": to_worker_id, "note": note}
