"""Staff case search at city scale: each query shape through the service's own search SQL
(``services.events.store.search.search_query``, the statement the endpoint runs, first page
of 20 newest first) against the same statement with index and bitmap scans switched off (a
plain sequential scan: the baseline, measured in the same run, on the same data).

The data (``bench/search/data.py``): ``--cases`` generated cases (default 1,000,000) over
three years with skewed categories, counties and units, in the events schema of the
``benchsearch`` prefix, migrated as the service's; kept for the next run (regenerated only
when the count differs; ``--drop`` removes it). Shapes: keyword only; keyword + county;
status set + unit + overdue; category subtree + date range; case number; keyword as a
town's dispatcher (scope in the SQL). Each runs
``--runs`` times (rotating over a few values), its baseline ``--baseline-runs`` times.
Then the export's memory (``bench/search/export.py``): the service process's peak RSS rise
while it streams ``--export-rows`` cases as CSV, then as XLSX.

Targets per shape: p95 <= 150 ms and the baseline's p50 at least 10x the search's p50;
export: a rise under 50 MB. The exit code is 1 when one is missed. Results:
``bench/results/search.json``.

``python -m bench search [--cases N] [--runs 30] [--baseline-runs 5]
[--export-rows 100000] [--drop]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from bench.load import percentile
from bench.search.data import COUNTIES, ensure_cases
from bench.search.export import measure_export
from services.events.store.search import CaseFilter, SearchScope, first_page, search_query
from shared.db.database import asyncpg_dsn
from shared.db.migrate import schema_name, upgrade

RESULTS = Path(__file__).resolve().parents[1] / "results" / "search.json"
PREFIX = "benchsearch"
P95_TARGET_MS = 150.0
RATIO_TARGET = 10.0
# The baseline's own connection (a prepared statement keeps the plan it was made with).
_SEQSCAN = {"enable_indexscan": "off", "enable_bitmapscan": "off",
            "enable_indexonlyscan": "off"}


def _unit(k: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"unit{k}".encode()).hexdigest())


def shapes(now: datetime) -> dict[str, list[CaseFilter]]:
    """Each shape with a few values (rotated), busy and quiet ones."""
    counties = [str(350621 + i) for i in range(COUNTIES)]
    return {
        "keyword": [CaseFilter(keyword=w)
                    for w in ("押金", "高空抛物", "河道污染", "欠薪", "清运，路灯损坏")],
        "keyword_county": [CaseFilter(keyword=w, region_prefix=c)
                           for w, c in (("漏水", counties[0]), ("扬尘", counties[2]),
                                        ("路灯损坏", counties[1]), ("诈骗", counties[4]))],
        "status_unit_overdue": [
            CaseFilter(statuses=("dispatched", "accepted", "in_progress"), unit_id=_unit(k),
                       overdue=True) for k in (0, 1, 5, 40)],
        "category_dates": [
            CaseFilter(category=c, reported_from=now - timedelta(days=d), reported_to=now)
            for c, d in (("social_conflict", 90), ("public_safety", 30),
                         ("public_order", 180), ("cyber_security", 365))],
        "case_no": [CaseFilter(case_no=f"B{n:09d}") for n in (1, 4242, 77777, 500000)],
        # As a town's dispatcher: the scope is a region range in the same SQL.
        "keyword_town_scope": [CaseFilter(keyword=w) for w in ("噪音", "欠薪", "消防通道")],
    }


# Shapes searched by a scoped caller (the rest as an admin, who sees all).
SCOPES = {"keyword_town_scope": SearchScope(region_prefixes=("350621103",))}


def _compiled(query: Any) -> tuple[str, list[Any]]:
    compiled = query.compile(dialect=asyncpg_dialect.dialect(),
                             compile_kwargs={"render_postcompile": True})
    return str(compiled), [compiled.params[name] for name in compiled.positiontup or ()]


def _query(search: CaseFilter, now: datetime, scope: SearchScope) -> dict[str, Any]:
    return {"scope": scope, "search": search, "now": now, "sort": "reported", "limit": 21}


async def _time_pages(conn: asyncpg.Connection, filters: list[CaseFilter], now: datetime,
                      runs: int, scope: SearchScope) -> list[float]:
    """The page as the service gets it (``first_page``: a keyword's probe, then the search)."""
    async def run(statement: Any) -> list[Any]:
        sql, args = _compiled(statement)
        return list(await conn.fetch(sql, *args))

    timings = []
    for i in range(runs):
        started = time.perf_counter()
        await first_page(run, **_query(filters[i % len(filters)], now, scope))
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _time_baseline(conn: asyncpg.Connection, filters: list[CaseFilter], now: datetime,
                         runs: int, scope: SearchScope) -> list[float]:
    """The search's one statement, on the connection whose planner may not use an index."""
    statements = [_compiled(search_query(**_query(f, now, scope))) for f in filters]
    timings = []
    for i in range(runs):
        sql, args = statements[i % len(statements)]
        started = time.perf_counter()
        await conn.fetch(sql, *args)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure(conn: asyncpg.Connection, seqscan: asyncpg.Connection, runs: int,
                  baseline_runs: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    for name, filters in shapes(now).items():
        scope = SCOPES.get(name, SearchScope(see_all=True))
        await _time_pages(conn, filters, now, len(filters), scope)  # warm, as a service is
        indexed = await _time_pages(conn, filters, now, runs, scope)
        await _time_baseline(seqscan, filters, now, 1, scope)
        baseline = await _time_baseline(seqscan, filters, now, baseline_runs, scope)
        p50, p95 = statistics.median(indexed), percentile(indexed, 0.95)
        base50 = statistics.median(baseline)
        out[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
                     "baseline_p50_ms": round(base50, 1),
                     "baseline_p95_ms": round(percentile(baseline, 0.95), 1),
                     "speedup": round(base50 / p50, 1) if p50 else None,
                     "target_met": p95 <= P95_TARGET_MS and base50 >= RATIO_TARGET * p50}
        print(json.dumps({"shape": name, **out[name]}), flush=True)
    return out


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    schema = schema_name("events", PREFIX)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if args.drop:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            return {"dropped": schema}
        await upgrade(url, "events", schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        data = await ensure_cases(conn, args.cases)
        print(json.dumps({"cases": args.cases, "schema": schema, **data}), flush=True)
        seqscan = await asyncpg.connect(asyncpg_dsn(url), server_settings={
            **_SEQSCAN, "search_path": f'"{schema}"'})
        try:
            result = await measure(conn, seqscan, args.runs, args.baseline_runs)
        finally:
            await seqscan.close()
        export = [await measure_export(conn, url, PREFIX, args.export_rows, kind)
                  for kind in ("csv", "xlsx")] if args.export_rows else []
        print(json.dumps({"export": export}), flush=True)
    finally:
        await conn.close()
    met = all(shape["target_met"] for shape in result.values())
    return {"cases": args.cases, "data": data, "shapes": result, "export": export,
            "target_met": met and all(e["target_met"] for e in export)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--export-rows", type=int, default=100_000,
                        help="rows of the export memory measure (0: skip it)")
    parser.add_argument("--drop", action="store_true", help="drop the bench schema and stop")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` hands every bench all options
    result = asyncio.run(_run(args))
    if args.drop:
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {RESULTS}", flush=True)
    return 0 if result["target_met"] else 1
