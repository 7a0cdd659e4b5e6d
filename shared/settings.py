"""Settings base shared by the gateway and every service.

Platform-wide values (database, broker, environment, token keys) are read from unprefixed
environment names so one ConfigMap serves every service; a service's own values carry its
prefix (``EHOME_<SERVICE>_``), set by the subclass's ``model_config``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.broker import UNROUTED_MAX_LENGTH

Environment = Literal["dev", "test", "prod"]
PlanCacheMode = Literal["auto", "force_custom_plan", "force_generic_plan"]

DEV_SECRET_MARKER = "dev-only"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class PlatformSettings(BaseSettings):
    """Values every process reads, whatever its role."""

    model_config = SettingsConfigDict(env_prefix="EHOME_", extra="ignore", populate_by_name=True)

    environment: Environment = Field("dev", validation_alias=_env("EHOME_ENV"))
    log_level: str = Field("INFO", validation_alias=_env("EHOME_LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=_env("EHOME_LOG_JSON"))
    # Ed25519 public keys (PEM) that sign access tokens; more than one during a rotation.
    jwt_public_keys: list[str] = Field(
        default_factory=list, validation_alias=_env("EHOME_JWT_PUBLIC_KEYS")
    )
    # Where to fetch the keys when they are not configured: identity's JWKS document.
    jwks_url: str | None = Field(None, validation_alias=_env("EHOME_JWKS_URL"))
    jwt_issuer: str = Field("ehome-identity", validation_alias=_env("EHOME_JWT_ISSUER"))
    jwt_audience: str = Field("ehome", validation_alias=_env("EHOME_JWT_AUDIENCE"))
    http_timeout_seconds: float = Field(5.0, validation_alias=_env("EHOME_HTTP_TIMEOUT_SECONDS"))
    # Identity's feed of revoked access tokens, polled by every verifier (gateway, services):
    # e.g. http://identity:8000/internal/identity/revocations. Unset: nothing is polled (the
    # embedded mode shares one verifier that identity feeds itself).
    revocations_url: str | None = Field(None, validation_alias=_env("EHOME_REVOCATIONS_URL"))
    revocations_poll_seconds: float = Field(
        1.0, validation_alias=_env("EHOME_REVOCATIONS_POLL_SECONDS")
    )
    # Shared by the platform's own processes for /internal/... calls (never via the gateway).
    internal_api_key: str = Field(
        f"{DEV_SECRET_MARKER}-internal-key", validation_alias=_env("EHOME_INTERNAL_API_KEY")
    )


class DatabaseSettings(BaseSettings):
    """Just enough to reach the database: what the migration command reads."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        validation_alias=_env("DATABASE_URL"),
    )
    # Tests prefix every schema so runs never see each other's rows.
    schema_prefix: str | None = Field(None, validation_alias=_env("EHOME_DB_SCHEMA_PREFIX"))
    # PostgreSQL's plan_cache_mode for every connection (None: the server's default). Tests
    # set force_generic_plan so a statement correct only under a custom plan (one PostgreSQL
    # switches away from after five executions of a prepared statement) fails at once.
    db_plan_cache_mode: PlanCacheMode | None = Field(
        None, validation_alias=_env("EHOME_DB_PLAN_CACHE_MODE")
    )


class ServiceSettings(PlatformSettings, DatabaseSettings):
    """Base of each service's ``Settings``: database, broker and messaging knobs."""

    service_name: ClassVar[str] = "service"

    # Connections are kept, not churned: an overflow connection is closed when it is handed
    # back, so under steady load above the pool size every request beyond it forked a new
    # PostgreSQL backend (~5 ms of CPU there and here). Work beyond the pool waits for it.
    db_pool_size: int = Field(20, validation_alias=_env("EHOME_DB_POOL_SIZE"))
    db_max_overflow: int = Field(0, validation_alias=_env("EHOME_DB_MAX_OVERFLOW"))
    db_pool_timeout_seconds: float = Field(
        5.0, validation_alias=_env("EHOME_DB_POOL_TIMEOUT_SECONDS")
    )

    broker: Literal["rabbitmq", "memory"] = Field(
        "rabbitmq", validation_alias=_env("EHOME_BROKER")
    )
    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/", validation_alias=_env("AMQP_URL")
    )
    # Prefix of exchange and queue names; tests use a unique one per run.
    amqp_prefix: str = Field("ehome", validation_alias=_env("EHOME_AMQP_PREFIX"))
    publish_timeout_seconds: float = Field(
        5.0, validation_alias=_env("EHOME_PUBLISH_TIMEOUT_SECONDS")
    )
    # Events nobody subscribes to are kept in one queue for inspection: the newest this many.
    unrouted_max_length: int = Field(
        UNROUTED_MAX_LENGTH, ge=1, validation_alias=_env("EHOME_UNROUTED_MAX_LENGTH")
    )
    consumer_prefetch: int = Field(50, validation_alias=_env("EHOME_CONSUMER_PREFETCH"))
    consumer_delivery_limit: int = Field(
        5, validation_alias=_env("EHOME_CONSUMER_DELIVERY_LIMIT")
    )
    # Handlers running at once (each holds a pooled connection for its transaction); unset:
    # half of db_pool_size, so a backlog never takes the connections requests need.
    consumer_max_concurrency: int | None = Field(
        None, ge=1, validation_alias=_env("EHOME_CONSUMER_MAX_CONCURRENCY")
    )
    # Messages of one queue handled together in one transaction, at most; a batch takes what
    # arrived while the queue's earlier batches ran (shared/messaging/batches.py). 1: alone.
    consumer_batch_size: int = Field(
        32, ge=1, le=500, validation_alias=_env("EHOME_CONSUMER_BATCH_SIZE")
    )
    # Batches of one queue running at once; unset: consumer_max_concurrency's value.
    consumer_batches_in_flight: int | None = Field(
        None, ge=1, validation_alias=_env("EHOME_CONSUMER_BATCHES_IN_FLIGHT")
    )
    outbox_poll_seconds: float = Field(1.0, validation_alias=_env("EHOME_OUTBOX_POLL_SECONDS"))
    outbox_batch_size: int = Field(100, validation_alias=_env("EHOME_OUTBOX_BATCH_SIZE"))
    # How long the rows a unit of work commits are left to its own process's relay before any
    # sweep may take them: the delay before a crashed process's rows are published.
    outbox_hold_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("EHOME_OUTBOX_HOLD_SECONDS")
    )
    run_relay: bool = Field(True, validation_alias=_env("EHOME_RUN_RELAY"))
    run_consumers: bool = Field(True, validation_alias=_env("EHOME_RUN_CONSUMERS"))
    # Background workers (timer scanners, senders). All are safe with several replicas; the
    # switch lets a deployment keep them out of its API pods.
    run_workers: bool = Field(True, validation_alias=_env("EHOME_RUN_WORKERS"))

    @property
    def schema(self) -> str:  # type: ignore[override]  # BaseModel.schema() is pydantic v1 API
        """The PostgreSQL schema this service owns (``<prefix>_<service>`` when prefixed)."""
        prefix = self.schema_prefix
        return f"{prefix}_{self.service_name}" if prefix else self.service_name

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_prod(self) -> ServiceSettings:
        if self.environment == "prod":
            for name, value in self.secret_values().items():
                if value is None or DEV_SECRET_MARKER in value:
                    raise ValueError(f"{name} must be set to a real secret in prod")
        return self

    def secret_values(self) -> dict[str, str | None]:
        """Secrets this service needs; subclasses extend. Checked at start-up in prod."""
        return {"EHOME_INTERNAL_API_KEY": self.internal_api_key}


def service_settings_config(service: str) -> SettingsConfigDict:
    """``model_config`` of a service's Settings: its own values are ``EHOME_<SERVICE>_...``."""
    return SettingsConfigDict(
        env_prefix=f"EHOME_{service.upper()}_", extra="ignore", populate_by_name=True
    )
