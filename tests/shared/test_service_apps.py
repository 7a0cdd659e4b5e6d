"""Every service is a running app with health, readiness, metrics, OpenAPI and its own schema."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.auth.tokens import TokenVerifier
from shared.db.migrate import SERVICES, schema_name
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator, running


def _service(name: str) -> tuple[Callable[..., object], type[ServiceSettings]]:
    app_module = importlib.import_module(f"services.{name}.app")
    settings_module = importlib.import_module(f"services.{name}.settings")
    return app_module.create_app, settings_module.Settings


@pytest.mark.parametrize("name", SERVICES)
async def test_each_service_starts_and_reports_health_readiness_and_metrics(
    name: str,
    migrator: Migrator,
    run_prefix: str,
    service_settings: Callable[..., ServiceSettings],
    token_verifier: TokenVerifier,
) -> None:
    # A schema of its own: identity bootstraps its admin on start-up, and the identity tests
    # that share the run's schema log in with the password they bootstrapped.
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure(name, prefix=prefix)
    create_app, settings_cls = _service(name)
    settings = service_settings(settings_cls, schema_prefix=prefix, amqp_prefix=prefix)
    app = create_app(settings, verifier=token_verifier)
    async with running(app) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.get("/healthz", headers={"X-Request-ID": "probe-1234"})
        metrics = await client.get("/metrics")
        openapi = await client.get("/openapi.json")

    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": name}
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "accepting": "ok"}
    assert metrics.status_code == 200
    assert 'route="/healthz"' in metrics.text
    assert "outbox_published_total" in metrics.text
    assert openapi.json()["info"]["title"].startswith("Ping'an e-Home")


@pytest.mark.parametrize("name", SERVICES)
async def test_each_service_owns_a_schema_with_its_own_migration_history(
    name: str, migrator: Migrator, database_url: str, run_prefix: str
) -> None:
    await migrator.ensure(name)
    engine = create_async_engine(database_url)
    schema = schema_name(name, run_prefix)
    try:
        async with engine.connect() as conn:
            version = (
                await conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
            ).scalar_one()
            tables = set(
                (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = :schema"
                        ),
                        {"schema": schema},
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    assert version
    assert {"outbox", "inbox", "idempotency_keys", "alembic_version"} <= tables


async def test_readiness_fails_as_problem_json_when_the_database_is_unreachable(
    service_settings: Callable[..., ServiceSettings], token_verifier: TokenVerifier
) -> None:
    create_app, settings_cls = _service("relief")
    settings = service_settings(
        settings_cls, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none", run_relay=False
    )
    async with running(create_app(settings, verifier=token_verifier)) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    body = ready.json()
    assert body["code"] == "not_ready"
    assert body["checks"]["database"].startswith("failed")
