"""The relief service's collaborators, built once at start-up and kept in
``runtime.context``: PII cipher, identity client, working-day calendar, clock. Routes get it
as ``Context`` (services/relief/api.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx

from services.relief.identity_client import IdentityClient
from services.relief.settings import Settings
from shared.calendar import SHANGHAI, WorkingCalendar
from shared.pii import PiiCipher


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReliefContext:
    settings: Settings
    pii: PiiCipher
    identity: IdentityClient
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    clock: Callable[[], datetime] = _utc_now  # tests move time forward (7-day notice)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in Shanghai: ages (minors) and months are local notions."""
        return self.now().astimezone(SHANGHAI).date()

    async def aclose(self) -> None:
        await self.identity.aclose()


def build_context(
    settings: Settings,
    *,
    identity_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ReliefContext:
    return ReliefContext(
        settings=settings,
        pii=PiiCipher.from_config(
            settings.pii_keys,
            active_kid=settings.pii_active_key_id,
            index_secret=settings.pii_index_key,
        ),
        identity=IdentityClient(
            base_url=settings.identity_base_url,
            internal_key=settings.internal_api_key,
            timeout_seconds=settings.identity_timeout_seconds,
            transport=identity_transport,
        ),
        clock=clock or _utc_now,
    )
