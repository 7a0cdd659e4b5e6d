"""Admission in front of the database for the surge endpoint.

At most ``concurrency`` bookings talk to PostgreSQL at once (no more than the pool holds, so
none waits inside the pool); a short line of ``queue`` may wait up to ``wait_seconds`` for a
turn; everyone else is told at once to come back (503 + Retry-After). Under a surge the
service keeps answering at the rate the database sustains instead of queueing every request
until it times out. ``AdmissionMiddleware`` applies it before anything else runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problems import PROBLEM_JSON, ServiceUnavailable, problem_body


class AdmissionLimiter:
    def __init__(
        self, *, concurrency: int, queue: int, wait_seconds: float, retry_after_seconds: int
    ) -> None:
        if concurrency < 1:
            raise ValueError("admission concurrency must be at least 1")
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._wait_seconds = wait_seconds
        self._retry_after = str(retry_after_seconds)
        self._waiting = 0
        self.admitted_total = 0
        self.shed_total = 0

    def _shed(self, reason: str) -> ServiceUnavailable:
        self.shed_total += 1
        return ServiceUnavailable(
            "the booking service is at capacity; try again shortly",
            code="overloaded",
            extra={"reason": reason},
            headers={"Retry-After": self._retry_after},
        )

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        self._slots.release()

    async def acquire(self) -> None:
        """Take a turn, waiting briefly in the short line; ServiceUnavailable when shed."""
        if self._slots.locked():
            if self._waiting >= self._queue:
                raise self._shed("queue_full")
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self._wait_seconds)
            except TimeoutError:
                raise self._shed("wait_timeout") from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        self.admitted_total += 1


class AdmissionMiddleware:
    """Admission at the very front of the app for the surge endpoint (POST …/bookings): a
    request that will be shed is refused before it costs anything (no token check, no body
    parsing), so an overloaded process spends its CPU on the bookings it admitted."""

    def __init__(self, app: ASGIApp, *, limiter: Callable[[], AdmissionLimiter | None]) -> None:
        self.app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self._limiter()
        if (
            limiter is None
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith("/bookings")
        ):
            await self.app(scope, receive, send)
            return
        try:
            await limiter.acquire()
        except ServiceUnavailable as shed:
            await _send_problem(send, shed)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release()


async def _send_problem(send: Send, error: ServiceUnavailable) -> None:
    body = orjson.dumps(problem_body(error.status, error.code, error.detail, extra=error.extra))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
