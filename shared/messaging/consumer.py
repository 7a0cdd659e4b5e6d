"""Consumers: decode, deduplicate through the inbox, run the handler, ack after commit.

A handler is a plain ``async def handle(envelope, uow) -> None``. The runner opens the unit of
work, records ``(event_id, consumer)`` in the inbox in the same transaction, and acknowledges
only after that transaction commits. A duplicate delivery finds its inbox row and is acked
without running the handler again. A handler error rolls everything back and the message is
returned to its queue; the queue parks it after its delivery limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert

from shared import contracts
from shared.context import correlation_id_var
from shared.db.database import Database
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
    ) -> None:
        self._service = service
        self._database = database
        self._broker = broker
        self._retry_backoff = retry_backoff_seconds
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
        self.handled_total = 0
        self.duplicates_total = 0
        self.declined_total = 0
        self.failures_total = 0

    async def start(self) -> None:
        for spec in self.specs:
            await self._broker.consume(spec, self._make_callback(spec))

    async def stop(self) -> None:
        """Stop taking deliveries and wait for the ones in hand to finish."""
        await self._broker.stop_consuming()
        await self._idle.wait()

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
        handler = subscription.handler
        token = correlation_id_var.set(envelope.correlation_id)
        bind_context(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            consumer=spec.name,
        )
        try:
            uow = UnitOfWork(self._database, producer=self._service)
            duplicate = False
            async with uow:
                if await claim_inbox(uow, envelope, spec.name):
                    await handler(envelope, uow)
                else:
                    duplicate = True
        except Exception as exc:
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
        else:
            await delivery.ack()
            if duplicate:
                self.duplicates_total += 1
                log.info("duplicate_skipped")
            else:
                self.handled_total += 1
        finally:
            correlation_id_var.reset(token)
            clear_context("event_id", "event_type", "correlation_id", "consumer")
