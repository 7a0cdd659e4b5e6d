"""A partner submission through the gateway runs the whole closed loop (events and routing
over RabbitMQ); the partner hears each status change by webhook and in the changes feed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.testing.plugin import wait_until
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, GRID
from tests.partner.conftest import (
    APP_A,
    APP_B,
    Clock,
    Platform,
    Signer,
    StandInIdentity,
    partner_server,
    signer_for,
)


async def test_a_partner_submission_is_handled_to_closure_and_the_partner_hears_every_change(
    platform: Platform, identity: StandInIdentity, clock: Clock
) -> None:
    user_id = uuid.uuid4()
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    identity.phones[phone] = user_id
    partner = signer_for(platform.gateway, clock, identity, APP_A)
    async with partner_server() as hooks:
        subscribed = await partner.call("POST", "/open/v1/webhooks", {
            "event_types": ["event.status_changed", "event.closed"], "callback_url": hooks.url})
        assert subscribed.status_code == 201, subscribed.text

        submission = {
            "request_id": f"xlxq-{uuid.uuid4().hex[:10]}", "phone": phone,
            "category_code": "dispute_tenancy", "description": "房东不退押金，多次协商无果",
            "region_code": GRID, "fields": {"party_role": "tenant"},
        }
        created = await partner.call("POST", "/open/v1/events", submission)
        assert created.status_code == 201, created.text
        again = await partner.call("POST", "/open/v1/events", submission)
        event_id = created.json()["event_id"]
        assert again.json()["event_id"] == event_id  # idempotent on the partner's request id
        reused = await partner.call("POST", "/open/v1/events",
                                    {**submission, "description": "另一件事"})
        assert (reused.status_code, reused.json()["code"]) == (409, "request_id_reused")

        loop = platform.loop
        loop.people.resident_id = user_id  # the partner's user is the reporter
        case = await loop.wait_assigned(event_id, COMMUNITY_UNIT)
        assert case["channel"] == "partner"
        await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)

        await _wait_for_closed_in_feed(partner)
        await wait_until(lambda: _heard(hooks.received, "event.closed"), within=10)
        feed = await _wait_for_closed_in_feed(partner)  # everything up to now
        await wait_until(lambda: _all_seqs_heard(hooks.received, feed), within=10)
        read = await partner.call("GET", f"/open/v1/events/{event_id}")
        timeline = await partner.call("GET", f"/open/v1/events/{event_id}/timeline")
        listed = await partner.call("GET", "/open/v1/events?limit=5")
        other = await signer_for(platform.gateway, clock, identity, APP_B).call(
            "GET", f"/open/v1/events/{event_id}")
        unmatched = await partner.call("POST", "/open/v1/events", {
            **submission, "request_id": "unknown-person", "phone": "13900000000"})

    # Each change of the case once, in the case's own order by step.
    statuses = [c["to_status"] for c in sorted(feed, key=lambda c: c["step"])]
    assert statuses[0] == "reported"
    assert statuses[-1] == "closed"
    assert "dispatched" in statuses
    assert len({c["step"] for c in feed}) == len(feed)
    assert [c["seq"] for c in feed] == list(range(feed[0]["seq"], feed[0]["seq"] + len(feed)))
    payloads = [json.loads(r["body"]) for r in hooks.received]
    heard = [p for p in payloads if p["type"] == "event.status_changed"]
    # One delivery per change (sent concurrently, so they may arrive in any order).
    assert sorted(p["seq"] for p in heard) == [c["seq"] for c in feed]
    assert len({r["headers"]["X-Delivery-Id"] for r in hooks.received}) == len(payloads)
    assert read.status_code == 200
    assert read.json()["status"] == "closed"
    assert timeline.json()["items"][0]["action"] == "report"
    assert all(s["actor_id"] is None for s in timeline.json()["items"])  # masked as residents
    assert listed.json()["items"][0]["event_id"] == event_id
    assert other.status_code == 404
    assert (unmatched.status_code, unmatched.json()["code"]) == (422, "user_not_matched")


async def _wait_for_closed_in_feed(partner: Signer) -> list[dict[str, Any]]:
    feed: list[dict[str, Any]] = []

    async def closed() -> bool:
        nonlocal feed
        cursor = "0"
        feed = []
        while True:
            page = (await partner.call("GET", f"/open/v1/changes?cursor={cursor}")).json()
            feed += page["items"]
            if not page["items"]:
                break
            cursor = page["next_cursor"]
        return any(c["to_status"] == "closed" for c in feed)

    await wait_until(closed, within=10)
    return feed


async def _heard(received: list[dict[str, Any]], event_type: str) -> bool:
    return any(json.loads(r["body"])["type"] == event_type for r in received)


async def _all_seqs_heard(received: list[dict[str, Any]], feed: list[dict[str, Any]]) -> bool:
    heard = {json.loads(r["body"])["seq"] for r in received
             if json.loads(r["body"])["type"] == "event.status_changed"}
    return heard >= {c["seq"] for c in feed}
