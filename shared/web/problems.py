"""problem+json rendering for FastAPI: every error a request can end in, one shape."""

from __future__ import annotations

from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.faults import Fault, database_fault
from shared.logs import get_logger
from shared.problems import PROBLEM_JSON, AppError, ServiceUnavailable, problem_body

log = get_logger(__name__)


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, extra=extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is left out on purpose: it may be an ID number or a phone.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


# Where a failure of the database can surface in a request (SQLAlchemy's wrappers, asyncpg's
# own errors, a refused or timed-out connect). Which of them really are the database's is
# shared.db.faults's call; the rest go on to the 500 handler as before.
DATABASE_ERROR_TYPES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
)
# How long a request's error handler waits for the database to say whether it is there.
_DATABASE_PROBE_SECONDS = 1.0
_RETRY_AFTER = {Fault.BUSY: "1", Fault.UNREACHABLE: "5"}


async def database_unavailable(exc: Exception, url: str | None) -> AppError | None:
    """Our own infrastructure failed the request (the database unreachable, connection lost,
    too many connections, a serialization failure or deadlock that survived): a 503 the client
    may retry, logged without the statement or its parameters. None for anything else (the
    500 handler's). Also what a fast lane (shared/web/fastlane.py) answers."""
    if not isinstance(exc, DATABASE_ERROR_TYPES):
        return None
    fault = await database_fault(exc, url, within=_DATABASE_PROBE_SECONDS)
    if fault is None:
        return None
    log.warning("database_unavailable", fault=fault.value, error_type=type(exc).__name__)
    return ServiceUnavailable(
        "the service cannot reach its database just now; retry shortly",
        code="database_unavailable",
        headers={"Retry-After": _RETRY_AFTER.get(fault, "1")},
    )


def pool_exhausted() -> AppError:
    """Every database connection is busy: the request is shed quickly rather than queued.
    Also what a fast lane answers."""
    log.warning("database_pool_exhausted")
    return ServiceUnavailable("the service is at capacity; retry shortly", code="overloaded",
                              headers={"Retry-After": "1"})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    runtime = getattr(request.app.state, "runtime", None)
    url = getattr(getattr(runtime, "database", None), "url", None)
    error = await database_unavailable(exc, url)
    if error is None:
        raise exc
    return problem_response(error.status, error.code, error.detail, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.detail, extra=exc.extra, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422,
            "validation_error",
            "the request does not match the expected shape",
            extra={"errors": _validation_errors(exc)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return problem_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(_: Request, exc: PoolTimeout) -> JSONResponse:
        error = pool_exhausted()
        return problem_response(error.status, error.code, error.detail, headers=error.headers)

    for error_type in DATABASE_ERROR_TYPES:
        app.add_exception_handler(error_type, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return problem_response(500, "internal_error", "an unexpected error occurred")
