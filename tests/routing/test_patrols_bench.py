"""The patrol upload bench (bench/grid) runs end to end at a tiny size: every point stored
once however often a batch is resent, every patrol finished and announced once, and the
figures it prints are there."""

from __future__ import annotations

from bench.grid import Options, run


async def test_the_patrol_bench_stores_every_point_once_and_reports_its_figures(
    database_url: str
) -> None:
    result = await run(Options(workers=6, points=120, batch=50, concurrency=3, resend=0.5,
                               layout="inprocess", database_url=database_url))

    assert result["checks"]["none_lost_or_duplicated"], result["checks"]
    assert result["checks"]["points_stored"] == 6 * 120
    assert result["checks"]["patrol_finished_events"] == 6
    assert result["failures"] == {}
    assert result["batches"] == 6 * 3  # 50 + 50 + 20 points
    assert result["batches_resent"] == result["resends_answered_duplicate"] > 0
    for figure in ("api_rows_per_s", "copy_rows_per_s", "ratio", "batch_p99_ms"):
        assert result[figure] > 0, figure
    assert set(result["targets"]["met"]) == {"ratio", "batch_p99", "none_lost_or_duplicated",
                                             "no_failures"}
