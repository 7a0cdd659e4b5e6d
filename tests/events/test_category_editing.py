"""An admin edits a category as the console does: reads it, changes its template, PUTs it whole,
and the category keeps its place in the tree."""

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


def child(tree: list[dict[str, Any]], parent: str, code: str) -> dict[str, Any]:
    return next(c for c in next(r for r in tree if r["code"] == parent)["children"]
                if c["code"] == code)


async def test_a_category_read_back_and_put_whole_keeps_its_order(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    code = f"dispute_{uuid.uuid4().hex[:6]}"
    assert (await client.put(f"/api/v1/events/categories/{code}", headers=admin, json={
        "name": "宅基地纠纷", "parent_code": "social_conflict", "sort": 7})).status_code == 204
    read = child((await client.get("/api/v1/events/categories")).json()["items"],
                 "social_conflict", code)
    assert read["sort"] == 7
    edited = {k: read[k] for k in ("name", "parent_code", "default_urgency", "sensitive",
                                   "verified_only", "sort")}
    edited["template"] = [{"key": "area", "label": "面积", "type": "choice", "required": True,
                           "options": [{"code": "small", "label": "小于一亩"}]}]
    assert (await client.put(f"/api/v1/events/categories/{code}", headers=admin,
                             json=edited)).status_code == 204
    again = child((await client.get("/api/v1/events/categories")).json()["items"],
                  "social_conflict", code)
    assert again["sort"] == 7
    assert again["template"][0]["options"] == [{"code": "small", "label": "小于一亩"}]
    assert again["template"][0]["choices"] == ["small"]
