"""The pieces of one exchange through the gateway: which headers pass each way, the
client's body as it arrives, the refusals the gateway answers itself, and the response it
relays (split from ``gateway.proxy``, which keeps the checks and their order)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from urllib.parse import quote

import orjson
from starlette.types import Receive, Scope, Send

from gateway.ratelimit import Decision
from gateway.upstreams import BodyStream, UpstreamResponse
from shared.auth.tokens import ENDORSEMENT_HEADER
from shared.context import accept_id as accept_request_id
from shared.logs import get_logger
from shared.problems import PROBLEM_JSON, problem_body

API_PREFIX = "/api/v1/"
OPEN_PREFIX = "/open/v1/"
# Open311 GeoReport v2: served by the partner app too (its api_key is a partner app's).
OPEN311_PREFIX = "/open311/v2/"
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
ENDORSEMENT = ENDORSEMENT_HEADER.encode()
_NOT_FORWARDED = HOP_BY_HOP | {
    b"expect",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    ENDORSEMENT,
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
access_stdlib = logging.getLogger("gateway.access")


class ClientGone(Exception):
    """The client disconnected before its answer was complete: nobody to answer."""


def too_large(limit: int) -> Refused:
    return Refused(413, "payload_too_large", f"the body exceeds {limit} bytes")


class ClientBody:
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
            raise ClientGone
        piece: bytes = message.get("body", b"")
        self._seen += len(piece)
        if self._seen > self._limit:
            raise too_large(self._limit)
        return piece, bool(message.get("more_body", False))


async def abort_when_client_leaves(receive: Receive, rest: BodyStream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # the rest of an upload the service answered without reading
    rest.abort()


class Refused(Exception):
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


def rate_limited(decision: Decision) -> Refused:
    retry_after = str(decision.retry_after_seconds).encode()
    return Refused(429, "rate_limited", "too many requests; retry later",
                    [(b"retry-after", retry_after)])


# The request headers the gateway reads itself, by their place in ``read_head``'s answer;
# none of them travels upstream as the client sent it.
_PICKED = {
    b"x-request-id": 0,
    b"x-correlation-id": 1,
    b"content-length": 2,
    b"host": 3,
    b"x-forwarded-for": 4,
}


def read_head(
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


def accept_ids(
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


def add_forwarded(
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


def upstream_target(scope: Scope, path: str) -> str:
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


class Exchange:
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

    async def problem(self, refused: Refused) -> None:
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
