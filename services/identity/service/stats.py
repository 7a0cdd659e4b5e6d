"""Region statistics (人口录入率, 实名认证率) at every level of the region tree.

Counts come from two small tables, not from scanning millions of rows: ``region_tallies``
(live counts per leaf region, kept in the same transaction as the registry row or the
verification they count) and ``region_population`` (census figure and the baseline carried
over from before the platform, per configured region). A region's census population is its
own configured figure, or else the sum of the nearest configured regions below it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from services.identity import domain
from services.identity.schemas import RegionStats, RegionStatsTree
from services.identity.store import stats as store
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.problems import Forbidden, RuleViolation
from shared.regions import ancestors, covers, is_region_code, region_level

_CHILD_LENGTH = {"county": 9, "town": 12, "community": 15}


def _child_of(parent: str, level: str, code: str) -> str | None:
    """The child of ``parent`` that ``code`` (already known to be inside it) lies in (the
    same rule as the SQL of store.stats.tallies_by_child)."""
    if level == "province":
        child = code[:4] + "00"
    elif level == "city":
        child = code[:6]
    else:
        length = _CHILD_LENGTH.get(level)
        if length is None or len(code) < length:
            return None
        child = code[:length]
    return None if child == parent else child


def _census(code: str, census: dict[str, int]) -> int:
    """Own figure, or the sum of the nearest configured regions below (a town's figure is
    already inside its county's)."""
    if code in census:
        return census[code]
    total = 0
    for configured, figure in census.items():
        if configured == code or not covers(code, configured):
            continue
        between = [a for a in ancestors(configured)[1:] if a != code and covers(code, a)]
        if not any(a in census for a in between):
            total += figure
    return total


@dataclass
class _Sums:
    entered: int = 0
    verified: int = 0


def _stats(code: str, sums: _Sums, census: dict[str, int]) -> RegionStats:
    population = _census(code, census)
    return RegionStats(
        region_code=code, level=region_level(code), census_population=population,
        entered=sums.entered, verified=sums.verified,
        entry_rate=_as_float(domain.rate(sums.entered, population)),
        verification_rate=_as_float(domain.rate(sums.verified, population)),
    )


def _as_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _check_region(actor: Principal, code: str) -> None:
    if not is_region_code(code):
        raise RuleViolation("not a region code", code="region_invalid")
    if not actor.is_staff and Role.ADMIN not in actor.roles:
        raise Forbidden("statistics are for staff", code="role_required")
    actor.require_region(code)


async def region_stats(*, uow: UnitOfWork, actor: Principal, code: str) -> RegionStatsTree:
    _check_region(actor, code)
    level = region_level(code)
    prefix = domain.region_match_prefix(code)
    async with uow:
        population = await store.population_under(uow, prefix)
        tallies = await store.tallies_by_child(uow, prefix, level)
    total = _Sums()
    children: defaultdict[str, _Sums] = defaultdict(_Sums)
    rows: list[tuple[str | None, int, int]] = [
        (_child_of(code, level, r["region_code"]), r["baseline_entered"],
         r["baseline_verified"]) for r in population
    ] + [(t["child"], int(t["entered"]), int(t["verified"])) for t in tallies]
    for child, entered, verified in rows:
        total.entered += entered
        total.verified += verified
        if child is not None and child != code:
            sums = children[child]
            sums.entered += entered
            sums.verified += verified
    census = {r["region_code"]: r["census_population"] for r in population
              if r["census_population"]}
    for configured in census:
        child = _child_of(code, level, configured)
        if child is not None:
            # A child with a census figure but nobody entered yet still shows.
            children.setdefault(child, _Sums())
    return RegionStatsTree(
        **_stats(code, total, census).model_dump(),
        children=[_stats(c, children[c], census) for c in sorted(children)],
    )


async def set_census_population(
    *, uow: UnitOfWork, actor: Principal, code: str, census: int
) -> None:
    if not is_region_code(code):
        raise RuleViolation("not a region code", code="region_invalid")
    actor.require_role(Role.ADMIN)
    async with uow:
        await store.set_population(uow, code, census)
