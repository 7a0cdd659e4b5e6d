"""A lean HTTP/1.1 load generator shared by the benchmarks: raw asyncio streams on uvloop,
because on a two-core machine every microsecond the generator spends is taken from the
processes it measures.

- ``Requests``: prebuilt POST requests, one per (token, body) pair a caller supplies, so every
  request can come from a different caller (its own token).
- ``closed_loop``: N keep-alive connections, one request in flight on each (``closed_loop_into``
  fills a caller's ``Tally``, for a caller that reports the figures its own way).
- ``open_loop``: requests start at a fixed rate whatever the answers; latency is counted from
  the moment a request was due, so a server that falls behind cannot hide it.

A 201 counts as a success (``success`` names it in the summary: ``booked``, ``accepted``; a
``Tally`` given another ``ok_status`` counts that one instead); every other answer is tallied
by status and the error body's ``code``. A caller that needs the 201 bodies (the ids the
server created) passes ``on_created``; nobody else pays for them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
_CODE = re.compile(rb'"code"\s*:\s*"([a-z_]+)"')


@dataclass
class Tally:
    success: str
    on_created: Callable[[bytes], None] | None = None
    latencies_ok: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    ok_status: int = 201  # the answer counted as a success (a GET's is 200)

    def record(self, status: int, body: bytes, seconds: float) -> None:
        if status == self.ok_status:
            self.latencies_ok.append(seconds)
            self.outcomes[f"{status} {self.success}"] += 1
            if self.on_created is not None:
                self.on_created(body)
            return
        match = _CODE.search(body)
        self.outcomes[f"{status} {match.group(1).decode() if match else '?'}"] += 1


def percentile(values: list[float], fraction: float) -> float:
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
        tally.success: ok,
        f"{tally.success}_per_s": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(tally.latencies_ok, 0.50) * 1000, 1),
        "p99_ms": round(percentile(tally.latencies_ok, 0.99) * 1000, 1),
        "shed": shed,
        "outcomes": dict(sorted(tally.outcomes.items())),
    }


class Requests:
    """JSON POSTs to one path, each with its caller's token: the raw HTTP/1.1 bytes, built
    as the generator asks for them. Ends when ``calls`` (token, body) ends."""

    def __init__(self, host: str, port: int, path: str, calls: Iterable[tuple[str, bytes]]) -> None:
        self._head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        self._calls = iter(calls)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token, body = next(self._calls)  # StopIteration when every caller has been used
        return (
            f"{self._head}Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
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
    requests: Iterator[bytes],
    *,
    concurrency: int,
    seconds: float,
    success: str,
    warmup: float = 1.0,
    on_created: Callable[[bytes], None] | None = None,
) -> dict[str, Any]:
    tally = Tally(success, on_created)
    measured = await closed_loop_into(
        tally, host, port, requests, concurrency=concurrency, seconds=seconds, warmup=warmup
    )
    return summary(tally, measured)


async def closed_loop_into(
    tally: Tally,
    host: str,
    port: int,
    requests: Iterator[bytes],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
) -> float:
    """``closed_loop`` recording into the caller's ``tally`` (for a caller that reports the
    figures its own way); returns the seconds measured after the warm-up."""
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
    return min(perf(), deadline) - measure_from


async def open_loop(
    host: str,
    port: int,
    requests: Iterator[bytes],
    *,
    rate: float,
    seconds: float,
    success: str,
    max_connections: int = 512,
    answer_within: float = 10.0,
    on_created: Callable[[bytes], None] | None = None,
) -> dict[str, Any]:
    tally = Tally(success, on_created)
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
            # A timeout scope, not wait_for: that starts a task per request, CPU taken from
            # the processes under test.
            async with asyncio.timeout(answer_within):
                status, body = await _exchange(reader, writer, request)
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
                async with asyncio.timeout(answer_within):
                    status, body = await _exchange(reader, writer, request)
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


def run_on_uvloop(main: Coroutine[Any, Any, T]) -> T:
    """Run a benchmark's coroutine on uvloop when installed (the generator's own CPU is what
    the measured processes lose), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
