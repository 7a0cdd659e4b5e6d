"""The proxy's hot path alone, in one process: CPU per proxied request.

``python -m bench gateway`` runs three processes that share two cores with whatever else
runs, so its ratios move by tens of percent between runs. This runs the gateway app (called
as ASGI, no server) in front of a raw asyncio service on loopback answering the benchmark's
small JSON, sequentially, and divides the process's CPU time by the requests: the token
check, the routing, HttpUpstream's pool and parser, and the relay of a whole answer, with
little else in the figure. Run it from two checkouts to compare a change with its base:
``python -m bench.gateway.fastpath [--requests N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

import orjson

from gateway import GatewayApp, create_gateway_app
from gateway.settings import GatewaySettings
from gateway.upstreams import HttpUpstream
from shared.auth import TokenSigner, TokenVerifier, generate_signing_key

BODY = orjson.dumps({
    "items": [{"id": str(uuid.UUID(int=n)), "case_no": f"ZZ2026{n:06d}", "status": "accepted"}
              for n in range(3)],
    "next_cursor": None,
})
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (
    len(BODY), BODY)


async def _service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _gateway(port: int) -> tuple[GatewayApp, dict[str, Any]]:
    key = generate_signing_key()
    token = TokenSigner(key, issuer="bench", audience="bench").access_token(
        subject=uuid.uuid4(), roles=["resident"], ttl_seconds=3600)
    settings = GatewaySettings(log_level="WARNING", rate_limit_per_second=1e9,
                               rate_limit_burst=10**9, upstream_urls={})
    app = create_gateway_app(
        settings,
        upstreams={"events": HttpUpstream("events", f"http://127.0.0.1:{port}")},
        verifier=TokenVerifier([key.public_key], issuer="bench", audience="bench"),
    )
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/v1/events/bench", "raw_path": b"/api/v1/events/bench",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
        "headers": [(b"host", b"gateway"), (b"authorization", f"Bearer {token}".encode())],
    }
    return app, scope


async def _run(requests: int, repeats: int) -> list[float]:
    server = await asyncio.start_server(_service, "127.0.0.1", 0)
    app, scope = _gateway(server.sockets[0].getsockname()[1])
    answers: list[Any] = []

    async def receive() -> Any:
        await asyncio.Event().wait()  # never: the request has no body

    async def send(message: Any) -> None:
        answers.append(message)

    per_request = []
    async with app.lifespan():
        for _ in range(min(2000, requests)):  # warm-up: pool, token cache, metric series
            await app(dict(scope), receive, send)
        for _ in range(repeats):
            answers.clear()
            started = time.process_time()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            per_request.append((time.process_time() - started) / requests * 1e6)
            if answers[0]["status"] != 200 or answers[1]["body"] != BODY:
                raise SystemExit(f"unexpected answer: {answers[:2]}")
    server.close()
    return per_request


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.fastpath", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    figures = asyncio.run(_run(args.requests, args.repeats))
    print(f"gateway fast path: {statistics.median(figures):.1f} us CPU per request "
          f"(median of {args.repeats} x {args.requests}; each: "
          f"{', '.join(f'{f:.1f}' for f in figures)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
