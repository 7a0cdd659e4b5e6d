"""The errors in the OpenAPI documents: every refusal is ``application/problem+json``.

FastAPI declares only the success answer and a 422 typed ``application/json`` (its own
``HTTPValidationError`` shape, which we never send). ``declare_problem_responses`` rewrites a
document so that each operation lists the problem statuses it can really give, each as
``application/problem+json`` with the shared ``Problem`` schema. Which statuses an operation
can give is decided by a rule passed in: the services' own rule is ``service_problem_statuses``
(from the route's inputs and dependencies); the gateway adds its own refusals on top
(gateway/openapi.py), so the public document is built by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from shared.auth.deps import get_optional_principal, get_principal
from shared.problems import PROBLEM_JSON

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"
# FastAPI's 422 shapes; unused once every 422 is a problem.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
OPERATION_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": (
        "An RFC 9457 problem. `code` is stable and meant for programs; `detail` is for "
        "people. Some problems carry more members (`errors` for a 422, `checks`, ...)."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "The request is malformed",
    401: "No valid credentials (missing, invalid, expired or revoked)",
    403: "The caller may not do this (role, region scope or ownership)",
    404: "No such resource (or not one the caller may see)",
    405: "The method is not allowed here",
    409: "Conflicts with the current state (duplicate, concurrent change, reused key)",
    410: "The resource existed but is gone",
    413: "The body is too large",
    415: "The body's media type is not accepted",
    422: "The input does not match the expected shape or breaks a rule",
    429: "Too many requests; see Retry-After",
    502: "A service behind the gateway gave an invalid answer",
    503: "Overloaded or a dependency is unavailable; see Retry-After",
    504: "A service behind the gateway did not answer in time",
}

StatusRule = Callable[[str, str, dict[str, Any]], Iterable[int]]


def problem_response(status: int) -> dict[str, Any]:
    try:
        fallback = HTTPStatus(status).phrase
    except ValueError:
        fallback = "Error"
    return {
        "description": _DESCRIPTIONS.get(status, fallback),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def declare_problem_responses(document: dict[str, Any], statuses: StatusRule) -> dict[str, Any]:
    """Give every operation of ``document`` (changed in place, and returned) the problem
    responses ``statuses(method, path, operation)`` names, and make every error response it
    already declares (FastAPI's 422 included) a problem+json one."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method not in OPERATION_METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status in statuses(method, path, operation):
                responses.setdefault(str(status), problem_response(status))
            for code, response in list(responses.items()):
                if code[:1] in ("4", "5") and isinstance(response, dict):
                    responses[code] = _as_problem(int(code), response)
    if not _mentions(document.get("paths"), _FASTAPI_VALIDATION_SCHEMAS):
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
    return document


def _as_problem(status: int, response: dict[str, Any]) -> dict[str, Any]:
    """A declared error answer, typed as what the platform really sends."""
    if "$ref" in response:
        return response
    declared = problem_response(status)
    description = response.get("description")
    if description and description != "Validation Error":
        declared["description"] = description
    return declared


def _mentions(node: Any, names: Sequence[str]) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in names:
            return True
        return any(_mentions(value, names) for value in node.values())
    if isinstance(node, list):
        return any(_mentions(value, names) for value in node)
    return False


def has_input(operation: dict[str, Any]) -> bool:
    return bool(operation.get("parameters")) or "requestBody" in operation


def structural_statuses(method: str, operation: dict[str, Any], *, authenticated: bool) -> set[int]:
    """What an operation's shape implies, wherever it is served. ``authenticated``: the
    caller's credentials are checked (a bearer token, a partner signature)."""
    statuses: set[int] = set()
    has_body = "requestBody" in operation
    if has_input(operation):
        statuses.add(422)
    if has_body:
        statuses.update((413, 415))
    # A resource named in the path or the body (a case id in a rating), or the caller's own
    # (``/me/verification`` before one was asked for), may not exist.
    if has_body or authenticated or any(
        p.get("in") == "path" for p in operation.get("parameters") or ()
    ):
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses.add(409)
    if authenticated:
        statuses.update((401, 403))
    elif method in WRITE_METHODS:
        statuses.add(401)  # a public write exchanges credentials (login, refresh): wrong ones
    return statuses


def _authenticated(dependant: Dependant) -> bool:
    """Whether the route reads the caller's token (directly or through ``require_roles``)."""
    if dependant.call in (get_principal, get_optional_principal):
        return True
    return any(_authenticated(sub) for sub in dependant.dependencies)


def service_problem_statuses(routes: Sequence[BaseRoute]) -> StatusRule:
    """The rule for a service's own document: its shape (401/403 where the route reads the
    caller's token), plus 400 and 503 (input the handler refuses; pool exhausted)."""
    authenticated = {
        (method.lower(), context.path_format)
        for context in iter_route_contexts(routes)  # included routers are nested
        if isinstance(context.original_route, APIRoute)
        and _authenticated(context.original_route.dependant)
        for method in context.methods or ()
    }

    def statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
        checked = (method, path) in authenticated
        return structural_statuses(method, operation, authenticated=checked) | {400, 503}

    return statuses
