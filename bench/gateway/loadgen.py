"""A light HTTP/1.1 load generator: N keep-alive connections, one request in flight on each,
for a fixed time (and at most a fixed count). Raw asyncio streams on uvloop: on a two-core
machine every microsecond the generator spends is taken from the servers it measures.

``python -m bench.gateway.loadgen --url http://127.0.0.1:8000/path --token T`` prints one JSON
object: requests, errors, seconds, req/s, p50/p90/p99 ms, CPU seconds used by the generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # the benchmark still runs, slower, on the default loop
    uvloop = None  # type: ignore[assignment]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class BadResponse(Exception):
    pass


def _content_length(head: bytes) -> int:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        raise BadResponse("response without Content-Length (chunked answers are not expected)")
    end = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + len(b"\r\ncontent-length:") : end])


async def _connection(
    host: str,
    port: int,
    request: bytes,
    measure_from: float,
    deadline: float,
    budget: list[int],
    tally: Tally,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    try:
        while budget[0] > 0:
            started = perf()
            if started >= deadline:
                return
            budget[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            finished = perf()
            status = int(head[9:12])
            if started >= measure_from:  # warm-up requests are not counted
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if status == 200:
                    tally.latencies.append(finished - started)
                else:
                    tally.errors += 1
    finally:
        writer.close()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


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
    tally = Tally()
    budget = [max_requests]
    cpu_before = time.process_time()
    now = time.perf_counter()
    measure_from, deadline = now + warmup, now + warmup + seconds
    await asyncio.gather(
        *(
            _connection(host, port, request, measure_from, deadline, budget, tally)
            for _ in range(concurrency)
        )
    )
    elapsed = min(time.perf_counter(), deadline) - measure_from
    latencies = sorted(tally.latencies)
    ok = len(latencies)
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "requests": ok,
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 3),
        "p90_ms": round(_percentile(latencies, 0.90) * 1000, 3),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "loadgen_cpu_seconds": round(time.process_time() - cpu_before, 3),
        "budget_exhausted": budget[0] <= 0,
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
    coroutine = run(
        args.url,
        args.token,
        concurrency=args.concurrency,
        seconds=args.seconds,
        warmup=args.warmup,
        max_requests=args.max_requests,
    )
    result = uvloop.run(coroutine) if uvloop is not None else asyncio.run(coroutine)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
