"""pytest plugin (loaded from pyproject): real PostgreSQL and RabbitMQ, isolated per run.

- PostgreSQL: ``DATABASE_URL`` if set, else an embedded server in a temporary directory.
  Each run migrates the services into schemas named ``<run prefix>_<service>`` and drops them
  at the end, so leftovers of an earlier run never change a result.
- RabbitMQ: ``AMQP_URL`` (default localhost). Exchanges and queues carry a per-run prefix.
  Where no broker answers, broker tests skip saying why — unless ``EHOME_REQUIRE_BROKER=1``
  (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.auth.tokens import SigningKey, TokenSigner, TokenVerifier, generate_signing_key
from shared.db.database import normalize_database_url
from shared.db.embedded import start_embedded_postgres
from shared.db.migrate import SERVICES, migration_engine, schema_name
from shared.messaging.rabbit import DECLARED, delete_prefixed_objects
from shared.settings import ServiceSettings
from shared.testing.throwaway_schemas import (
    RecordedMigration,
    Reset,
    record_upgrade,
    replay,
    reset_of,
    reuse,
)

S = TypeVar("S", bound=ServiceSettings)
ISSUER, AUDIENCE = "ehome-identity", "ehome"
# Every connection a test builds plans each prepared statement generically from its first
# execution: a statement correct only under a custom plan (PostgreSQL switches to the generic
# one after five executions on a connection) fails in the first test that runs it.
PLAN_CACHE_MODE = "force_generic_plan"


def _broker_required() -> bool:
    return os.environ.get("EHOME_REQUIRE_BROKER", "") not in ("", "0", "false")


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return normalize_database_url(configured)
    return start_embedded_postgres(tmp_path_factory.mktemp("pg") / "data", keep=False)


@pytest.fixture(scope="session")
def run_prefix() -> str:
    """Unique per test session; prefixes schemas, exchanges and queues."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", autouse=True)
def _generic_plans_everywhere() -> Iterator[None]:
    """Processes the tests launch (``make run``, ``make run-dist``, deployed containers) and
    settings read from the environment get the same plan_cache_mode as service_settings."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EHOME_DB_PLAN_CACHE_MODE", PLAN_CACHE_MODE)
        yield


class Migrator:
    """Migrates each service schema once per run, on demand; drops them all at the end.

    Fresh schemas are made cheaply (``throwaway_schemas``): a service's first one of the run
    is migrated by alembic into a pristine template and recorded; later ones reuse a schema
    a test has released, emptied back to the template, or else get the recording replayed."""

    def __init__(self, database_url: str, prefix: str) -> None:
        self.database_url = database_url
        self.prefix = prefix
        self._done: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()
        self._engine: AsyncEngine | None = None
        self._templates: dict[str, tuple[RecordedMigration, Reset]] = {}
        self._released: dict[str, list[str]] = {}  # service -> schemas free to reuse
        self._leftovers: set[str] = set()  # schemas only dropped at the end

    async def ensure(self, *services: str, prefix: str | None = None) -> None:
        prefix = prefix or self.prefix
        async with self._lock:
            for service in services or SERVICES:
                key = (prefix, service)
                if key not in self._done:
                    await self._make(service, schema_name(service, prefix))
                    self._done.add(key)

    def release(self, prefix: str) -> None:
        """The test that used ``prefix``'s schemas has stopped everything that touched them:
        the next test may have them (renamed and emptied)."""
        for key in [key for key in self._done if key[0] == prefix]:
            self._done.discard(key)
            self._released.setdefault(key[1], []).append(schema_name(key[1], prefix))

    async def _make(self, service: str, schema: str) -> None:
        engine = self._engine = self._engine or migration_engine(
            self.database_url, plan_cache_mode=PLAN_CACHE_MODE)
        if service not in self._templates:
            template = schema_name(service, f"{self.prefix}tpl")
            self._leftovers.add(template)
            recorded = await record_upgrade(engine, service, template)
            self._templates[service] = (recorded, await reset_of(engine, template))
        recorded, reset = self._templates[service]
        released = self._released.get(service)
        if released:
            used = released.pop()
            try:
                await reuse(engine, reset, used, schema)
                return
            except Exception as exc:  # its test changed its shape, or something holds it
                print(f"schema {used} not reused ({exc!r}); {schema} made by replay")
                self._leftovers.add(used)
        await replay(engine, recorded, schema)

    def drop_at_end(self, *services: str, prefix: str) -> None:
        """Schemas something else migrates (a process under test): dropped with the rest."""
        self._done.update((prefix, service) for service in services)

    async def drop_all(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        schemas = {schema_name(service, prefix) for prefix, service in self._done}
        schemas |= self._leftovers | {s for kept in self._released.values() for s in kept}
        engine = create_async_engine(self.database_url)
        try:
            for schema in schemas:
                # One transaction per schema: dropping them all at once takes a lock per
                # object and runs out of PostgreSQL's lock table.
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await engine.dispose()


@pytest.fixture(scope="session")
async def migrator(database_url: str, run_prefix: str) -> AsyncIterator[Migrator]:
    migrator = Migrator(database_url, run_prefix)
    yield migrator
    await migrator.drop_all()


# -- RabbitMQ --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def amqp_url() -> str:
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    failure: Exception | None = None
    for _ in range(3):  # a loaded 2-core machine can be slow to answer the first handshake
        try:
            connection = await aio_pika.connect(url, timeout=15)
            await connection.close()
            failure = None
            break
        except Exception as exc:
            failure = exc
            await asyncio.sleep(1)
    if failure is not None:
        reason = f"RabbitMQ not reachable at {url.split('@')[-1]}: {type(failure).__name__}"
        if _broker_required():
            pytest.fail(f"{reason} (EHOME_REQUIRE_BROKER=1)")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def amqp_prefix(run_prefix: str) -> str:
    return run_prefix


@pytest.fixture(scope="session", autouse=True)
async def _delete_run_rabbit_objects(run_prefix: str) -> AsyncIterator[None]:
    """At the end of every session, whatever it ran: each run's queues are quorum queues
    holding file handles, and RabbitMQ 3.10 stops accepting connections once its handle cache
    (927 at ulimit 1024) is spent, so leftovers of many runs would wedge the machine's broker.
    Best effort: names are unique per run, so a leftover could not change a later result."""
    yield
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    try:
        await delete_prefixed_objects(url, run_prefix)
    except Exception as exc:  # broker down at the end of the run: nothing we can delete
        print(f"RabbitMQ objects of {run_prefix} left behind: {exc}")


@pytest.fixture(autouse=True)
async def _delete_released_rabbit_objects() -> AsyncIterator[None]:
    """After each test, delete the queues and exchanges of brokers that have closed, so a
    long run never holds hundreds of quorum queues (and their file handles) at once."""
    yield
    released = DECLARED.take_releasable()
    if not released:
        return
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    connection = await aio_pika.connect(url, timeout=15)
    async with connection:
        channel = await connection.channel()
        for kind, name in released:
            if kind == "queue":
                await channel.queue_delete(name)
            else:
                await channel.exchange_delete(name)


# -- tokens ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture(scope="session")
def token_signer(signing_key: SigningKey) -> TokenSigner:
    return TokenSigner(signing_key, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def token_verifier(signing_key: SigningKey) -> TokenVerifier:
    return TokenVerifier([signing_key.public_key], issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def make_token(token_signer: TokenSigner) -> Callable[..., str]:
    """``make_token(roles=["dispatcher"], regions=["350623"])`` → a signed access token."""

    def make(
        *,
        subject: uuid.UUID | None = None,
        roles: tuple[str, ...] | list[str] = ("resident",),
        kind: str | None = None,
        **claims: Any,
    ) -> str:
        staff = any(r != "resident" for r in roles)
        return token_signer.access_token(
            subject=subject or uuid.uuid4(),
            roles=roles,
            kind=kind or ("staff" if staff else "resident"),
            **claims,
        )

    return make


# -- service settings and apps ---------------------------------------------------------------


@pytest.fixture(scope="session")
def service_settings(
    database_url: str, run_prefix: str
) -> Callable[..., ServiceSettings]:
    """Build a service's Settings pointed at this run's database and schema prefix.
    The broker defaults to memory; pass ``broker="rabbitmq", amqp_url=...`` for RabbitMQ."""

    def build(settings_cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "schema_prefix": run_prefix,
            "broker": "memory",
            "amqp_prefix": run_prefix,
            "outbox_poll_seconds": 0.2,
            "db_pool_size": 5,
            "log_json": True,
            "db_plan_cache_mode": PLAN_CACHE_MODE,
        }
        values.update(overrides)
        return settings_cls(**values)

    return build


@asynccontextmanager
async def running(
    app: FastAPI, *, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and give an in-process client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 10.0, interval: float = 0.05
) -> None:
    """Poll an async predicate until it holds; fail the test with a clear message if not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
