"""Who is calling, as the access token says, and the scope checks every endpoint uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from shared.problems import Forbidden
from shared.regions import covers


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    DEPT_STAFF = "dept_staff"
    DEPT_ADMIN = "dept_admin"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    REVIEWER = "reviewer"
    BOOKING_OPERATOR = "booking_operator"
    ADMIN = "admin"
    SERVICE = "service"  # another service of the platform calling an internal endpoint


# Staff scoped to regions see what happens in them; staff scoped to departments see what is
# assigned to or assisted by them. A grid worker is both.
REGION_SCOPED_ROLES = (Role.GRID_WORKER, Role.DISPATCHER, Role.SUPERVISOR)
UNIT_SCOPED_ROLES = (Role.DEPT_STAFF, Role.DEPT_ADMIN, Role.GRID_WORKER)
# Most accountable first: the role an audited read is recorded under.
_ACCOUNTABILITY = (Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER, Role.GRID_WORKER,
                   Role.DEPT_ADMIN, Role.DEPT_STAFF)


@dataclass(frozen=True)
class Principal:
    subject: uuid.UUID
    roles: frozenset[str]
    regions: tuple[str, ...] = ()
    departments: tuple[uuid.UUID, ...] = ()
    verified: bool = False
    kind: str = "resident"  # resident | staff | service
    token_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)
    # When the token was issued (epoch seconds) and the login it belongs to (the refresh
    # family): what a revocation compares against (shared/auth/revocations.py).
    issued_at: float = 0.0
    session_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def accountable_role(self) -> str:
        """The most accountable staff role held ("staff" when none of them is)."""
        return next((role.value for role in _ACCOUNTABILITY if role in self.roles), "staff")

    def covers_region(self, code: str) -> bool:
        """A staff scope on a region covers every region below it; admins cover all."""
        if Role.ADMIN in self.roles:
            return True
        return any(covers(scope, code) for scope in self.regions)

    def in_department(self, department_id: uuid.UUID) -> bool:
        return Role.ADMIN in self.roles or department_id in self.departments

    def require_role(self, *roles: str) -> None:
        if not self.has_role(*roles):
            raise Forbidden("your role does not allow this", code="role_required")

    def require_region(self, code: str) -> None:
        if not self.covers_region(code):
            raise Forbidden("this region is outside your scope", code="out_of_scope")

    def require_department(self, department_id: uuid.UUID) -> None:
        if not self.in_department(department_id):
            raise Forbidden("this department is outside your scope", code="out_of_scope")
