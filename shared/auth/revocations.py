"""Revoked access tokens, known within a second or two to every process that verifies tokens.

An access token is valid for up to 15 minutes and is checked without asking identity (its
signature, or the gateway's endorsement). So that disabling an account, changing its scope,
logging out or disabling a partner app takes effect at once, identity records each revocation
(``identity.revocations``) and every verifier — the gateway and each replica of each service —
keeps a ``RevocationList`` that its ``RevocationPoller`` refreshes every second from identity's
internal feed (``GET /internal/identity/revocations?since=<cursor>``, internal key). Identity's
own replicas read the same rows straight from their database. A poll is one indexed query
answering the few revocations of the last seconds, so every replica can afford it.

What a revocation refuses (``Revocation.kind``):
- ``subject``: every token of the account issued before ``not_before`` (disable, re-scope);
  a token issued after — a new login, with the new scope — is accepted;
- ``session``: every token of one login (claim ``sid``, the refresh-token family): logout, or
  a rotated refresh token presented again;
- ``partner_app``: every on-behalf token the app holds issued before ``not_before``; the
  partner API's credential cache also forgets the app, so its signed calls are refused.

An entry is forgotten once ``expires_at`` has passed: by then every token it could refuse
has expired anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from shared.auth.internal import internal_headers
from shared.auth.principal import Principal
from shared.http.client import create_http_client
from shared.logs import get_logger
from shared.periodic import PeriodicWorker
from shared.settings import PlatformSettings

log = get_logger(__name__)

# Identity's feed (services/identity/api/internal.py): polled by every replica each second, so
# its requests are left out of the access log like health checks.
FEED_PATH = "/internal/identity/revocations"
SUBJECT, SESSION, PARTNER_APP = "subject", "session", "partner_app"
KINDS = (SUBJECT, SESSION, PARTNER_APP)


@dataclass(frozen=True)
class Revocation:
    kind: str  # subject | session | partner_app
    key: str  # the account id, the session id, or the app key
    not_before: float  # epoch seconds: tokens issued before it are refused
    expires_at: float  # epoch seconds: after it no token this refuses can still be valid

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Revocation:
        return cls(kind=str(item["kind"]), key=str(item["key"]),
                   not_before=_epoch(item["not_before"]), expires_at=_epoch(item["expires_at"]))


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass(frozen=True)
class RevocationBatch:
    revocations: list[Revocation]
    cursor: str | None  # where the next fetch starts


Listener = Callable[[Revocation], None]


class RevocationList:
    """The revocations one process knows, checked on every verification (cached ones too).
    Empty — the common case — costs one truth test per request; otherwise a dict lookup."""

    def __init__(self) -> None:
        self._subjects: dict[uuid.UUID, Revocation] = {}
        self._sessions: dict[str, Revocation] = {}
        self._apps: dict[str, Revocation] = {}
        self._listeners: list[Listener] = []

    def __bool__(self) -> bool:
        return bool(self._subjects or self._sessions or self._apps)

    def __len__(self) -> int:
        return len(self._subjects) + len(self._sessions) + len(self._apps)

    def _table(self, kind: str) -> dict[Any, Revocation] | None:
        tables: dict[str, dict[Any, Revocation]] = {
            SUBJECT: self._subjects, SESSION: self._sessions, PARTNER_APP: self._apps}
        return tables.get(kind)

    def apply(self, revocations: Iterable[Revocation], *, now: float | None = None
              ) -> list[Revocation]:
        """Merge revocations in (the latest ``not_before`` of a key wins; applying one twice
        changes nothing) and forget expired ones. Listeners hear of each new or moved entry."""
        moment = time.time() if now is None else now
        changed: list[Revocation] = []
        for revocation in revocations:
            table = self._table(revocation.kind)
            if table is None or revocation.expires_at <= moment:
                continue  # a kind from a newer identity, or already moot
            key: Any = revocation.key
            if revocation.kind == SUBJECT:
                try:
                    key = uuid.UUID(revocation.key)
                except ValueError:
                    continue
            known = table.get(key)
            if known is None or revocation.not_before > known.not_before:
                table[key] = revocation
                changed.append(revocation)
        self._forget_expired(moment)
        for revocation in changed:
            for listener in list(self._listeners):
                listener(revocation)
        return changed

    def _forget_expired(self, now: float) -> None:
        tables: tuple[dict[Any, Revocation], ...] = (self._subjects, self._sessions, self._apps)
        for table in tables:
            for key in [k for k, r in table.items() if r.expires_at <= now]:
                del table[key]

    def refuses(self, principal: Principal) -> bool:
        """Whether a revocation covers this (validly signed, unexpired) token."""
        cut = self._subjects.get(principal.subject)
        if cut is not None and principal.issued_at < cut.not_before:
            return True
        if principal.session_id is not None:
            ended = self._sessions.get(principal.session_id)
            if ended is not None and principal.issued_at < ended.not_before:
                return True
        if self._apps:
            app = principal.extra.get("partner_app")
            if isinstance(app, str):
                disabled = self._apps.get(app)
                if disabled is not None and principal.issued_at < disabled.not_before:
                    return True
        return False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each revocation learnt from now on; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe


class RevocationSource(Protocol):
    """Where a poller reads revocations: identity's feed over HTTP, or identity's database."""

    async def fetch(self, cursor: str | None) -> RevocationBatch: ...

    async def aclose(self) -> None: ...


class HttpRevocationSource:
    """Identity's internal feed. ``since`` omitted: every revocation still in force."""

    def __init__(self, url: str, internal_key: str, *, caller: str, timeout: float = 2.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = url
        self._http = create_http_client(timeout=timeout, transport=transport,
                                        headers=internal_headers(internal_key, caller))

    async def fetch(self, cursor: str | None) -> RevocationBatch:
        response = await self._http.get(self._url, params={"since": cursor} if cursor else None)
        response.raise_for_status()
        body = response.json()
        return RevocationBatch(
            revocations=[Revocation.from_json(item) for item in body["revocations"]],
            cursor=body["cursor"])

    async def aclose(self) -> None:
        await self._http.aclose()


class RevocationPoller:
    """Keeps a ``RevocationList`` current: fetches from its source every ``interval`` s.

    When the source cannot be read it keeps the last known list and goes on accepting tokens
    nothing in it refuses (fail-open), logging a warning at once and an error every
    ``stale_after`` s for as long as it lasts. Why not fail closed: revocations are made on
    identity, so while identity is away no new one can be made; what a poller can miss is at
    most the last second's before the outage. Refusing every token instead would turn a
    moment of identity being away (a restart, a deploy) into an outage of the whole platform,
    surge entrance included. The price — a replica cut off from identity alone, or one that
    starts during an outage, honours only what it knew — is why it is logged as an error."""

    def __init__(self, revocations: RevocationList, source: RevocationSource, *,
                 interval: float = 1.0, stale_after: float = 30.0, name: str = "") -> None:
        self._revocations = revocations
        self._source = source
        self._stale_after = stale_after
        self._name = name
        self._cursor: str | None = None
        # Polls at a steady pace even while failing (no backoff): a stale list is the risk.
        self._worker = PeriodicWorker(f"revocations-{name}", self._poll, interval, jitter=0.0)
        self._failing_since: float | None = None
        self._last_complaint = 0.0
        self.synced_at: float | None = None  # monotonic time of the last good fetch

    async def sync(self) -> list[Revocation]:
        """One fetch and merge; raises if the source cannot be read."""
        batch = await self._source.fetch(self._cursor)
        changed = self._revocations.apply(batch.revocations)
        self._cursor = batch.cursor
        self.synced_at = time.monotonic()
        for revocation in changed:
            log.info("token_revocation_learnt", kind=revocation.kind, poller=self._name)
        return changed

    def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()
        await self._source.aclose()

    async def _poll(self) -> None:
        try:
            await self.sync()
            self._recovered()
        except Exception as exc:  # logged here, as an outage: warning, then errors now and then
            self.failed(exc)

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.info("revocations_feed_recovered", poller=self._name,
                     after_seconds=round(time.monotonic() - self._failing_since, 1))
            self._failing_since = None

    def failed(self, exc: Exception) -> None:
        """Note a failed fetch: a warning when it starts, an error now and then while it lasts."""
        now = time.monotonic()
        error = type(exc).__name__
        if self._failing_since is None:
            self._failing_since = self._last_complaint = now
            log.warning("revocations_feed_unreachable", poller=self._name, error=error)
        elif now - self._last_complaint >= self._stale_after:
            self._last_complaint = now
            log.error("revocations_stale", poller=self._name, error=error,
                      failing_seconds=round(now - self._failing_since, 1),
                      known=len(self._revocations))


def http_revocation_source(
    settings: PlatformSettings, *, caller: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> HttpRevocationSource | None:
    """Identity's feed as the settings name it (``EHOME_REVOCATIONS_URL``), or None."""
    if not settings.revocations_url:
        return None
    return HttpRevocationSource(settings.revocations_url, settings.internal_api_key,
                                caller=caller, transport=transport)


async def start_revocation_poller(
    revocations: RevocationList, source: RevocationSource, *, interval: float, name: str,
    first_sync_seconds: float = 2.0,
) -> RevocationPoller:
    """A running poller that has tried one sync already, so a process starts with the list
    when identity answers; when it does not, the process starts anyway (fail-open, logged)
    and the poller keeps trying."""
    poller = RevocationPoller(revocations, source, interval=interval, name=name)
    try:
        await asyncio.wait_for(poller.sync(), first_sync_seconds)
    except Exception as exc:
        poller.failed(exc)
    poller.start()
    return poller
