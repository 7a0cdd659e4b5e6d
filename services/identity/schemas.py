"""Request and answer shapes of the identity API. PII fields in answers are always masked."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- login and tokens --------------------------------------------------------------------------


class WeChatLogin(BaseSchema):
    code: str = Field(min_length=1, max_length=256)


class WebAuthorizeRead(BaseSchema):
    """Where to send the browser for the 公众号's web authorisation (snsapi_base)."""

    url: str


class RefreshRequest(BaseSchema):
    refresh_token: str = Field(min_length=16, max_length=256)


class StaffLogin(BaseSchema):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserRead(BaseSchema):
    id: uuid.UUID
    kind: str
    username: str | None = None
    display_name: str | None = None
    roles: list[str]
    regions: list[str] = []
    departments: list[uuid.UUID] = []
    verified: bool
    phone: str | None = None  # masked: 138****1234
    id_number: str | None = None  # masked: 350623********1234
    name: str | None = None  # masked: 张**
    region_code: str | None = None
    registry_person_id: uuid.UUID | None = None
    agency: str | None = None  # reviewers: the body they act for
    disabled: bool = False
    # Staff: bound their WeChat (staff notices go there); residents: a WeChat login.
    wechat_bound: bool = False


class TokenPair(BaseSchema):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserRead


class PhoneBind(BaseSchema):
    code: str = Field(min_length=1, max_length=256)


class StaffWeChatBind(BaseSchema):
    code: str = Field(min_length=1, max_length=256)  # from wx.login in the mini-program


# -- verification ------------------------------------------------------------------------------


class VerificationCreate(BaseSchema):
    name: str = Field(min_length=1, max_length=60)
    id_number: str = Field(min_length=1, max_length=32)


class VerificationRead(BaseSchema):
    """A verification's outcome. Access tokens carry ``verified`` as it was when they were
    issued, so after a verification the caller needs new ones before a call that requires it
    (relief, for one): ``tokens`` brings them, or ``refresh_required`` says to refresh."""

    status: Literal["pending", "verified", "rejected"]
    reason: str | None = None
    tokens: TokenPair | None = Field(
        None,
        description="Set only when this very answer verified the account: a fresh access and "
        "refresh pair of the same login (session), whose access token says verified. Use it "
        "from now on instead of the pair held before.",
    )
    refresh_required: bool = Field(
        False,
        description="True when the account is (or, while pending, may become) verified but "
        "the caller's access token does not say so: once GET /me/verification answers "
        "verified, call POST /refresh for tokens that carry it.",
    )


# -- staff -------------------------------------------------------------------------------------


class StaffCreate(BaseSchema):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(None, max_length=120)
    roles: list[str] = Field(min_length=1, max_length=10)
    regions: list[str] = Field(default_factory=list, max_length=100)
    departments: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    # Required with the reviewer role: town, ping_an_office, civil_affairs, agriculture.
    agency: str | None = Field(None, max_length=32)


class StaffScopeUpdate(BaseSchema):
    roles: list[str] = Field(min_length=1, max_length=10)
    regions: list[str] = Field(default_factory=list, max_length=100)
    departments: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    agency: str | None = Field(None, max_length=32)  # replaced like the rest: omit → none


class StaffPage(BaseSchema):
    items: list[UserRead]
    next_cursor: str | None = None


# A department admin manages their own unit's staff through these: the account belongs to the
# unit in the path (``departments`` is that unit alone), with roles from dept_staff and
# dept_admin and region scopes inside the unit admin's own.
class UnitStaffCreate(BaseSchema):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(None, max_length=120)
    roles: list[str] = Field(min_length=1, max_length=2)
    regions: list[str] = Field(default_factory=list, max_length=20)


class UnitStaffScopeUpdate(BaseSchema):
    """Replaces the roles and region scopes (the unit stays); the account's sessions end."""

    roles: list[str] = Field(min_length=1, max_length=2)
    regions: list[str] = Field(default_factory=list, max_length=20)


class StaffPasswordReset(BaseSchema):
    """The new password (at least 10 characters); the account's sessions end."""

    password: str = Field(min_length=1, max_length=256)


# -- PII access --------------------------------------------------------------------------------


class PiiAccessCreate(BaseSchema):
    subject_kind: Literal["user", "registry"]
    subject_id: uuid.UUID
    field: Literal["id_number", "phone", "name", "address"]
    reason: str = Field(min_length=5, max_length=500)


class PiiAccessRead(BaseSchema):
    subject_kind: str
    subject_id: uuid.UUID
    field: str
    value: str | None


class PiiAuditRead(BaseSchema):
    id: int
    actor_id: uuid.UUID | None  # null when a platform service read (actor_service)
    actor_service: str | None = None
    subject_kind: str
    subject_id: uuid.UUID
    field: str
    reason: str
    request_id: str | None
    accessed_at: datetime


class PiiAuditPage(BaseSchema):
    items: list[PiiAuditRead]
    next_cursor: str | None = None


# -- registry ----------------------------------------------------------------------------------


class RegistryPersonCreate(BaseSchema):
    id_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=60)
    region_code: str = Field(min_length=6, max_length=15)
    gender: str | None = Field(None, max_length=8)
    birth_date: date | None = None
    household_id: str | None = Field(None, max_length=64)
    address: str | None = Field(None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)


class RegistryPersonRead(BaseSchema):
    id: uuid.UUID
    id_number: str  # masked
    name: str  # masked
    gender: str
    birth_year: int  # the full date is part of the ID number, so it stays hidden
    household_id: str | None
    region_code: str
    tags: list[str]
    linked_user_id: uuid.UUID | None
    created: bool | None = None
    last_visited_at: datetime | None = None  # the latest household visit that saw them


class RegistryPage(BaseSchema):
    items: list[RegistryPersonRead]
    next_cursor: str | None = None


class ImportRowError(BaseSchema):
    row: int
    code: str
    detail: str
    id_number: str | None = None  # as typed in the row, masked


class ImportFailure(BaseSchema):
    code: str  # too_many_rows, spreadsheet_unreadable, import_interrupted, import_failed, ...
    detail: str


class ImportJobRead(BaseSchema):
    """A registry import: poll it until ``status`` is succeeded or failed."""

    id: uuid.UUID
    status: Literal["queued", "reading", "writing", "succeeded", "failed"]
    format: str
    uploaded_by: uuid.UUID
    total_rows: int | None  # known once the file is read
    rows_done: int  # rows settled so far: written or refused
    loaded: int
    created: int
    updated: int
    refused: int
    errors: list[ImportRowError]  # the first refused rows; all of them at errors_url
    errors_url: str
    failure: ImportFailure | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


# -- partner apps ------------------------------------------------------------------------------


class PartnerAppCreate(BaseSchema):
    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    allowed_regions: list[str] = Field(default_factory=list, max_length=100)
    # DNS names the app may subscribe webhooks on (hooks.example.com); checked by the service
    # (at most 20, each a bare host name: code callback_host_invalid / callback_hosts_too_many).
    callback_hosts: list[str] = Field(default_factory=list, max_length=100)


class PartnerCallbackHostsSet(BaseSchema):
    callback_hosts: list[str] = Field(max_length=100)  # replaces the list; [] clears it


class PartnerAppRead(BaseSchema):
    id: uuid.UUID
    app_key: str
    name: str
    scopes: list[str]
    allowed_regions: list[str]
    callback_hosts: list[str]
    disabled: bool
    created_at: datetime


class PartnerAppCreated(PartnerAppRead):
    secret: str  # shown once


class PartnerSecretRotate(BaseSchema):
    overlap_seconds: int | None = Field(None, ge=0, le=30 * 24 * 3600)


class PartnerSecretRotated(BaseSchema):
    app_key: str
    secret: str  # shown once
    previous_secret_expires_at: datetime | None


class PartnerAppPage(BaseSchema):
    items: list[PartnerAppRead]
    next_cursor: str | None = None


class PartnerSecretInternal(BaseSchema):
    secret: str
    expires_at: datetime | None


class PartnerCredentialsInternal(BaseSchema):
    app_id: uuid.UUID
    app_key: str
    disabled: bool
    scopes: list[str]
    allowed_regions: list[str]
    callback_hosts: list[str]
    secrets: list[PartnerSecretInternal]


class HouseholdMemberInternal(BaseSchema):
    name: str
    id_number: str
    birth_date: date
    relation: str | None  # "self" for the resident; the registry records no other relation


class ResidentProfileInternal(BaseSchema):
    """Plaintext, for platform services only (relief stores it encrypted itself). Without a
    linked registry record: region, household and address are null / empty."""

    user_id: uuid.UUID
    verified: bool
    name: str | None
    id_number: str | None
    birth_date: date | None
    gender: str | None
    region_code: str | None
    household_id: str | None
    address: str | None
    household: list[HouseholdMemberInternal]


class WeChatOpenIdRead(BaseSchema):
    openid: str


class WeChatAccessTokenRead(BaseSchema):
    access_token: str
    expires_at: datetime


# -- statistics --------------------------------------------------------------------------------


class RegionPopulationSet(BaseSchema):
    census_population: int = Field(ge=0, le=100_000_000)


class RegionStats(BaseSchema):
    region_code: str
    level: str
    census_population: int
    entered: int
    verified: int
    entry_rate: float | None  # percent, truncated to two decimals: 92.73
    verification_rate: float | None


class RegionStatsTree(RegionStats):
    children: list[RegionStats]


# -- grid workers: their accounts and household visits (入户走访) ------------------------------

GridCode = Annotated[str, Field(pattern=r"^[0-9]{15}$", description="a 15-digit grid code")]
MAX_VISIT_PHOTOS = 9  # as many as a case's photos


class GridWorkerAccountCreate(BaseSchema):
    """A grid worker's staff account (role grid_worker), scoped to their grids."""

    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(None, max_length=20)
    grid_codes: list[GridCode] = Field(min_length=1, max_length=20)


class VisitLocation(BaseSchema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class VisitCreate(BaseSchema):
    id: uuid.UUID | None = Field(None, description="made by the app (offline): the same id "
                                 "again answers the visit already recorded")
    grid_code: GridCode
    registry_person_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    household_id: str | None = Field(None, max_length=64)
    note: str = Field(max_length=2000)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_VISIT_PHOTOS)
    location: VisitLocation | None = None
    visited_at: AwareDatetime


class VisitPerson(BaseSchema):
    id: uuid.UUID
    name_masked: str


class VisitRead(BaseSchema):
    id: uuid.UUID
    grid_code: str
    worker_id: uuid.UUID
    household_id: str | None
    people: list[VisitPerson]
    note: str  # phone and ID numbers masked
    attachment_ids: list[uuid.UUID]
    location: VisitLocation | None
    visited_at: datetime
    recorded_at: datetime


class VisitPage(BaseSchema):
    items: list[VisitRead]
    next_cursor: str | None = None
