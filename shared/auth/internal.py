"""Service-to-service calls on ``/internal/...``: the gateway never routes these, and each call
must carry the platform's internal key (NetworkPolicies narrow who can even connect)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from shared.problems import Unauthorized

INTERNAL_KEY_HEADER = "X-Internal-Key"
CALLER_HEADER = "X-Caller-Service"


def internal_headers(key: str, caller: str) -> dict[str, str]:
    """Headers a service sends on an internal call."""
    return {INTERNAL_KEY_HEADER: key, CALLER_HEADER: caller}


async def require_internal_caller(request: Request) -> str:
    expected: str = request.app.state.settings.internal_api_key
    given = request.headers.get(INTERNAL_KEY_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("internal endpoint", code="internal_key_invalid")
    return request.headers.get(CALLER_HEADER, "unknown")


InternalCaller = Annotated[str, Depends(require_internal_caller)]
