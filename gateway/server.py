"""The gateway's HTTP/1.1 server protocol: uvicorn's httptools one, plus limits on slow clients.

uvicorn waits for a request's headers, and for a body's next bytes, as long as the client
likes: a client that sends half its headers, or a Content-Length and then nothing, holds a
connection (and, for the body, a request task) forever. This protocol closes such
connections:

- the headers must be complete within ``header_timeout`` seconds of the request's first byte
  (or of the connection's opening, for a client that sends nothing at all);
- a body must not stall: at most ``body_timeout`` seconds without a byte, counted only while
  the server is reading (not while uvicorn holds reading back because the app has not taken
  what arrived, nor while a client waits for ``100 Continue``).

Where an answer is still possible (nothing was answered yet) the client gets a 408 problem
before the close. Run it with ``uvicorn --http gateway.server:GatewayHttpProtocol`` (limits
from ``EHOME_GATEWAY_HEADER_TIMEOUT_SECONDS`` / ``EHOME_GATEWAY_BODY_TIMEOUT_SECONDS``), or
pass ``guarded_protocol(...)`` as ``uvicorn.Config(http=...)``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.settings import GatewaySettings
from shared.context import accept_id, request_id_var
from shared.logs import get_logger
from shared.problems import PROBLEM_JSON, problem_body

log = get_logger(__name__)
# What ``uvicorn --http`` is given for the gateway, wherever it is started as a process.
PROTOCOL_PATH = "gateway.server:GatewayHttpProtocol"


@functools.cache
def _limits_from_environment() -> tuple[float, float]:
    settings = GatewaySettings()
    return settings.header_timeout_seconds, settings.body_timeout_seconds


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body time limits (see the module)."""

    # None: read once from the environment (the ``--http`` import path case).
    header_timeout: ClassVar[float | None] = None
    body_timeout: ClassVar[float | None] = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if self.header_timeout is None or self.body_timeout is None:
            header, body = _limits_from_environment()
            self._header_limit = self.header_timeout or header
            self._body_limit = self.body_timeout or body
        else:
            self._header_limit, self._body_limit = self.header_timeout, self.body_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen_at = 0.0

    # -- connection -------------------------------------------------------------------------
    def connection_made(  # type: ignore[override]  # Transport, as uvicorn's own narrows it
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        # A message without a body completes right after this, which cancels the timer.
        self._body_seen_at = self.loop.time()
        self._body_timer = self.loop.call_later(self._body_limit, self._body_deadline)

    def on_body(self, body: bytes) -> None:
        # The timer is not re-armed per chunk: it looks at this when it fires.
        self._body_seen_at = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    # -- timers -----------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self._header_limit, self._header_deadline)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        log.info("client_headers_timed_out")
        answering = self.cycle is None or self.cycle.response_complete
        self._give_up("the request headers did not arrive in time", answer=answering)

    def _body_deadline(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None:
            return
        cycle = self.cycle
        idle = self.loop.time() - self._body_seen_at
        waiting_on_us = self.flow.read_paused or cycle.waiting_for_100_continue
        if waiting_on_us or idle < self._body_limit:
            # The server is the one not reading, or bytes came meanwhile: look again later.
            if waiting_on_us:
                self._body_seen_at = self.loop.time()
            delay = self._body_limit - (self.loop.time() - self._body_seen_at)
            self._body_timer = self.loop.call_later(max(delay, 0.01), self._body_deadline)
            return
        log.info("client_body_timed_out")
        self._give_up("the request body stopped arriving", answer=not cycle.response_started)
        # The app may still be waiting for the body or about to answer: it now sees a
        # disconnected client (receive gives http.disconnect, send is dropped).
        cycle.disconnected = True
        cycle.message_event.set()

    def _give_up(self, detail: str, *, answer: bool) -> None:
        if answer:
            self.transport.write(self._timeout_answer(detail))
        self.transport.close()

    def _timeout_answer(self, detail: str) -> bytes:
        sent_id = next((v for k, v in self.headers or () if k == b"x-request-id"), b"")
        request_id = accept_id(sent_id.decode("latin-1") or None)
        token = request_id_var.set(request_id)
        try:
            body = orjson.dumps(problem_body(408, "request_timeout", detail))
        finally:
            request_id_var.reset(token)
        lines = [b"HTTP/1.1 408 Request Timeout"]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: " + PROBLEM_JSON.encode(),
            b"content-length: " + str(len(body)).encode(),
            b"x-request-id: " + request_id.encode(),
            b"connection: close",
        ]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[GatewayHttpProtocol]:
    """The protocol with these limits, for ``uvicorn.Config(http=...)``."""
    return type(
        "GatewayHttpProtocol",
        (GatewayHttpProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
