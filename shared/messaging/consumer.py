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

Handlers run at most ``max_concurrency`` transactions at a time (by default half the connection
pool), so a backlog never takes every connection from the service's requests.

Batches (shared/messaging/batches.py): deliveries of a busy queue are handled up to
``batch_size`` at a time in one transaction, with one multi-row inbox insert, acknowledged
after its commit, in delivery order within the batch. A batch that fails for any reason is
taken apart: each of its messages is retried alone as above, so one poison message is
returned and parked by itself and never takes a healthy one with it. A quiet queue runs
batches of one, which take the path above directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import text

from shared import contracts
from shared.context import correlation_id_var
from shared.db.database import Database
from shared.db.faults import Fault, classify
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork
from shared.logs import bind_context, clear_context, get_logger
from shared.messaging.batches import Batcher
from shared.messaging.broker import Broker, Delivery, QueueSpec
from shared.messaging.envelope import Envelope, every_topic, routing_key
from shared.messaging.gate import DatabaseGate

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


# The inbox rows of a message or a batch in one statement; the ids it returns are the new
# events (a duplicate finds its row and is not returned).
_CLAIM_INBOX = Statement(text(
    "INSERT INTO inbox (event_id, consumer, event_type)"
    " SELECT claimed.event_id, :consumer, claimed.event_type"
    " FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS text[]))"
    " AS claimed(event_id, event_type)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
))


async def claim_inbox(uow: UnitOfWork, envelopes: Sequence[Envelope], consumer: str
                      ) -> set[uuid.UUID]:
    """Record the events as handled by ``consumer``; the ids of those that were not yet."""
    rows = await uow.fetch(_CLAIM_INBOX, {
        "consumer": consumer,
        "event_ids": [envelope.event_id for envelope in envelopes],
        "event_types": [envelope.event_type for envelope in envelopes],
    })
    return {row["event_id"] for row in rows}


@dataclass(eq=False)
class _Pending:
    """A decoded delivery its subscription wants, waiting for its batch; ``done`` is set once
    it is settled (or released unsettled on a stop)."""

    subscription: Subscription
    envelope: Envelope
    delivery: Delivery
    done: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.contextmanager
def _message_context(spec: QueueSpec, envelope: Envelope) -> Iterator[None]:
    """The message's correlation id and log fields, while its handler runs."""
    token = correlation_id_var.set(envelope.correlation_id)
    bind_context(event_id=str(envelope.event_id), event_type=envelope.event_type,
                 correlation_id=envelope.correlation_id, consumer=spec.name)
    try:
        yield
    finally:
        correlation_id_var.reset(token)
        clear_context("event_id", "event_type", "correlation_id", "consumer")


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
        batch_size: int = 1,
        batches_in_flight: int | None = None,
    ) -> None:
        self._service = service
        self._database = database
        self._broker = broker
        self._retry_backoff = retry_backoff_seconds
        self._retry_cap = retry_backoff_cap_seconds
        self._max_concurrency = max_concurrency
        self._probe_timeout = probe_timeout_seconds
        self._batch_size = max(1, batch_size)
        self._batches_in_flight = batches_in_flight
        self._routes = _routes(service, subscriptions)
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
        self._gate: DatabaseGate | None = None
        self._batchers: list[Batcher[_Pending]] = []
        self.handled_total = 0
        self.duplicates_total = 0
        self.declined_total = 0
        self.failures_total = 0  # handler errors: the message went back to its queue
        self.infrastructure_retries_total = 0  # kept in hand and retried here
        self.batches_total = 0  # batches of two or more committed together
        self.batched_messages_total = 0  # the messages in them
        self.batches_taken_apart_total = 0  # failed together, retried message by message

    @property
    def in_hand(self) -> int:
        """Deliveries received and not yet settled (waiting for a batch, or being handled)."""
        return self._in_flight

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
        self._gate = DatabaseGate(
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
        batchers, self._batchers = self._batchers, []
        for batcher in batchers:
            await batcher.close()
        if self._gate is not None:
            await self._gate.stop()

    def _make_callback(self, spec: QueueSpec) -> Callable[[Delivery], Awaitable[None]]:
        handlers = self._routes[spec.purpose]
        batcher: Batcher[_Pending] = Batcher(
            lambda batch: self._run_batch(spec, batch), max_size=self._batch_size,
            in_flight=self._batches_in_flight or self.max_concurrency, name=spec.name)
        self._batchers.append(batcher)

        async def on_delivery(delivery: Delivery) -> None:
            self._in_flight += 1
            self._idle.clear()
            try:
                pending = await self._accept(spec, handlers, delivery)
                if pending is not None:
                    batcher.put(pending)
                    await pending.done.wait()
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

        return on_delivery

    async def _accept(
        self, spec: QueueSpec, handlers: dict[tuple[str, int], Subscription], delivery: Delivery
    ) -> _Pending | None:
        """The delivery decoded, when its subscription wants it; else settled here (parked
        when it can never be handled, acked when declined) and None."""
        try:
            envelope = Envelope.from_bytes(delivery.body)
        except (ValueError, ValidationError) as exc:
            log.error("message_undecodable", queue=spec.name, error=str(exc)[:200])
            await delivery.park()
            return None
        subscription = handlers.get((envelope.event_type, envelope.version))
        if subscription is None:
            log.error("message_unexpected", queue=spec.name, event_type=envelope.event_type)
            await delivery.park()
            return None
        if not _wanted(subscription, envelope):
            await delivery.ack()
            self.declined_total += 1
            return None
        return _Pending(subscription, envelope, delivery)

    # -- batches -----------------------------------------------------------------------------

    async def _run_batch(self, spec: QueueSpec, batch: list[_Pending]) -> None:
        """Handle the batch in one transaction; taken apart when that fails."""
        assert self._slots is not None
        assert self._gate is not None
        try:
            if len(batch) == 1 or not await self._gate.wait(self._stopping):
                for pending in batch:  # one alone, or the gate's wait ended by a stop
                    await self._deliver_alone(spec, pending)
                return
            try:
                async with self._slots:
                    fresh = await self._run_together(spec, batch)
            except Exception as exc:
                await self._take_apart(spec, batch, exc)
                return
            self.batches_total += 1
            self.batched_messages_total += len(batch)
            for pending in batch:
                await self._settled(pending.delivery, duplicate=pending not in fresh)
        finally:
            for pending in batch:
                pending.done.set()

    async def _run_together(self, spec: QueueSpec, batch: list[_Pending]) -> list[_Pending]:
        """One transaction for the whole batch; the messages it handled (the others were
        handled before, or came twice in this batch)."""
        uow = UnitOfWork(self._database, producer=self._service)
        handled: list[_Pending] = []
        async with uow:
            new_ids = await claim_inbox(uow, [p.envelope for p in batch], spec.name)
            for pending in batch:
                if pending.envelope.event_id not in new_ids:
                    continue
                new_ids.discard(pending.envelope.event_id)  # a second copy is a duplicate
                with _message_context(spec, pending.envelope):
                    await pending.subscription.handler(pending.envelope, uow)
                handled.append(pending)
        return handled

    async def _take_apart(self, spec: QueueSpec, batch: list[_Pending], exc: Exception) -> None:
        """The batch failed together (nothing of it committed): each message on its own, in
        order, so only the ones that fail alone go back to the queue."""
        self.batches_taken_apart_total += 1
        log.warning("batch_taken_apart", queue=spec.name, size=len(batch),
                    error_type=type(exc).__name__, error=str(exc)[:300])
        for pending in batch:
            await self._deliver_alone(spec, pending)

    async def _deliver_alone(self, spec: QueueSpec, pending: _Pending) -> None:
        with _message_context(spec, pending.envelope):
            await self._deliver(spec, pending.subscription.handler, pending.envelope,
                                pending.delivery)

    async def _settled(self, delivery: Delivery, *, duplicate: bool) -> None:
        """Acknowledge after the commit. An ack that cannot be sent (the channel was lost) is
        left to the broker: it delivers the message again and the inbox drops it."""
        try:
            await delivery.ack()
        except Exception as exc:
            log.warning("ack_failed_redelivery_expected", error_type=type(exc).__name__,
                        error=str(exc)[:200])
        if duplicate:
            self.duplicates_total += 1
            log.info("duplicate_skipped")
        else:
            self.handled_total += 1

    # -- one message -------------------------------------------------------------------------

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
                await self._pause_for(fault, exc, attempt)
                attempt += 1
                continue
            await self._settled(delivery, duplicate=duplicate)
            return
        log.warning("delivery_released_unhandled_on_stop", attempts=attempt)

    async def _pause_for(self, fault: Fault, exc: Exception, attempt: int) -> None:
        """Before retrying an infrastructure failure: the gate closed if the database is
        away, and a capped, growing pause (cut short by a stop)."""
        assert self._gate is not None
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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=pause)

    async def _run(self, spec: QueueSpec, handler: Handler, envelope: Envelope) -> bool:
        """One attempt in one transaction; True when the inbox already had the event."""
        uow = UnitOfWork(self._database, producer=self._service)
        async with uow:
            if not await claim_inbox(uow, [envelope], spec.name):
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


def _routes(service: str, subscriptions: Iterable[Subscription]
            ) -> dict[str, dict[tuple[str, int], Subscription]]:
    """Subscriptions by queue purpose, then by (event type, version); each contract known."""
    routes: dict[str, dict[tuple[str, int], Subscription]] = {}
    for sub in subscriptions:
        handlers = routes.setdefault(sub.purpose, {})
        key = (sub.event_type, sub.version)
        if key in handlers:
            raise ValueError(f"{service}.{sub.purpose} subscribes to {key} twice")
        contracts.get(sub.event_type, sub.version)  # fail fast on an unknown contract
        handlers[key] = sub
    return routes
