"""Use cases of booking operators: open a round, change a quota, read statistics; and the
round listing residents see."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from services.booking import domain, messages
from services.booking.schemas import (
    ItemIn,
    PickupPointCreate,
    PickupPointRead,
    PointStats,
    QuotaUpdate,
    RoundCreate,
    RoundPage,
    RoundRead,
    RoundStats,
    SlotRead,
)
from services.booking.store import residents as resident_store
from services.booking.store import rounds as round_store
from services.booking.store.tables import AnyRow
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.problems import NotFound, RuleViolation
from shared.regions import descendant_prefix


def _windows(row: AnyRow | RoundCreate) -> domain.RoundWindows:
    return domain.RoundWindows(
        booking_opens_at=row.booking_opens_at,
        booking_closes_at=row.booking_closes_at,
        pickup_starts_at=row.pickup_starts_at,
        pickup_ends_at=row.pickup_ends_at,
    )


def require_operator_of(operator: Principal, region_code: str) -> None:
    operator.require_role(Role.BOOKING_OPERATOR, Role.ADMIN)
    operator.require_region(region_code)


async def create_round(
    *,
    uow: UnitOfWork,
    cmd: RoundCreate,
    operator: Principal,
    stripes_per_slot: int,
    now: datetime,
) -> RoundRead:
    _require_valid_round(cmd, operator)
    round_id = uuid.uuid4()
    async with uow:
        await round_store.insert_round(uow, _round_values(round_id, cmd, operator))
        for position, point in enumerate(cmd.pickup_points):
            operator.require_region(point.region_code)
            await _insert_point(uow, cmd, round_id, point, position, stripes_per_slot)
        return await _read_round(uow, round_id, now=now)


def _require_valid_round(cmd: RoundCreate, operator: Principal) -> None:
    """Windows in order, real region codes, and every region within the operator's scope."""
    require_operator_of(operator, cmd.region_code)
    _windows(cmd).validate()
    domain.validate_regions(
        [cmd.region_code, *cmd.eligibility_regions, *(p.region_code for p in cmd.pickup_points)]
    )
    for region in cmd.eligibility_regions:
        operator.require_region(region)


def _round_values(round_id: uuid.UUID, cmd: RoundCreate, operator: Principal) -> dict[str, Any]:
    return {
        "id": round_id,
        "title": cmd.title,
        "region_code": cmd.region_code,
        "items": [item.model_dump() for item in cmd.items],
        "eligibility_regions": sorted(set(cmd.eligibility_regions)),
        "limit_per": cmd.limit_per,
        "booking_opens_at": cmd.booking_opens_at,
        "booking_closes_at": cmd.booking_closes_at,
        "pickup_starts_at": cmd.pickup_starts_at,
        "pickup_ends_at": cmd.pickup_ends_at,
        "created_by": operator.subject,
    }


async def _insert_point(
    uow: UnitOfWork,
    cmd: RoundCreate,
    round_id: uuid.UUID,
    point: PickupPointCreate,
    position: int,
    stripes_per_slot: int,
) -> None:
    """A pickup point and its slots (one for the whole pickup window when it has a single
    quota), each slot's quota spread over its stripes."""
    point_id = uuid.uuid4()
    await round_store.insert_point(
        uow,
        {
            "id": point_id,
            "round_id": round_id,
            "name": point.name,
            "address": point.address,
            "region_code": point.region_code,
            "position": position,
        },
    )
    windows_and_quotas = (
        [(cmd.pickup_starts_at, cmd.pickup_ends_at, point.quota or 0)]
        if point.slots is None
        else [(s.starts_at, s.ends_at, s.quota) for s in point.slots]
    )
    for starts_at, ends_at, quota in windows_and_quotas:
        if not (cmd.pickup_starts_at <= starts_at < ends_at <= cmd.pickup_ends_at):
            raise RuleViolation(messages.SLOT_OUTSIDE, code="slot_invalid")
        await round_store.insert_slot(
            uow,
            {
                "id": uuid.uuid4(),
                "round_id": round_id,
                "point_id": point_id,
                "starts_at": starts_at,
                "ends_at": ends_at,
            },
            domain.spread(quota, stripes_per_slot),
        )


async def _read_round(uow: UnitOfWork, round_id: uuid.UUID, *, now: datetime) -> RoundRead:
    row = await round_store.get_round(uow, round_id)
    if row is None:
        raise NotFound("no such round", code="round_not_found")
    return (await _round_views(uow, [row], now=now))[0]


async def _round_views(
    uow: UnitOfWork, rows: list[AnyRow], *, now: datetime
) -> list[RoundRead]:
    slot_rows = await round_store.slot_quotas(uow, [r.id for r in rows])
    slots_by_point: dict[uuid.UUID, list[SlotRead]] = defaultdict(list)
    for slot in slot_rows:
        slots_by_point[slot.point_id].append(
            SlotRead(
                id=slot.id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                quota=slot.quota,
                remaining=slot.quota - slot.taken,
            )
        )
    views = []
    for row in rows:
        points = []
        for point in await round_store.round_points(uow, row.id):
            point_slots = slots_by_point[point.id]
            points.append(
                PickupPointRead(
                    id=point.id,
                    name=point.name,
                    address=point.address,
                    region_code=point.region_code,
                    quota=sum(s.quota for s in point_slots),
                    remaining=sum(s.remaining for s in point_slots),
                    slots=point_slots,
                )
            )
        phase = _windows(row).phase(now)
        views.append(
            RoundRead(
                id=row.id,
                title=row.title,
                region_code=row.region_code,
                items=[ItemIn.model_validate(item) for item in row.items],
                booking_opens_at=row.booking_opens_at,
                booking_closes_at=row.booking_closes_at,
                pickup_starts_at=row.pickup_starts_at,
                pickup_ends_at=row.pickup_ends_at,
                eligibility_regions=list(row.eligibility_regions),
                limit_per=row.limit_per,
                limit_label=messages.limit_label(row.limit_per),
                phase=phase,
                phase_label=messages.phase_label(phase),
                pickup_points=points,
            )
        )
    return views


async def get_round(
    *, uow: UnitOfWork, round_id: uuid.UUID, caller: Principal, now: datetime
) -> RoundRead:
    async with uow:
        row = await round_store.get_round(uow, round_id)
        if row is None or not await _may_see(uow, row, caller):
            raise NotFound("no such round", code="round_not_found")
        return (await _round_views(uow, [row], now=now))[0]


async def _may_see(uow: UnitOfWork, row: AnyRow, caller: Principal) -> bool:
    if caller.has_role(Role.BOOKING_OPERATOR, Role.ADMIN) and caller.covers_region(row.region_code):
        return True
    resident = await _resident(uow, caller.subject)
    return domain.is_eligible(resident, list(row.eligibility_regions))


async def _resident(uow: UnitOfWork, user_id: uuid.UUID) -> domain.Resident | None:
    row = await resident_store.get_resident(uow, user_id)
    if row is None:
        return None
    return domain.Resident(row.user_id, row.region_code, row.household_id)


async def list_rounds(
    *, uow: UnitOfWork, caller: Principal, now: datetime, cursor: str | None, limit: int
) -> RoundPage:
    """Operators: the rounds of their regions, newest first. Residents: open and upcoming
    rounds they may book, soonest first."""
    after = decode_moment_cursor(cursor)
    async with uow:
        if caller.has_role(Role.BOOKING_OPERATOR, Role.ADMIN):
            prefixes = None
            if not caller.has_role(Role.ADMIN):
                prefixes = [descendant_prefix(r) for r in caller.regions]
            rows = await round_store.rounds_in_scope(
                uow, region_prefixes=prefixes, after=after, limit=limit + 1
            )
        else:
            rows = await _rounds_open_to(uow, caller, now=now, after=after, limit=limit)
        page, next_cursor = page_of(
            rows, limit, lambda row: moment_cursor(row.booking_opens_at, row.id)
        )
        views = await _round_views(uow, page, now=now)
    return RoundPage(items=views, next_cursor=next_cursor)


async def _rounds_open_to(
    uow: UnitOfWork,
    caller: Principal,
    *,
    now: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AnyRow]:
    """Up to ``limit + 1`` rounds not ended that the resident may book, soonest first."""
    resident = await _resident(uow, caller.subject)
    rows: list[AnyRow] = []
    if resident is None:
        return rows
    # Eligibility is a region rule over few rounds: filter here, page on.
    batch_after = after
    while len(rows) <= limit:
        batch = await round_store.rounds_not_ended(uow, now=now, after=batch_after, limit=200)
        rows += [r for r in batch if domain.is_eligible(resident, list(r.eligibility_regions))]
        if len(batch) < 200:
            break
        batch_after = (batch[-1].booking_opens_at, batch[-1].id)
    return rows


async def change_quota(
    *,
    uow: UnitOfWork,
    round_id: uuid.UUID,
    point_id: uuid.UUID,
    cmd: QuotaUpdate,
    operator: Principal,
    now: datetime,
) -> RoundRead:
    """Raise (or lower, never below what is booked) a pickup point's quota, at any time before
    the round ends; bookings in flight on that slot wait for the change."""
    async with uow:
        row = await round_store.get_round(uow, round_id)
        if row is None:
            raise NotFound("no such round", code="round_not_found")
        require_operator_of(operator, row.region_code)
        if _windows(row).phase(now) is domain.RoundPhase.ENDED:
            raise RuleViolation(messages.ROUND_ENDED, code="round_ended")
        slots = [
            s
            for s in await round_store.slot_quotas(uow, [round_id])
            if s.point_id == point_id
        ]
        if not slots:
            raise NotFound("no such pickup point in this round", code="pickup_point_not_found")
        if cmd.slot_id is not None:
            slots = [s for s in slots if s.id == cmd.slot_id]
            if not slots:
                raise NotFound("no such slot at this pickup point", code="slot_not_found")
        elif len(slots) > 1:
            raise RuleViolation(messages.QUOTA_SLOT_REQUIRED, code="slot_required",
                                extra={"field": "slot_id"})
        stripes = await round_store.lock_slot_stripes(uow, slots[0].id)
        capacities = domain.respread(cmd.quota, [s.taken for s in stripes])
        await round_store.set_capacities(
            uow, {s.id: c for s, c in zip(stripes, capacities, strict=True)}
        )
        return (await _round_views(uow, [row], now=now))[0]


async def round_stats(
    *, uow: UnitOfWork, round_id: uuid.UUID, operator: Principal, now: datetime
) -> RoundStats:
    async with uow:
        row = await round_store.get_round(uow, round_id)
        if row is None:
            raise NotFound("no such round", code="round_not_found")
        require_operator_of(operator, row.region_code)
        view = (await _round_views(uow, [row], now=now))[0]
        counts = await round_store.booking_counts(uow, round_id)
    points = []
    for point in view.pickup_points:
        c = counts.get(point.id)
        points.append(
            PointStats(
                pickup_point_id=point.id,
                name=point.name,
                quota=point.quota,
                booked=c.booked if c else 0,
                redeemed=c.redeemed if c else 0,
                cancelled=c.cancelled if c else 0,
                no_show=c.no_show if c else 0,
                remaining=point.remaining,
            )
        )
    return RoundStats(
        round_id=round_id,
        phase=view.phase,
        phase_label=view.phase_label,
        quota=sum(p.quota for p in points),
        booked=sum(p.booked for p in points),
        redeemed=sum(p.redeemed for p in points),
        cancelled=sum(p.cancelled for p in points),
        no_show=sum(p.no_show for p in points),
        remaining=sum(p.remaining for p in points),
        points=points,
    )
