"""Real-name verification providers (the government or carrier check behind 实名认证).

HTTP protocol of a provider at ``EHOME_VERIFY_API_BASE``:
``POST /v1/verify {"name", "id_number"}`` → ``{"result": "match" | "mismatch", "reason"?}``.
A timeout or a 5xx raises :class:`ProviderUnavailable`: the request stays ``pending`` and the
retry worker asks again later. Without a base URL the sandbox of API.md answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import httpx

from services.identity.domain import is_valid_id_number
from shared.http.client import create_http_client

SANDBOX_REJECTED_NAME = "测试拒绝"


@dataclass(frozen=True)
class ProviderVerdict:
    matched: bool
    reason: str | None = None


class ProviderUnavailable(Exception):
    """The provider did not answer in time; try again later."""


class RealNameProvider(Protocol):
    is_sandbox: bool

    async def check(self, *, name: str, id_number: str) -> ProviderVerdict: ...

    async def aclose(self) -> None: ...


class HttpRealNameProvider:
    is_sandbox = False

    def __init__(
        self,
        *,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = create_http_client(
            base_url=base_url.rstrip("/"), timeout=timeout_seconds, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self, *, name: str, id_number: str) -> ProviderVerdict:
        try:
            response = await self._http.post(
                "/v1/verify", json={"name": name, "id_number": id_number}
            )
        except httpx.TransportError as exc:  # timeouts included
            raise ProviderUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            # 5xx and 429 are the provider's trouble; any other status is no verdict either
            # (the request stays pending, the worker retries and gives up after its attempts).
            raise ProviderUnavailable(f"provider answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailable("provider answered no JSON") from None
        result = body.get("result") if isinstance(body, dict) else None
        if result == "match":
            return ProviderVerdict(True)
        if result == "mismatch":
            return ProviderVerdict(False, str(body.get("reason") or "mismatch"))
        raise ProviderUnavailable("provider answered an unknown result")


class SandboxRealNameProvider:
    is_sandbox = True

    async def aclose(self) -> None:
        return None

    async def check(self, *, name: str, id_number: str) -> ProviderVerdict:
        if name == SANDBOX_REJECTED_NAME:
            return ProviderVerdict(False, "mismatch")
        if not name or not is_valid_id_number(id_number, today=date.today()):
            return ProviderVerdict(False, "mismatch")
        return ProviderVerdict(True)
