"""Identity's staff accounts as routing needs them for enrolment: identity announces each
(``identity.staff_directory_changed``, with a version growing per account); routing keeps the
newest of each (an older one arriving late is dropped), so a manager cannot enrol an account
that identity says is disabled or holds no grid_worker role. An account identity has not
announced yet (the manager enrols it just after creating it) is taken on trust: its token's
role still decides what it may do."""

from __future__ import annotations

from typing import Any

from services.routing.store import workforce as rows
from shared.auth import Role
from shared.contracts.identity import StaffDirectoryChanged
from shared.db.uow import UnitOfWork
from shared.problems import RuleViolation


async def keep_account(uow: UnitOfWork, change: StaffDirectoryChanged) -> bool:
    """In the consumer's transaction; False when a newer version was already held."""
    return await rows.keep_staff_account(uow, {
        "staff_id": change.staff_id, "roles": sorted(set(change.roles)),
        "active": change.active, "version": change.version})


def require_grid_worker_account(account: Any | None) -> None:
    if account is None:
        return
    if not account["active"] or Role.GRID_WORKER not in account["roles"]:
        raise RuleViolation("identity knows this account as no active grid worker's",
                            code="account_not_grid_worker")
