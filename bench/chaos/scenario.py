"""The faults, in turn, under a steady offer of reports, and what each one did.

Each phase offers reports for ``steady`` seconds, injects its fault, offers on for ``tail``
seconds after the fault ends, then stops offering and waits for the platform to settle.
When a fault *ends*: a broker cut when the proxy lets connections through again; a ``kill -9``
when the launcher has started the service again and it answers /readyz (the restart time is
printed beside); a SIGTERM of everything when the platform, started again, is ready.
Figures per phase: reports accepted, lost and duplicate effects (bench/chaos/effects.py),
drain (seconds from the fault's end until every report accepted before it has its effect),
outbox rows still unpublished 10 s after the reports settled, parked messages. Targets:
0 lost, 0 duplicates, 0 parked, drain at most ``DRAIN_TARGET_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.chaos.effects import Effects, parked
from bench.chaos.load import ReportLoad
from bench.chaos.platform import AUDIENCE, ISSUER, Platform
from shared.auth.tokens import TokenSigner, generate_signing_key
from shared.db.database import asyncpg_dsn
from shared.db.migrate import SCHEMAS, schema_name
from shared.messaging.rabbit import delete_prefixed_objects

DRAIN_TARGET_SECONDS = 10.0
SETTLE_WITHIN_SECONDS = 60.0  # beyond the drain target: slow is told apart from lost
# Outbox rows still unpublished this long after every report settled are counted.
UNPUBLISHED_WITHIN_SECONDS = 10.0
LATE_SECONDS = 5.0  # an outbox row published this long after its commit is counted as late

Inject = Callable[[Platform], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Phase:
    name: str
    inject: Inject


def broker_cut(seconds: float) -> Phase:
    async def inject(platform: Platform) -> dict[str, Any]:
        await platform.broker.cut()
        await asyncio.sleep(seconds)
        platform.broker.restore()
        return {}

    return Phase(f"broker_cut_{seconds:g}s", inject)


def kill(service: str) -> Phase:
    async def inject(platform: Platform) -> dict[str, Any]:
        killed_at = time.monotonic()
        pid = await platform.kill(service)
        await platform.wait_restarted(service, pid)
        return {"restarted_ready_after_s": round(time.monotonic() - killed_at, 1)}

    return Phase(f"kill_9_{service}", inject)


def sigterm_everything() -> Phase:
    async def inject(platform: Platform) -> dict[str, Any]:
        stopped_at = time.monotonic()
        code = await platform.stop()
        stopped = time.monotonic() - stopped_at
        await platform.start()
        return {
            "launcher_exit": code,
            "stopped_after_s": round(stopped, 1),
            "ready_again_after_s": round(time.monotonic() - stopped_at, 1),
        }

    return Phase("sigterm_everything", inject)


FULL = (broker_cut(30), kill("events"), kill("routing"), sigterm_everything())
# make test's variant (tests/e2e/test_chaos.py): about 40 s on two cores.
SHORT = (broker_cut(6), kill("events"))
SHORT_TIMING = {"steady": 3.0, "tail": 5.0}


@dataclass
class Run:
    platform: Platform
    effects: Effects
    drain_effects: Effects  # its own connection: polled while the phase goes on
    signer: TokenSigner
    rate: float
    steady: float
    tail: float


async def run_phase(run: Run, phase: Phase) -> dict[str, Any]:
    load = ReportLoad(
        run.platform.gateway_url, run.signer, f"{run.effects.description_prefix} {phase.name}",
        run.rate,
    )
    phase_started = await run.effects.now()
    load.start()
    try:
        await asyncio.sleep(run.steady)
        fault_at = time.monotonic()
        details = await phase.inject(run.platform)
        ended_at = time.monotonic()
        drain = asyncio.create_task(run.drain_effects.wait_settled(
            load.accepted_until(ended_at), since=ended_at, within=SETTLE_WITHIN_SECONDS
        ))
        await asyncio.sleep(run.tail)
    finally:
        await load.stop()
    accepted = [report.id for report in load.accepted]
    await run.effects.wait_settled(accepted, since=time.monotonic(), within=SETTLE_WITHIN_SECONDS)
    drain_s = await drain
    figures = {
        "phase": phase.name,
        "fault_s": round(ended_at - fault_at, 1),
        "accepted": len(accepted),
        "lost": await run.effects.unsettled(accepted),
        "duplicate_effects": await run.effects.duplicates(),
        "drain_s": None if drain_s is None else round(drain_s, 1),
        "unpublished_outbox": await run.effects.unpublished(within=UNPUBLISHED_WITHIN_SECONDS),
        "outbox_published_late": await run.effects.published_late(phase_started, LATE_SECONDS),
        "parked": parked(run.platform.prefix),
        "answers": dict(sorted(load.outcomes.items())),
    } | details
    return figures | {"misses": misses(figures)}


def misses(figures: dict[str, Any]) -> list[str]:
    """The targets a phase missed (empty: all met)."""
    missed = []
    if figures["lost"]:
        missed.append(f"{figures['lost']} lost")
    if duplicates := sum(figures["duplicate_effects"].values()):
        missed.append(f"{duplicates} duplicate effects")
    if figures["parked"] is None:
        missed.append("parked messages unknown (no rabbitmqctl)")
    elif parked_total := sum(figures["parked"].values()):
        missed.append(f"{parked_total} parked")
    if figures["drain_s"] is None or figures["drain_s"] > DRAIN_TARGET_SECONDS:
        missed.append(f"drain {figures['drain_s']} s > {DRAIN_TARGET_SECONDS:g} s")
    if figures.get("launcher_exit", 0) != 0:
        missed.append(f"launcher exited {figures['launcher_exit']} on SIGTERM")
    if not figures["accepted"]:
        missed.append("nothing accepted")
    return missed


def summary_line(figures: dict[str, Any]) -> str:
    parked_total = None if figures["parked"] is None else sum(figures["parked"].values())
    return (
        f"{figures['phase']}: accepted {figures['accepted']}, lost {figures['lost']}, "
        f"duplicate effects {sum(figures['duplicate_effects'].values())}, "
        f"drain {figures['drain_s']} s after the fault ended, "
        f"unpublished outbox rows {sum(figures['unpublished_outbox'].values())}, "
        f"parked {parked_total}, outbox rows published > {LATE_SECONDS:g} s late "
        f"{sum(figures['outbox_published_late'].values())}"
        + (f"  MISSED: {'; '.join(figures['misses'])}" if figures["misses"] else "  ok")
    )


async def run_chaos(
    *,
    database_url: str,
    amqp_url: str,
    prefix: str,
    phases: tuple[Phase, ...] = FULL,
    rate: float = 20.0,
    steady: float = 5.0,
    tail: float = 10.0,
    keep: bool = False,
    report: Callable[[str], None] = print,
    log_to: Path | None = None,
) -> dict[str, Any]:
    """Start the platform, run ``phases`` in turn, clean up; the figures of every phase.
    ``log_to``: where the platform's own log (launcher and processes) is copied at the end."""
    key = generate_signing_key()
    dsn = asyncpg_dsn(database_url)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as work_dir:
        platform = Platform(database_url, amqp_url, prefix, key.public_key, Path(work_dir))
        await platform.open()
        conns: list[asyncpg.Connection] = []
        try:
            await platform.start()
            report(f"platform ready: gateway {platform.gateway_url}, prefix {prefix}")
            conns = [await asyncpg.connect(dsn) for _ in range(2)]
            run = Run(
                platform, Effects(conns[0], prefix, f"chaos {prefix}"),
                Effects(conns[1], prefix, f"chaos {prefix}"),
                TokenSigner(key, issuer=ISSUER, audience=AUDIENCE), rate, steady, tail,
            )
            for phase in phases:
                figures = await run_phase(run, phase)
                results.append(figures)
                report(summary_line(figures))
            log = platform.supervisor_log()
        finally:
            for conn in conns:
                await conn.close()
            await platform.close()
            if log_to is not None and platform.log_path.exists():
                log_to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(platform.log_path, log_to)
            await _clean_up(dsn, amqp_url, prefix, keep)
    return {"prefix": prefix, "rate": rate, "phases": results, "supervisor_log": log,
            "met": bool(results) and not any(r["misses"] for r in results)}


async def _clean_up(dsn: str, amqp_url: str, prefix: str, keep: bool) -> None:
    if not keep:
        conn = await asyncpg.connect(dsn)
        try:
            for schema in SCHEMAS:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema_name(schema, prefix)}" CASCADE')
        finally:
            await conn.close()
    with contextlib.suppress(Exception):  # best effort: a broker gone away keeps its objects
        await delete_prefixed_objects(amqp_url, prefix)
