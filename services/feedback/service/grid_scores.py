"""Grid workers' monthly scorecards (#19): per worker and per grid in a region, the weights
an admin sets, and a worker's own figures. The figures and the score formula are defined in
:mod:`services.feedback.grid_scoring`.

Scope: a manager (admin, supervisor, dispatcher) reads the scorecard of a region their scope
covers — a worker counts there by their work inside it and by being enrolled in a grid of it;
a grid worker reads only their own row (``/me``), scored against the peers of their
community, whose figures they never see; everyone of these reads the weights, only an admin
sets them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.feedback.grid_scoring import (
    DEFAULT_WEIGHTS,
    GridFigures,
    GridWeights,
    MonthInvalid,
    month_bounds,
    scored,
)
from services.feedback.service.scorecards import region_like
from services.feedback.store import grid_work as store
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.problems import BadRequest, RuleViolation
from shared.regions import ancestors, covers, is_region_code, parent, region_level

MANAGER_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER)
READER_ROLES = (*MANAGER_ROLES, Role.GRID_WORKER)


@dataclass(frozen=True)
class WorkerScore:
    worker_id: uuid.UUID
    display_name: str | None
    grid_codes: list[str]
    status: str | None
    figures: GridFigures
    score: float | None


@dataclass(frozen=True)
class GridScore:
    grid_code: str
    figures: GridFigures
    score: float | None


@dataclass(frozen=True)
class GridScorecard:
    month: str
    region_code: str | None
    weights: GridWeights
    workers: list[WorkerScore]
    grids: list[GridScore]


def _checked_month(month: str) -> str:
    try:
        month_bounds(month)
    except MonthInvalid as exc:
        raise BadRequest(str(exc), code="month_invalid") from None
    return month


async def _weights(uow: UnitOfWork) -> GridWeights:
    stored = await store.load_weights(uow)
    return DEFAULT_WEIGHTS if stored is None else GridWeights.model_validate(stored)


async def read_weights(*, uow: UnitOfWork, principal: Principal) -> GridWeights:
    principal.require_role(*READER_ROLES)
    async with uow:
        return await _weights(uow)


async def set_weights(
    *, uow: UnitOfWork, principal: Principal, weights: GridWeights
) -> GridWeights:
    """An admin sets every weight; all zero is refused (nothing would be scored)."""
    principal.require_role(Role.ADMIN)
    if weights.total <= 0:
        raise RuleViolation("at least one weight must be above zero", code="weights_all_zero")
    async with uow:
        await store.save_weights(uow, weights.model_dump(), by=principal.subject,
                                 at=datetime.now(UTC))
    return weights


async def region_scorecard(
    *, uow: UnitOfWork, principal: Principal, month: str, region_code: str
) -> GridScorecard:
    principal.require_role(*MANAGER_ROLES)
    if not is_region_code(region_code):
        raise BadRequest("not a region code", code="region_invalid")
    principal.require_region(region_code)
    async with uow:
        return await _scorecard(uow, _checked_month(month), region_code)


async def my_scorecard(
    *, uow: UnitOfWork, principal: Principal, month: str
) -> tuple[WorkerScore, GridWeights]:
    """The caller's own row, scored against the workers of their community (the smallest
    region holding the communities of all their grids)."""
    principal.require_role(Role.GRID_WORKER)
    month = _checked_month(month)
    peers = peer_region(principal.regions)
    async with uow:
        if peers is None:  # no grid in the token: only their own work, everywhere
            card = await _scorecard(uow, month, None, only=principal.subject)
        else:
            card = await _scorecard(uow, month, peers)
    mine = next((w for w in card.workers if w.worker_id == principal.subject), None)
    if mine is None:
        mine = WorkerScore(principal.subject, None, sorted(principal.regions), None,
                           GridFigures(), None)
    return mine, card.weights


def peer_region(regions: tuple[str, ...]) -> str | None:
    """The smallest region holding the community of each of the worker's grids."""
    communities = [parent(c) or c for c in regions
                   if is_region_code(c) and region_level(c) == "grid"]
    if not communities:
        return None
    chains = [ancestors(c) for c in communities]
    shared = set(chains[0]).intersection(*chains[1:])
    return next((code for code in chains[0] if code in shared), None)


async def _scorecard(
    uow: UnitOfWork, month: str, region_code: str | None, *, only: uuid.UUID | None = None
) -> GridScorecard:
    pattern = "%" if region_code is None else region_like(region_code)
    start, _ = month_bounds(month)
    weights = await _weights(uow)
    by_worker = await store.work_by_worker(uow, month=month, region_like=pattern,
                                           worker_id=only)
    enrolled = ([] if only is not None else
                await store.workers_in(uow, region_like=pattern, month_start=start.date()))
    known = {w.user_id: w for w in enrolled}
    known.update(await store.workers_by_id(uow, [k for k in by_worker if k not in known]))
    workers = [(worker_id, _figures(by_worker.get(worker_id, {})))
               for worker_id in by_worker.keys() | known.keys()]
    by_grid = ({} if only is not None else
               await store.work_by_grid(uow, month=month, region_like=pattern))
    grid_codes = set(by_grid) | {
        code for w in enrolled for code in w.grid_codes
        if region_code is None or covers(region_code, code)}
    grids = [(code, _figures(by_grid.get(code, {}))) for code in grid_codes]
    return GridScorecard(
        month=month, region_code=region_code, weights=weights,
        workers=_ranked([_worker(key, figures, score, known.get(key))
                         for key, figures, score in scored(workers, weights)]),
        grids=_ranked([GridScore(code, figures, score)
                       for code, figures, score in scored(grids, weights)]),
    )


def _figures(counts: dict[str, Any]) -> GridFigures:
    return GridFigures.model_validate(counts)


def _worker(worker_id: uuid.UUID, figures: GridFigures, score: float | None,
            known: Any) -> WorkerScore:
    return WorkerScore(
        worker_id=worker_id,
        display_name=None if known is None else known.display_name,
        grid_codes=[] if known is None else list(known.grid_codes),
        status=None if known is None else known.status,
        figures=figures, score=score)


def _ranked(rows: list[Any]) -> list[Any]:
    """Best score first; rows without a score last; ties by key, so the order is stable."""
    def key(row: Any) -> tuple[bool, float, str]:
        ident = str(getattr(row, "worker_id", None) or getattr(row, "grid_code", ""))
        return (row.score is None, -(row.score or 0.0), ident)

    return sorted(rows, key=key)
