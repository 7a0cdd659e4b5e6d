"""A status change can overtake the submission's own commit (routing assigns within
milliseconds): it is parked, then recorded in order when the submission commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from gateway.partner import service, store
from shared.testing.plugin import running
from tests.partner.conftest import APP_A, Clock, StandInIdentity, signer_for


def _stand_in_events(event_id: uuid.UUID, calls: list[dict[str, Any]]) -> FastAPI:
    api = FastAPI()

    @api.post("/api/v1/events", status_code=201)
    async def report(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body)
        return {"id": str(event_id), "case_no": "ZZ-20261126-000042", "status": "reported"}

    return api


async def test_a_change_that_overtakes_the_submission_is_parked_then_recorded_in_order(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    event_id = uuid.uuid4()
    calls: list[dict[str, Any]] = []
    identity.phones["13600000001"] = uuid.uuid4()
    app = make_partner(events_app=_stand_in_events(event_id, calls))
    async with running(app) as client:
        uow = app.state.runtime.uow()
        async with uow:  # the bus is faster than the submission's commit
            await store.mark_partner_channel(uow, event_id, datetime.now(UTC))
            await service.on_status_changed(uow, {
                "event_id": str(event_id), "from_status": "reported",
                "to_status": "dispatched", "action": "dispatch", "step": 2,
                "at": datetime.now(UTC).isoformat()})
        created = await signer_for(client, clock, identity, APP_A).call(
            "POST", "/open/v1/events", {
                "request_id": "race-1", "phone": "13600000001",
                "category_code": "dispute_tenancy", "description": "房东不退押金",
                "region_code": "350626106001001", "fields": {"party_role": "tenant"}})
        feed = (await signer_for(client, clock, identity, APP_A).call(
            "GET", "/open/v1/changes")).json()["items"]
        listed = (await signer_for(client, clock, identity, APP_A).call(
            "GET", "/open/v1/events")).json()["items"]
        async with uow:
            left = await store.take_parked(uow, event_id)

    assert created.status_code == 201, created.text
    assert "phone" not in calls[0]  # the person's number never reaches the events service
    assert [(c["seq"], c["to_status"]) for c in feed] == [(1, "reported"), (2, "dispatched")]
    assert listed[0]["status"] == "dispatched"
    assert left == []


async def test_a_change_of_an_event_no_partner_reported_is_ignored(
    make_partner: Callable[..., FastAPI],
) -> None:
    app = make_partner()
    async with running(app):
        uow = app.state.runtime.uow()
        event_id = uuid.uuid4()
        async with uow:
            await service.on_status_changed(uow, {
                "event_id": str(event_id), "from_status": "reported",
                "to_status": "dispatched", "action": "dispatch", "step": 2,
                "at": datetime.now(UTC).isoformat()})
            parked = await store.take_parked(uow, event_id)
    assert parked == []
