"""Every open-API call is signed per app: the refusals a partner can meet, each with its code."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.partner import store
from gateway.partner.signing_client import (
    PartnerClient,
    canonical_string,
    sign,
    sorted_query,
    verify_webhook,
)
from shared.testing.plugin import running
from tests.partner.conftest import APP_A, APP_B, Clock, StandInIdentity, signer_for


async def _index_event(app: FastAPI, app_key: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    uow = app.state.runtime.uow()
    async with uow:
        await store.insert_event(uow, event_id=event_id, app_key=app_key,
                                 request_id=f"r-{event_id.hex[:8]}", request_hash="0" * 64,
                                 user_id=uuid.uuid4(),
                                 case_no="ZZ-20261126-000001", status="reported", last_step=0,
                                 created_at=datetime.now(UTC))
    return event_id


def test_the_signature_is_hmac_sha256_over_the_six_documented_lines() -> None:
    body = b'{"phone":"13800000000"}'
    lines = canonical_string("post", "/open/v1/events", "b=2&a=1", "1764144000",
                             "3f2a9c1e5b7d4a60", body).split("\n")
    assert lines == ["POST", "/open/v1/events", "a=1&b=2", "1764144000", "3f2a9c1e5b7d4a60",
                     hashlib.sha256(body).hexdigest()]
    assert sorted_query("b=2&a=1&a=0&c=%E4%B8%AD") == "a=0&a=1&b=2&c=%E4%B8%AD"
    expected = hmac.new(b"example-secret", "\n".join(lines).encode(), hashlib.sha256)
    assert sign("example-secret", "POST", "/open/v1/events", "a=1&b=2", "1764144000",
                "3f2a9c1e5b7d4a60", body) == expected.hexdigest()


def test_the_readme_worked_example_signs_as_documented() -> None:
    assert sign("example-secret", "POST", "/open/v1/events", "", "1764144000",
                "3f2a9c1e5b7d4a60", b'{"phone":"13800000000"}') == (
        "6d5cd8c5b13d5f35b28b79c77b2020459eba8454e3eda54e171ea4c672b584a6")


async def test_a_correctly_signed_call_is_answered(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner()) as client:
        answer = await signer_for(client, clock, identity, APP_A).call(
            "GET", "/open/v1/changes?limit=5&cursor=0")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next_cursor": "0"}


async def test_a_replayed_nonce_is_refused(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        nonce = uuid.uuid4().hex
        first = await partner.call("GET", "/open/v1/events", nonce=nonce)
        replay = await partner.call("GET", "/open/v1/events", nonce=nonce)
    assert first.status_code == 200, first.text
    assert replay.status_code == 401
    assert replay.json()["code"] == "nonce_replayed"


async def test_a_stale_timestamp_is_refused(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        stale = await partner.call("GET", "/open/v1/events",
                                   at=clock().timestamp() - 301)
        future = await partner.call("GET", "/open/v1/events",
                                    at=clock().timestamp() + 400)
    assert (stale.status_code, stale.json()["code"]) == (401, "timestamp_out_of_window")
    assert (future.status_code, future.json()["code"]) == (401, "timestamp_out_of_window")


async def test_a_wrong_signature_is_refused(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        wrong_secret = await partner.call("GET", "/open/v1/events", secret="not-the-secret")
        # Signed for one query, sent with another: the signature covers the query.
        signed = await partner.call("GET", "/open/v1/events?limit=5")
        assert signed.status_code == 200
        tampered_headers = dict(signed.request.headers)
        tampered_headers["x-nonce"] = uuid.uuid4().hex
        tampered = await client.get("/open/v1/events?limit=50", headers=tampered_headers)
        missing = await client.get("/open/v1/events")
    assert (wrong_secret.status_code, wrong_secret.json()["code"]) == (401, "signature_invalid")
    assert (tampered.status_code, tampered.json()["code"]) == (401, "signature_invalid")
    assert (missing.status_code, missing.json()["code"]) == (401, "signature_missing")


async def test_unknown_and_disabled_apps_are_refused(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    identity.apps[APP_B]["disabled"] = True
    async with running(make_partner()) as client:
        unknown = await signer_for(client, clock, identity, APP_A).__class__(
            client, clock, "pk_nobody", "x").call("GET", "/open/v1/events")
        disabled = await signer_for(client, clock, identity, APP_B).call("GET",
                                                                         "/open/v1/events")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "app_unknown")
    assert (disabled.status_code, disabled.json()["code"]) == (401, "app_disabled")


async def test_both_secrets_work_during_a_rotation_overlap_and_the_old_one_stops_after(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    old = identity.apps[APP_A]["secrets"][0]["secret"]
    expires = datetime.now(UTC) + timedelta(hours=1)
    identity.apps[APP_A]["secrets"] = [{"secret": "new-secret", "expires_at": None},
                                       {"secret": old, "expires_at": expires.isoformat()}]
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        with_new = await partner.call("GET", "/open/v1/events", secret="new-secret")
        with_old = await partner.call("GET", "/open/v1/events", secret=old)
        clock.advance(3601)
        old_after = await partner.call("GET", "/open/v1/events", secret=old)
    assert with_new.status_code == 200
    assert with_old.status_code == 200
    assert (old_after.status_code, old_after.json()["code"]) == (401, "signature_invalid")


async def test_a_right_signature_with_the_wrong_scope_is_forbidden(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    identity.apps[APP_A]["scopes"] = ["events:read"]
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        subscribe = await partner.call("POST", "/open/v1/webhooks", {
            "event_types": ["event.status_changed"], "callback_url": "http://127.0.0.1/x"})
        submit = await partner.call("POST", "/open/v1/events", _submission())
    assert (subscribe.status_code, subscribe.json()["code"]) == (403, "scope_denied")
    assert (submit.status_code, submit.json()["code"]) == (403, "scope_denied")


async def test_a_submission_outside_the_apps_regions_is_forbidden(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    identity.apps[APP_A]["allowed_regions"] = ["350602"]  # 芗城区, not 东山县
    async with running(make_partner()) as client:
        answer = await signer_for(client, clock, identity, APP_A).call(
            "POST", "/open/v1/events", _submission())
    assert (answer.status_code, answer.json()["code"]) == (403, "region_denied")


async def test_another_apps_event_does_not_exist_for_this_app(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    async with running(app) as client:
        theirs = await _index_event(app, APP_B)
        partner = signer_for(client, clock, identity, APP_A)
        event = await partner.call("GET", f"/open/v1/events/{theirs}")
        timeline = await partner.call("GET", f"/open/v1/events/{theirs}/timeline")
        listed = await partner.call("GET", "/open/v1/events")
    assert (event.status_code, event.json()["code"]) == (404, "event_not_found")
    assert (timeline.status_code, timeline.json()["code"]) == (404, "event_not_found")
    assert str(theirs) not in listed.text


async def test_each_app_has_its_own_rate_limit(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner(rate_limits={APP_A: 1.0})) as client:
        partner = signer_for(client, clock, identity, APP_A)
        answers = [await partner.call("GET", "/open/v1/events") for _ in range(4)]
        other = await signer_for(client, clock, identity, APP_B).call("GET", "/open/v1/events")
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert refused[0].json()["code"] == "rate_limited"
    assert int(refused[0].headers["Retry-After"]) >= 1
    assert other.status_code == 200


def _submission(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": f"req-{uuid.uuid4().hex[:12]}", "phone": "13800000000",
        "category_code": "dispute_tenancy", "description": f"房东不退押金 {uuid.uuid4().hex[:6]}",
        "region_code": "350626106001001", "fields": {"party_role": "tenant"},
    }
    body.update(overrides)
    return body


async def test_the_partner_app_reports_health_and_readiness_without_a_signature(
    make_partner: Callable[..., FastAPI],
) -> None:
    async with running(make_partner()) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        documented = (await client.get("/openapi.json")).json()["paths"]
    assert health.json() == {"status": "ok", "service": "partner"}
    assert ready.status_code == 200, ready.text
    assert "/open/v1/changes" in documented


async def test_a_captured_call_replayed_under_another_spelling_of_the_app_key_is_refused(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    # The signature does not cover X-App-Key, and identity's credentials path decodes it:
    # "%70k_app_a" or "pk_app_a/credentials?" name app A too. Accepted, each spelling would
    # be a fresh nonce space (a replay of the same signed call) and a fresh rate bucket.
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        first = await partner.call("GET", "/open/v1/events")
        assert first.status_code == 200, first.text
        captured = dict(first.request.headers)
        replays = []
        for alias in ("%70k_app_a", "pk_app_a/credentials?", "pk_app_a/credentials#",
                      "pk_app_a/../pk_app_a"):
            replays.append(await client.get("/open/v1/events",
                                            headers={**captured, "x-app-key": alias}))
    for replay in replays:
        assert replay.status_code == 401, replay.text
        assert replay.json()["code"] in {"signature_invalid", "app_unknown"}


async def test_a_timestamp_of_other_digits_or_thousands_of_them_is_refused_not_a_500(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    secret = identity.apps[APP_A]["secrets"][0]["secret"]
    async with running(make_partner()) as client:
        answers = []
        for timestamp in ("²", "1764144000²", "9" * 5000):
            nonce = uuid.uuid4().hex
            headers = {"X-App-Key": APP_A, "X-Nonce": nonce,
                       "X-Signature": sign(secret, "GET", "/open/v1/events", "", timestamp,
                                           nonce, b"")}
            # '²' is a digit to str.isdigit() but not to int(); 5000 digits is past int()'s
            # limit. Sent as the latin-1 bytes a server decodes them from.
            answers.append(await client.get("/open/v1/events", headers={
                **headers, "X-Timestamp": timestamp.encode("latin-1")}))
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (401, "timestamp_out_of_window")


def test_verify_webhook_says_no_to_a_timestamp_of_other_digits_instead_of_raising() -> None:
    for timestamp in ("²", "9" * 5000):
        headers = {"X-Timestamp": timestamp, "X-Nonce": "abcdefgh", "X-Signature": "00"}
        assert verify_webhook("secret", "POST", "/hooks", "", headers, b"{}") is False


async def test_a_replayed_nonce_stays_refused_while_its_latest_timestamp_is_in_the_window(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    app = make_partner()
    async with running(app) as client:
        partner = signer_for(client, clock, identity, APP_A)
        nonce = uuid.uuid4().hex
        start = clock().timestamp()
        first = await partner.call("GET", "/open/v1/events", nonce=nonce, at=start)
        # The same nonce again with a fresher timestamp: refused, but a signed call anyone on
        # the path could keep and send once the nonce's first use has been purged.
        later = await partner.call("GET", "/open/v1/events", nonce=nonce, at=start + 250)
        clock.advance(310)  # the first use is out of the window; the second is not
        uow = app.state.runtime.uow()
        async with uow:
            await store.purge_nonces(uow, before=clock())
        replayed = await client.get("/open/v1/events", headers=dict(later.request.headers))
    assert first.status_code == 200, first.text
    assert (later.status_code, later.json()["code"]) == (401, "nonce_replayed")
    assert (replayed.status_code, replayed.json()["code"]) == (401, "nonce_replayed")


def test_the_signing_clients_request_id_goes_into_the_signed_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The open API makes a submission idempotent by the body's request_id (README); an
    # X-Request-Id header is the gateway's trace id, replaced when malformed, never a key.
    sent: list[urllib.request.Request] = []

    class _Answer(io.BytesIO):
        status = 201

        def __enter__(self) -> _Answer:
            return self

        def __exit__(self, *_: object) -> None:
            self.close()

    def urlopen(request: urllib.request.Request, timeout: float) -> _Answer:
        sent.append(request)
        return _Answer(b'{"event_id": "x"}')

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    client = PartnerClient("https://ehome.example", "pk_app_a", "secret")
    status, _ = client.request("POST", "/open/v1/events", {"phone": "13800000000"},
                               request_id="order-42")
    [request] = sent
    body = request.data
    assert status == 201
    assert isinstance(body, bytes)
    assert json.loads(body) == {"phone": "13800000000", "request_id": "order-42"}
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["x-signature"] == sign("secret", "POST", "/open/v1/events", "",
                                          headers["x-timestamp"], headers["x-nonce"], body)
