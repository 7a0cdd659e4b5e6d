"""Malformed input on the open API: a 4xx problem with a stable code, never a 500."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

from fastapi import FastAPI

from shared.testing.plugin import running
from tests.partner.conftest import APP_A, Clock, StandInIdentity, signer_for


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def test_a_changes_cursor_of_other_digits_or_past_bigint_is_cursor_invalid(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        answers = [await partner.call("GET", f"/open/v1/changes?cursor={cursor}")
                   for cursor in ("²", "9" * 25, str(2**63))]
        largest = await partner.call("GET", f"/open/v1/changes?cursor={2**63 - 1}")
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (400, "cursor_invalid"), answer.text
    assert largest.json() == {"items": [], "next_cursor": str(2**63 - 1)}


async def test_a_list_cursor_naming_a_moment_out_of_range_is_cursor_invalid(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    moments = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        answers = []
        for moment in moments:
            cursor = _cursor(f"{moment}|{uuid.uuid4()}")
            answers.append(await partner.call("GET", f"/open/v1/events?cursor={cursor}"))
            answers.append(await partner.call(
                "GET", f"/open/v1/webhook-deliveries?cursor={cursor}"))
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (400, "cursor_invalid"), answer.text
