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


async def test_a_cursor_the_list_never_gave_out_is_cursor_invalid_on_every_list(
    make_partner: Callable[..., FastAPI], identity: StandInIdentity, clock: Clock
) -> None:
    """One bad cursor per list reaches the shared rules; their edge cases are tested once,
    in tests/shared/test_paging.py. The largest bigint does reach the query."""
    out_of_range = _cursor(f"9999-12-31T23:59:59-14:00|{uuid.uuid4()}")
    lists = (("changes", "²"), ("changes", str(2**63)), ("events", out_of_range),
             ("webhook-deliveries", out_of_range))
    async with running(make_partner()) as client:
        partner = signer_for(client, clock, identity, APP_A)
        answers = [await partner.call("GET", f"/open/v1/{path}?cursor={cursor}")
                   for path, cursor in lists]
        largest = await partner.call("GET", f"/open/v1/changes?cursor={2**63 - 1}")
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (400, "cursor_invalid"), answer.text
    assert largest.json() == {"items": [], "next_cursor": str(2**63 - 1)}
