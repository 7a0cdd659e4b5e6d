"""`make chaos`, shortened: the distributed platform (`make run-dist`'s launcher) against real
PostgreSQL and RabbitMQ through TCP proxies, 20 reports/s through the gateway, a broker cut of
6 s and then a `kill -9` of events. After each fault: no accepted report lost, nothing done
twice, nothing parked, and every report accepted before the fault ended has its effect (the
case is assigned and events recorded it) within 10 s of that end. The figures and what counts
as each are in bench/chaos."""

from __future__ import annotations

from bench.chaos.scenario import DRAIN_TARGET_SECONDS, SHORT, SHORT_TIMING, run_chaos
from shared.db.migrate import SCHEMAS
from shared.testing.plugin import Migrator


async def test_a_broker_cut_and_a_killed_service_lose_nothing_and_do_nothing_twice(
    database_url: str, amqp_url: str, run_prefix: str, migrator: Migrator
) -> None:
    prefix = f"{run_prefix}c"
    migrator.drop_at_end(*SCHEMAS, prefix=prefix)  # should the run stop before its own clean-up
    lines: list[str] = []
    result = await run_chaos(
        database_url=database_url, amqp_url=amqp_url, prefix=prefix, phases=SHORT,
        report=lines.append, **SHORT_TIMING,
    )
    told = "\n".join(lines + result["supervisor_log"])
    assert [phase["phase"] for phase in result["phases"]] == [p.name for p in SHORT], told
    for phase in result["phases"]:
        assert phase["accepted"] > 0, told
        assert phase["lost"] == 0, told
        assert sum(phase["duplicate_effects"].values()) == 0, told
        assert phase["parked"] is not None, "rabbitmqctl is needed to count parked messages"
        assert sum(phase["parked"].values()) == 0, told
        assert phase["drain_s"] is not None, told
        assert phase["drain_s"] <= DRAIN_TARGET_SECONDS, told
    assert "events restarted" in told
    assert result["met"], told
