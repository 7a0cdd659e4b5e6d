"""Webhook deliveries: signed, retried on the schedule, dead-lettered, never lost across a
restart, never re-created under a new delivery id."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.partner import service, store
from gateway.partner.signing_client import verify_webhook
from shared.testing.plugin import running, wait_until
from tests.partner.conftest import (
    APP_A,
    APP_B,
    Clock,
    PartnerServer,
    StandInIdentity,
    partner_server,
    signer_for,
)


async def _subscribe(client: Any, clock: Clock, identity: StandInIdentity, app_key: str,
                     url: str, types: list[str] | None = None) -> dict[str, Any]:
    answer = await signer_for(client, clock, identity, app_key).call(
        "POST", "/open/v1/webhooks",
        {"event_types": types or ["event.status_changed"], "callback_url": url})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def _change(app: FastAPI, app_key: str, to_status: str = "dispatched") -> uuid.UUID:
    """Index an event for the app and record one status change of it (as the consumer does)."""
    event_id = uuid.uuid4()
    uow = app.state.runtime.uow()
    async with uow:
        await store.insert_event(uow, event_id=event_id, app_key=app_key,
                                 request_id=f"r-{event_id.hex[:8]}", request_hash="0" * 64,
                                 user_id=uuid.uuid4(),
                                 case_no="ZZ-20261126-000007", status="reported", last_step=0,
                                 created_at=datetime.now(UTC))
        await service.on_status_changed(uow, {
            "event_id": str(event_id), "from_status": "reported", "to_status": to_status,
            "action": "dispatch", "step": 1, "at": datetime.now(UTC).isoformat()})
    return event_id


async def _deliveries(app: FastAPI) -> list[dict[str, Any]]:
    uow = app.state.runtime.uow()
    async with uow:
        rows = (await uow.connection.execute(select(store.deliveries))).mappings()
        return [dict(r) for r in rows]


async def _attempts(app: FastAPI, delivery_id: uuid.UUID) -> int:
    uow = app.state.runtime.uow()
    async with uow:
        return int((await uow.connection.execute(
            select(func.count()).select_from(store.delivery_attempts)
            .where(store.delivery_attempts.c.delivery_id == delivery_id))).scalar_one())


async def test_a_webhook_failing_twice_is_delivered_once_on_the_third_attempt_with_one_id(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    async with partner_server(fail_first=2) as hooks, running(app) as client:
        await _subscribe(client, clock, identity, APP_A, hooks.url)
        event_id = await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        clock.advance(15)  # first retry after 15 s
        await wait_until(lambda: _recorded_attempts(app, 2))
        clock.advance(15)  # second retry after another 15 s
        await wait_until(lambda: _received(hooks, 3))
        # Recorded as delivered first: moving the clock an hour while the third send is in
        # flight would let its lease run out in fake time and a later round claim it again.
        await wait_until(lambda: _recorded_attempts(app, 3))
        clock.advance(3600)  # nothing further is sent once delivered
        await asyncio.sleep(0.3)
        [delivery] = await _deliveries(app)
        attempts = await _attempts(app, delivery["id"])

    assert len(hooks.received) == 3
    assert set(hooks.delivery_ids()) == {str(delivery["id"])}
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == attempts == 3
    assert delivery["last_status_code"] == 200
    assert delivery["last_latency_ms"] is not None
    payload = json.loads(hooks.received[-1]["body"])
    assert payload["event_id"] == str(event_id)
    assert payload["to_status"] == "dispatched"
    assert payload["delivery_id"] == str(delivery["id"])
    # Signed the same way as the open API, verifiable with the shipped client.
    last = hooks.received[-1]
    secret = identity.apps[APP_A]["secrets"][0]["secret"]
    sent_at = int(last["headers"]["X-Timestamp"])
    assert verify_webhook(secret, "POST", last["path"], last["query"], last["headers"],
                          last["body"], now=sent_at)
    assert not verify_webhook("other", "POST", last["path"], last["query"], last["headers"],
                              last["body"], now=sent_at)
    assert not verify_webhook(secret, "POST", last["path"], last["query"], last["headers"],
                              last["body"], now=sent_at + 301)


async def _recorded_attempts(app: FastAPI, count: int) -> bool:
    """The sender has recorded ``count`` attempts (only then is the next one scheduled)."""
    return all(d["attempts"] >= count for d in await _deliveries(app))


async def _received(hooks: PartnerServer, count: int) -> bool:
    return len(hooks.received) >= count


async def test_a_delivery_survives_a_restart_of_the_sender_with_the_same_delivery_id(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with partner_server(fail_first=1) as hooks:
        first = make_partner()
        async with running(first) as client:
            await _subscribe(client, clock, identity, APP_A, hooks.url)
            await _change(first, APP_A)
            await wait_until(lambda: _received(hooks, 1))
            [before] = await _deliveries(first)
            await wait_until(lambda: _attempted(first, before["id"]))
        # The sender is gone; its retry is due in 15 s. A new process takes over.
        clock.advance(16)
        second = make_partner()
        async with running(second):
            await wait_until(lambda: _received(hooks, 2))
            await wait_until(lambda: _delivered(second))
            after = await _deliveries(second)

    assert [d["id"] for d in after] == [before["id"]]
    assert hooks.delivery_ids() == [str(before["id"])] * 2
    assert after[0]["attempts"] == 2


async def test_a_send_cut_off_by_a_restart_is_sent_again_after_its_lease(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with partner_server(delay_seconds=5.0) as hooks:
        first = make_partner()
        async with running(first) as client:
            await _subscribe(client, clock, identity, APP_A, hooks.url)
            await _change(first, APP_A)
            await wait_until(lambda: _received(hooks, 1))
        # Stopped mid-send: the row keeps its lease; nothing is recorded as delivered.
        [cut] = await _deliveries_in(first)
        assert cut["status"] == "pending"
        hooks.delay_seconds = 0.0
        clock.advance(61)  # past the lease
        second = make_partner()
        async with running(second):
            await wait_until(lambda: _delivered(second))
            after = await _deliveries(second)
    assert [d["id"] for d in after] == [cut["id"]]
    assert set(hooks.delivery_ids()) == {str(cut["id"])}


async def _deliveries_in(app: FastAPI) -> list[dict[str, Any]]:
    """Read the rows of a stopped app through a fresh one-off app on the same schema."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db.database import normalize_database_url

    settings = app.state.settings
    engine = create_async_engine(normalize_database_url(settings.database_url),
                                 connect_args={"server_settings": {"search_path":
                                                                   settings.schema}})
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(store.deliveries))).mappings()]
    finally:
        await engine.dispose()


async def _attempted(app: FastAPI, delivery_id: uuid.UUID) -> bool:
    return await _attempts(app, delivery_id) >= 1


async def _delivered(app: FastAPI) -> bool:
    return all(d["status"] == "delivered" for d in await _deliveries(app))


async def test_after_the_last_retry_a_delivery_is_dead_lettered_and_can_be_replayed(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner(retry_schedule=[15, 30])
    async with partner_server(fail_first=3) as hooks, running(app) as client:
        partner = signer_for(client, clock, identity, APP_A)
        await _subscribe(client, clock, identity, APP_A, hooks.url)
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        clock.advance(15)
        await wait_until(lambda: _recorded_attempts(app, 2))
        clock.advance(30)
        await wait_until(lambda: _received(hooks, 3))
        await wait_until(lambda: _dead(app))
        dead = (await partner.call("GET", "/open/v1/webhook-deliveries?status=dead")).json()
        [item] = dead["items"]
        replayed = await partner.call("POST",
                                      f"/open/v1/webhook-deliveries/{item['id']}/replay")
        await wait_until(lambda: _delivered(app))
        log = (await partner.call("GET", "/open/v1/webhook-deliveries")).json()
        other = await signer_for(client, clock, identity, APP_B).call(
            "GET", "/open/v1/webhook-deliveries")

    assert item["attempts"] == 3
    assert item["last_status_code"] == 500
    assert replayed.status_code == 200, replayed.text
    assert set(hooks.delivery_ids()) == {item["id"]}
    assert log["items"][0]["status"] == "delivered"
    assert other.json()["items"] == []  # another app never sees this app's log


async def _dead(app: FastAPI) -> bool:
    return any(d["status"] == "dead" for d in await _deliveries(app))


async def test_a_slow_partner_never_holds_up_another_partners_deliveries(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner(delivery_timeout_seconds=3.0, delivery_concurrency_per_app=2)
    async with (partner_server(delay_seconds=2.5) as slow, partner_server() as fast,
                running(app) as client):
        await _subscribe(client, clock, identity, APP_A, slow.url)
        await _subscribe(client, clock, identity, APP_B, fast.url)
        for _ in range(6):
            await _change(app, APP_A)
        await wait_until(lambda: _received(slow, 2))
        started = asyncio.get_running_loop().time()
        await _change(app, APP_B)
        await wait_until(lambda: _received(fast, 1), within=2.0)
        waited = asyncio.get_running_loop().time() - started
        in_flight_slow = len(slow.received)
    assert waited < 1.0
    assert in_flight_slow == 2  # the slow app never had more than its limit in flight


async def test_callbacks_go_only_to_allow_listed_public_hosts(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner(allow_private_callbacks=False,
                       callback_hosts={APP_A: ["localhost", "hooks.example.com"]})
    async with running(app) as client:
        partner = signer_for(client, clock, identity, APP_A)

        async def subscribe(url: str, types: list[str] | None = None) -> Any:
            return await partner.call("POST", "/open/v1/webhooks", {
                "event_types": types or ["event.status_changed"], "callback_url": url})

        not_listed = await subscribe("https://evil.example.net/hook")
        loopback = await subscribe("http://localhost:8080/hook")
        scheme = await subscribe("ftp://hooks.example.com/hook")
        unknown_type = await subscribe("https://hooks.example.com/hook", ["event.deleted"])
    assert not_listed.json()["code"] == "callback_host_not_allowed"
    assert loopback.json()["code"] == "callback_address_not_public"
    assert scheme.json()["code"] == "callback_url_invalid"
    assert unknown_type.json()["code"] == "event_type_unknown"


async def test_an_app_subscribes_on_the_hosts_identity_allows_it_as_well_as_configured_ones(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    identity.apps[APP_A]["callback_hosts"] = ["hooks.xlxq.example"]
    app = make_partner(callback_hosts={APP_A: ["ops.xlxq.example"]})
    async with running(app) as client:
        granted = await _subscribe_to(client, clock, identity, APP_A,
                                      "https://hooks.xlxq.example/ehome")
        configured = await _subscribe_to(client, clock, identity, APP_A,
                                         "https://ops.xlxq.example/ehome")
        in_neither = await _subscribe_to(client, clock, identity, APP_A,
                                         "https://evil.example.net/ehome")
        other_app = await _subscribe_to(client, clock, identity, APP_B,
                                        "https://hooks.xlxq.example/ehome")
    assert granted.status_code == 201, granted.text
    assert configured.status_code == 201, configured.text
    assert (in_neither.status_code, in_neither.json()["code"]) == (
        422, "callback_host_not_allowed")
    assert other_app.json()["code"] == "callback_host_not_allowed"  # the list is the app's


async def test_an_identity_that_does_not_answer_callback_hosts_yet_leaves_the_setting_in_force(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    del identity.apps[APP_A]["callback_hosts"]  # an older identity, during a rolling deploy
    app = make_partner(callback_hosts={APP_A: ["ops.xlxq.example"]})
    async with running(app) as client:
        configured = await _subscribe_to(client, clock, identity, APP_A,
                                         "https://ops.xlxq.example/ehome")
        not_listed = await _subscribe_to(client, clock, identity, APP_A,
                                         "https://hooks.xlxq.example/ehome")
    assert configured.status_code == 201, configured.text
    assert not_listed.json()["code"] == "callback_host_not_allowed"


async def test_a_host_taken_off_the_apps_list_gets_no_more_deliveries(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    identity.apps[APP_A]["callback_hosts"] = ["127.0.0.1"]
    app = make_partner(callback_hosts={})
    async with partner_server() as hooks, running(app) as client:
        await _subscribe(client, clock, identity, APP_A, hooks.url)
        await _change(app, APP_A)
        await wait_until(lambda: _received(hooks, 1))
        identity.apps[APP_A]["callback_hosts"] = []  # an admin withdraws the host
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        deliveries = sorted(await _deliveries(app), key=lambda d: d["created_at"])
    assert len(hooks.received) == 1
    assert [d["status"] for d in deliveries] == ["delivered", "pending"]
    assert deliveries[1]["last_error"] == "callback host no longer allowed for this app"


async def test_a_deleted_subscriptions_waiting_deliveries_are_not_sent(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    async with partner_server(fail_first=1) as hooks, running(app) as client:
        subscription = await _subscribe(client, clock, identity, APP_A, hooks.url)
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))  # failed: a retry is due in 15 s
        deleted = await signer_for(client, clock, identity, APP_A).call(
            "DELETE", f"/open/v1/webhooks/{subscription['id']}")
        clock.advance(3600)  # far past every retry
        await asyncio.sleep(0.5)  # the sender polls every 0.05 s
        [delivery] = await _deliveries(app)
        listed = await signer_for(client, clock, identity, APP_A).call(
            "GET", "/open/v1/webhook-deliveries?status=cancelled")
    assert deleted.status_code == 204
    assert len(hooks.received) == 1  # only the first, failed attempt
    assert (delivery["status"], delivery["attempts"]) == ("cancelled", 1)
    assert [d["id"] for d in listed.json()["items"]] == [str(delivery["id"])]


async def _subscribe_to(client: Any, clock: Clock, identity: StandInIdentity, app_key: str,
                        url: str) -> Any:
    return await signer_for(client, clock, identity, app_key).call(
        "POST", "/open/v1/webhooks", {"event_types": ["event.closed"], "callback_url": url})


async def test_a_callback_host_that_now_resolves_to_a_private_address_is_not_called(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner(allow_private_callbacks=False)
    async with partner_server() as hooks, running(app):
        uow = app.state.runtime.uow()
        async with uow:  # subscribed while the host was public; it now points inside
            await store.insert_subscription(
                uow, id=uuid.uuid4(), app_key=APP_A,
                event_types=["event.status_changed"], callback_url=hooks.url,
                created_at=datetime.now(UTC))
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        [delivery] = await _deliveries(app)
    assert hooks.received == []
    assert delivery["status"] == "pending"
    assert delivery["last_error"].startswith("callback address refused")


async def test_the_sender_reports_its_totals_as_metrics(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    async with partner_server(fail_first=1) as hooks, running(app) as client:
        await _subscribe(client, clock, identity, APP_A, hooks.url)
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        clock.advance(15)
        await wait_until(lambda: _delivered(app))
        metrics = (await client.get("/metrics")).text
    assert 'webhook_delivered_total{service="partner"} 1.0' in metrics
    assert 'webhook_failed_attempts_total{service="partner"} 1.0' in metrics


async def test_a_callback_url_the_sender_could_never_call_is_refused_at_subscription(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    urls = ["http://[::1", "http://127.0.0.1/a\x00b", "http://127.0.0.1:port/x",
            "http://127.0.0.1:99999/x", "http://127.0.0.1/a\tb", "http://127.0.0.1/a\x7fb"]
    async with running(app) as client:
        answers = [await _subscribe_to(client, clock, identity, APP_A, url) for url in urls]
        listed = await signer_for(client, clock, identity, APP_A).call("GET",
                                                                       "/open/v1/webhooks")
    for url, answer in zip(urls, answers, strict=True):
        # A NUL is refused in every field of every service at the door (shared/web/middleware).
        code = "validation_error" if "\x00" in url else "callback_url_invalid"
        assert (answer.status_code, answer.json()["code"]) == (422, code), url
    assert listed.json()["items"] == []


async def test_a_stored_callback_url_that_cannot_be_sent_is_retried_on_the_schedule(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    # A subscription stored before its URL was checked this closely: httpx refuses the URL
    # itself (InvalidURL, not an HTTPError). Each attempt is recorded and scheduled, ending
    # in the dead-letter list, instead of the row going back to its lease again and again.
    app = make_partner(retry_schedule=[15])
    async with running(app):
        uow = app.state.runtime.uow()
        async with uow:
            await store.insert_subscription(
                uow, id=uuid.uuid4(), app_key=APP_A,
                event_types=["event.status_changed"],
                callback_url="http://127.0.0.1:port/hooks", created_at=datetime.now(UTC))
        await _change(app, APP_A)
        await wait_until(lambda: _recorded_attempts(app, 1))
        clock.advance(15)
        await wait_until(lambda: _recorded_attempts(app, 2))
        [delivery] = await _deliveries(app)
    assert delivery["status"] == "dead"
    assert delivery["last_error"] == "callback URL invalid"


async def test_a_webhook_to_a_path_sent_percent_encoded_is_signed_over_the_path_as_sent(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    # The canonical string's PATH is the path as sent, percent-encoding kept (README); httpx
    # sends "/hooks/事件" as "/hooks/%E4%BA%8B%E4%BB%B6", so that is what must be signed.
    app = make_partner()
    async with partner_server() as hooks, running(app) as client:
        await _subscribe(client, clock, identity, APP_A,
                         f"http://127.0.0.1:{hooks.port}/hooks/事件?tenant=1")
        await _change(app, APP_A)
        await wait_until(lambda: _received(hooks, 1))
    [sent] = hooks.received
    secret = identity.apps[APP_A]["secrets"][0]["secret"]
    assert sent["raw_path"] == "/hooks/%E4%BA%8B%E4%BB%B6"
    assert verify_webhook(secret, "POST", sent["raw_path"], sent["query"], sent["headers"],
                          sent["body"], now=int(sent["headers"]["X-Timestamp"]))
