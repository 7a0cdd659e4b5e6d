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
from urllib.parse import quote

import orjson
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send

from gateway.errors import UpstreamBodyBroken, UpstreamError
from gateway.ratelimit import Decision, RateLimiter
from gateway.settings import GatewaySettings
from gateway.upstreams import BodyStream, Upstream, UpstreamResponse
from shared.auth.tokens import ENDORSEMENT_HEADER, TokenEndorser, TokenVerifier
from shared.context import accept_id as accept_request_id
from shared.context import correlation_id_var, request_id_var
from shared.logs import get_logger
from shared.problems import PROBLEM_JSON, Unauthorized, problem_body
from shared.web.metrics import Metrics

API_PREFIX = "/api/v1/"
OPEN_PREFIX = "/open/v1/"
WELL_KNOWN_JWKS = "/.well-known/jwks.json"
JWKS_OWNER = "identity"

# RFC 9110 §7.6.1 hop-by-hop headers (plus the non-standard Proxy-Connection): they describe
# one connection, never the end-to-end message, so they stop here in both directions.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Not passed upstream as the client sent them: the gateway sets the X-Forwarded-* values from
# what the ASGI server established (uvicorn's --proxy-headers already applied any trusted
# proxy's), and it has read the whole body, so an Expect: 100-continue is answered already.
# A token endorsement is the gateway's own word (shared/auth/tokens.py); a client's is dropped.
_ENDORSEMENT = ENDORSEMENT_HEADER.encode()
_NOT_FORWARDED = HOP_BY_HOP | {
    b"expect",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    _ENDORSEMENT,
}
# Set by the gateway itself on the way out (the ASGI server adds its own date and server;
# content-length is recomputed from a body relayed whole, the service's kept for a stream).
_REPLACED_IN_RESPONSE = HOP_BY_HOP | {
    b"content-length",
    b"x-request-id",
    b"x-correlation-id",
    b"date",
    b"server",
}
_NO_BODY_STATUSES = frozenset({204, 304})

access_log = get_logger("gateway.access")
_access_stdlib = logging.getLogger("gateway.access")


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
        return path.startswith(("/api/", "/open/")) or path == WELL_KNOWN_JWKS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        forward, picked, authorization, authorizations, chunked = _read_head(scope["headers"])
        request_id_in, correlation_id_in, content_length, host, forwarded_for = picked
        request_id, correlation_id, id_headers = _accept_ids(request_id_in, correlation_id_in)
        request_id_token = request_id_var.set(request_id)
        correlation_id_token = correlation_id_var.set(correlation_id)
        exchange = _Exchange(send, id_headers)
        try:
            upstream, public = self._route(method, path, exchange)
            self._admit(exchange)
            upload = (method, path) in self._upload_paths
            limit = self._upload_max_body if upload else self._max_body
            declared = self._declared_length(content_length, limit) if content_length else None
            if authorizations > 1:
                # One is checked here, a service reads the first: a token nobody checked
                # could ride behind one that was. Authorization is a singleton field.
                raise _Refused(400, "bad_request", "more than one Authorization header")
            client = scope.get("client")
            client_ip = client[0] if client else "unknown"
            await self._admit_caller(public, authorization, client_ip, forward)
            body: bytes | _ClientBody = b""  # RFC 9112 §6.3: no Content-Length, no chunks
            if declared is not None or chunked:
                if upload:
                    body = _ClientBody(receive, declared, limit)
                else:
                    body = await self._read_body(receive)
            _add_forwarded(forward, id_headers, scope, client_ip, forwarded_for, host)
            try:
                answer = await upstream.stream(method, _target(scope, path), forward, body)
            except UpstreamError as exc:
                raise self._upstream_failed(exc, method, exchange.upstream) from None
            if answer.rest is None:  # the usual small answer, whole
                await exchange.relay(answer.status, answer.headers, answer.body, method == "HEAD")
            else:
                await self._stream(exchange, answer, answer.rest, method, receive)
        except _Refused as refused:
            await exchange.problem(refused)
        except _ClientGone:
            exchange.status = 499  # the client went away; nobody to answer
        finally:
            self._finish(exchange, method, started)
            request_id_var.reset(request_id_token)
            correlation_id_var.reset(correlation_id_token)

    # -- the steps of a request, in the order __call__ takes them ---------------------------

    def _route(self, method: str, path: str, exchange: _Exchange) -> tuple[Upstream, bool]:
        """The upstream serving ``path`` and whether the path is public (needs no token);
        notes the upstream and the metric route label on ``exchange``."""
        if path.startswith(API_PREFIX):
            exchange.upstream = name = path[len(API_PREFIX) :].partition("/")[0]
            upstream = self._upstreams.get(name)
            if upstream is None:
                raise _Refused(404, "unknown_service", f"no service is named {name[:64]!r}")
            exchange.route = self._route_labels[name]
            public = self._is_public(method, path)
        elif path.startswith(OPEN_PREFIX):
            exchange.route = OPEN_PREFIX + "*"
            exchange.upstream = "partner"
            if self._partner is None:
                # The hook for the partner API: pass ``partner_upstream`` to
                # create_gateway_app. Partner calls are signed per app, not bearer
                # tokens, so that upstream authenticates them itself.
                raise _Refused(404, "not_implemented", "the partner API is not available yet")
            upstream, public = self._partner, True
        elif path == WELL_KNOWN_JWKS and JWKS_OWNER in self._upstreams:
            exchange.upstream = JWKS_OWNER
            upstream = self._upstreams[JWKS_OWNER]
            exchange.route = WELL_KNOWN_JWKS
            public = self._is_public(method, path)
        else:
            raise _Refused(404, "not_found", "no such public endpoint")
        if _has_dot_segment(path):
            raise _Refused(400, "invalid_path", "dot segments are not allowed")
        return upstream, public

    def _admit(self, exchange: _Exchange) -> None:
        """The service's share of the door: one more request in flight, unless it is full."""
        name = exchange.upstream
        limit = self._in_flight_limits.get(name)
        if limit is None:
            return
        if self._in_flight[name] >= limit:
            raise _Refused(
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
            raise _Refused(400, "bad_request", "invalid Content-Length")
        if declared > limit:
            raise _too_large(limit)
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
            forward.append((_ENDORSEMENT, self._endorser.endorse(token).encode()))
        if not decision.allowed:
            raise _rate_limited(decision)

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

    def _unauthenticated(self, client_ip: str, error: Unauthorized) -> _Refused:
        # Failed authentication is charged to the caller's address, so a flood of bad tokens
        # (each costing a signature check) is throttled like any anonymous flood.
        decision = self._anonymous_limiter.take(client_ip)
        if not decision.allowed:
            return _rate_limited(decision)
        headers = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        return _Refused(401, error.code, error.detail, headers)

    def _upstream_failed(self, exc: UpstreamError, method: str, name: str) -> _Refused:
        access_log.warning(
            "upstream_failed",
            upstream=name,
            code=exc.code,
            error=exc.detail,
            method=method,
            request_id=request_id_var.get(),
        )
        return _Refused(exc.status, exc.code, f"the {name} service {exc.public_detail}")

    def _finish(self, exchange: _Exchange, method: str, started: float) -> None:
        """Give back the in-flight slot; record the request in the metrics (and debug log)."""
        if exchange.holding:
            self._in_flight[exchange.holding] -= 1
        elapsed = time.perf_counter() - started
        self._metrics.observe(method, exchange.route, exchange.status, elapsed)
        if _access_stdlib.isEnabledFor(logging.DEBUG):
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
        without reading the rest; raises _ClientGone if the client disconnected."""
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > self._max_body:
                    raise _too_large(self._max_body)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _stream(
        self,
        exchange: _Exchange,
        answer: UpstreamResponse,
        rest: BodyStream,
        method: str,
        receive: Receive,
    ) -> None:
        """An answer whose body was still arriving with its head, as the service sends it."""
        # Nothing else reads the client's side now: a disconnect stops the service's.
        watcher = asyncio.create_task(_abort_when_client_leaves(receive, rest))
        try:
            await exchange.stream(answer, rest)
        except UpstreamBodyBroken as broken:
            if watcher.done():  # the client left first: the abort was ours
                raise _ClientGone from None
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


class _ClientGone(Exception):
    """The client disconnected before its answer was complete: nobody to answer."""


def _too_large(limit: int) -> _Refused:
    return _Refused(413, "payload_too_large", f"the body exceeds {limit} bytes")


class _ClientBody:
    """An upload as the client sends it, passed on piece by piece (``StreamedBody``) and
    counted against its limit on the way: past it, 413."""

    __slots__ = ("_limit", "_receive", "_seen", "length")

    def __init__(self, receive: Receive, length: int | None, limit: int) -> None:
        self._receive = receive
        self.length = length
        self._limit = limit
        self._seen = 0

    async def read(self) -> tuple[bytes, bool]:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        piece: bytes = message.get("body", b"")
        self._seen += len(piece)
        if self._seen > self._limit:
            raise _too_large(self._limit)
        return piece, bool(message.get("more_body", False))


async def _abort_when_client_leaves(receive: Receive, rest: BodyStream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # the rest of an upload the service answered without reading
    rest.abort()


class _Refused(Exception):
    """A request the gateway answers itself with a problem: raised by the steps of
    ``Proxy.__call__``, answered in one place."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(status, code, detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


def _rate_limited(decision: Decision) -> _Refused:
    retry_after = str(decision.retry_after_seconds).encode()
    return _Refused(429, "rate_limited", "too many requests; retry later",
                    [(b"retry-after", retry_after)])


# The request headers the gateway reads itself, by their place in ``_read_head``'s answer;
# none of them travels upstream as the client sent it.
_PICKED = {
    b"x-request-id": 0,
    b"x-correlation-id": 1,
    b"content-length": 2,
    b"host": 3,
    b"x-forwarded-for": 4,
}


def _read_head(
    raw_headers: Iterable[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], list[bytes], bytes, int, bool]:
    """One pass over the request headers: pick out what the gateway reads (``_PICKED``, the
    Authorization and how many of it, whether the body is chunked), drop what must not
    travel upstream, keep the rest in order."""
    picked = [b"", b"", b"", b"", b""]
    pick = _PICKED.get
    authorization = connection = b""
    authorizations = 0
    chunked = False
    forward: list[tuple[bytes, bytes]] = []
    for name, value in raw_headers:
        slot = pick(name)
        if slot is not None:
            picked[slot] = value
        elif name == b"authorization":
            authorizations += 1
            authorization = value
            forward.append((name, value))
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"connection":
            connection = value
        elif name not in _NOT_FORWARDED:
            forward.append((name, value))
    if connection:
        forward = _drop_connection_listed(forward, connection)
    return forward, picked, authorization, authorizations, chunked


def _accept_ids(
    request_id_in: bytes, correlation_id_in: bytes
) -> tuple[str, str, list[tuple[bytes, bytes]]]:
    """The request's id and correlation id (the client's if acceptable, else fresh; the
    correlation id defaults to the request id), and the headers that carry them."""
    request_id = accept_request_id(request_id_in.decode("latin-1") or None)
    correlation_id = (
        accept_request_id(correlation_id_in.decode("latin-1")) if correlation_id_in else request_id
    )
    return request_id, correlation_id, [
        (b"x-request-id", request_id.encode()),
        (b"x-correlation-id", correlation_id.encode()),
    ]


def _add_forwarded(
    forward: list[tuple[bytes, bytes]],
    id_headers: list[tuple[bytes, bytes]],
    scope: Scope,
    client_ip: str,
    forwarded_for: bytes,
    host: bytes,
) -> None:
    """The ids and the X-Forwarded-* headers, set by the gateway from what it established."""
    forward.extend(id_headers)
    peer = client_ip.encode()
    forward.append((b"x-forwarded-for", forwarded_for + b", " + peer if forwarded_for else peer))
    forward.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    if host:
        forward.append((b"x-forwarded-host", host))


def _target(scope: Scope, path: str) -> str:
    """The path and query as the client sent them (raw, so nothing is re-encoded)."""
    raw_path = scope.get("raw_path") or quote(path).encode()
    query = scope.get("query_string") or b""
    return (raw_path + b"?" + query if query else raw_path).decode("latin-1")


def _drop_connection_listed(
    headers: list[tuple[bytes, bytes]], connection: bytes
) -> list[tuple[bytes, bytes]]:
    """Headers named in ``Connection`` are hop-by-hop too (RFC 9110 §7.6.1)."""
    listed = {token.strip().lower() for token in connection.split(b",")}
    listed.discard(b"")
    if not listed - {b"close", b"keep-alive"}:
        return headers
    return [(name, value) for name, value in headers if name not in listed]


class _Exchange:
    """One request's answer and what the metrics and access log say of it: sends the one
    response, always carrying the request and correlation ids."""

    __slots__ = ("_id_headers", "_send", "holding", "route", "status", "upstream")

    def __init__(self, send: Send, id_headers: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._id_headers = id_headers
        self.status = 500  # what the metrics record if nothing is ever sent
        self.route = "unmatched"  # the metric label
        self.upstream = "-"
        self.holding = ""  # the upstream whose in-flight count this request holds

    async def problem(self, refused: _Refused) -> None:
        status = refused.status
        body = orjson.dumps(problem_body(status, refused.code, refused.detail))
        response_headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            *self._id_headers,
            *(refused.headers or ()),
        ]
        await self._start_and_send(status, response_headers, body)

    async def relay(
        self,
        status: int,
        upstream_headers: list[tuple[bytes, bytes]],
        body: bytes,
        head_request: bool,
    ) -> None:
        # A HEAD answer's Content-Length describes the GET's body: it is kept.
        headers = self._headers(upstream_headers, keep_length=head_request)
        if not head_request and status not in _NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(body)).encode()))
        await self._start_and_send(status, headers, body)

    async def stream(self, answer: UpstreamResponse, rest: BodyStream) -> None:
        """The answer as the service sends it. The service's Content-Length goes on (none:
        the server sends it chunked); the client gets ``rest.idle_timeout`` to take each
        piece, or TimeoutError."""
        self.status = answer.status
        headers = self._headers(answer.headers, keep_length=True)
        await self._send({"type": "http.response.start", "status": answer.status,
                          "headers": headers})
        piece = answer.body
        while True:
            if piece:
                async with asyncio.timeout(rest.idle_timeout):
                    await self._send({"type": "http.response.body", "body": piece,
                                      "more_body": True})
            piece = await rest.read()
            if not piece:
                break
        await self._send({"type": "http.response.body", "body": b""})

    def _headers(
        self, upstream_headers: list[tuple[bytes, bytes]], *, keep_length: bool
    ) -> list[tuple[bytes, bytes]]:
        """The service's response headers less the hop-by-hop ones and those the gateway
        sets, plus the request and correlation ids."""
        headers: list[tuple[bytes, bytes]] = []
        connection = b""
        for raw_name, value in upstream_headers:
            name = raw_name.lower()
            if name == b"connection":
                connection = value
            elif name not in _REPLACED_IN_RESPONSE or (keep_length and name == b"content-length"):
                headers.append((name, value))
        if connection:
            headers = _drop_connection_listed(headers, connection)
        headers.extend(self._id_headers)
        return headers

    async def _start_and_send(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        self.status = status
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
