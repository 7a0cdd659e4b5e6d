"""Building blocks of the streaming tests: the gateway served by uvicorn on a real socket
(an in-process client would buffer what it receives, so it could not show streaming or a
cut-off), and a service on a raw socket that answers as a test scripts it and notes when the
gateway closes its connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from gateway import GatewayApp, Upstream, create_gateway_app
from gateway.server import guarded_protocol
from gateway.upstreams import HttpUpstream
from shared.auth import TokenVerifier
from shared.testing.live_server import serving
from tests.gateway.gateway_setup import gateway_settings

# What a scripted service does with one request: write its answer (or part of it) and
# return True to keep the connection for the next request, False to close it.
Script = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]


@asynccontextmanager
async def gateway_on_socket(
    upstreams: Mapping[str, Upstream],
    verifier: TokenVerifier,
    *,
    body_timeout: float = 5.0,
    **settings: Any,
) -> AsyncIterator[tuple[str, GatewayApp]]:
    """The gateway under uvicorn with its guarded protocol; yields its URL and the app."""
    app = create_gateway_app(gateway_settings(**settings), upstreams=upstreams, verifier=verifier)
    async with serving(app, lifespan="on", http=guarded_protocol(5.0, body_timeout)) as url:
        yield url, app


class RawService:
    """A service on 127.0.0.1 that reads each request's head (and Content-Length body) and
    runs ``script`` to answer it. ``closed`` is set when a connection ends from the other
    side (read EOF, reset, or a write that fails)."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> RawService:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def upstream(self, name: str = "events", **options: Any) -> HttpUpstream:
        """An upstream with one pooled connection: a connection the gateway failed to
        give back would block the very next request."""
        options.setdefault("pool_size", 1)
        options.setdefault("timeout", 2.0)
        return HttpUpstream(name, self.url, **options)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
                self.requests.append(head)
                if not await self._script(head, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed.set()
        finally:
            writer.close()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def path_of(head: bytes) -> bytes:
    return head.split(b" ", 2)[1]


def answer_head(status: str = "200 OK", **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [
        f"{name.replace('_', '-')}: {value}" for name, value in headers.items()
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def small_json(_: bytes, writer: asyncio.StreamWriter) -> bool:
    body = b'{"ok":true}'
    writer.write(answer_head(content_type="application/json", content_length=len(body)) + body)
    await writer.drain()
    return True


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text exposition (0 when the series does not exist)."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
