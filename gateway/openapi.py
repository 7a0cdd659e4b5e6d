"""One OpenAPI document for the whole public API, merged from every service's own.

Each service publishes ``/openapi.json`` (FastAPI builds it). The gateway keeps only the
public paths (``/api/v1/...`` owned by that service, and ``/open/v1/...``), merges the
components, and marks which operations need a bearer token. When two services define a
component under the same name with different content, the later one is renamed
(``Page`` → ``BookingPage``) and every ``$ref`` in that service's part is rewritten, so
neither service's shapes are silently replaced by the other's. Every operation then lists
the problem+json answers it can give through the gateway (shared/web/openapi.py): its own
and the gateway's (400, 401/403 where credentials are checked, 429, 502-504).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gateway.errors import UpstreamError
from gateway.upstreams import Upstream
from shared.logs import get_logger
from shared.web.openapi import StatusRule, declare_problem_responses, structural_statuses

log = get_logger(__name__)

API_PREFIX = "/api/v1/"
OPEN_PREFIX = "/open/v1/"
BEARER_SCHEME = "bearerAuth"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

IsPublic = Callable[[str, str], bool]


def _owned_public_path(service: str, path: str) -> bool:
    """Only what the gateway will actually route to this service goes into the document."""
    if path.startswith(OPEN_PREFIX):
        return True
    own = f"{API_PREFIX}{service}"
    return path == own or path.startswith(own + "/")


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """A deep copy of ``node`` with every ``$ref`` found in ``renames`` replaced."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = renames.get(value, value)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _ref(section: str, name: str) -> str:
    return f"#/components/{section}/{name}"


def _plan_component_renames(
    service: str,
    components: Mapping[str, Mapping[str, Any]],
    merged: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """Decide which of ``service``'s components must be renamed to avoid a clash.

    Equality is judged after rewriting refs, and renaming one component can make another
    that refers to it differ too, so this repeats until no new rename appears (it ends:
    renames only ever grow, and there are finitely many components).
    """
    renames: dict[str, str] = {}
    prefix = service[:1].upper() + service[1:]
    while True:
        added = False
        for section, entries in components.items():
            taken = merged.get(section, {})
            for name, definition in entries.items():
                original = _ref(section, name)
                if original in renames or name not in taken:
                    continue
                if taken[name] == _rewrite_refs(definition, renames):
                    continue  # the very same shape: share it
                candidate, counter = f"{prefix}{name}", 2
                claimed = set(taken) | set(entries) | set(renames.values())
                while candidate in claimed or _ref(section, candidate) in claimed:
                    candidate, counter = f"{prefix}{name}{counter}", counter + 1
                renames[original] = _ref(section, candidate)
                added = True
        if not added:
            return renames


def merge_documents(
    documents: Mapping[str, Mapping[str, Any]],
    *,
    is_public: IsPublic,
    title: str = "Ping'an e-Home public API",
    version: str = "1.0.0",
    missing: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Merge per-service documents (in the mapping's order) into the public document."""
    merged = _empty_document(title, version, missing)
    seen_tags: set[str] = set()
    seen_operation_ids: set[str] = set()
    for service, document in documents.items():
        renames = _merge_components(service, document, merged["components"])
        _merge_paths(service, document, merged["paths"], renames, is_public, seen_operation_ids)
        _merge_tags(document, merged["tags"], seen_tags)
    return declare_problem_responses(merged, _gateway_problem_statuses(is_public))


def _empty_document(title: str, version: str, missing: tuple[str, ...]) -> dict[str, Any]:
    """The public document before any service's part: info, bearer security by default."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Every public endpoint of Ping'an e-Home, served through the gateway. "
                "Errors are application/problem+json with a stable `code`."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {
            "securitySchemes": {
                BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
        "security": [{BEARER_SCHEME: []}],
        "tags": [],
    }
    if missing:
        merged["info"]["x-ehome-missing-services"] = list(missing)
    return merged


def _merge_components(
    service: str, document: Mapping[str, Any], components: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Add ``service``'s components, renamed where they clash; return the renames made."""
    service_components = {
        section: entries
        for section, entries in (document.get("components") or {}).items()
        if isinstance(entries, dict)
    }
    renames = _plan_component_renames(service, service_components, components)
    for section, entries in service_components.items():
        target = components.setdefault(section, {})
        for name, definition in entries.items():
            final = renames.get(_ref(section, name), _ref(section, name)).rsplit("/", 1)[1]
            target.setdefault(final, _rewrite_refs(definition, renames))
    return renames


def _merge_paths(
    service: str,
    document: Mapping[str, Any],
    paths: dict[str, Any],
    renames: Mapping[str, str],
    is_public: IsPublic,
    seen_operation_ids: set[str],
) -> None:
    """Add the public paths ``service`` owns: refs renamed, operation ids made unique, and
    public operations marked as needing no token."""
    for path, item in (document.get("paths") or {}).items():
        if not _owned_public_path(service, path) or not isinstance(item, dict):
            continue
        rewritten = _rewrite_refs(item, renames)
        for method, operation in rewritten.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            operation_id = operation.get("operationId")
            if isinstance(operation_id, str):
                if operation_id in seen_operation_ids:
                    operation_id = operation["operationId"] = f"{service}_{operation_id}"
                seen_operation_ids.add(operation_id)
            if is_public(method.upper(), path):
                operation["security"] = []  # overrides the document-wide bearer default
        paths.setdefault(path, {}).update(rewritten)


def _merge_tags(document: Mapping[str, Any], tags: list[Any], seen_tags: set[str]) -> None:
    """Add the tags no earlier service declared."""
    for tag in document.get("tags") or ():
        if isinstance(tag, dict) and tag.get("name") not in seen_tags:
            seen_tags.add(tag["name"])
            tags.append(copy.deepcopy(tag))


def _gateway_problem_statuses(is_public: IsPublic) -> StatusRule:
    """What an operation can answer through the gateway: what its shape implies, the
    gateway's own refusals (400 malformed, 429 rate limit, 502/503/504 the hop), and 401/403
    wherever credentials are checked (bearer tokens, or the partner API's signatures)."""

    def statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
        checked = path.startswith(OPEN_PREFIX) or not is_public(method.upper(), path)
        found = structural_statuses(method, operation, authenticated=checked)
        return found | {400, 429, 502, 503, 504}

    return statuses


class OpenApiAggregator:
    """Builds the merged document on demand and caches it for ``cache_seconds``.

    A document missing a service (it was down or too slow) is served but not cached, so the
    next request tries again; concurrent requests share one rebuild.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        *,
        is_public: IsPublic,
        cache_seconds: float = 300.0,
        fetch_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._upstreams = upstreams
        self._is_public = is_public
        self._cache_seconds = cache_seconds
        self._fetch_timeout = fetch_timeout
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: bytes | None = None
        self._built_at = 0.0

    def invalidate(self) -> None:
        self._cached = None

    def _fresh(self) -> bytes | None:
        if self._cached is not None and self._clock() - self._built_at < self._cache_seconds:
            return self._cached
        return None

    async def document_bytes(self) -> bytes:
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()
            if cached is not None:
                return cached
            names = list(self._upstreams)
            fetched = await asyncio.gather(*(self._fetch(name) for name in names))
            documents = {name: doc for name, doc in zip(names, fetched, strict=True) if doc}
            missing = tuple(name for name, doc in zip(names, fetched, strict=True) if not doc)
            merged = merge_documents(documents, is_public=self._is_public, missing=missing)
            body = orjson.dumps(merged)
            if not missing:
                self._cached, self._built_at = body, self._clock()
            return body

    async def _fetch(self, name: str) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                return await self._upstreams[name].openapi()
        except (UpstreamError, TimeoutError) as exc:
            log.warning("openapi_fetch_failed", upstream=name, error=str(exc) or type(exc).__name__)
            return None
