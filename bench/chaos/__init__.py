"""``make chaos`` (``python -m bench chaos``): faults injected into the distributed platform
under load, and whether anything was lost or done twice.

The platform runs as ``make run-dist`` runs it (``python -m gateway.distributed``: events,
routing, the partner app and the gateway, each in its own process, under the launcher's
supervisor), against real PostgreSQL (``DATABASE_URL``) and RabbitMQ (``AMQP_URL``) reached
only through TCP proxies of this process (``shared.testing.tcpproxy``), in schemas and broker
objects of a fresh ``chaos<6 hex>`` prefix, dropped at the end. 20 reports/s are offered
through the gateway, each from its own verified resident (tokens signed with a key made for
the run). In turn:

1. the broker is cut for 30 s (every connection dropped, new ones refused);
2. events is ``kill -9``ed, then 3. routing (the launcher must start each again);
4. everything is stopped with SIGTERM to the launcher (each process drains and exits 0), then
   started again.

After each: reports accepted, lost, duplicate effects (bench/chaos/effects.py says what counts),
drain time after the fault ended, unpublished outbox rows, parked messages (bench/chaos/
scenario.py says when a fault ends). Targets: 0 lost, 0 duplicate effects, 0 parked, drain at
most 10 s; the exit code is 1 when one is missed. Results go to ``bench/results/chaos.json``,
the platform's log (launcher and processes) to ``bench/results/chaos-platform.log``.

``python -m bench chaos [--rate 20] [--short] [--keep]``: ``--short`` runs the variant of
``make test`` (tests/e2e/test_chaos.py: a 6 s cut, one kill of events); ``--keep`` keeps the
schemas for inspection.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from pathlib import Path

from bench.load import run_on_uvloop
from bench.processes import rabbit_answers
from shared.db.database import normalize_database_url

RESULTS = Path(__file__).resolve().parents[1] / "results" / "chaos.json"
PLATFORM_LOG = RESULTS.with_name("chaos-platform.log")


def main(argv: list[str]) -> int:
    from bench.chaos.platform import ChaosError
    from bench.chaos.scenario import FULL, SHORT, SHORT_TIMING, run_chaos

    parser = argparse.ArgumentParser(
        prog="python -m bench chaos", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=20.0, help="reports offered per second")
    parser.add_argument("--short", action="store_true", help="one 6 s cut, one kill of events")
    parser.add_argument("--keep", action="store_true", help="keep the run's schemas")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` hands every bench all options
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    if not run_on_uvloop(rabbit_answers(amqp_url)):
        print(f"RabbitMQ does not answer at AMQP_URL ({amqp_url}); chaos needs a real broker")
        return 1
    try:
        result = run_on_uvloop(run_chaos(
            database_url=database_url, amqp_url=amqp_url, prefix=f"chaos{uuid.uuid4().hex[:6]}",
            phases=SHORT if args.short else FULL, rate=args.rate, keep=args.keep,
            log_to=PLATFORM_LOG,
            **(SHORT_TIMING if args.short else {}),
        ))
    except ChaosError as error:
        print(f"chaos run failed: {error}")
        return 1
    for line in result["supervisor_log"]:
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {RESULTS}, the platform's log to {PLATFORM_LOG}")
    print("all targets met" if result["met"] else "targets missed (see MISSED above)")
    return 0 if result["met"] else 1
