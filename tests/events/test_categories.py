"""The category tree: served publicly, managed by admins, always under the five major risks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.events.app import create_app
from services.events.settings import Settings
from shared.testing.plugin import Migrator, running


@pytest.fixture
async def client(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    await migrator.ensure("events")
    app = create_app(service_settings(Settings, attachment_dir=str(tmp_path)),
                     verifier=token_verifier)
    async with running(app) as client:
        yield client


async def test_the_five_major_risks_are_served_with_templates(client: httpx.AsyncClient) -> None:
    tree = (await client.get("/api/v1/events/categories")).json()["items"]
    roots = {c["code"] for c in tree}
    assert {"political_security", "public_order", "social_conflict", "public_safety",
            "cyber_security"} <= roots
    order = next(c for c in tree if c["code"] == "public_order")
    fraud = next(c for c in order["children"] if c["code"] == "telecom_fraud")
    assert fraud["sensitive"] is True
    assert fraud["verified_only"] is True
    assert fraud["default_urgency"] == "urgent"
    channel = next(f for f in fraud["template"] if f["key"] == "channel")
    assert channel["type"] == "choice"
    assert channel["required"] is True


async def test_admins_add_subcategories_but_never_a_sixth_risk(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    code = f"dispute_{uuid.uuid4().hex[:6]}"
    body = {"name": "彩礼纠纷", "parent_code": "social_conflict",
            "template": [{"key": "amount", "label": "金额", "type": "number", "required": True}]}
    staff = {"Authorization": f"Bearer {make_token(roles=['dispatcher'])}"}
    refused = await client.put(f"/api/v1/events/categories/{code}", json=body, headers=staff)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    assert (await client.put(f"/api/v1/events/categories/{code}", json=body,
                             headers=admin)).status_code == 204
    tree = (await client.get("/api/v1/events/categories")).json()["items"]
    conflict = next(c for c in tree if c["code"] == "social_conflict")
    added = next(c for c in conflict["children"] if c["code"] == code)
    assert added["major_risk"] == "social_conflict"
    assert added["template"][0]["key"] == "amount"
    sixth = await client.put("/api/v1/events/categories/space_weather",
                             json={"name": "太空天气"}, headers=admin)
    assert (sixth.status_code, sixth.json()["code"]) == (422, "major_risk_required")
