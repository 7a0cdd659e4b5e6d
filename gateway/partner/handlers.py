"""What the partner app learns from the bus: which events came in on the partner channel,
and every status change (recorded in the app's feed, with its webhook deliveries, in the
consumer's transaction: the inbox dedupes, so a redelivered message creates nothing new)."""

from __future__ import annotations

from gateway.partner import service, store
from shared.contracts.events import EventReported, EventStatusChanged
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope


async def on_event_reported(envelope: Envelope, uow: UnitOfWork) -> None:
    message = envelope.payload_as(EventReported)
    if message.channel == "partner":
        async with uow:
            await store.mark_partner_channel(uow, message.event_id, message.reported_at)


async def on_event_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    message = envelope.payload_as(EventStatusChanged)
    async with uow:
        await service.on_status_changed(uow, message.model_dump(mode="json"))


SUBSCRIPTIONS = [
    Subscription("events.event_reported", on_event_reported, purpose="partner_events"),
    Subscription("events.event_status_changed", on_event_status_changed,
                 purpose="partner_events"),
]
