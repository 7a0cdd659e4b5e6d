"""The grid workers' side of the bench: each simulated worker starts a patrol, uploads its
points in numbered batches one after another (as the app does), and finishes it; ``--resend``
of the batches are sent a second time right after their answer (a reply lost on a weak
signal), which must store nothing. Requests go over raw HTTP/1.1 keep-alive connections (the
generator's own CPU is what the measured server loses on a 2-core machine), or in process
through httpx's ASGI transport for the smoke test."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

PATROLS = "/api/v1/routing/patrols"
# Where the simulated grids lie (东山县铜陵镇): a walk starts near here.
ORIGIN = (23.70, 117.43)

Send = Callable[[str, str, bytes], Awaitable[tuple[int, bytes]]]


@dataclass
class Worker:
    token: str
    grid_code: str
    patrol_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class Plan:
    points: int
    batch: int
    minutes: float  # simulated time a patrol spans
    start: datetime
    resend: float


@dataclass
class Tally:
    batch_ms: list[float] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    resent: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str, status: int, body: bytes) -> None:
        key = f"{what} {status} {body[:80].decode(errors='replace')}"
        self.failures[key] = self.failures.get(key, 0) + 1


def walk(plan: Plan, seed: int) -> list[tuple[float, float, str]]:
    """A patrol's points: a random walk of ~1.4 m/s steps, ``minutes`` of simulated time."""
    rng = random.Random(seed)
    lat = ORIGIN[0] + rng.uniform(-0.01, 0.01)
    lng = ORIGIN[1] + rng.uniform(-0.01, 0.01)
    step = timedelta(minutes=plan.minutes) / plan.points
    out = []
    for i in range(plan.points):
        lat += rng.uniform(-1, 1) * 1.5e-5
        lng += rng.uniform(-1, 1) * 1.5e-5
        out.append((round(lat, 7), round(lng, 7), (plan.start + step * i).isoformat()))
    return out


async def patrol(send: Send, worker: Worker, plan: Plan, tally: Tally, seed: int) -> None:
    """One worker's patrol from start to finish, batches in order."""
    token = worker.token
    status, body = await send(token, PATROLS, orjson.dumps({
        "id": str(worker.patrol_id), "grid_code": worker.grid_code,
        "started_at": plan.start.isoformat()}))
    if status != 201:
        tally.fail("start", status, body)
        return
    path = f"{PATROLS}/{worker.patrol_id}/points"
    points = walk(plan, seed)
    rng = random.Random(seed)
    for seq, first in enumerate(range(0, plan.points, plan.batch)):
        payload = orjson.dumps({"batch_seq": seq, "points": [
            {"lat": lat, "lng": lng, "at": at, "accuracy_m": 10}
            for lat, lng, at in points[first:first + plan.batch]]})
        started = time.perf_counter()
        status, body = await send(token, path, payload)
        tally.batch_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            tally.fail("points", status, body)
            continue
        tally.accepted += orjson.loads(body)["accepted"]
        if rng.random() < plan.resend:
            tally.resent += 1
            status, body = await send(token, path, payload)
            if status == 200 and orjson.loads(body)["duplicate"]:
                tally.duplicates += 1
            else:
                tally.fail("resend", status, body)
    ended = plan.start + timedelta(minutes=plan.minutes)
    status, body = await send(token, f"{PATROLS}/{worker.patrol_id}/finish",
                              orjson.dumps({"ended_at": ended.isoformat()}))
    if status != 200:
        tally.fail("finish", status, body)


async def run_workers(senders: list[Send], workers: list[Worker], plan: Plan) -> Tally:
    """Every worker's patrol, ``len(senders)`` at a time (one connection each)."""
    tally = Tally()
    queue: asyncio.Queue[tuple[int, Worker]] = asyncio.Queue()
    for number, worker in enumerate(workers):
        queue.put_nowait((number, worker))

    async def drain(send: Send) -> None:
        while not queue.empty():
            number, worker = queue.get_nowait()
            await patrol(send, worker, plan, tally, seed=number)

    await asyncio.gather(*(drain(send) for send in senders))
    return tally


class RawConnection:
    """One HTTP/1.1 keep-alive connection sending JSON POSTs."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, token: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        end = lowered.find(b"\r\n", at + 2)
        length = int(lowered[at + len(b"\r\ncontent-length:"):end])
        return int(head[9:12]), await reader.readexactly(length)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
