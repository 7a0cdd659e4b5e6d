"""The errors a service raises on purpose, and the problem+json body (RFC 9457) they become.

Dependency-free on purpose: domain modules raise these, and ``shared.web.problems`` renders
them for HTTP. Every ``code`` is listed in ``shared.problem_codes``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from shared.context import current_request_id

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Base of every error a service raises on purpose. Subclasses fix the HTTP status."""

    status: int = 400
    default_code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(AppError):
    status, default_code = 400, "bad_request"


class Unauthorized(AppError):
    status, default_code = 401, "unauthorized"

    def __init__(self, detail: str = "authentication required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status, default_code = 403, "forbidden"


class NotFound(AppError):
    status, default_code = 404, "not_found"


class Conflict(AppError):
    status, default_code = 409, "conflict"


class Gone(AppError):
    status, default_code = 410, "gone"


class PayloadTooLarge(AppError):
    status, default_code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, default_code = 415, "unsupported_media_type"


class RuleViolation(AppError):
    """A well-formed request that the domain's rules refuse (illegal transition and the like)."""

    status, default_code = 422, "rule_violation"


class TooManyRequests(AppError):
    status, default_code = 429, "rate_limited"


class ServiceUnavailable(AppError):
    status, default_code = 503, "service_unavailable"


def problem_body(
    status: int, code: str, detail: str, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"https://ehome.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return body
