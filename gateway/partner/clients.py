"""Calls to identity (internal API) and events (its public API, with on-behalf tokens, and
its internal read of public cases).

Both go through ``shared.http.create_http_client`` with a base URL from settings and an
injectable transport (embedded mode and tests: ``httpx.ASGITransport`` to the apps)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from shared.auth.internal import internal_headers
from shared.http.client import create_http_client
from shared.logs import get_logger
from shared.problems import AppError, RuleViolation

log = get_logger(__name__)


class UpstreamFailed(AppError):
    status, default_code = 502, "upstream_failed"


@dataclass(frozen=True)
class Secret:
    value: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Credentials:
    app_key: str
    disabled: bool
    scopes: frozenset[str]
    allowed_regions: tuple[str, ...]
    secrets: tuple[Secret, ...]  # newest first
    # Hosts an admin allowed for the app's webhooks (identity's partner app); the setting
    # ``callback_hosts`` may list more.
    callback_hosts: tuple[str, ...] = ()

    def live_secrets(self, now: datetime) -> list[str]:
        return [s.value for s in self.secrets if s.expires_at is None or s.expires_at > now]


class IdentityClient:
    def __init__(self, *, base_url: str, internal_key: str, cache_seconds: float,
                 timeout: float, transport: httpx.AsyncBaseTransport | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._http = create_http_client(
            base_url=base_url, timeout=timeout, transport=transport,
            headers=internal_headers(internal_key, "partner"))
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._credentials: dict[str, tuple[float, Credentials | None]] = {}
        self._tokens: dict[tuple[str, uuid.UUID], tuple[float, str]] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def credentials(self, app_key: str) -> Credentials | None:
        """The app's status, scopes, callback hosts and live secrets; None for an unknown app.
        Cached briefly (a rotated secret or new callback hosts take effect within
        ``cache_seconds``); a disabled app is forgotten as soon as the revocation feed says so
        (``forget``, gateway/partner/app.py)."""
        now = self._monotonic()
        cached = self._credentials.get(app_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        response = await self._call("GET", f"/internal/identity/partners/{app_key}/credentials")
        found: Credentials | None = None
        if response.status_code == 200:
            body = response.json()
            found = Credentials(
                app_key=body["app_key"], disabled=body["disabled"],
                scopes=frozenset(body["scopes"]),
                allowed_regions=tuple(body["allowed_regions"]),
                # An identity older than the field answers without it (rolling deploys).
                callback_hosts=tuple(body.get("callback_hosts") or ()),
                secrets=tuple(Secret(s["secret"], _parse_time(s["expires_at"]))
                              for s in body["secrets"]))
        elif response.status_code != 404:
            raise UpstreamFailed("identity could not be asked", code="identity_unavailable")
        if len(self._credentials) > 10_000:
            self._credentials.clear()
        self._credentials[app_key] = (now + self._cache_seconds, found)
        return found

    def forget(self, app_key: str) -> None:
        self._credentials.pop(app_key, None)

    async def match_resident(self, *, id_number: str | None, phone: str | None
                             ) -> uuid.UUID:
        body = {"id_number": id_number} if id_number else {"phone": phone}
        response = await self._call("POST", "/internal/identity/residents/match", json=body)
        if response.status_code == 404:
            raise RuleViolation("no platform user matches this person", code="user_not_matched")
        if response.status_code != 200:
            raise UpstreamFailed("identity could not match", code="identity_unavailable")
        return uuid.UUID(response.json()["user_id"])

    async def on_behalf_token(self, app_key: str, user_id: uuid.UUID) -> str:
        now = self._monotonic()
        cached = self._tokens.get((app_key, user_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        response = await self._call("POST", "/internal/identity/partner-tokens",
                                    json={"app_key": app_key, "user_id": str(user_id)})
        if response.status_code == 404:
            raise RuleViolation("the platform user is gone", code="user_not_matched")
        if response.status_code != 201:
            raise UpstreamFailed("identity could not issue a token", code="identity_unavailable")
        token = response.json()["access_token"]
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[(app_key, user_id)] = (now + 120, token)  # tokens live 300 s
        return token

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("identity_call_failed", path=path.split("/")[3], error=type(exc).__name__)
            raise UpstreamFailed("identity is unavailable", code="identity_unavailable") from exc


class EventsClient:
    """The events service's public API, called as the partner's user."""

    # The category tree changes when an admin edits it: Open311 reads it on every call, so a
    # copy this young is used instead of asking events again.
    CATEGORIES_FRESH_SECONDS = 30.0

    def __init__(self, *, base_url: str, timeout: float, internal_key: str = "",
                 transport: httpx.AsyncBaseTransport | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._http = create_http_client(base_url=base_url, timeout=timeout, transport=transport)
        self._internal = internal_headers(internal_key, "partner")
        self._monotonic = monotonic
        self._categories: tuple[float, list[dict[str, Any]]] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, token: str, *, json: Any = None,
                   idempotency_key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self._request(method, "/api/v1/events" + path, json=json,
                                   headers=headers)

    async def categories(self) -> list[dict[str, Any]]:
        """The public category tree (a copy at most CATEGORIES_FRESH_SECONDS old)."""
        now = self._monotonic()
        if self._categories is not None and self._categories[0] > now:
            return self._categories[1]
        tree = list(self._ok(await self._request("GET", "/api/v1/events/categories"))["items"])
        self._categories = (now + self.CATEGORIES_FRESH_SECONDS, tree)
        return tree

    async def public_cases(self, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Non-sensitive cases as anyone may see them (events' internal read)."""
        response = await self._request("GET", "/internal/events/public-cases", params=params,
                                        headers=self._internal)
        return list(self._ok(response)["items"])

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        if response.status_code != 200:
            log.warning("events_read_refused", status=response.status_code)
            raise UpstreamFailed("the events service could not answer",
                                 code="events_unavailable")
        return response.json()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("events_call_failed", error=type(exc).__name__)
            raise UpstreamFailed("the events service is unavailable",
                                 code="events_unavailable") from exc


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
