"""Use cases of the partner integration: submit and read events for a partner's users, the
changes feed, webhook subscriptions and the delivery log."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from gateway.partner import domain, store
from gateway.partner.clients import Credentials, EventsClient, IdentityClient
from gateway.partner.schemas import (
    ChangePage,
    ChangeRead,
    DeliveryPage,
    DeliveryRead,
    PartnerEventCreate,
    PartnerEventCreated,
    PartnerEventPage,
    PartnerEventSummary,
    SubscriptionCreate,
    SubscriptionPage,
    SubscriptionRead,
)
from shared import paging
from shared.db.uow import UnitOfWork
from shared.http.egress import resolve_host
from shared.logs import get_logger
from shared.problems import AppError, BadRequest, Conflict, Forbidden, NotFound

log = get_logger(__name__)


class EventsRefused(AppError):
    """The events service refused the call; its status and code are passed on as they are."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail, code=code)
        self.status = status


def callback_hosts(credentials: Credentials, configured: dict[str, list[str]]) -> list[str]:
    """The hosts an app's webhooks may call: those an admin set on the app in identity, and
    those the ``callback_hosts`` setting lists for it. Checked at subscription and before
    every send, so taking a host off both lists stops its deliveries too."""
    return [*credentials.callback_hosts, *configured.get(credentials.app_key, [])]


def idempotency_key(app_key: str, request_id: str) -> str:
    """The Idempotency-Key sent to events: one per (app, partner request id)."""
    digest = hashlib.sha256(f"{app_key}\x00{request_id}".encode()).hexdigest()
    return f"partner:{digest[:48]}"


def _not_found() -> NotFound:
    return NotFound("no such event for this app", code="event_not_found")


# -- events --------------------------------------------------------------------------------------


async def submit_event(*, uow: UnitOfWork, identity: IdentityClient, events: EventsClient,
                       app_key: str, allowed_regions: tuple[str, ...], cmd: PartnerEventCreate,
                       now: datetime) -> PartnerEventCreated:
    if not domain.region_allowed(allowed_regions, cmd.region_code):
        raise Forbidden("this region is outside the app's allowed regions",
                        code="region_denied")
    async with uow:
        existing = await store.find_by_request(uow, app_key, cmd.request_id)
    if existing is not None:
        if existing["request_hash"] != cmd.content_hash():
            raise Conflict("this request_id was used for a different submission",
                           code="request_id_reused")
        return _created(existing)  # the partner retried: the same case
    user_id = await identity.match_resident(id_number=cmd.id_number, phone=cmd.phone)
    token = await identity.on_behalf_token(app_key, user_id)
    response = await events.call("POST", "", token, json=cmd.event_body(),
                                 idempotency_key=idempotency_key(app_key, cmd.request_id))
    if response.status_code >= 400:
        _raise_refusal(response.status_code, response)
    created = response.json()
    event_id = uuid.UUID(created["id"])
    async with uow:
        await store.lock_event(uow, event_id)
        inserted = await store.insert_event(
            uow, event_id=event_id, app_key=app_key, request_id=cmd.request_id,
            request_hash=cmd.content_hash(), user_id=user_id, case_no=created["case_no"],
            status=created["status"], last_step=0, created_at=now)
        if inserted:
            row = await store.get_event(uow, event_id)
            assert row is not None
            await record_change(uow, row, from_status=None, to_status=created["status"],
                                action="report", step=0, at=now)
            # Changes that overtook this commit (routing is fast) were parked: apply them now.
            for parked in await store.take_parked(uow, event_id):
                await apply_status_change(uow, row, parked["payload"])
        row = await store.get_event(uow, event_id)
        assert row is not None
    log.info("partner_event_submitted", app_key=app_key, event_id=str(event_id))
    return _created(row)


def _created(row: Any) -> PartnerEventCreated:
    return PartnerEventCreated(event_id=row["event_id"], case_no=row["case_no"],
                               status=row["status"], request_id=row["request_id"])


def _raise_refusal(status: int, response: Any) -> None:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if status >= 500:
        raise EventsRefused(502, "events_unavailable", "the events service failed")
    raise EventsRefused(status, str(problem.get("code", "events_refused")),
                        str(problem.get("detail", "the events service refused the call")))


async def read_event(*, uow: UnitOfWork, identity: IdentityClient, events: EventsClient,
                     app_key: str, event_id: uuid.UUID, timeline: bool = False) -> Any:
    """The case as its reporter sees it (masked as for residents), read as that user."""
    async with uow:
        row = await store.get_event(uow, event_id)
    if row is None or row["app_key"] != app_key:
        raise _not_found()  # another app's event does not exist for this one
    token = await identity.on_behalf_token(app_key, row["user_id"])
    response = await events.call("GET", f"/{event_id}" + ("/timeline" if timeline else ""),
                                 token)
    if response.status_code == 404:
        raise _not_found()
    if response.status_code >= 400:
        _raise_refusal(response.status_code, response)
    return response.json()


async def list_events(*, uow: UnitOfWork, app_key: str, cursor: str | None, limit: int
                      ) -> PartnerEventPage:
    after = paging.decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_events(uow, app_key, after=after, limit=limit + 1)
    page, next_cursor = paging.page_of(
        rows, limit, lambda r: paging.moment_cursor(r["created_at"], r["event_id"]))
    return PartnerEventPage(
        items=[PartnerEventSummary(event_id=r["event_id"], case_no=r["case_no"],
                                   status=r["status"], request_id=r["request_id"],
                                   created_at=r["created_at"]) for r in page],
        next_cursor=next_cursor)


# -- changes (recorded by the consumer and by submission) ----------------------------------------


async def record_change(uow: UnitOfWork, event: Any, *, from_status: str | None,
                        to_status: str, action: str, step: int, at: datetime) -> int:
    """Append the change to the app's feed (next per-app sequence number) and create one
    delivery per matching webhook subscription, all in the caller's transaction."""
    app_key = event["app_key"]
    seq = await store.next_seq(uow, app_key)
    await store.insert_change(uow, app_key=app_key, seq=seq, event_id=event["event_id"],
                              case_no=event["case_no"], event_type="event.status_changed",
                              from_status=from_status, to_status=to_status, action=action,
                              step=step, at=at)
    await store.set_status(uow, event["event_id"], to_status, step)
    types = ["event.status_changed"] + (["event.closed"] if to_status == "closed" else [])
    for subscription in await store.live_subscriptions(uow, app_key):
        for event_type in types:
            if event_type not in subscription["event_types"]:
                continue
            delivery_id = uuid.uuid4()
            await store.insert_delivery(
                uow, id=delivery_id, app_key=app_key,
                subscription_id=subscription["id"], callback_url=subscription["callback_url"],
                event_type=event_type, seq=seq, status="pending", attempts=0,
                next_attempt_at=at, created_at=at,
                payload={"delivery_id": str(delivery_id), "type": event_type, "seq": seq,
                         "event_id": str(event["event_id"]), "case_no": event["case_no"],
                         "from_status": from_status, "to_status": to_status,
                         "action": action, "step": step, "at": at.isoformat()})
    return seq


async def apply_status_change(uow: UnitOfWork, event: Any, payload: dict[str, Any]) -> None:
    await record_change(uow, event, from_status=payload.get("from_status"),
                        to_status=payload["to_status"], action=payload["action"],
                        step=int(payload.get("step") or 0),
                        at=datetime.fromisoformat(str(payload["at"])))


async def on_status_changed(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    event_id = uuid.UUID(str(payload["event_id"]))
    await store.lock_event(uow, event_id)
    event = await store.get_event(uow, event_id)
    if event is not None:
        await apply_status_change(uow, event, payload)
    elif await store.is_partner_channel(uow, event_id):
        # Reported by a partner, but the submission has not committed its index row yet.
        await store.park_change(uow, event_id, "event.status_changed", payload)


async def list_changes(*, uow: UnitOfWork, app_key: str, cursor: str | None, limit: int
                       ) -> ChangePage:
    after = paging.decode_number_cursor(cursor) or 0
    async with uow:
        rows = await store.list_changes(uow, app_key, after=after, limit=limit)
    items = [ChangeRead(seq=r["seq"], event_id=r["event_id"], case_no=r["case_no"],
                        type=r["event_type"], from_status=r["from_status"],
                        to_status=r["to_status"], action=r["action"], step=r["step"],
                        at=r["at"]) for r in rows]
    return ChangePage(items=items, next_cursor=str(items[-1].seq if items else after))


# -- subscriptions and deliveries ----------------------------------------------------------------


async def subscribe(*, uow: UnitOfWork, app_key: str, cmd: SubscriptionCreate,
                    allowed_hosts: list[str], allow_private: bool, now: datetime
                    ) -> SubscriptionRead:
    unknown = sorted(set(cmd.event_types) - set(domain.WEBHOOK_TYPES))
    if unknown:
        raise BadRequest(f"unknown event types: {', '.join(unknown)}",
                         code="event_type_unknown")
    host = domain.check_callback_url(cmd.callback_url, allowed_hosts)
    if not allow_private:
        try:
            addresses = await resolve_host(host)
        except OSError:
            raise BadRequest("the callback host does not resolve",
                             code="callback_host_unresolvable") from None
        domain.refuse_private_addresses(host, addresses)
    subscription_id = uuid.uuid4()
    async with uow:
        await store.insert_subscription(uow, id=subscription_id, app_key=app_key,
                                        event_types=sorted(set(cmd.event_types)),
                                        callback_url=cmd.callback_url, created_at=now)
    log.info("partner_subscribed", app_key=app_key, host=host)
    return SubscriptionRead(id=subscription_id, event_types=sorted(set(cmd.event_types)),
                            callback_url=cmd.callback_url, created_at=now)


async def list_subscriptions(*, uow: UnitOfWork, app_key: str) -> SubscriptionPage:
    async with uow:
        rows = await store.live_subscriptions(uow, app_key)
    return SubscriptionPage(items=[SubscriptionRead(
        id=r["id"], event_types=list(r["event_types"]), callback_url=r["callback_url"],
        created_at=r["created_at"]) for r in rows])


async def unsubscribe(*, uow: UnitOfWork, app_key: str, subscription_id: uuid.UUID,
                      now: datetime) -> None:
    async with uow:
        if not await store.delete_subscription(uow, app_key, subscription_id, now):
            raise NotFound("no such subscription", code="subscription_not_found")
        await store.cancel_pending_deliveries(uow, subscription_id, now)


def _delivery_view(row: Any) -> DeliveryRead:
    return DeliveryRead(
        id=row["id"], event_type=row["event_type"], seq=row["seq"], status=row["status"],
        attempts=row["attempts"], callback_url=row["callback_url"],
        last_status_code=row["last_status_code"], last_latency_ms=row["last_latency_ms"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        created_at=row["created_at"], finished_at=row["finished_at"])


async def list_deliveries(*, uow: UnitOfWork, app_key: str, status: str | None,
                          cursor: str | None, limit: int) -> DeliveryPage:
    after = paging.decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_deliveries(uow, app_key, status=status, after=after,
                                           limit=limit + 1)
    page, next_cursor = paging.page_of(
        rows, limit, lambda r: paging.moment_cursor(r["created_at"], r["id"]))
    return DeliveryPage(items=[_delivery_view(r) for r in page], next_cursor=next_cursor)


async def replay_delivery(*, uow: UnitOfWork, app_key: str, delivery_id: uuid.UUID,
                          now: datetime) -> DeliveryRead:
    """Send a dead-lettered delivery again (same delivery id, a fresh retry schedule)."""
    async with uow:
        row = await store.replay_dead(uow, app_key, delivery_id, now)
        if row is None:
            found = await store.get_delivery(uow, app_key, delivery_id)
            if found is None:
                raise NotFound("no such delivery", code="delivery_not_found")
            raise BadRequest("only dead-lettered deliveries are replayed",
                             code="delivery_not_dead")
    return _delivery_view(row)
