"""Population registry (人口录入): entry one by one and bulk import, linking to verified
accounts, and the per-region tallies kept in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    ImportRowError,
    RegistryPage,
    RegistryPersonCreate,
    RegistryPersonRead,
)
from services.identity.service.accounts import ID_NUMBER, NAME
from services.identity.spreadsheets import SheetRow
from services.identity.store import accounts as account_store
from services.identity.store import registry as store
from shared.auth.principal import Principal, Role
from shared.contracts.identity import ResidentEntered
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import CURSOR_INVALID, page_of
from shared.pii import mask_id_number, mask_name
from shared.problems import BadRequest, Forbidden, RuleViolation

log = get_logger(__name__)
ADDRESS = "address"
ENTRY_ROLES = (Role.GRID_WORKER, Role.ADMIN)


def person_view(ctx: IdentityContext, row: RowMapping, created: bool | None = None
                ) -> RegistryPersonRead:
    return RegistryPersonRead(
        id=row["id"],
        id_number=mask_id_number(ctx.pii.decrypt(row["id_number_cipher"], context=ID_NUMBER))
        or "",
        name=mask_name(ctx.pii.decrypt(row["name_cipher"], context=NAME)) or "",
        gender=row["gender"],
        birth_year=row["birth_date"].year,
        household_id=row["household_id"],
        region_code=row["region_code"],
        tags=list(row["tags"]),
        linked_user_id=row["linked_user_id"],
        created=created,
        last_visited_at=row["last_visited_at"],
    )


async def upsert_entry(
    uow: UnitOfWork, ctx: IdentityContext, entry: domain.RegistryEntry,
    entered_by: uuid.UUID | None, may_touch: Callable[[str], bool] | None = None,
) -> tuple[RowMapping, bool]:
    """``may_touch``: whether the one entering may change a record registered in a region
    (its current region, not only the one entered); None for the operator's CLI."""
    pii = ctx.pii
    index = pii.blind_index(entry.id_number.value, context=ID_NUMBER)
    before = await store.find_by_id_index(uow, index, lock=True)
    if before is not None and may_touch is not None and not may_touch(before["region_code"]):
        raise registered_elsewhere()
    row, created = await store.upsert_person(uow, {
        "id": uuid.uuid4(),
        "id_number_index": index,
        "id_number_cipher": pii.encrypt(entry.id_number.value, context=ID_NUMBER),
        "name_cipher": pii.encrypt(entry.name, context=NAME),
        "gender": entry.gender,
        "birth_date": entry.birth_date,
        "household_id": entry.household_id,
        "address_cipher": pii.encrypt_optional(entry.address, context=ADDRESS),
        "region_code": entry.region_code,
        "tags": list(entry.tags),
        "entered_by": entered_by,
    })
    linked_user_id = row["linked_user_id"]
    if created:
        await store.add_tally(uow, entry.region_code, entered=1)
    elif before is not None and before["region_code"] != entry.region_code:
        # The person moved: both the entered and (if verified) the verified count move.
        moved_verified = 1 if linked_user_id is not None else 0
        await store.add_tally(uow, before["region_code"], entered=-1,
                              verified=-moved_verified)
        await store.add_tally(uow, entry.region_code, entered=1,
                              verified=moved_verified)
        if linked_user_id is not None:
            await account_store.update_user(uow, linked_user_id,
                                            region_code=entry.region_code)
    if linked_user_id is None:
        user = await account_store.verified_user_by_id_index(uow, index)
        if user is not None:
            linked_user_id = user["id"]
            await store.link_user(uow, row["id"], user["id"])
            await account_store.update_user(uow, user["id"], registry_person_id=row["id"],
                                            region_code=entry.region_code)
            await store.add_tally(uow, entry.region_code, verified=1)
    await uow.emit("identity.resident_entered", ResidentEntered(
        registry_person_id=row["id"], region_code=entry.region_code,
        household_id=entry.household_id, tags=list(entry.tags), created=created,
        entered_by=entered_by, linked_user_id=linked_user_id,
    ))
    return row, created


def registered_elsewhere() -> Forbidden:
    return Forbidden("this resident is registered outside your scope", code="out_of_scope")


async def enter_person(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: RegistryPersonCreate
) -> RegistryPersonRead:
    actor.require_role(*ENTRY_ROLES)
    entry = domain.build_registry_entry(today=ctx.today(), **cmd.model_dump())
    actor.require_region(entry.region_code)
    async with uow:
        written, created = await upsert_entry(uow, ctx, entry, actor.subject,
                                              actor.covers_region)
        row = await store.get_person(uow, written["id"])
        assert row is not None
    log.info("resident_entered", person_id=str(row["id"]), created=created,
             region=entry.region_code)
    return person_view(ctx, row, created)


@dataclass
class PreparedImport:
    total_rows: int
    entries: list[tuple[int, domain.RegistryEntry]]
    errors: list[ImportRowError]


def prepare_import(
    rows: Sequence[SheetRow], *, today: date, may_enter: Callable[[str], bool]
) -> PreparedImport:
    """Validate every row; only valid rows in the importer's scope go on to be written."""
    entries: list[tuple[int, domain.RegistryEntry]] = []
    errors: list[ImportRowError] = []
    for row in rows:
        v = row.values
        try:
            birth = date.fromisoformat(v["birth_date"]) if v.get("birth_date") else None
        except ValueError:
            errors.append(ImportRowError(row=row.number, code="birth_date_invalid",
                                         detail="birth dates are written YYYY-MM-DD"))
            continue
        try:
            entry = domain.build_registry_entry(
                id_number=v.get("id_number", ""), name=v.get("name", ""),
                region_code=v.get("region_code", ""), today=today,
                gender=v.get("gender") or None, birth_date=birth,
                household_id=v.get("household_id") or None, address=v.get("address") or None,
                tags=domain.split_tags(v.get("tags")),
            )
        except RuleViolation as problem:
            errors.append(ImportRowError(row=row.number, code=problem.code,
                                         detail=problem.detail))
            continue
        if not may_enter(entry.region_code):
            errors.append(ImportRowError(row=row.number, code="out_of_scope",
                                         detail="this region is outside your scope"))
            continue
        entries.append((row.number, entry))
    return PreparedImport(total_rows=len(rows), entries=entries, errors=errors)


async def write_entries(
    *, make_uow: Callable[[], UnitOfWork], ctx: IdentityContext,
    entries: Iterable[tuple[int, domain.RegistryEntry]], entered_by: uuid.UUID | None,
    may_touch: Callable[[str], bool] | None = None,
) -> tuple[int, int]:
    """Write one batch in one transaction; answers (created, updated)."""
    created = updated = 0
    uow = make_uow()
    async with uow:
        for _, entry in entries:
            _, was_created = await upsert_entry(uow, ctx, entry, entered_by, may_touch)
            created += was_created
            updated += not was_created
    return created, updated


async def list_people(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, region: str | None,
    cursor: str | None, limit: int, not_visited_since: datetime | None = None,
) -> RegistryPage:
    # Grid workers (the visit form lists their grid's people) and the managers of a region.
    actor.require_role(*ENTRY_ROLES, Role.SUPERVISOR, Role.DISPATCHER)
    if region is not None:
        actor.require_region(region)
        prefixes: list[str] | None = [domain.region_match_prefix(region)]
    else:
        prefixes = (None if Role.ADMIN in actor.roles
                    else [domain.region_match_prefix(r) for r in actor.regions])
    after = _person_cursor(cursor)
    not_visited_since = domain.in_utc(not_visited_since)
    async with uow:
        rows = await store.list_people(uow, region_prefixes=prefixes, after=after,
                                       limit=limit + 1, not_visited_since=not_visited_since)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["id"]))
    return RegistryPage(items=[person_view(ctx, r) for r in page], next_cursor=next_cursor)


def _person_cursor(cursor: str | None) -> uuid.UUID | None:
    """The registry lists by id alone: its cursor is the last id, as text."""
    if not cursor:
        return None
    try:
        return uuid.UUID(cursor)
    except ValueError:
        raise BadRequest("malformed cursor", code=CURSOR_INVALID) from None
