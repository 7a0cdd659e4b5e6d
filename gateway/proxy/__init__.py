"""The hot path: a raw ASGI app that checks, limits and forwards each public request.

No FastAPI routing or middleware stack here: one pass over the request headers, a dict lookup
for the service, a cached token verification, a token bucket, and one call to the upstream.
Everything the gateway answers itself is problem+json carrying the request id.

Order of checks, cheapest refusal first: path (404/400) → declared size (413) → token (401)
→ rate limit (429) → body read with running count (413) → upstream (its answer, or 502/503/504).

Bodies: a request body is read whole, up to ``max_body_bytes``, except an upload (the
``upload_paths``), which streams to the service as it arrives, up to
``upload_max_body_bytes`` (past it: 413, and the service's half-read request is dropped,
so it writes nothing). An answer is relayed whole when it came whole with its head (the
usual JSON: Content-Length recomputed), else streamed as the service sends it, its
Content-Length (or chunked framing), 206, Content-Range and ETag passed through. A client
that goes away mid-answer stops the service's side at once; a service that hangs up, stalls
or fails mid-answer cuts the client's response off (the connection is closed, so a client
never takes a short body for a whole one), logged and counted in
``gateway_upstream_body_failures_total``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.types import Receive, Scope, Send

from gateway.errors import UpstreamBodyBroken, UpstreamError
from gateway.proxy.exchange import (
    API_PREFIX,
    ENDORSEMENT,
    JWKS_OWNER,
    OPEN311_PREFIX,
    OPEN_PREFIX,
    WELL_KNOWN_JWKS,
    ClientBody,
    ClientGone,
    Exchange,
    Refused,
    abort_when_client_leaves,
    accept_ids,
    access_log,
    access_stdlib,
    add_forwarded,
    rate_limited,
    read_head,
    too_large,
    upstream_target,
)
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.upstreams import BodyStream, Upstream, UpstreamResponse
from shared.auth.tokens import TokenEndorser, TokenVerifier
from shared.context import correlation_id_var, request_id_var
from shared.problems import Unauthorized
from shared.web.metrics import Metrics


class PublicPaths:
    """(method, path prefix) pairs that need no token; a prefix matches at segment boundaries.
    HEAD is public wherever GET is."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        by_method: dict[str, list[str]] = {}
        for method, prefix in pairs:
            by_method.setdefault(method.upper(), []).append(prefix.rstrip("/") or "/")
        self._by_method = {method: tuple(prefixes) for method, prefixes in by_method.items()}

    def __call__(self, method: str, path: str) -> bool:
        prefixes = self._by_method.get("GET" if method == "HEAD" else method)
        if not prefixes:
            return False
        for prefix in prefixes:
            if path.startswith(prefix) and (
                len(path) == len(prefix) or path[len(prefix)] == "/" or prefix == "/"
            ):
                return True
        return False


def _has_dot_segment(path: str) -> bool:
    """'.' or '..' as a path segment: a service behind us might normalise it and so end up
    somewhere the gateway never routed (``/api/v1/events/../../internal/...``)."""
    if "/." not in path:
        return False
    return any(segment in (".", "..") for segment in path.split("/"))


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The most body a request may carry: ``max_bytes``, read whole before it is sent on;
    on the ``upload_paths`` (exact method and path pairs) ``upload_max_bytes``, streamed."""

    max_bytes: int
    upload_max_bytes: int
    upload_paths: frozenset[tuple[str, str]]

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> BodyLimits:
        return cls(
            settings.max_body_bytes,
            settings.upload_max_body_bytes,
            frozenset((method, path) for method, path in settings.upload_paths),
        )


class Proxy:
    def __init__(
        self,
        *,
        upstreams: Mapping[str, Upstream],
        verifier: TokenVerifier,
        limiter: RateLimiter,
        anonymous_limiter: RateLimiter,
        is_public: PublicPaths,
        body_limits: BodyLimits,
        metrics: Metrics,
        endorser: TokenEndorser,
        partner_upstream: Upstream | None = None,
        max_in_flight: Mapping[str, int] | None = None,
        retry_after_seconds: int = 1,
    ) -> None:
        self._upstreams = dict(upstreams)
        self._in_flight_limits = dict(max_in_flight or {})
        self._in_flight: dict[str, int] = dict.fromkeys(self._in_flight_limits, 0)
        self._retry_after = str(retry_after_seconds).encode()
        self._endorser = endorser
        self._verifier = verifier
        self._limiter = limiter  # per principal subject
        self._anonymous_limiter = anonymous_limiter  # per client address
        self._is_public = is_public
        self._max_body = body_limits.max_bytes
        self._upload_max_body = body_limits.upload_max_bytes
        self._upload_paths = body_limits.upload_paths
        self._metrics = metrics
        self._cut_off = Counter(
            "gateway_upstream_body_failures",
            "Answers cut off mid-body because their service hung up, stalled or failed",
            ["upstream", "reason"],
            registry=metrics.registry,
        )
        self._partner = partner_upstream
        # Metric route labels, one per service, built once.
        self._route_labels = {name: f"{API_PREFIX}{name}/*" for name in self._upstreams}

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(("/api/", "/open/", OPEN311_PREFIX)) or path == WELL_KNOWN_JWKS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        forward, picked, authorization, authorizations, chunked = read_head(scope["headers"])
        request_id_in, correlation_id_in, content_length, host, forwarded_for = picked
        request_id, correlation_id, id_headers = accept_ids(request_id_in, correlation_id_in)
        request_id_token = request_id_var.set(request_id)
        correlation_id_token = correlation_id_var.set(correlation_id)
        exchange = Exchange(send, id_headers)
        try:
            upstream, public = self._route(method, path, exchange)
            self._admit(exchange)
            upload = (method, path) in self._upload_paths
            limit = self._upload_max_body if upload else self._max_body
            declared = self._declared_length(content_length, limit) if content_length else None
            if authorizations > 1:
                # One is checked here, a service reads the first: a token nobody checked
                # could ride behind one that was. Authorization is a singleton field.
                raise Refused(400, "bad_request", "more than one Authorization header")
            client = scope.get("client")
            client_ip = client[0] if client else "unknown"
            await self._admit_caller(public, authorization, client_ip, forward)
            body: bytes | ClientBody = b""  # RFC 9112 §6.3: no Content-Length, no chunks
            if declared is not None or chunked:
                if upload:
                    body = ClientBody(receive, declared, limit)
                else:
                    body = await self._read_body(receive)
            add_forwarded(forward, id_headers, scope, client_ip, forwarded_for, host)
            try:
                answer = await upstream.stream(method, upstream_target(scope, path), forward, body)
            except UpstreamError as exc:
                raise self._upstream_failed(exc, method, exchange.upstream) from None
            if answer.rest is None:  # the usual small answer, whole
                await exchange.relay(answer.status, answer.headers, answer.body, method == "HEAD")
            else:
                await self._stream(exchange, answer, answer.rest, method, receive)
        except Refused as refused:
            await exchange.problem(refused)
        except ClientGone:
            exchange.status = 499  # the client went away; nobody to answer
        finally:
            self._finish(exchange, method, started)
            request_id_var.reset(request_id_token)
            correlation_id_var.reset(correlation_id_token)

    # -- the steps of a request, in the order __call__ takes them ---------------------------

    def _route(self, method: str, path: str, exchange: Exchange) -> tuple[Upstream, bool]:
        """The upstream serving ``path`` and whether the path is public (needs no token);
        notes the upstream and the metric route label on ``exchange``."""
        if path.startswith(API_PREFIX):
            exchange.upstream = name = path[len(API_PREFIX) :].partition("/")[0]
            upstream = self._upstreams.get(name)
            if upstream is None:
                raise Refused(404, "unknown_service", f"no service is named {name[:64]!r}")
            exchange.route = self._route_labels[name]
            public = self._is_public(method, path)
        elif path.startswith((OPEN_PREFIX, OPEN311_PREFIX)):
            exchange.route = (OPEN_PREFIX if path.startswith(OPEN_PREFIX) else OPEN311_PREFIX) + "*"
            exchange.upstream = "partner"
            if self._partner is None:
                # The hook for the partner API: pass ``partner_upstream`` to
                # create_gateway_app. Partner calls are signed per app, not bearer
                # tokens, so that upstream authenticates them itself.
                raise Refused(404, "not_implemented", "the partner API is not available yet")
            upstream, public = self._partner, True
        elif path == WELL_KNOWN_JWKS and JWKS_OWNER in self._upstreams:
            exchange.upstream = JWKS_OWNER
            upstream = self._upstreams[JWKS_OWNER]
            exchange.route = WELL_KNOWN_JWKS
            public = self._is_public(method, path)
        else:
            raise Refused(404, "not_found", "no such public endpoint")
        if _has_dot_segment(path):
            raise Refused(400, "invalid_path", "dot segments are not allowed")
        return upstream, public

    def _admit(self, exchange: Exchange) -> None:
        """The service's share of the door: one more request in flight, unless it is full."""
        name = exchange.upstream
        limit = self._in_flight_limits.get(name)
        if limit is None:
            return
        if self._in_flight[name] >= limit:
            raise Refused(
                503,
                "overloaded",
                f"the {name} service is at capacity; try again shortly",
                [(b"retry-after", self._retry_after)],
            )
        self._in_flight[name] += 1
        exchange.holding = name

    def _declared_length(self, content_length: bytes, limit: int) -> int:
        try:
            declared = int(content_length)
        except ValueError:
            declared = -1
        if declared < 0:
            raise Refused(400, "bad_request", "invalid Content-Length")
        if declared > limit:
            raise too_large(limit)
        return declared

    async def _admit_caller(
        self,
        public: bool,
        authorization: bytes,
        client_ip: str,
        forward: list[tuple[bytes, bytes]],
    ) -> None:
        """The token check (unless the path is public) and the rate limit: per principal
        with a token, per address without; a verified token travels on endorsed."""
        if public:
            decision = self._anonymous_limiter.take(client_ip)
        else:
            token = self._bearer_token(authorization, client_ip)
            try:
                principal = await self._verifier.verify_async(token)
            except Unauthorized as exc:
                raise self._unauthenticated(client_ip, exc) from None
            decision = self._limiter.take(principal.subject)
            # Verified here, so the service need not check the signature again.
            forward.append((ENDORSEMENT, self._endorser.endorse(token).encode()))
        if not decision.allowed:
            raise rate_limited(decision)

    def _bearer_token(self, authorization: bytes, client_ip: str) -> str:
        if not authorization:
            raise self._unauthenticated(client_ip, Unauthorized(code="token_missing"))
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._unauthenticated(
                client_ip,
                Unauthorized("expected 'Authorization: Bearer <token>'", code="token_invalid"),
            )
        return token

    def _unauthenticated(self, client_ip: str, error: Unauthorized) -> Refused:
        # Failed authentication is charged to the caller's address, so a flood of bad tokens
        # (each costing a signature check) is throttled like any anonymous flood.
        decision = self._anonymous_limiter.take(client_ip)
        if not decision.allowed:
            return rate_limited(decision)
        headers = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        return Refused(401, error.code, error.detail, headers)

    def _upstream_failed(self, exc: UpstreamError, method: str, name: str) -> Refused:
        access_log.warning(
            "upstream_failed",
            upstream=name,
            code=exc.code,
            error=exc.detail,
            method=method,
            request_id=request_id_var.get(),
        )
        return Refused(exc.status, exc.code, f"the {name} service {exc.public_detail}")

    def _finish(self, exchange: Exchange, method: str, started: float) -> None:
        """Give back the in-flight slot; record the request in the metrics (and debug log)."""
        if exchange.holding:
            self._in_flight[exchange.holding] -= 1
        elapsed = time.perf_counter() - started
        self._metrics.observe(method, exchange.route, exchange.status, elapsed)
        if access_stdlib.isEnabledFor(logging.DEBUG):
            # Checked first: structlog would run every processor before stdlib drops it.
            access_log.debug(
                "proxied",
                method=method,
                upstream=exchange.upstream,
                status=exchange.status,
                ms=round(elapsed * 1000, 2),
                request_id=request_id_var.get(),
                correlation_id=correlation_id_var.get(),
            )

    async def _read_body(self, receive: Receive) -> bytes:
        """The whole body. Refuses (413) as soon as the running count passes the limit,
        without reading the rest; raises ClientGone if the client disconnected."""
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > self._max_body:
                    raise too_large(self._max_body)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _stream(
        self,
        exchange: Exchange,
        answer: UpstreamResponse,
        rest: BodyStream,
        method: str,
        receive: Receive,
    ) -> None:
        """An answer whose body was still arriving with its head, as the service sends it."""
        # Nothing else reads the client's side now: a disconnect stops the service's.
        watcher = asyncio.create_task(abort_when_client_leaves(receive, rest))
        try:
            await exchange.stream(answer, rest)
        except UpstreamBodyBroken as broken:
            if watcher.done():  # the client left first: the abort was ours
                raise ClientGone from None
            self._cut_off.labels(exchange.upstream, broken.reason).inc()
            access_log.warning(
                "upstream_body_failed",
                upstream=exchange.upstream,
                reason=broken.reason,
                error=broken.detail,
                method=method,
                status=exchange.status,
                request_id=request_id_var.get(),
            )
            raise  # the ASGI server closes the connection: the client sees it cut off
        except TimeoutError:
            # The client took nothing for the idle timeout: let go of both sides.
            access_log.info("client_stalled_mid_body", upstream=exchange.upstream,
                            request_id=request_id_var.get())
            raise
        finally:
            watcher.cancel()
            await rest.aclose()


