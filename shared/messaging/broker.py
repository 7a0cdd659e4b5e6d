"""What the outbox relay and the consumer runner need from a broker, whichever it is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# How many events nobody subscribes to a broker keeps for inspection (the newest ones).
UNROUTED_MAX_LENGTH = 100_000


class PublishError(Exception):
    """The broker did not confirm a message (nack, return, timeout or lost connection)."""


@dataclass(frozen=True)
class QueueSpec:
    """One durable consumer queue ``<prefix>.<consumer>.<purpose>`` and its bindings."""

    consumer: str  # the consuming service, e.g. "feedback"
    purpose: str  # e.g. "notifications"
    routing_keys: tuple[str, ...]
    prefetch: int = 50
    delivery_limit: int = 5

    @property
    def name(self) -> str:
        """Queue name without the deployment prefix; also the inbox consumer key."""
        return f"{self.consumer}.{self.purpose}"


class Delivery(Protocol):
    """One received message. Exactly one of ack / retry / park is called."""

    body: bytes
    redelivered_count: int  # deliveries before this one

    async def ack(self) -> None: ...

    async def retry(self) -> None:
        """Return the message to its queue; the queue parks it after its delivery limit."""

    async def park(self) -> None:
        """Send the message straight to the parking queue (it can never succeed)."""


DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class Broker(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """Connected now, able to publish (a connection that is reconnecting is not)."""

    async def publish(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        """Return only once the broker has confirmed the message; raise PublishError."""

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        """Publish concurrently; one result per message, None when confirmed."""

    async def consume(self, spec: QueueSpec, handler: DeliveryHandler) -> None:
        """Declare the queue (with its parking queue) and start delivering to ``handler``."""

    async def stop_consuming(self) -> None:
        """Stop taking new deliveries; in-flight handlers finish on their own."""

    async def parked(self, spec: QueueSpec) -> list[bytes]:
        """Read (without removing) what sits in the queue's parking queue."""
