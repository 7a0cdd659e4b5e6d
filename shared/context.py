"""Per-request and per-message ids, carried in contextvars across awaits."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def accept_id(candidate: str | None) -> str:
    """Keep a caller's id if it is safe to log and forward; otherwise mint one."""
    if candidate and _SAFE_ID.match(candidate):
        return candidate
    return new_id()


def current_request_id() -> str | None:
    return request_id_var.get()


def current_correlation_id() -> str | None:
    return correlation_id_var.get() or request_id_var.get()
