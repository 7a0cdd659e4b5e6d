"""The grid scorecard's rules on their own (grid_scoring): Shanghai months, the score as a
weighted mean of figures against the scorecard's best and of rates, and which peers a
worker's own score is measured against."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.feedback.grid_scoring import (
    DEFAULT_WEIGHTS,
    GridFigures,
    GridWeights,
    MonthInvalid,
    month_bounds,
    month_of,
    score,
    scored,
)
from services.feedback.service.grid_scores import peer_region

NOTHING = {name: 0.0 for name in GridWeights.model_fields}


def weights(**given: float) -> GridWeights:
    return GridWeights(**{**NOTHING, **given})


def test_a_month_is_a_shanghai_month() -> None:
    start, end = month_bounds("2026-12")
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert month_of(datetime(2026, 3, 31, 16, 30, tzinfo=UTC)) == "2026-04"
    assert month_of(datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == "2026-03"


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-03", "2026-3", "0001-01", ""])
def test_a_month_that_is_none_is_refused(month: str) -> None:
    with pytest.raises(MonthInvalid):
        month_bounds(month)


def test_volume_figures_are_measured_against_the_best_on_the_scorecard() -> None:
    busy = GridFigures(reports=4, visits=10)
    quiet = GridFigures(reports=1, visits=5)
    rows = scored([("busy", busy), ("quiet", quiet)], weights(reports=1, visits=1))
    assert [(key, value) for key, _, value in rows] == [("busy", 100.0), ("quiet", 37.5)]


def test_a_figure_nobody_has_scores_zero_for_everyone() -> None:
    rows = scored([("a", GridFigures(visits=2)), ("b", GridFigures())],
                  weights(reports=1, visits=1))
    assert [value for _, _, value in rows] == [50.0, 0.0]


def test_a_rate_with_nothing_to_count_leaves_its_weight_out() -> None:
    best = {"reports": 2.0}
    no_tasks = GridFigures(reports=2)
    late = GridFigures(reports=2, tasks=2, tasks_on_time=1)
    mix = weights(reports=1, tasks_on_time_rate=1)
    assert score(no_tasks, best, mix) == 100.0
    assert score(late, best, mix) == 75.0
    assert score(no_tasks, best, weights(tasks_on_time_rate=1)) is None


def test_the_default_weights_add_up_to_a_hundred() -> None:
    assert DEFAULT_WEIGHTS.total == 100
    assert DEFAULT_WEIGHTS.reports > 0


def test_a_workers_peers_are_those_of_the_communities_of_their_grids() -> None:
    assert peer_region(("350623100001001",)) == "350623100001"
    assert peer_region(("350623100001001", "350623100001002")) == "350623100001"
    assert peer_region(("350623100001001", "350623100002001")) == "350623100"
    assert peer_region(("350623100001",)) is None  # a community, not a grid
    assert peer_region(()) is None
