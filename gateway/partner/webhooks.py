"""The webhook sender: claims due deliveries and posts them, signed, to the partners.

Deliveries are rows (created with the change, in the consumer's transaction). The worker
claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease, sends each in its own task, and
records the attempt: 2xx → delivered; anything else → the next step of the retry schedule,
or the dead-letter list after the last one. A worker that dies mid-send leaves the lease to
expire and another (or the restarted one) sends the same row again: same delivery id,
nothing lost, nothing re-created. Receivers dedupe on ``X-Delivery-Id``.

Isolation: each app has at most ``delivery_concurrency_per_app`` sends in flight; an app at
its limit is left out of the next claim, so one app's slow endpoint never holds up another's.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx

from gateway.partner import domain, store
from gateway.partner.context import PartnerContext
from gateway.partner.service import callback_hosts
from gateway.partner.settings import Settings
from gateway.partner.signing_client import signed_headers
from shared.http.client import connection_limits, create_http_client
from shared.http.egress import (
    AddressNotPublic,
    PublicAddressBackend,
    PublicEgressTransport,
    Resolver,
)
from shared.logs import get_logger
from shared.periodic import PeriodicWorker
from shared.problems import RuleViolation
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)
MAX_CONNECTIONS = 200


class DeliveryWorker:
    """A :class:`shared.periodic.Worker`: a :class:`PeriodicWorker` claims and starts sends;
    the sends run as tasks of their own, which ``stop`` lets finish (briefly)."""

    def __init__(self, runtime: ServiceRuntime, context: PartnerContext) -> None:
        self._runtime = runtime
        self._settings = context.settings
        self._clock = context.clock
        self._identity = context.identity
        self._http = _sender_client(self._settings, context.webhook_resolver)
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_purge = 0.0
        self.delivered_total = 0
        self.failed_attempts_total = 0
        self._loop = PeriodicWorker("partner-webhooks", self._round,
                                    self._settings.delivery_poll_seconds)

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """Look for due deliveries now rather than after the poll interval."""
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()  # the round in hand finishes; no new claims
        if self._tasks:
            # Sends in hand get a moment to finish; the rest keep their lease and are sent
            # again (same delivery id) after a restart.
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._http.aclose()

    async def _round(self) -> None:
        # A failing round (a database blip) is logged by the loop and retried after a backoff.
        await self.run_once()
        await self._purge_nonces()

    async def run_once(self) -> int:
        """Claim what is due (apps at their concurrency limit left out) and start sending."""
        limit = self._settings.delivery_concurrency_per_app
        busy = [app for app, n in self._in_flight.items() if n >= limit]
        now = self._clock()
        uow = self._runtime.uow()
        async with uow:
            claimed = await store.claim_due(
                uow, now=now,
                lease_until=now + timedelta(seconds=self._settings.delivery_lease_seconds),
                limit=self._settings.delivery_batch_size, busy_apps=busy)
        for row in claimed:
            app = row["app_key"]
            if self._in_flight.get(app, 0) >= limit:
                # Over the app's limit within this batch: give the lease back for next round.
                await self._release(row)
                continue
            self._in_flight[app] = self._in_flight.get(app, 0) + 1
            task = asyncio.create_task(self._deliver(dict(row)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def wait_idle(self) -> None:
        """For tests: wait until the sends in flight have finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _release(self, row: Any) -> None:
        uow = self._runtime.uow()
        async with uow:
            await store.release_lease(uow, row["id"])

    async def _deliver(self, row: dict[str, Any]) -> None:
        app = row["app_key"]
        try:
            status_code, error, latency_ms = await self._send(row)
            await self._record(row, status_code, error, latency_ms)
        except Exception:
            log.exception("webhook_delivery_failed", delivery_id=str(row["id"]))
        finally:
            self._in_flight[app] -= 1
            if self._in_flight[app] <= 0:
                del self._in_flight[app]

    async def _send(self, row: dict[str, Any]) -> tuple[int | None, str | None, int]:
        body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        app_key = row["app_key"]
        credentials = await self._identity.credentials(app_key)
        if credentials is None or credentials.disabled:
            return None, "partner app unknown or disabled", 0
        secrets = credentials.live_secrets(self._clock())
        if not secrets:
            return None, "partner app has no live secret", 0
        try:
            domain.check_callback_url(
                row["callback_url"],
                callback_hosts(credentials, self._settings.callback_hosts),
            )
        except RuleViolation as refused:
            if refused.code == "callback_url_invalid":
                return None, "callback URL invalid", 0
            return None, "callback host no longer allowed for this app", 0
        try:
            # Signed over the path as it goes out (httpx percent-encodes what must be), the
            # form a receiver verifies, as the README says.
            target = httpx.URL(row["callback_url"]).raw_path.decode("ascii")
        except httpx.InvalidURL:
            return None, "callback URL invalid", 0
        path, _, query = target.partition("?")
        headers = signed_headers(app_key, secrets[0], "POST", path or "/", query,
                                 body, now=self._clock().timestamp())
        headers |= {"Content-Type": "application/json", "X-Delivery-Id": str(row["id"]),
                    "X-Event-Type": row["event_type"]}
        started = time.perf_counter()
        try:
            response = await self._http.post(row["callback_url"], content=body, headers=headers)
        except AddressNotPublic:
            # Public when subscribed, the host now resolves (also) to a non-public address.
            return None, "callback address refused (not public)", _ms(started)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            return None, f"{type(exc).__name__}", _ms(started)
        error = None if 200 <= response.status_code < 300 else f"status {response.status_code}"
        return response.status_code, error, _ms(started)

    async def _record(self, row: dict[str, Any], status_code: int | None, error: str | None,
                      latency_ms: int) -> None:
        now = self._clock()
        attempt = row["attempts"] + 1
        if error is None:
            values: dict[str, Any] = {"status": "delivered", "finished_at": now}
            self.delivered_total += 1
        else:
            self.failed_attempts_total += 1
            step = domain.after_failure(self._settings.retry_schedule, attempt, now)
            values = ({"status": "dead", "finished_at": now} if step.dead
                      else {"next_attempt_at": step.at})
        uow = self._runtime.uow()
        async with uow:
            await store.finish_attempt(uow, row["id"], attempt=attempt, at=now,
                                       status_code=status_code, latency_ms=latency_ms,
                                       error=error, values=values)
        log.info("webhook_attempt", delivery_id=str(row["id"]), app_key=row["app_key"],
                 attempt=attempt, status_code=status_code, outcome=values.get("status", "retry"))

    async def _purge_nonces(self) -> None:
        if time.monotonic() - self._last_purge < self._settings.nonce_purge_seconds:
            return
        self._last_purge = time.monotonic()
        uow = self._runtime.uow()
        async with uow:
            await store.purge_nonces(uow, before=self._clock())


def _sender_client(settings: Settings, resolver: Resolver) -> httpx.AsyncClient:
    transport = None
    if not settings.allow_private_callbacks:
        # Each connection resolves once, is refused unless every address is public, and
        # goes to an address it checked: no second lookup for a DNS rebinding to slip into.
        backend = PublicAddressBackend(resolve=resolver)
        transport = PublicEgressTransport(limits=connection_limits(MAX_CONNECTIONS),
                                          backend=backend)
    timeout = settings.delivery_timeout_seconds
    return create_http_client(timeout=timeout, connect_timeout=min(2.0, timeout),
                              transport=transport, max_connections=MAX_CONNECTIONS)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
