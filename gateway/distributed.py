"""``make run-dist``: each service in its own uvicorn process, against ``DATABASE_URL`` and
``AMQP_URL``, with the gateway in front — the process layout of Kubernetes on one machine.

Also the uvicorn factory of the gateway container: ``uvicorn --factory
gateway.distributed:create_gateway_from_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.app import GatewayApp, create_http_gateway_app
from gateway.settings import DEFAULT_UPSTREAM_URLS, SERVICES, GatewaySettings
from shared.auth.tokens import public_key_pem
from shared.db.migrate import upgrade_all
from shared.settings import ServiceSettings

GRACE_SECONDS = 25
# The partner API (/open/v1) runs as its own process; the gateway reaches it here.
PARTNER_URL_ENV = "EHOME_GATEWAY_PARTNER_URL"
DEFAULT_PARTNER_URL = f"http://127.0.0.1:{8001 + len(SERVICES)}"


def create_gateway_from_env() -> GatewayApp:
    return create_http_gateway_app(GatewaySettings())


def _uvicorn(target: str, port: int, host: str = "127.0.0.1") -> list[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        target,
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "20",
    ]
    if target.startswith("gateway.distributed:"):
        # The gateway faces clients: close connections whose headers or body stall.
        command += ["--http", "gateway.server:GatewayHttpProtocol"]
    return command


def _child_env(signing_pem: str, public_pem: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EHOME_JWT_PUBLIC_KEYS", json.dumps([public_pem]))
    env.setdefault("EHOME_IDENTITY_SIGNING_KEY", signing_pem)
    env.setdefault("EHOME_GATEWAY_UPSTREAM_URLS", json.dumps(DEFAULT_UPSTREAM_URLS))
    env.setdefault(PARTNER_URL_ENV, DEFAULT_PARTNER_URL)
    env.setdefault("EHOME_PARTNER_IDENTITY_BASE_URL", DEFAULT_UPSTREAM_URLS["identity"])
    env.setdefault("EHOME_PARTNER_EVENTS_BASE_URL", DEFAULT_UPSTREAM_URLS["events"])
    for caller in ("relief", "feedback"):  # services that call identity's internal API
        env.setdefault(
            f"EHOME_{caller.upper()}_IDENTITY_BASE_URL", DEFAULT_UPSTREAM_URLS["identity"]
        )
    return env


def _wait_ready(urls: list[str], within: float) -> list[str]:
    """Return the URLs that did not become ready in time."""
    deadline = time.monotonic() + within
    waiting = list(urls)
    with httpx.Client(timeout=1.0) as client:
        while waiting and time.monotonic() < deadline:
            for url in list(waiting):
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        waiting.remove(url)
                except httpx.HTTPError:
                    pass  # not listening yet; asked again on the next round
            time.sleep(0.3)
    return waiting


def run(services: tuple[str, ...]) -> int:
    from gateway.embedded import data_dir, load_or_create_signing_key

    settings = ServiceSettings()
    asyncio.run(upgrade_all(settings.database_url, prefix=settings.schema_prefix))
    key = load_or_create_signing_key(data_dir() / "keys" / "identity-signing.pem")
    env = _child_env(key.private_pem(), public_key_pem(key.public_key))
    gateway = GatewaySettings()
    children: list[subprocess.Popen[bytes]] = []
    for name in services:
        port = int(DEFAULT_UPSTREAM_URLS[name].rsplit(":", 1)[1])
        children.append(
            subprocess.Popen(_uvicorn(f"services.{name}.app:create_app", port), env=env)
        )
    partner_port = int(DEFAULT_PARTNER_URL.rsplit(":", 1)[1])
    children.append(
        subprocess.Popen(_uvicorn("gateway.partner.app:create_app", partner_port), env=env)
    )
    children.append(
        subprocess.Popen(
            _uvicorn("gateway.distributed:create_gateway_from_env", gateway.port, gateway.host),
            env=env,
        )
    )

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    urls = [DEFAULT_UPSTREAM_URLS[n] for n in services] + [DEFAULT_PARTNER_URL]
    urls.append(f"http://{gateway.host}:{gateway.port}")
    late = _wait_ready(urls, within=60)
    if late:
        print(f"not ready after 60 s: {', '.join(late)}", file=sys.stderr, flush=True)
    else:
        print(
            f"Ping'an e-Home (distributed) listening on http://{gateway.host}:{gateway.port} "
            f"(services: {', '.join(urls[:-1])})",
            flush=True,
        )
    # Run until a child exits or we are told to stop; then take the rest down gracefully.
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    # A child stopped by our SIGTERM (uvicorn re-raises it: -15) stopped cleanly.
    codes = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return max((abs(code or 0) for code in codes), default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every service in its own process.")
    parser.add_argument("--services", nargs="*", default=list(SERVICES), choices=SERVICES)
    args = parser.parse_args(argv)
    os.chdir(Path(__file__).resolve().parents[1])
    return run(tuple(args.services))


if __name__ == "__main__":
    sys.exit(main())
