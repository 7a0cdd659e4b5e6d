"""Who may do what on grid duty. A manager (dispatcher, supervisor or admin, i.e. a town or
community 平安办) acts on the grids inside their regions; a grid worker writes only for the
grids their token names and reads only their own records."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.auth import Principal, Role
from shared.calendar import SHANGHAI
from shared.problems import Forbidden, RuleViolation

from ..common import scope_prefixes

MANAGER_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
# A device's clock may run a little fast; a queue held offline longer than a week is stale.
FUTURE_SLACK = timedelta(minutes=5)
OLDEST = timedelta(days=7)


def is_manager(principal: Principal) -> bool:
    return principal.is_staff and principal.has_role(*MANAGER_ROLES)


def require_manager_of(principal: Principal, grid_code: str) -> None:
    if not is_manager(principal):
        raise Forbidden("for town and community managers", code="role_required")
    principal.require_region(grid_code)


def require_grid_worker(principal: Principal) -> None:
    if not (principal.is_staff and principal.has_role(Role.GRID_WORKER)):
        raise Forbidden("for grid workers", code="role_required")


def require_worker_of(principal: Principal, grid_code: str) -> None:
    """The caller is a grid worker of ``grid_code`` (their token's regions name it)."""
    require_grid_worker(principal)
    principal.require_region(grid_code)


def require_reader_of(principal: Principal, grid_code: str) -> None:
    """A manager over the grid, or a worker of it."""
    if is_manager(principal):
        principal.require_region(grid_code)
    else:
        require_worker_of(principal, grid_code)


def reading_scope(principal: Principal, worker_id: uuid.UUID | None, grid_code: str | None
                  ) -> tuple[uuid.UUID | None, list[str] | None]:
    """(the worker to filter on, the region prefixes to keep): a manager reads in their
    regions (a grid outside them is refused), a worker only their own records."""
    if is_manager(principal):
        if grid_code is not None:
            principal.require_region(grid_code)
        return worker_id, scope_prefixes(principal)
    if not (principal.is_staff and principal.has_role(Role.GRID_WORKER)):
        raise Forbidden("for grid workers and their managers", code="role_required")
    if worker_id is not None and worker_id != principal.subject:
        raise Forbidden("a grid worker reads only their own records", code="out_of_scope")
    return principal.subject, None


def require_owner_or_manager(principal: Principal, worker_id: uuid.UUID, grid_code: str
                             ) -> None:
    """One record: its worker, or a manager over its grid."""
    if principal.subject == worker_id and principal.has_role(Role.GRID_WORKER):
        return
    if is_manager(principal) and principal.covers_region(grid_code):
        return
    raise Forbidden("this record is outside your scope", code="out_of_scope")


def check_device_time(at: datetime, now: datetime) -> None:
    """A time the device recorded: not ahead of the platform's clock (beyond a little slack)
    nor older than a week (a queue held offline that long is refused, not back-dated)."""
    if at > now + FUTURE_SLACK:
        raise RuleViolation("the time is in the future: check the device's clock",
                            code="time_in_future")
    if at < now - OLDEST:
        raise RuleViolation("the time is more than seven days ago", code="too_old")


def shanghai_day(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


M = TypeVar("M", bound=BaseModel)


def shaped(model: type[M], row: Any) -> M:
    """A row as ``model``, keeping just its fields (reads never leak other columns)."""
    return model.model_validate({k: row[k] for k in model.model_fields if k in row})
