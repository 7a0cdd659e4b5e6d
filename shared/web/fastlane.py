"""The plumbing of a fast lane: one hot endpoint answered as plain ASGI, without FastAPI's
routing, dependency solving and response serialisation in between (measured on two cores at
1.2 to 1.7 ms of CPU a request, several times what the use case itself costs).

A lane is a middleware placed inside the request-context middleware (so request ids, the
access log and metrics are unchanged). The route its service declares stays the endpoint's
one declaration (its OpenAPI); the lane takes the path, body model and header rules from
there and validates with the same pydantic validators, and answers errors exactly as the
service's error handlers do (shared/web/problems.py): problem+json with a stable ``code``,
422 ``validation_error`` listing ``errors`` without echoing the input. Infrastructure only:
no domain rule lives here.

``FastLane`` matches the method and path template; ``handle`` (the service's part) returns
(status, body) or raises ``Invalid`` / an ``AppError``. See services/booking/fastlane.py and
services/routing/fastlane.py.
"""

from __future__ import annotations

import email.message
import functools
import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logs import get_logger
from shared.problems import (
    PROBLEM_JSON,
    AppError,
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    problem_body,
)
from shared.web.problems import database_unavailable, pool_exhausted

if TYPE_CHECKING:
    from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


class Invalid(Exception):
    """The request does not match the declared shape: answered 422 ``validation_error``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


class FastLane:
    """Answers ``method`` requests to the route ``template`` (``{name}`` parameters match one
    path segment each) through ``handle``; everything else goes on to ``app``. Subclasses set
    ``method``/``template`` and implement ``handle``; ``ready`` says whether the lane can
    answer now (before the service has started it cannot, and the framework answers)."""

    method: ClassVar[str] = "POST"
    template: ClassVar[str] = ""
    # What metrics and logs name the route by (the template, not the concrete path).
    route: ClassVar[SimpleNamespace] = SimpleNamespace(path="")
    _path: ClassVar[re.Pattern[str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.route = SimpleNamespace(path=cls.template)
        cls._path = route_pattern(cls.template)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def ready(self) -> bool:
        return True

    async def handle(self, params: tuple[str, ...], scope: Scope, receive: Receive
                     ) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            self._path.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == self.method
            else None
        )
        if match is None or not self.ready():
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        headers: dict[str, str] = {}
        try:
            status, body = await self.handle(match.groups(), scope, receive)
        except Invalid as invalid:
            status = 422
            body = problem_body(422, "validation_error",
                                "the request does not match the expected shape",
                                extra={"errors": invalid.errors})
        except AppError as error:
            status, headers = error.status, error.headers
            body = problem_body(error.status, error.code, error.detail, extra=error.extra)
        except Exception as exc:
            status, body, headers = await self._failed(exc)
        await respond(send, status, body, headers)

    def database_url(self) -> str | None:
        """The service's database, probed when a statement fails (None: not probed)."""
        return None

    async def _failed(self, exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
        """As the service's handlers answer it: 503 when every pooled connection was busy or
        the database failed, else 500."""
        if isinstance(exc, PoolTimeout):
            busy = pool_exhausted()
            return busy.status, problem_body(busy.status, busy.code, busy.detail), busy.headers
        unavailable = await database_unavailable(exc, self.database_url())
        if unavailable is not None:
            return (unavailable.status, problem_body(unavailable.status, unavailable.code,
                                                     unavailable.detail), unavailable.headers)
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return 500, problem_body(500, "internal_error", "an unexpected error occurred"), {}


class JsonBody(Generic[M]):
    """A route's JSON body model, read as FastAPI reads it (fastapi/routing.py): JSON only
    under a JSON content type, undecodable JSON refused before anything else is looked at
    (``decode``), then validated with the route's errors (``validate``). The usual request
    is parsed and validated in one pass by pydantic's JSON parser; anything else takes the
    framework's slower way, so its refusals are the framework's, word for word."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._adapter = TypeAdapter(model)

    def decode(self, raw: bytes, content_type: str | None) -> M | _Decoded:
        """The model, when the body is what a client normally sends; else the body decoded
        as the framework decodes it (``Invalid`` when it is not JSON at all, 400 when it
        is not text)."""
        if raw and _is_json(content_type):
            try:
                return self.model.model_validate_json(raw)
            except ValidationError:
                pass  # the framework's way below says why, in its words
        if not raw:
            return _Decoded(missing=True)
        if not _is_json(content_type):
            return _Decoded(value=raw)
        try:
            return _Decoded(value=json.loads(raw))
        except json.JSONDecodeError as exc:
            raise Invalid([{"loc": ["body", exc.pos], "msg": "JSON decode error",
                            "type": "json_invalid"}]) from None
        except ValueError:  # not UTF-8, 16 or 32 text
            raise BadRequest("There was an error parsing the body") from None

    def validate(self, decoded: M | _Decoded, errors: list[dict[str, Any]]) -> M | None:
        """The body as the model; its errors added to ``errors`` (then None)."""
        if isinstance(decoded, self.model):
            return decoded
        assert isinstance(decoded, _Decoded)
        if decoded.missing:
            errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            return None
        try:
            return self._adapter.validate_python(decoded.value, from_attributes=True)
        except ValidationError as exc:
            errors += problems(exc, ["body"])
            return None


class _Decoded:
    def __init__(self, *, value: Any = None, missing: bool = False) -> None:
        self.value, self.missing = value, missing


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: application/json or application/*+json, parameters aside."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def route_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a path template: each ``{name}`` one non-empty segment."""
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(template)) + "$")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def checked(rule: TypeAdapter[Any], value: Any, loc: list[str], errors: list[dict[str, Any]]
            ) -> Any:
    """``value`` as ``rule`` parses it; its errors added to ``errors`` (then None)."""
    try:
        return rule.validate_python(value)
    except ValidationError as exc:
        errors += problems(exc, loc)
        return None


def problems(exc: ValidationError, loc: list[str]) -> list[dict[str, Any]]:
    """Errors as the service's validation_error lists them (shared/web/problems.py): no input
    echoed back, as it may be personal data."""
    return [
        {"loc": [*loc, *err.get("loc", ())], "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (401 as shared.auth refuses it)."""
    if not header:
        raise Unauthorized("authentication required", code="token_missing")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'", code="token_invalid")
    return token.strip()


async def read_body(receive: Receive, *, limit: int, too_large: str) -> bytes:
    """The request body; 413 ``payload_too_large`` (saying ``too_large``) past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(send: Send, status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
    """JSON (problem+json from 400 on) with ``extra`` headers."""
    payload = orjson.dumps(body)
    content_type = "application/json" if status < 400 else PROBLEM_JSON
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class ServiceLane(FastLane):
    """A lane of a service app: it answers once the service's runtime has started (before,
    the framework does), and probes that service's database when a statement fails."""

    def __init__(self, app: ASGIApp, *, runtime: Callable[[], ServiceRuntime | None]) -> None:
        super().__init__(app)
        self._runtime = runtime

    def database_url(self) -> str | None:
        runtime = self._runtime()
        return runtime.database.url if runtime is not None else None

    def ready(self) -> bool:
        return self._runtime() is not None

    def started(self) -> ServiceRuntime:
        """The runtime, once ``ready`` said it is there."""
        runtime = self._runtime()
        assert runtime is not None  # ready() said so
        return runtime
