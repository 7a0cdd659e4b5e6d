"""Reusable relief journeys over HTTP. They take any httpx client (in-process service, or the
gateway in the end-to-end suite) and tokens, and assert each step's status as they go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

BASE = "/api/v1/relief"
AGENCIES = ("ping_an_office", "civil_affairs", "agriculture")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Reviewers:
    """One reviewer token per agency, all scoped to ``region``."""

    region: str
    town: str
    ping_an_office: str
    civil_affairs: str
    agriculture: str

    @classmethod
    def mint(cls, make_token: Callable[..., str], region: str) -> Reviewers:
        def reviewer(agency: str) -> str:
            return make_token(roles=["reviewer"], regions=[region], extra={"agency": agency})

        return cls(
            region=region,
            town=reviewer("town"),
            ping_an_office=reviewer("ping_an_office"),
            civil_affairs=reviewer("civil_affairs"),
            agriculture=reviewer("agriculture"),
        )

    def of(self, agency: str) -> str:
        return str(getattr(self, agency))


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


async def submit(
    client: httpx.AsyncClient, token: str, *, kind: str = "dibao",
    reason: str = "丈夫病故，家中无劳动力", **extra: Any,
) -> dict[str, Any]:
    body = {"kind": kind, "reason": reason, **extra}
    return dict(expect(await client.post(f"{BASE}/applications", json=body,
                                         headers=auth(token)), 201))


async def accept(client: httpx.AsyncClient, staff: Reviewers, app_id: str) -> dict[str, Any]:
    return dict(expect(
        await client.post(f"{BASE}/applications/{app_id}/accept", headers=auth(staff.town)), 200
    ))


async def review(
    client: httpx.AsyncClient, staff: Reviewers, app_id: str, agency: str, *,
    approve: bool = True, opinion: str = "经入户核查，情况属实",
) -> httpx.Response:
    return await client.post(
        f"{BASE}/applications/{app_id}/reviews",
        json={"approve": approve, "opinion": opinion}, headers=auth(staff.of(agency)),
    )


async def through_joint_review(
    client: httpx.AsyncClient, staff: Reviewers, app_id: str
) -> dict[str, Any]:
    await accept(client, staff, app_id)
    last: dict[str, Any] = {}
    for agency in AGENCIES:
        last = dict(expect(await review(client, staff, app_id, agency), 200))
    return last


async def approve(client: httpx.AsyncClient, staff: Reviewers, app_id: str) -> httpx.Response:
    return await client.post(
        f"{BASE}/applications/{app_id}/approve", headers=auth(staff.civil_affairs)
    )


async def disburse(
    client: httpx.AsyncClient, staff: Reviewers, app_id: str, *, month: str,
    amount_fen: int, key: str | None = None,
) -> httpx.Response:
    headers = auth(staff.civil_affairs)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(
        f"{BASE}/disbursements",
        json={"application_id": app_id, "month": month, "amount_fen": amount_fen},
        headers=headers,
    )


async def get(client: httpx.AsyncClient, token: str, app_id: str) -> dict[str, Any]:
    return dict(expect(await client.get(f"{BASE}/applications/{app_id}", headers=auth(token)),
                       200))


async def timeline_steps(client: httpx.AsyncClient, token: str, app_id: str) -> list[str]:
    body = expect(await client.get(f"{BASE}/applications/{app_id}/timeline",
                                   headers=auth(token)), 200)
    return [step["step"] for step in body["items"]]


def new_region(county: str = "350623") -> str:
    """A community code of its own (random town and community in ``county``), so one test's
    queue never shows another test's rows."""
    number = uuid.uuid4().int % 1_000_000
    return f"{county}{number // 1000:03d}{number % 1000:03d}"
