"""The gateway benchmark's load generator, run in a process of its own for each measurement:
N keep-alive connections, one authenticated GET in flight on each, for a fixed time (and at
most a fixed count). The HTTP exchange, the closed loop and the percentiles are bench.load's
(raw asyncio streams on uvloop); this module adds the command line, the GET request, the
generator's own CPU time and the finer (microsecond) latency figures the gateway bench
compares.

``python -m bench.gateway.loadgen --url http://127.0.0.1:8000/path --token T`` prints one JSON
object: requests, errors, seconds, req/s, p50/p90/p99 ms, CPU seconds used by the generator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from itertools import islice, repeat
from urllib.parse import urlsplit

from bench.load import Tally, closed_loop_into, percentile, run_on_uvloop


async def run(
    url: str, token: str, *, concurrency: int, seconds: float, warmup: float, max_requests: int
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only targets loopback addresses")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    requests = islice(repeat(request), max_requests)  # the budget, warm-up included
    tally = Tally("ok", ok_status=200)
    cpu_before = time.process_time()
    elapsed = await closed_loop_into(
        tally, host, port, requests, concurrency=concurrency, seconds=seconds, warmup=warmup
    )
    latencies = tally.latencies_ok
    ok = len(latencies)
    statuses: Counter[str] = Counter()
    for outcome, count in tally.outcomes.items():  # "200 ok", "401 unauthorized", ...
        statuses[outcome.split(" ", 1)[0]] += count
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "requests": ok,
        "errors": statuses.total() - ok,
        "statuses": dict(sorted(statuses.items())),
        "rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p90_ms": round(percentile(latencies, 0.90) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "loadgen_cpu_seconds": round(time.process_time() - cpu_before, 3),
        "budget_exhausted": next(requests, None) is None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    result = run_on_uvloop(
        run(
            args.url,
            args.token,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            max_requests=args.max_requests,
        )
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
