"""HTTP routes of the grid workers' scorecards (#19), under /api/v1/feedback/grid-scorecards.

Routes only: the rules (figures, score, scope) are in service/grid_scores.py and
grid_scoring.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.feedback import grid_scoring
from services.feedback.schemas import (
    GridFiguresRead,
    GridScorecardMine,
    GridScorecardRead,
    GridScoreRead,
    GridWeightsBody,
    GridWorkerScoreRead,
)
from services.feedback.service import grid_scores
from services.feedback.service.spreadsheet import XLSX_TYPE, sheets_bytes
from shared.auth import CurrentPrincipal
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/feedback/grid-scorecards", tags=["feedback"])

Month = Annotated[str | None, Query(
    pattern=r"^[0-9]{4}-[0-9]{2}$",
    description="YYYY-MM (Asia/Shanghai); the current month when absent")]
Region = Annotated[str, Query(min_length=6, max_length=15,
                              description="a region code the caller's scope covers")]


def _month(month: str | None) -> str:
    return month or grid_scoring.month_of(datetime.now(grid_scoring.SHANGHAI))


def _figures(figures: grid_scoring.GridFigures) -> GridFiguresRead:
    return GridFiguresRead.model_validate({**figures.model_dump(), **figures.rates()})


def _worker(row: grid_scores.WorkerScore) -> GridWorkerScoreRead:
    return GridWorkerScoreRead(
        worker_id=row.worker_id, display_name=row.display_name, grid_codes=row.grid_codes,
        status=row.status, figures=_figures(row.figures), score=row.score)


def _weights(weights: grid_scoring.GridWeights) -> GridWeightsBody:
    return GridWeightsBody(**weights.model_dump())


async def _card(uow: Any, principal: Any, month: str | None, region: str
                ) -> GridScorecardRead:
    card = await grid_scores.region_scorecard(
        uow=uow, principal=principal, month=_month(month), region_code=region)
    return GridScorecardRead(
        month=card.month, region_code=region, weights=_weights(card.weights),
        workers=[_worker(w) for w in card.workers],
        grids=[GridScoreRead(grid_code=g.grid_code, figures=_figures(g.figures),
                             score=g.score) for g in card.grids],
    )


@router.get("", response_model=GridScorecardRead)
async def grid_scorecard(
    principal: CurrentPrincipal, uow: Uow, region: Region, month: Month = None
) -> GridScorecardRead:
    """Managers (admin, supervisor, dispatcher) of the region: each grid worker's and each
    grid's figures in the month and their weighted score, best first. A worker is listed
    when enrolled in a grid of the region or when they did work in it that month."""
    return await _card(uow, principal, month, region)


@router.get("/export.xlsx", response_class=Response)
async def grid_scorecard_xlsx(
    principal: CurrentPrincipal, uow: Uow, region: Region, month: Month = None
) -> Response:
    """The scorecard as a workbook: a sheet of workers and a sheet of grids, one column
    per figure, rate and the score, like the unit scorecards' export."""
    card = await _card(uow, principal, month, region)
    workers = [{"worker_id": w.worker_id, "display_name": w.display_name,
                "grid_codes": ",".join(w.grid_codes), "status": w.status,
                **w.figures.model_dump(), "score": w.score} for w in card.workers]
    grids = [{"grid_code": g.grid_code, **g.figures.model_dump(), "score": g.score}
             for g in card.grids]
    filename = f"grid-scorecards-{region}-{card.month}.xlsx"
    return Response(
        content=sheets_bytes({"workers": workers, "grids": grids}), media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/me", response_model=GridScorecardMine)
async def my_grid_scorecard(
    principal: CurrentPrincipal, uow: Uow, month: Month = None
) -> GridScorecardMine:
    """A grid worker's own figures and score in the month (scored against the best of
    their community's workers, whose figures are not shown)."""
    month = _month(month)
    mine, weights = await grid_scores.my_scorecard(uow=uow, principal=principal, month=month)
    return GridScorecardMine(month=month, weights=_weights(weights), worker=_worker(mine))


@router.get("/weights", response_model=GridWeightsBody)
async def grid_score_weights(principal: CurrentPrincipal, uow: Uow) -> GridWeightsBody:
    """The weights in force (the defaults until an admin sets them)."""
    return _weights(await grid_scores.read_weights(uow=uow, principal=principal))


@router.put("/weights", response_model=GridWeightsBody)
async def set_grid_score_weights(
    body: GridWeightsBody, principal: CurrentPrincipal, uow: Uow
) -> GridWeightsBody:
    """An admin sets every weight (each 0..1000, at least one above zero: 422
    ``weights_all_zero``)."""
    weights = grid_scoring.GridWeights(**body.model_dump())
    return _weights(await grid_scores.set_weights(uow=uow, principal=principal,
                                                  weights=weights))
