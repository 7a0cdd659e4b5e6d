"""Region statistics (人口录入率, 实名认证率) at every level of the region tree.

Counts come from two small tables, not from scanning millions of rows: ``region_tallies``
(live counts per leaf region, kept in the same transaction as the registry row or the
verification they count) and ``region_population`` (census figure and the baseline carried
over from before the platform, per configured region). A region's census population is its
own configured figure, or else the sum of the nearest configured regions below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.schemas import RegionStats, RegionStatsTree
from services.identity.store import stats as store
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.errors import Forbidden, RuleViolation
from shared.regions import covers, is_region_code, region_level


@dataclass(frozen=True)
class _Figures:
    census: dict[str, int]
    baseline_entered: dict[str, int]
    baseline_verified: dict[str, int]
    tallies: Sequence[RowMapping]


def _child_of(parent: str, code: str) -> str | None:
    level = region_level(parent)
    child = {
        "province": code[:4] + "00",
        "city": code[:6],
        "county": code[:9],
        "town": code[:12],
        "community": code[:15],
    }.get(level)
    if child is None or child == parent or len(code) < len(child):
        return None
    return child if is_region_code(child) and covers(parent, child) else None


def _census(code: str, census: dict[str, int]) -> int:
    if code in census:
        return census[code]
    inside = [c for c in census if c != code and covers(code, c)]
    # Only the nearest configured regions count: a town's figure is inside its county's.
    nearest = [c for c in inside
               if not any(o != c and covers(o, c) and covers(code, o) for o in inside)]
    return sum(census[c] for c in nearest)


def _stats(code: str, figures: _Figures) -> RegionStats:
    entered = sum(v for c, v in figures.baseline_entered.items() if covers(code, c))
    verified = sum(v for c, v in figures.baseline_verified.items() if covers(code, c))
    for tally in figures.tallies:
        if covers(code, tally["region_code"]):
            entered += tally["entered"]
            verified += tally["verified"]
    census = _census(code, figures.census)
    return RegionStats(
        region_code=code, level=region_level(code), census_population=census, entered=entered,
        verified=verified, entry_rate=_as_float(domain.rate(entered, census)),
        verification_rate=_as_float(domain.rate(verified, census)),
    )


def _as_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _check_region(actor: Principal, code: str) -> None:
    if not is_region_code(code):
        raise RuleViolation("not a region code", code="region_code_invalid")
    if not actor.is_staff and Role.ADMIN not in actor.roles:
        raise Forbidden("statistics are for staff", code="role_required")
    actor.require_region(code)


async def region_stats(*, uow: UnitOfWork, actor: Principal, code: str) -> RegionStatsTree:
    _check_region(actor, code)
    prefix = domain.region_match_prefix(code)
    async with uow:
        population = await store.population_under(uow.session, prefix)
        tallies = await store.tallies_under(uow.session, prefix)
    figures = _Figures(
        census={r["region_code"]: r["census_population"] for r in population
                if r["census_population"]},
        baseline_entered={r["region_code"]: r["baseline_entered"] for r in population},
        baseline_verified={r["region_code"]: r["baseline_verified"] for r in population},
        tallies=tallies,
    )
    known = {r["region_code"] for r in population} | {t["region_code"] for t in tallies}
    children = sorted({c for k in known if (c := _child_of(code, k)) is not None})
    return RegionStatsTree(**_stats(code, figures).model_dump(),
                           children=[_stats(c, figures) for c in children])


async def set_census_population(
    *, uow: UnitOfWork, actor: Principal, code: str, census: int
) -> None:
    if not is_region_code(code):
        raise RuleViolation("not a region code", code="region_code_invalid")
    actor.require_role(Role.ADMIN)
    async with uow:
        await store.set_population(uow.session, code, census)
