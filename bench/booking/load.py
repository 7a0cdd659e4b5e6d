"""A lean HTTP/1.1 load generator for booking: every request is a different resident (its own
token) booking a unit. Raw asyncio streams on uvloop, because on a two-core machine every
microsecond the generator spends is taken from the processes it measures.

- ``closed_loop``: N keep-alive connections, one request in flight on each.
- ``open_loop``: requests start at a fixed rate whatever the answers; latency is counted from
  the moment a request was due, so a server that falls behind cannot hide it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_CODE = re.compile(rb'"code"\s*:\s*"([a-z_]+)"')


@dataclass
class Tally:
    latencies_ok: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    started: int = 0

    def record(self, status: int, body: bytes, seconds: float) -> None:
        if status == 201:
            self.latencies_ok.append(seconds)
            self.outcomes["201 booked"] += 1
            return
        match = _CODE.search(body)
        self.outcomes[f"{status} {match.group(1).decode() if match else '?'}"] += 1


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(tally: Tally, seconds: float) -> dict[str, Any]:
    ok = len(tally.latencies_ok)
    shed = sum(n for k, n in tally.outcomes.items() if k.startswith(("503", "429")))
    return {
        "seconds": round(seconds, 2),
        "attempts": sum(tally.outcomes.values()),
        "booked": ok,
        "booked_per_s": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(_percentile(tally.latencies_ok, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(tally.latencies_ok, 0.99) * 1000, 1),
        "shed": shed,
        "outcomes": dict(sorted(tally.outcomes.items())),
    }


class Requests:
    """Booking requests for one round and point choice, one distinct resident each."""

    def __init__(
        self, host: str, port: int, round_id: str, points: list[str], tokens: list[str]
    ) -> None:
        self._host = f"{host}:{port}"
        self._path = f"/api/v1/booking/rounds/{round_id}/bookings"
        self._bodies = [f'{{"pickup_point_id":"{p}"}}'.encode() for p in points]
        self._tokens = iter(tokens)
        self._n = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = next(self._tokens)  # StopIteration when every resident has been used
        body = self._bodies[self._n % len(self._bodies)]
        self._n += 1
        return (
            f"POST {self._path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    end = lowered.find(b"\r\n", at + 2)
    length = int(lowered[at + len(b"\r\ncontent-length:") : end])
    body = await reader.readexactly(length)
    return int(head[9:12]), body


async def closed_loop(
    host: str,
    port: int,
    requests: Requests,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
) -> dict[str, Any]:
    tally = Tally()
    perf = time.perf_counter
    now = perf()
    measure_from, deadline = now + warmup, now + warmup + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while perf() < deadline:
                try:
                    request = next(requests)
                except StopIteration:
                    return
                started = perf()
                status, body = await _exchange(reader, writer, request)
                if started >= measure_from:
                    tally.record(status, body, perf() - started)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return summary(tally, min(perf(), deadline) - measure_from)


async def open_loop(
    host: str,
    port: int,
    requests: Requests,
    *,
    rate: float,
    seconds: float,
    max_connections: int = 512,
    answer_within: float = 10.0,
) -> dict[str, Any]:
    tally = Tally()
    perf = time.perf_counter
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0
    in_flight: set[asyncio.Task[None]] = set()

    async def one(request: bytes, due: float) -> None:
        nonlocal opened
        reused = bool(idle)
        if reused:
            reader, writer = idle.pop()
        else:
            opened += 1
            reader, writer = await asyncio.open_connection(host, port)
        try:
            status, body = await asyncio.wait_for(_exchange(reader, writer, request), answer_within)
        except TimeoutError:
            tally.outcomes["client_timeout"] += 1
            writer.close()
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            if not reused:
                tally.outcomes["connection_lost"] += 1
                return
            # An idle keep-alive connection the server had closed: try once on a fresh one.
            opened += 1
            reader, writer = await asyncio.open_connection(host, port)
            try:
                status, body = await asyncio.wait_for(
                    _exchange(reader, writer, request), answer_within
                )
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                tally.outcomes["connection_lost"] += 1
                writer.close()
                return
        tally.record(status, body, perf() - due)
        idle.append((reader, writer))

    start = perf()
    sent = 0
    while (elapsed := perf() - start) < seconds:
        due_count = int(elapsed * rate) + 1
        while sent < due_count:
            if len(in_flight) >= max_connections:
                tally.outcomes["client_backlog_dropped"] += 1
            else:
                try:
                    request = next(requests)
                except StopIteration:
                    break
                task = asyncio.create_task(one(request, start + sent / rate))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            sent += 1
        await asyncio.sleep(0.001)
    offered_seconds = perf() - start
    if in_flight:
        await asyncio.wait(in_flight, timeout=answer_within + 1)
    for _, writer in idle:
        writer.close()
    result = summary(tally, offered_seconds)
    result["offered_per_s"] = round(sent / offered_seconds, 1)
    result["connections_opened"] = opened
    return result
