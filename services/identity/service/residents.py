"""What platform services read about a resident over /internal/: relief's applicant profile
(plaintext, relief encrypts it itself) and feedback's WeChat openid. Every plaintext field
answered is written to the PII audit trail in the same transaction: no audit, no answer."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    HouseholdMemberInternal,
    ResidentProfileInternal,
    WeChatOpenIdRead,
)
from services.identity.service.accounts import ID_NUMBER, NAME
from services.identity.service.staff_wechat import staff_openid
from services.identity.store import accounts as store
from services.identity.store import audit as audit_store
from services.identity.store import registry as registry_store
from services.identity.store.audit import FieldRead
from shared.context import current_request_id
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.problems import NotFound

log = get_logger(__name__)
ADDRESS = "address"  # the registry's cipher context for addresses
# A household is a family; more rows under one household_id means bad registry data, and
# answering (and decrypting) thousands of strangers' records must not follow from it.
HOUSEHOLD_LIMIT = 50


class _AuditedReads:
    """Decrypts PII and remembers which field of which record was read."""

    def __init__(self, ctx: IdentityContext) -> None:
        self._pii = ctx.pii
        self.reads: list[FieldRead] = []

    def reveal(self, kind: str, row: RowMapping, field: str, column: str, context: str
               ) -> str | None:
        value = self._pii.decrypt_optional(row[column], context=context)
        if value is not None:
            self.reads.append(FieldRead(subject_kind=kind, subject_id=row["id"], field=field))
        return value


async def resident_profile(
    *, uow: UnitOfWork, ctx: IdentityContext, caller: str, user_id: uuid.UUID
) -> ResidentProfileInternal:
    """The account's verified name and ID number, and from its linked registry record the
    region, address and household (the other records with the same household_id)."""
    reads = _AuditedReads(ctx)
    async with uow:
        user = await store.get_user(uow, user_id)
        if user is None or user["kind"] != "resident":
            raise NotFound("no such resident", code="resident_not_found")
        person = None
        if user["registry_person_id"] is not None:
            person = await registry_store.get_person(uow, user["registry_person_id"])
        name = reads.reveal("user", user, "name", "name_cipher", NAME)
        id_number = reads.reveal("user", user, "id_number", "id_number_cipher", ID_NUMBER)
        # Birth date and gender are part of the ID number: known even without the registry.
        parsed = domain.IdNumber(id_number) if id_number is not None else None
        if person is None:
            profile = ResidentProfileInternal(
                user_id=user_id, verified=user["verified"], name=name, id_number=id_number,
                birth_date=parsed.birth_date if parsed else None,
                gender=parsed.gender if parsed else None,
                region_code=user["region_code"], household_id=None, address=None,
                household=[],
            )
        else:
            profile = ResidentProfileInternal(
                user_id=user_id, verified=user["verified"], name=name, id_number=id_number,
                birth_date=person["birth_date"], gender=person["gender"],
                region_code=person["region_code"], household_id=person["household_id"],
                address=reads.reveal("registry", person, "address", "address_cipher",
                                     ADDRESS),
                household=await _household(uow, reads, person, name, id_number),
            )
        await audit_store.record_service_reads(
            uow, caller=caller, reads=reads.reads, request_id=current_request_id()
        )
    log.info("pii_read_by_service", caller=caller, user_id=str(user_id),
             fields=len(reads.reads), linked=person is not None)
    return profile


async def _household(
    uow: UnitOfWork, reads: _AuditedReads, person: RowMapping, name: str | None,
    id_number: str | None,
) -> list[HouseholdMemberInternal]:
    """The resident first (relation "self"), then the other members, eldest first. The
    registry records no relation between members, so theirs is null."""
    # A registry link comes with verified account data (linking is part of verification);
    # should either be missing, the registry's own fields stand in rather than blanks.
    if name is None:
        name = reads.reveal("registry", person, "name", "name_cipher", NAME)
    if id_number is None:
        id_number = reads.reveal("registry", person, "id_number", "id_number_cipher",
                                 ID_NUMBER)
    own = HouseholdMemberInternal(name=name or "", id_number=id_number or "",
                                  birth_date=person["birth_date"], relation="self")
    if person["household_id"] is None:
        return [own]
    members = [own]
    rows = await registry_store.household_of(
        uow, person["household_id"], limit=HOUSEHOLD_LIMIT
    )
    for row in rows:
        if row["id"] == person["id"]:
            continue
        members.append(HouseholdMemberInternal(
            name=reads.reveal("registry", row, "name", "name_cipher", NAME) or "",
            id_number=reads.reveal("registry", row, "id_number", "id_number_cipher",
                                   ID_NUMBER) or "",
            birth_date=row["birth_date"], relation=None,
        ))
    return members


async def wechat_openid(
    *, uow: UnitOfWork, ctx: IdentityContext, caller: str, user_id: uuid.UUID
) -> WeChatOpenIdRead:
    """The openid subscribe messages are addressed to (feedback): a resident's login openid,
    or the WeChat a staff member bound — none for a disabled staff account, whose notices
    stop with its access."""
    async with uow:
        user = await store.get_user(uow, user_id)
        openid = None
        if user is not None and user["kind"] == "staff":
            openid = None if user["disabled"] else staff_openid(ctx, user)
        elif user is not None:
            openid = user["openid"]
        if openid is None:
            raise NotFound("no WeChat account for that user", code="openid_not_found")
        await audit_store.record_service_reads(
            uow, caller=caller, request_id=current_request_id(),
            reads=[FieldRead(subject_kind="user", subject_id=user_id, field="openid")],
        )
    return WeChatOpenIdRead(openid=openid)
