"""Routes of the open API, under /open/v1 (every one signed: see auth.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from gateway.partner import service
from gateway.partner.auth import Partner
from gateway.partner.deps import Context
from gateway.partner.domain import Scope
from gateway.partner.schemas import (
    ChangePage,
    DeliveryPage,
    DeliveryRead,
    PartnerEventCreate,
    PartnerEventCreated,
    PartnerEventPage,
    SubscriptionCreate,
    SubscriptionPage,
    SubscriptionRead,
)
from shared.web.deps import Uow

router = APIRouter(prefix="/open/v1", tags=["partner"])
Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/events", status_code=201, response_model=PartnerEventCreated)
async def submit_event(body: PartnerEventCreate, caller: Partner, uow: Uow,
                       ctx: Context) -> PartnerEventCreated:
    """Report an event for one of the app's users, named by verified ID number or phone.
    The same ``request_id`` again answers the same case."""
    caller.require_scope(Scope.EVENTS_SUBMIT)
    return await service.submit_event(
        uow=uow, identity=ctx.identity, events=ctx.events,
        app_key=caller.app_key, allowed_regions=caller.credentials.allowed_regions, cmd=body,
        now=ctx.now())


@router.get("/events", response_model=PartnerEventPage)
async def list_events(caller: Partner, uow: Uow, cursor: str | None = None,
                      limit: Limit = 20) -> PartnerEventPage:
    """The app's events, newest first."""
    caller.require_scope(Scope.EVENTS_READ)
    return await service.list_events(uow=uow, app_key=caller.app_key, cursor=cursor,
                                     limit=limit)


@router.get("/events/{event_id}")
async def get_event(event_id: uuid.UUID, caller: Partner, uow: Uow, ctx: Context) -> Any:
    """The case as its reporter sees it (masked as for residents)."""
    caller.require_scope(Scope.EVENTS_READ)
    return await service.read_event(uow=uow, identity=ctx.identity,
                                    events=ctx.events, app_key=caller.app_key,
                                    event_id=event_id)


@router.get("/events/{event_id}/timeline")
async def get_timeline(event_id: uuid.UUID, caller: Partner, uow: Uow,
                       ctx: Context) -> Any:
    caller.require_scope(Scope.EVENTS_READ)
    return await service.read_event(uow=uow, identity=ctx.identity,
                                    events=ctx.events, app_key=caller.app_key,
                                    event_id=event_id, timeline=True)


@router.get("/changes", response_model=ChangePage)
async def changes(caller: Partner, uow: Uow, cursor: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ChangePage:
    """Every status change of the app's events, in order (``seq`` grows by one per app).
    Poll with the returned ``next_cursor`` to reconcile after lost webhooks."""
    caller.require_scope(Scope.EVENTS_READ)
    return await service.list_changes(uow=uow, app_key=caller.app_key, cursor=cursor,
                                      limit=limit)


@router.post("/webhooks", status_code=201, response_model=SubscriptionRead)
async def subscribe(body: SubscriptionCreate, caller: Partner, uow: Uow, ctx: Context
                    ) -> SubscriptionRead:
    """Subscribe a callback URL on a host the app is allowed: those an admin set on the app in
    identity, and those the ``callback_hosts`` setting lists for it."""
    caller.require_scope(Scope.WEBHOOKS_MANAGE)
    settings = ctx.settings
    return await service.subscribe(
        uow=uow, app_key=caller.app_key, cmd=body,
        allowed_hosts=service.callback_hosts(caller.credentials, settings.callback_hosts),
        allow_private=settings.allow_private_callbacks, now=ctx.now())


@router.get("/webhooks", response_model=SubscriptionPage)
async def subscriptions(caller: Partner, uow: Uow) -> SubscriptionPage:
    caller.require_scope(Scope.WEBHOOKS_MANAGE)
    return await service.list_subscriptions(uow=uow, app_key=caller.app_key)


@router.delete("/webhooks/{subscription_id}", status_code=204)
async def unsubscribe(subscription_id: uuid.UUID, caller: Partner, uow: Uow,
                      ctx: Context) -> None:
    caller.require_scope(Scope.WEBHOOKS_MANAGE)
    await service.unsubscribe(uow=uow, app_key=caller.app_key,
                              subscription_id=subscription_id, now=ctx.now())


@router.get("/webhook-deliveries", response_model=DeliveryPage)
async def deliveries(caller: Partner, uow: Uow,
                     status: Literal["pending", "delivered", "dead", "cancelled"] | None = None,
                     cursor: str | None = None, limit: Limit = 20) -> DeliveryPage:
    """The delivery log (status code, latency, attempts); ``status=dead`` is the dead-letter
    list."""
    caller.require_scope(Scope.WEBHOOKS_MANAGE)
    return await service.list_deliveries(uow=uow, app_key=caller.app_key, status=status,
                                         cursor=cursor, limit=limit)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=DeliveryRead)
async def replay(delivery_id: uuid.UUID, caller: Partner, uow: Uow,
                 ctx: Context) -> DeliveryRead:
    """Send a dead-lettered delivery again (same delivery id)."""
    caller.require_scope(Scope.WEBHOOKS_MANAGE)
    return await service.replay_delivery(uow=uow, app_key=caller.app_key,
                                         delivery_id=delivery_id, now=ctx.now())
