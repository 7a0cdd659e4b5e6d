"""What every way of reaching a service shares: the Upstream protocol, an answer whose body
may still be arriving, and the header and document helpers both kinds use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import orjson

from gateway.errors import (
    UpstreamBadResponse,
    UpstreamBodyBroken,
)
from gateway.wire import StreamedBody
from shared.logs import get_logger

log = get_logger(__name__)

Headers = list[tuple[bytes, bytes]]
DEFAULT_IDLE_TIMEOUT = 30.0


class BodyStream(Protocol):
    """The rest of an answer's body, as the service sends it."""

    # The longest wait for the service's next bytes; the proxy gives the client as long to
    # take each piece.
    idle_timeout: float

    async def read(self) -> bytes:
        """The next bytes; b"" at the end. Raises ``UpstreamBodyBroken``."""
        ...

    def abort(self) -> None:
        """The client went away: stop the service's side now (closed, or cancelled)."""
        ...

    async def aclose(self) -> None:
        """Release it; an unfinished body is aborted."""
        ...


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers  # as the service sent them, hop-by-hop headers included
    body: bytes  # the whole body, unless ``rest`` streams it
    rest: BodyStream | None = None


@runtime_checkable
class Upstream(Protocol):
    name: str

    async def stream(
        self, method: str, path_with_query: str, headers: Headers, body: bytes | StreamedBody
    ) -> UpstreamResponse: ...

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def openapi(self) -> dict[str, Any]: ...


async def read_whole(response: UpstreamResponse) -> UpstreamResponse:
    """``response`` with its body read whole (a body broken off is a bad response)."""
    rest = response.rest
    if rest is None:
        return response
    chunks = [response.body]
    try:
        while chunk := await rest.read():
            chunks.append(chunk)
    except UpstreamBodyBroken as exc:
        raise UpstreamBadResponse(exc.upstream, exc.detail) from exc
    finally:
        await rest.aclose()
    return UpstreamResponse(response.status, response.headers, b"".join(chunks))


def public_locations(headers: Headers, internal_host: str) -> Headers:
    """``headers`` with every Location that names the service's own (internal) host made
    relative: ``http://events/api/v1/events`` becomes ``/api/v1/events``, which the client
    resolves against the public address it called (RFC 9110 §10.2.2). A service knows only
    the address it was reached at, so an absolute URL it builds would name that."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"location" and b"//" in value:
            url = urlsplit(value.decode("latin-1"))
            if url.hostname and url.hostname.lower() == internal_host.lower():
                # One leading slash: "//x" would be read as a URL naming the host "x".
                path = "/" + url.path.lstrip("/")
                relative = urlunsplit(("", "", path, url.query, url.fragment))
                headers = list(headers)
                headers[index] = (name, relative.encode("latin-1"))
    return headers


def forwarded_client(headers: Headers) -> str:
    """The caller's address as the gateway recorded it (the last X-Forwarded-For entry), so
    an embedded service sees what it would see behind uvicorn's --proxy-headers."""
    for name, value in headers:
        if name == b"x-forwarded-for":
            return value.rsplit(b",", 1)[-1].strip().decode("latin-1")
    return "127.0.0.1"


def decode_document(upstream: str, body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse(upstream, "/openapi.json is not JSON") from exc
    if not isinstance(document, dict):
        raise UpstreamBadResponse(upstream, "/openapi.json is not a JSON object")
    return document


