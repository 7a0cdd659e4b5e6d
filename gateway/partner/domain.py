"""Pure rules of the partner integration: scopes, webhook types, retries, callback URLs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from shared.addresses import is_public_address
from shared.problems import RuleViolation
from shared.regions import covers


class Scope(StrEnum):
    EVENTS_SUBMIT = "events:submit"
    EVENTS_READ = "events:read"
    WEBHOOKS_MANAGE = "webhooks:manage"


# What a partner subscribes to, and which platform event each comes from.
WEBHOOK_TYPES: dict[str, str] = {
    "event.status_changed": "events.event_status_changed",
    "event.closed": "events.event_closed",
}


def region_allowed(allowed_regions: Iterable[str], region_code: str) -> bool:
    """An app may act in the regions it was granted and everything below them. An app
    granted no region may act nowhere (deny by default)."""
    return any(covers(scope, region_code) for scope in allowed_regions)


@dataclass(frozen=True)
class NextAttempt:
    dead: bool
    at: datetime | None


def after_failure(schedule: Sequence[float], attempts_made: int, now: datetime) -> NextAttempt:
    """After ``attempts_made`` failed attempts: wait the schedule's next step, or give up
    (dead letter) once every step of the schedule has been used."""
    if attempts_made > len(schedule):
        return NextAttempt(dead=True, at=None)
    return NextAttempt(dead=False, at=now + timedelta(seconds=schedule[attempts_made - 1]))


def check_callback_url(url: str, allowed_hosts: Iterable[str]) -> str:
    """The URL's host, when the URL is an http(s) URL to a host on the app's allow-list.
    (Where the host resolves is checked separately: see ``refuse_private_addresses``.)"""
    # Controls and spaces: urlsplit drops some silently, httpx refuses them when sending
    # (and PostgreSQL refuses NUL when storing); a URL is taken only in its sendable form.
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise RuleViolation("callback URLs carry no spaces or control characters",
                            code="callback_url_invalid")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no port
    except ValueError:
        raise RuleViolation("the callback URL is malformed", code="callback_url_invalid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation("callbacks are http or https URLs", code="callback_url_invalid")
    if parts.username or parts.password:
        raise RuleViolation("callback URLs carry no credentials", code="callback_url_invalid")
    host = parts.hostname.lower().rstrip(".")
    if host not in {h.lower().rstrip(".") for h in allowed_hosts}:
        raise RuleViolation("this host is not on the app's callback allow-list",
                            code="callback_host_not_allowed")
    return host


def refuse_private_addresses(host: str, addresses: Iterable[str]) -> None:
    """SSRF guard at subscription: a callback must not reach the platform's own network (the
    sender checks again on every connection it opens: ``shared.http.egress``)."""
    if not all(is_public_address(address) for address in addresses):
        raise RuleViolation(f"{host} resolves to a non-public address",
                            code="callback_address_not_public")
