"""Patrol uploads (网格员巡查轨迹): N grid workers (default 5,000) each upload a patrol of 500
points in batches of 50 spanning 10 minutes of simulated time, as fast as the routing service
takes them, against a COPY of the same rows into the same table, in one run.

1. Baseline: the same points (same walks, one patrol id per worker) are COPYed into
   ``patrol_points`` with asyncpg's ``copy_records_to_table``, 100,000 rows a call (making
   the rows is not timed); then the table is emptied, so both start from an empty table.
2. Through the API: ``--concurrency`` keep-alive connections (default 32), each taking the
   next worker: ``POST /patrols`` (client-made id), the batches in order
   (``POST /patrols/{id}/points``, ``batch_seq`` 0, 1, ...), ``POST /patrols/{id}/finish``.
   ``--resend`` (default 2%) of the batches are sent again right after their answer (a reply
   lost to a weak signal) and must answer ``duplicate`` and store nothing. Layout
   ``process`` (default): the routing service in its own uvicorn process (``--server-workers``
   of them), as deployed; ``inprocess``: the app in this process through httpx's ASGI
   transport (the smoke test's layout: slower, the client shares the CPU).
3. Checks, in the database: as many points as sent, none twice (distinct (patrol, batch,
   index) and distinct (patrol, time)), every patrol finished with all its points, and one
   ``routing.patrol_finished`` per patrol in the outbox.

Rows/s of the API counts every point over the whole API phase (starts and finishes
included); p99 is per points POST (resends excluded). Targets: >= 0.25x COPY's rows/s,
p99 <= 200 ms, nothing lost or duplicated. PostgreSQL at ``DATABASE_URL``, in a schema of a
fresh ``bench<6 hex>`` prefix (dropped afterwards unless ``--keep``); no broker needed (the
service's in-memory one carries its outbox).

``python -m bench grid [--workers 5000] [--points 500] [--batch 50] [--concurrency 32]
[--resend 0.02] [--layout process|inprocess] [--server-workers 1] [--keep]``; results go to
``bench/results/grid.json``; the exit code is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.grid.run import Options, run
from bench.load import run_on_uvloop

RESULTS = Path(__file__).resolve().parents[1] / "results" / "grid.json"

__all__ = ["Options", "main", "run"]


def _options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench grid", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=5000, help="grid workers, one patrol each")
    parser.add_argument("--points", type=int, default=500, help="points per patrol")
    parser.add_argument("--batch", type=int, default=50, help="points per upload")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at once")
    parser.add_argument("--resend", type=float, default=0.02, help="share of batches resent")
    parser.add_argument("--layout", choices=["process", "inprocess"], default="process")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--keep", action="store_true", help="keep the bench schema")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` hands every bench all options
    return Options(workers=args.workers, points=args.points, batch=args.batch,
                   concurrency=args.concurrency, resend=args.resend, layout=args.layout,
                   server_workers=args.server_workers, keep=args.keep)


def main(argv: list[str]) -> int:
    options = _options(argv)
    result = run_on_uvloop(run(options))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False), flush=True)
    print(f"results written to {RESULTS}", flush=True)
    return 0 if result["target_met"] else 1
