"""Bus consumers of the booking service: decode, call service.py, nothing else."""

from __future__ import annotations

from services.booking.service.residents import record_verified_resident
from shared.contracts.identity import UserVerified
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope


async def on_user_verified(envelope: Envelope, uow: UnitOfWork) -> None:
    await record_verified_resident(uow=uow, event=envelope.payload_as(UserVerified))


SUBSCRIPTIONS: list[Subscription] = [
    Subscription("identity.user_verified", on_user_verified, purpose="eligibility"),
]
