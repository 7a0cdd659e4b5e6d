"""Consumers: decode, deduplicate through the inbox, run the handler, ack after commit.

A handler is a plain ``async def handle(envelope, uow) -> None``. The runner opens the unit of
work, records ``(event_id, consumer)`` in the inbox in the same transaction, and acknowledges
only after that transaction commits. A duplicate delivery finds its inbox row and is acked
without running the handler again.

Two kinds of failure, treated apart:
- the handler's own error on a healthy database rolls everything back and the message is
  returned to its queue; the queue parks it after its delivery limit;
- a failure of our infrastructure (no connection from the pool in time, the database
  unreachable or lost mid-transaction, a serialization failure or deadlock) is not the
  message's fault. The delivery is kept in hand and retried here with a capped, growing pause;
  it is never returned to the broker, because a quorum queue counts every return (nack with
  requeue, and on RabbitMQ 3.x a closed channel too) toward the delivery limit. While the
  database is unreachable a gate stays closed: deliveries wait at it (the prefetch bounds how
  many are held) and one probe, on a connection of its own, reopens it when the database
  answers. Only a stop gives up a held retry: the broker then takes the message back.

Handlers run at most ``max_concurrency`` at a time (by default half the connection pool), so a
backlog never takes every connection from the service's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert

from shared import contracts
from shared.context import correlation_id_var
from shared.db.database import Database
from shared.db.faults import Fault, classify, database_answers
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork
from shared.logs import bind_context, clear_context, get_logger
from shared.messaging.broker import Broker, Delivery, QueueSpec
from shared.messaging.envelope import Envelope, every_topic, routing_key
from shared.messaging.tables import inbox

log = get_logger(__name__)

Handler = Callable[[Envelope, UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """``purpose`` names the queue (``<service>.<purpose>``); one queue may carry many types.

    ``wants``, when given, looks at a message before any transaction is opened: a message it
    declines is acknowledged and nothing else happens (no inbox row, no handler). For a
    consumer that routinely receives messages it has nothing to do with, this saves a
    database transaction per message."""

    event_type: str
    handler: Handler
    purpose: str
    version: int = 1
    wants: Callable[[Envelope], bool] | None = None
    # Also the type's messages published under a topic (``<key>.<topic>``, see
    # shared.contracts.Topic); False binds the plain key only, so topic-qualified messages of
    # the type never reach this queue.
    with_topics: bool = True

    @property
    def routing_key(self) -> str:
        """The binding of this subscription's queue."""
        key = routing_key(self.event_type, self.version)
        return every_topic(key) if self.with_topics else key


_CLAIM_INBOX = Statement(
    insert(inbox)
    .values({name: bindparam(name) for name in ("event_id", "consumer", "event_type")})
    .on_conflict_do_nothing()
    .returning(inbox.c.event_id)
)


async def claim_inbox(uow: UnitOfWork, envelope: Envelope, consumer: str) -> bool:
    """Record the event as handled by ``consumer``; False when it already was."""
    claimed = await uow.fetchval(
        _CLAIM_INBOX,
        {"event_id": envelope.event_id, "consumer": consumer, "event_type": envelope.event_type},
    )
    return claimed is not None


def _wanted(subscription: Subscription, envelope: Envelope) -> bool:
    """The subscription's ``wants``; a predicate that fails declines nothing (the message
    goes to the handler, whose failures are retried and parked), so no delivery is left
    unacknowledged by it."""
    if subscription.wants is None:
        return True
    try:
        return subscription.wants(envelope)
    except Exception as exc:
        log.warning("subscription_filter_failed", error_type=type(exc).__name__)
        return True


class _DatabaseGate:
    """Open while the database is thought reachable. Closed by a delivery that found it
    unreachable; one probe task, on connections of its own, reopens it when it answers."""

    def __init__(self, database: Database, *, probe_timeout: float, backoff_cap: float) -> None:
        self._database = database
        self._probe_timeout = probe_timeout
        self._backoff_cap = backoff_cap
        self._open = asyncio.Event()
        self._open.set()
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        if not self._open.is_set():
            return
        self._open.clear()
        log.warning("consumer_paused_database_unreachable", schema=self._database.schema)
        self._probe = asyncio.create_task(self._reopen(), name="consumer-database-probe")

    async def wait(self, stopping: asyncio.Event) -> bool:
        """Wait until the gate is open (True) or the runner stops with it still closed."""
        if self._open.is_set():
            return True
        waits = [asyncio.ensure_future(e.wait()) for e in (self._open, stopping)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self._open.is_set()

    async def answers(self) -> bool:
        try:
            await database_answers(self._database.url, within=self._probe_timeout)
        except Exception:
            return False
        return True

    async def _reopen(self) -> None:
        pause = 0.2
        while not await self.answers():
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._backoff_cap)
        log.info("consumer_resumed_database_answers", schema=self._database.schema)
        self._open.set()

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None


class ConsumerRunner:
    """Runs one service's subscriptions: one queue per purpose."""

    def __init__(
        self,
        *,
        service: str,
        database: Database,
        broker: Broker,
        subscriptions: Iterable[Subscription],
        prefetch: int = 50,
        delivery_limit: int = 5,
        retry_backoff_seconds: float = 0.2,
        retry_backoff_cap_seconds: float = 5.0,
        max_concurrency: int | None = None,
        probe_timeout_seconds: float = 2.0,
    ) -> None:
        self._service = service
        self._database = database
        self._broker = broker
        self._retry_backoff = retry_backoff_seconds
        self._retry_cap = retry_backoff_cap_seconds
        self._max_concurrency = max_concurrency
        self._probe_timeout = probe_timeout_seconds
        self._routes: dict[str, dict[tuple[str, int], Subscription]] = {}
        for sub in subscriptions:
            handlers = self._routes.setdefault(sub.purpose, {})
            key = (sub.event_type, sub.version)
            if key in handlers:
                raise ValueError(f"{service}.{sub.purpose} subscribes to {key} twice")
            contracts.get(sub.event_type, sub.version)  # fail fast on an unknown contract
            handlers[key] = sub
        self.specs = [
            QueueSpec(
                consumer=service,
                purpose=purpose,
                routing_keys=tuple(sorted(sub.routing_key for sub in handlers.values())),
                prefetch=prefetch,
                delivery_limit=delivery_limit,
            )
            for purpose, handlers in sorted(self._routes.items())
        ]
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        # Built at start: the runner is also built without a database, to read its specs.
        self._slots: asyncio.Semaphore | None = None
        self._gate: _DatabaseGate | None = None
        self.handled_total = 0
        self.duplicates_total = 0
        self.declined_total = 0
        self.failures_total = 0  # handler errors: the message went back to its queue
        self.infrastructure_retries_total = 0  # kept in hand and retried here

    @property
    def max_concurrency(self) -> int:
        """Handlers running at once: the given bound, else half the connection pool."""
        if self._max_concurrency is not None:
            return max(1, self._max_concurrency)
        pool_size = getattr(self._database.engine.pool, "size", None)
        return max(1, pool_size() // 2) if callable(pool_size) else 1

    async def start(self) -> None:
        self._stopping.clear()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._gate = _DatabaseGate(
            self._database, probe_timeout=self._probe_timeout, backoff_cap=self._retry_cap
        )
        for spec in self.specs:
            await self._broker.consume(spec, self._make_callback(spec))

    async def stop(self) -> None:
        """Stop taking deliveries and wait for the ones in hand to finish. A delivery still
        waiting for the database gives up (unsettled: the broker takes it back)."""
        await self._broker.stop_consuming()
        self._stopping.set()
        await self._idle.wait()
        if self._gate is not None:
            await self._gate.stop()

    def _make_callback(self, spec: QueueSpec) -> Callable[[Delivery], Awaitable[None]]:
        handlers = self._routes[spec.purpose]

        async def on_delivery(delivery: Delivery) -> None:
            self._in_flight += 1
            self._idle.clear()
            try:
                await self._handle(spec, handlers, delivery)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

        return on_delivery

    async def _handle(
        self, spec: QueueSpec, handlers: dict[tuple[str, int], Subscription], delivery: Delivery
    ) -> None:
        try:
            envelope = Envelope.from_bytes(delivery.body)
        except (ValueError, ValidationError) as exc:
            log.error("message_undecodable", queue=spec.name, error=str(exc)[:200])
            await delivery.park()
            return
        subscription = handlers.get((envelope.event_type, envelope.version))
        if subscription is None:
            log.error("message_unexpected", queue=spec.name, event_type=envelope.event_type)
            await delivery.park()
            return
        if not _wanted(subscription, envelope):
            await delivery.ack()
            self.declined_total += 1
            return
        token = correlation_id_var.set(envelope.correlation_id)
        bind_context(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            consumer=spec.name,
        )
        try:
            await self._deliver(spec, subscription.handler, envelope, delivery)
        finally:
            correlation_id_var.reset(token)
            clear_context("event_id", "event_type", "correlation_id", "consumer")

    async def _deliver(
        self, spec: QueueSpec, handler: Handler, envelope: Envelope, delivery: Delivery
    ) -> None:
        """Run the handler until it succeeds or fails on its own; infrastructure failures are
        retried here, never returned to the broker."""
        assert self._slots is not None
        assert self._gate is not None
        attempt = 0
        while not (attempt and self._stopping.is_set()):
            if not await self._gate.wait(self._stopping):
                break
            try:
                async with self._slots:
                    duplicate = await self._run(spec, handler, envelope)
            except Exception as exc:
                fault = await self._fault_of(exc)
                if fault is None:
                    await self._return_to_queue(spec, delivery, exc)
                    return
                self.infrastructure_retries_total += 1
                if fault is Fault.UNREACHABLE:
                    self._gate.close()
                pause = min(self._retry_backoff * 2**attempt, self._retry_cap)
                log.warning(
                    "handler_infrastructure_retry",
                    fault=fault.value,
                    error_type=type(exc).__name__,
                    error=str(exc)[:300],
                    attempt=attempt + 1,
                    retry_after_seconds=pause,
                )
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=pause)
                continue
            await delivery.ack()
            if duplicate:
                self.duplicates_total += 1
                log.info("duplicate_skipped")
            else:
                self.handled_total += 1
            return
        log.warning("delivery_released_unhandled_on_stop", attempts=attempt)

    async def _run(self, spec: QueueSpec, handler: Handler, envelope: Envelope) -> bool:
        """One attempt in one transaction; True when the inbox already had the event."""
        uow = UnitOfWork(self._database, producer=self._service)
        async with uow:
            if not await claim_inbox(uow, envelope, spec.name):
                return True
            await handler(envelope, uow)
        return False

    async def _fault_of(self, exc: Exception) -> Fault | None:
        """The infrastructure fault behind ``exc``; None when it is the handler's own. A
        network error that may be the handler's (an HTTP call) counts as the database's only
        when the database does not answer."""
        fault = classify(exc)
        if fault is Fault.SUSPECT:
            assert self._gate is not None
            return None if await self._gate.answers() else Fault.UNREACHABLE
        return fault

    async def _return_to_queue(self, spec: QueueSpec, delivery: Delivery, exc: Exception) -> None:
        self.failures_total += 1
        log.warning(
            "handler_failed",
            error_type=type(exc).__name__,
            error=str(exc)[:300],
            attempt=delivery.redelivered_count + 1,
            delivery_limit=spec.delivery_limit,
        )
        # A short, growing pause so a struggling dependency is not hammered.
        await asyncio.sleep(min(self._retry_backoff * 2**delivery.redelivered_count, 5.0))
        await delivery.retry()
