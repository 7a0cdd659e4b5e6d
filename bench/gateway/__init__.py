"""Gateway overhead: the same authenticated GET, straight to a service and through the gateway.

Three processes on loopback: the service (uvicorn), the gateway (uvicorn, HttpUpstream to the
service) and the load generator. Each round measures both targets back to back, under load
(``--concurrency`` keep-alive connections) for throughput and p50/p99, and over a single
connection for the latency the gateway adds when nothing queues; the figures reported are
medians over the rounds of the per-round comparisons. Prints a table, writes
``bench/results/gateway.json``, and says whether the targets hold: the gateway keeps >= 70%
of direct throughput and adds <= 1 ms at p50 (judged on the single connection, where p50 is
the request's own time rather than time spent queueing behind 31 others).

On a two-core machine the three processes share the cores (with anything else running), so
the ratio measures the gateway's CPU cost per request as much as its latency; the CPU time
each server process used per request is reported for that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.gateway.servers import BENCH_PATH
from bench.processes import cpu_seconds, free_ports, spawn, stop, wait_ready
from shared.auth import TokenSigner, generate_signing_key
from shared.auth.tokens import public_key_pem

ISSUER, AUDIENCE = "ehome-identity", "ehome"
RESULTS = Path(__file__).resolve().parents[1] / "results" / "gateway.json"
TARGET_RATIO = 0.70
TARGET_ADDED_P50_MS = 1.0


def _load(
    url: str, token: str, *, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.gateway.loadgen", "--url", url, "--token", token]
    command += ["--concurrency", str(concurrency), "--seconds", str(seconds)]
    command += ["--warmup", str(warmup)]
    done = subprocess.run(command, capture_output=True, check=True, timeout=seconds + warmup + 60)
    return dict(json.loads(done.stdout))


def _measure(
    label: str,
    url: str,
    token: str,
    pids: dict[str, int],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
) -> dict[str, Any]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = _load(url, token, concurrency=concurrency, seconds=seconds, warmup=warmup)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    total_requests = max(1, result["requests"] + result["errors"])
    result["label"] = label
    # Per request, including the warm-up share: an upper bound good enough to compare.
    result["cpu_us_per_request"] = {
        name: round(seconds_used / total_requests * 1e6 * seconds / (seconds + warmup), 1)
        for name, seconds_used in used.items()
    }
    print(
        f"  {label:<24} c={concurrency:<3} {result['rps']:>9.0f} req/s  "
        f"p50 {result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms  "
        f"errors {result['errors']}",
        flush=True,
    )
    return result


RUN_KINDS = ("direct", "gateway", "direct_1", "gateway_1")


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench gateway", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="per loaded measurement")
    parser.add_argument("--latency-seconds", type=float, default=3.0, help="per c=1 measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds; medians reported")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.seconds, args.latency_seconds, args.warmup, args.rounds = 2.0, 1.0, 0.5, 1

    key = generate_signing_key()
    token = TokenSigner(key, issuer=ISSUER, audience=AUDIENCE).access_token(
        subject=uuid.uuid4(), roles=["resident"], ttl_seconds=3600
    )
    service_port, gateway_port = free_ports(2)
    service_url = f"http://127.0.0.1:{service_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        "EHOME_ENV": "dev",
        "EHOME_LOG_LEVEL": "INFO",
        "EHOME_LOG_JSON": "true",
        "EHOME_JWT_PUBLIC_KEYS": json.dumps([public_key_pem(key.public_key)]),
        "EHOME_GATEWAY_UPSTREAM_URLS": json.dumps({"events": service_url}),
        # One benchmark subject sends thousands of requests a second; the limiter still runs
        # (its cost is measured), it just never refuses.
        "EHOME_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000000",
        "EHOME_GATEWAY_RATE_LIMIT_BURST": "1000000000",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    rounds: list[dict[str, dict[str, Any]]] = []
    # The processes' JSON access logs go to /dev/null (spawn's stdout): written (realistic
    # per-request work) but not kept.
    named: dict[str, subprocess.Popen[bytes]] = {}
    try:
        named["service"] = spawn("bench.gateway.servers:upstream_from_env", service_port, env)
        named["gateway"] = spawn("bench.gateway.servers:gateway_from_env", gateway_port, env)
        wait_ready(service_url, process=named["service"])
        wait_ready(gateway_url, process=named["gateway"])
        probe = httpx.get(
            gateway_url + BENCH_PATH, headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        if probe.status_code != 200:
            print(f"the gateway answered {probe.status_code}: {probe.text}")
            return 1
        pids = {name: process.pid for name, process in named.items()}
        print(
            f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}; "
            f"GET {BENCH_PATH} (bearer token verified); {args.rounds} paired rounds"
        )
        loaded = {"concurrency": args.concurrency, "seconds": args.seconds, "warmup": args.warmup}
        single = {"concurrency": 1, "seconds": args.latency_seconds, "warmup": args.warmup / 2}
        plan = {
            "direct": ("direct", service_url, loaded),
            "gateway": ("through gateway", gateway_url, loaded),
            "direct_1": ("direct, 1 conn", service_url, single),
            "gateway_1": ("through gateway, 1 conn", gateway_url, single),
        }
        # Each round measures direct and gateway back to back and yields one ratio: other
        # work on the machine then weighs on both sides of that ratio alike.
        for number in range(1, args.rounds + 1):
            print(f" round {number} (load average {os.getloadavg()[0]:.2f})", flush=True)
            rounds.append(
                {
                    kind: _measure(label, base + BENCH_PATH, token, pids, **shape)
                    for kind, (label, base, shape) in plan.items()
                }
            )
    finally:
        stop(named.values())
    return _report(args, rounds)


def _report(args: argparse.Namespace, rounds: list[dict[str, dict[str, Any]]]) -> int:
    def median_of(kind: str, field: str) -> float:
        return _median([run[kind][field] for run in rounds])

    def cpu_of(kind: str, process: str) -> float:
        return _median([run[kind]["cpu_us_per_request"][process] for run in rounds])

    ratios = [r["gateway"]["rps"] / r["direct"]["rps"] for r in rounds if r["direct"]["rps"]]
    added_loaded = [r["gateway"]["p50_ms"] - r["direct"]["p50_ms"] for r in rounds]
    added_single = [r["gateway_1"]["p50_ms"] - r["direct_1"]["p50_ms"] for r in rounds]
    ratio, added_p50_loaded, added_p50_single = (
        _median(ratios),
        _median(added_loaded),
        _median(added_single),
    )
    ratio_met = ratio >= TARGET_RATIO
    latency_met = added_p50_single <= TARGET_ADDED_P50_MS
    rows = [
        ("median of rounds", "direct", "gateway", "gateway vs direct"),
        (
            f"req/s (c={args.concurrency})",
            f"{median_of('direct', 'rps'):.0f}",
            f"{median_of('gateway', 'rps'):.0f}",
            f"x{ratio:.2f}",
        ),
        (
            "p50 ms (loaded)",
            f"{median_of('direct', 'p50_ms'):.2f}",
            f"{median_of('gateway', 'p50_ms'):.2f}",
            f"+{added_p50_loaded:.2f} ms",
        ),
        (
            "p99 ms (loaded)",
            f"{median_of('direct', 'p99_ms'):.2f}",
            f"{median_of('gateway', 'p99_ms'):.2f}",
            "",
        ),
        (
            "req/s (1 conn)",
            f"{median_of('direct_1', 'rps'):.0f}",
            f"{median_of('gateway_1', 'rps'):.0f}",
            "",
        ),
        (
            "p50 ms (1 conn)",
            f"{median_of('direct_1', 'p50_ms'):.2f}",
            f"{median_of('gateway_1', 'p50_ms'):.2f}",
            f"+{added_p50_single:.2f} ms",
        ),
        (
            "p99 ms (1 conn)",
            f"{median_of('direct_1', 'p99_ms'):.2f}",
            f"{median_of('gateway_1', 'p99_ms'):.2f}",
            "",
        ),
        (
            "service CPU us/req",
            f"{cpu_of('direct', 'service'):.0f}",
            f"{cpu_of('gateway', 'service'):.0f}",
            "",
        ),
        ("gateway CPU us/req", "-", f"{cpu_of('gateway', 'gateway'):.0f}", ""),
    ]
    print()
    for row in rows:
        print(f"  {row[0]:<22}{row[1]:>12}{row[2]:>12}{row[3]:>20}")
    print()
    print(f"  throughput ratio per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(
        f"  throughput kept >= {TARGET_RATIO:.0%}: {'met' if ratio_met else 'MISSED'} "
        f"(median {ratio:.0%})"
    )
    print(
        f"  added p50 <= {TARGET_ADDED_P50_MS:.0f} ms (1 conn): "
        f"{'met' if latency_met else 'MISSED'} (median +{added_p50_single:.2f} ms; "
        f"under load +{added_p50_loaded:.2f} ms)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "cores": os.cpu_count(),
        "load_average_after": round(os.getloadavg()[0], 2),
        "concurrency": args.concurrency,
        "throughput_ratio_median": round(ratio, 3),
        "throughput_ratio_per_round": [round(r, 3) for r in ratios],
        "added_p50_ms_loaded_median": round(added_p50_loaded, 3),
        "added_p50_ms_single_connection_median": round(added_p50_single, 3),
        "targets": {
            "throughput_ratio_min": TARGET_RATIO,
            "added_p50_ms_max": TARGET_ADDED_P50_MS,
            "throughput_met": ratio_met,
            "latency_met": latency_met,
        },
        "rounds": rounds,
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"  results: {RESULTS}")
    if any(run[kind]["errors"] for run in rounds for kind in RUN_KINDS):
        print("  some requests failed; the figures are not trustworthy")
        return 1
    return 1 if args.strict and not (ratio_met and latency_met) else 0
