"""Reports offered through the gateway at a fixed rate whatever the answers (an open loop: a
platform that falls behind or is away cannot slow the offer down), each from a different
verified resident, each with a description unique in the run. Every 201 is kept with the
moment it arrived; other answers and failures to connect are tallied by kind.

Unlike ``bench.load.open_loop`` (built to measure throughput with the least CPU), this one
must outlive the gateway going away and coming back, so it uses httpx, and answers without a
connection count too; at 20 reports/s its cost does not matter.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from bench.events import CATEGORY, GRIDS, REPORT_PATH
from bench.load import Tally
from shared.auth.tokens import TokenSigner

ANSWER_WITHIN_SECONDS = 10.0


@dataclass
class Accepted:
    id: uuid.UUID
    at: float  # time.monotonic() of the 201


@dataclass
class ReportLoad:
    gateway_url: str
    signer: TokenSigner
    description_prefix: str
    rate: float
    accepted: list[Accepted] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    _number: int = 0
    _task: asyncio.Task[None] | None = None
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.gateway_url, timeout=ANSWER_WITHIN_SECONDS,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
        )
        self._task = asyncio.create_task(self._offer())

    async def stop(self) -> None:
        """Stop offering, wait for the answers still due, close the connections."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=ANSWER_WITHIN_SECONDS + 1)
        await self._client.aclose()

    def accepted_until(self, moment: float) -> list[uuid.UUID]:
        return [report.id for report in self.accepted if report.at <= moment]

    async def _offer(self) -> None:
        started, sent = time.monotonic(), 0
        while True:
            due = int((time.monotonic() - started) * self.rate) + 1
            while sent < due:
                task = asyncio.create_task(self._post())
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                sent += 1
            await asyncio.sleep(0.01)

    async def _post(self) -> None:
        self._number += 1
        number = self._number
        token = self.signer.access_token(
            subject=uuid.uuid4(), roles=["resident"], kind="resident", verified=True
        )
        body = {
            "category_code": CATEGORY,
            "description": f"{self.description_prefix} report {number}",
            "region_code": GRIDS[number % len(GRIDS)],
        }
        try:
            answer = await self._client.post(
                REPORT_PATH, content=orjson.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            self.outcomes[type(error).__name__] += 1
            return
        if answer.status_code == 201:
            self.accepted.append(Accepted(uuid.UUID(answer.json()["id"]), time.monotonic()))
        tally = Tally("accepted", outcomes=self.outcomes)
        tally.record(answer.status_code, answer.content, 0.0)
