"""Integration events published by the identity service. Consumers depend on these shapes
only. No plaintext PII travels on the bus: ID numbers and phones never appear here."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shared.contracts import contract


@contract("identity.user_registered")
class UserRegistered(BaseModel):
    user_id: uuid.UUID
    registered_at: datetime
    channel: str  # "wechat" (mini-program) | "wechat_web" (公众号 pages) | "staff" | "partner"


@contract("identity.user_verified")
class UserVerified(BaseModel):
    """A resident passed real-name verification. ``region_code`` and ``household_id`` come
    from the population-registry record the account was linked to, when there is one."""

    user_id: uuid.UUID
    verified_at: datetime
    region_code: str | None = None  # deepest known: grid, community, ... (GB/T 2260 based)
    household_id: str | None = None
    registry_person_id: uuid.UUID | None = None
    is_minor: bool = False


@contract("identity.resident_entered")
class ResidentEntered(BaseModel):
    """A grid worker entered or updated a resident in the population registry."""

    registry_person_id: uuid.UUID
    region_code: str
    household_id: str | None = None
    tags: list[str] = []
    created: bool  # False when a re-import updated an existing record
    entered_by: uuid.UUID | None = None
    linked_user_id: uuid.UUID | None = None


@contract("identity.access_revoked")
class AccessRevoked(BaseModel):
    """Access tokens were revoked: an account disabled or re-scoped, a login ended, a partner
    app disabled. Verifiers learn it from identity's revocation feed within a second or two
    (shared/auth/revocations.py), not from this event; it is the audit trail."""

    kind: str  # subject | session | partner_app
    key: str  # the account id, the session (refresh family) id, or the partner app key
    reason: str  # disabled | rescoped | logout | refresh_reused | partner_disabled | password_reset
    not_before: datetime  # tokens issued before it are refused
    user_id: uuid.UUID | None = None
    revoked_by: uuid.UUID | None = None  # the admin, when one did it


@contract("identity.staff_directory_changed")
class StaffDirectoryChanged(BaseModel):
    """A staff account as other services may address it: its units, roles and region scopes,
    whether it is active and has bound a WeChat account (never the openid itself: a service
    that sends reads it from identity's internal endpoint). Published with every change to
    any of these (and republished by ``python -m services.identity.cli republish-staff``);
    ``version`` grows with each publication of one account, so a consumer keeps the highest
    it has seen and drops an older one arriving late."""

    staff_id: uuid.UUID
    unit_ids: list[uuid.UUID]  # the account's departments (units it works for)
    roles: list[str]
    regions: list[str]  # region scope codes (GB/T 2260 based)
    active: bool  # False: disabled
    wechat_bound: bool
    version: int
    changed_at: datetime
    # created | disabled | enabled | rescoped | wechat_bound | wechat_unbound | republished
    cause: str


@contract("identity.household_visited")
class HouseholdVisited(BaseModel):
    """A grid worker visited a household (入户走访) and saw these registry people."""

    visit_id: uuid.UUID
    worker_id: uuid.UUID
    grid_code: str
    registry_person_ids: list[uuid.UUID]
    household_id: str | None = None
    visited_at: datetime
