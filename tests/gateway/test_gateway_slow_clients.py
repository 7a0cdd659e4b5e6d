"""Slow clients over a real socket: a request whose headers or body stall is closed within the
configured limits (gateway/server.py), with a 408 problem where an answer is still possible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.server import ServerState

from gateway import create_gateway_app
from gateway.distributed import _uvicorn
from gateway.server import _limits_from_environment, guarded_protocol
from shared.auth import TokenVerifier
from shared.testing.live_server import serving
from tests.gateway.gateway_setup import gateway_settings, http_upstreams

ROOT = Path(__file__).resolve().parents[2]
HEADER_LIMIT = 0.5
BODY_LIMIT = 0.5
# Closed "within the limit": the limit plus room for a loaded 2-core machine. Without the
# guard nothing closes at all, so the margin does not weaken the check.
MARGIN = 4.0


@pytest.fixture(scope="module")
async def gateway_address(
    service_urls: dict[str, str], verifier: TokenVerifier
) -> AsyncIterator[tuple[str, int]]:
    app = create_gateway_app(
        gateway_settings(), upstreams=http_upstreams(service_urls), verifier=verifier
    )
    protocol = guarded_protocol(HEADER_LIMIT, BODY_LIMIT)
    async with serving(app, lifespan="on", http=protocol) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


async def _read_until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after
    ``within`` seconds."""
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def _send_then_wait_for_close(
    address: tuple[str, int], data: bytes, within: float
) -> tuple[bytes, float]:
    """Send ``data`` on a new connection and never finish it; what the server answers before
    closing, and how long after the send it closed."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        started = time.monotonic()
        if data:
            writer.write(data)
            await writer.drain()
        answer = await _read_until_closed(reader, within)
        return answer, time.monotonic() - started
    finally:
        writer.close()


def _status_and_problem(answer: bytes) -> tuple[bytes, dict[str, object], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], orjson.loads(body), head.lower()


async def test_half_sent_headers_are_answered_408_and_closed_within_the_limit(
    gateway_address: tuple[str, int],
) -> None:
    answer, elapsed = await _send_then_wait_for_close(
        gateway_address,
        b"GET /api/v1/events/whoami HTTP/1.1\r\nHost: gateway.test\r\nX-Half",
        HEADER_LIMIT + MARGIN,
    )
    status_line, problem, head = _status_and_problem(answer)
    assert status_line.startswith(b"HTTP/1.1 408"), answer
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    assert problem["code"] == "request_timeout"
    assert HEADER_LIMIT * 0.8 <= elapsed < HEADER_LIMIT + MARGIN


async def test_a_connection_that_sends_nothing_is_closed_within_the_header_limit(
    gateway_address: tuple[str, int],
) -> None:
    answer, _ = await _send_then_wait_for_close(gateway_address, b"", HEADER_LIMIT + MARGIN)
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_a_stalled_body_is_answered_408_and_closed_within_the_limit(
    gateway_address: tuple[str, int], token: str
) -> None:
    answer, elapsed = await _send_then_wait_for_close(
        gateway_address,
        b"POST /api/v1/events/echo HTTP/1.1\r\nHost: gateway.test\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"X-Request-ID: stalled-body-1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\": ",
        BODY_LIMIT + MARGIN,
    )
    status_line, problem, head = _status_and_problem(answer)
    assert status_line.startswith(b"HTTP/1.1 408"), answer
    assert b"content-type: application/problem+json" in head
    assert problem["code"] == "request_timeout"
    assert problem["request_id"] == "stalled-body-1"
    assert elapsed < BODY_LIMIT + MARGIN


async def test_a_slow_but_steady_body_is_not_cut_off(
    gateway_address: tuple[str, int], token: str
) -> None:
    """The body limit is on silence, not on the whole upload: bytes every 0.2 s for about
    three times the limit arrive whole."""
    payload = b'{"text": "' + b"x" * 14 + b'"}'  # 26 bytes
    reader, writer = await asyncio.open_connection(*gateway_address)
    try:
        writer.write(
            b"POST /api/v1/events/echo HTTP/1.1\r\nHost: gateway.test\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        )
        for index in range(0, len(payload), 3):
            writer.write(payload[index : index + 3])
            await writer.drain()
            await asyncio.sleep(BODY_LIMIT * 0.4)
        answer = await _read_until_closed(reader, 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"body_length":26' in answer


async def test_a_keep_alive_connection_gets_a_fresh_header_limit_per_request(
    gateway_address: tuple[str, int],
) -> None:
    """Time spent on an earlier request does not count against the next one's headers."""
    reader, writer = await asyncio.open_connection(*gateway_address)
    try:
        for _ in range(3):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\n")
            await writer.drain()
            await asyncio.sleep(HEADER_LIMIT * 0.5)
            writer.write(b"\r\n")
            await writer.drain()
            async with asyncio.timeout(5):
                status_line = await reader.readline()
                head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            assert status_line.startswith(b"HTTP/1.1 200"), status_line
    finally:
        writer.close()


def test_every_way_the_gateway_is_served_uses_the_guarded_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``make run-dist`` and the container name the protocol by import path, with the limits
    from the environment; ``make run`` passes it to uvicorn.Config (gateway/embedded.py)."""
    command = _uvicorn("gateway.distributed:create_gateway_from_env", 8000)
    assert command[command.index("--http") + 1] == "gateway.server:GatewayHttpProtocol"
    deployment = (ROOT / "deploy/k8s/base/gateway/deployment.yaml").read_text()
    assert "--http=gateway.server:GatewayHttpProtocol" in deployment
    assert "guarded_protocol(" in (ROOT / "gateway/embedded.py").read_text()

    monkeypatch.setenv("EHOME_GATEWAY_HEADER_TIMEOUT_SECONDS", "3.5")
    monkeypatch.setenv("EHOME_GATEWAY_BODY_TIMEOUT_SECONDS", "7")
    _limits_from_environment.cache_clear()
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(
            "gateway.server:GatewayHttpProtocol", http="gateway.server:GatewayHttpProtocol"
        )
        protocol_class = import_from_string(config.http)
        protocol = protocol_class(config, ServerState(), {}, loop)
        assert (protocol._header_limit, protocol._body_limit) == (3.5, 7.0)
    finally:
        loop.close()
        _limits_from_environment.cache_clear()
