"""Settings of the gateway: where the services are, what is public, and the protective limits.

Platform-wide values (token keys, issuer, log level) come from ``PlatformSettings``; the
gateway's own values are prefixed ``EHOME_GATEWAY_`` (``EHOME_GATEWAY_UPSTREAM_URLS`` as JSON,
``EHOME_GATEWAY_PUBLIC_PATHS`` as a JSON list of ``[method, path prefix]`` pairs), except the
listening address, which keeps the names every deployment uses: ``EHOME_PORT``/``EHOME_HOST``.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings

SERVICES: tuple[str, ...] = ("identity", "events", "routing", "feedback", "relief", "booking")

# Where each service listens when run as separate processes on one machine (``make run-dist``);
# Kubernetes and the embedded mode override these.
DEFAULT_UPSTREAM_URLS: dict[str, str] = {
    name: f"http://127.0.0.1:{8001 + index}" for index, name in enumerate(SERVICES)
}

# (method, path prefix) pairs reachable without an access token. A prefix matches the path
# itself and anything below it at a segment boundary: "/api/v1/routing/regions" covers
# "/api/v1/routing/regions/350600" but not "/api/v1/routing/regions-admin".
DEFAULT_PUBLIC_PATHS: tuple[tuple[str, str], ...] = (
    ("POST", "/api/v1/identity/wechat-login"),
    # The 公众号 pages' sign-in: where to authorise, the sandbox's page, the code exchange.
    ("POST", "/api/v1/identity/wechat-web-login"),
    ("GET", "/api/v1/identity/wechat-web"),
    ("POST", "/api/v1/identity/refresh"),
    ("POST", "/api/v1/identity/staff-login"),
    ("GET", "/api/v1/identity/jwks"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/api/v1/events/categories"),
    ("GET", "/api/v1/routing/regions"),
    ("GET", "/api/v1/relief/notices"),  # the public notice (公示): names masked, for anyone
    # A short-lived signed link (a <video> tag sends no token): events checks its signature.
    ("GET", "/api/v1/events/attachments/signed"),
)

# (method, path) pairs of the uploads: their bodies stream to the service under
# ``upload_max_body_bytes`` instead of being read whole under ``max_body_bytes``. Exact paths.
DEFAULT_UPLOAD_PATHS: tuple[tuple[str, str], ...] = (("POST", "/api/v1/events/attachments"),)
# Events takes videos of up to 50 MiB (services/events/settings.py ``max_video_bytes``); the
# multipart envelope around the file adds a few hundred bytes. Events checks the file's own
# size and type; this only stops bodies no upload could need. 51 MiB: an Ingress can say it.
DEFAULT_UPLOAD_MAX_BODY_BYTES = 51 * 1024 * 1024


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(
        env_prefix="EHOME_GATEWAY_", extra="ignore", populate_by_name=True
    )

    port: int = Field(8000, validation_alias=AliasChoices("EHOME_PORT"))
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("EHOME_HOST"))
    upstream_urls: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_UPSTREAM_URLS))
    # Where the partner app (/open/v1) listens when it runs as its own process; unset, the
    # partner API answers 404 not_implemented (the embedded mode wires it in-process).
    partner_url: str | None = None
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    upload_max_body_bytes: int = Field(DEFAULT_UPLOAD_MAX_BODY_BYTES, gt=0)
    upload_paths: list[tuple[str, str]] = Field(default_factory=lambda: list(DEFAULT_UPLOAD_PATHS))
    # Bounds the wait for an answer's head (for an upload: once its body is out). Bodies
    # stream: after the head, only ``upstream_idle_timeout_seconds`` without a byte from the
    # service (or without the client taking one) ends the exchange, so a long export or a
    # video is not cut off by a total time.
    upstream_timeout_seconds: float = Field(10.0, gt=0)
    upstream_idle_timeout_seconds: float = Field(30.0, gt=0)
    # Connecting to an upstream should take a millisecond on a cluster network; a connect that
    # hangs means the upstream is gone (503), not slow (504).
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0)
    # Keep-alive connections per upstream host. Beyond this, requests queue in the client pool.
    upstream_pool_size: int = Field(256, gt=0)
    # Idle pooled connections are dropped before uvicorn's own 5 s keep-alive timeout closes
    # them from the other side, so a request rarely lands on a connection being closed.
    upstream_keepalive_seconds: float = Field(4.0, gt=0)
    # Requests one service may have in flight through this gateway; beyond that the gateway
    # answers 503 `overloaded` + Retry-After at once, before the token check, so a surge
    # costs the overloaded service nothing and the gateway little. Booking admits 16 bookings
    # and queues 64 (services/booking/settings.py): the door closes just before that line is
    # full, so excess is refused here, cheaply, rather than there.
    upstream_max_in_flight: dict[str, int] = Field(default_factory=lambda: {"booking": 64})
    retry_after_seconds: int = Field(1, ge=1)
    # Token bucket per client (principal subject, or IP for anonymous calls). Kept in each
    # replica's memory: with N replicas behind a round-robin balancer a client gets up to N
    # times this rate in total. That is deliberate (no shared store on the hot path); the
    # limit is a guard against runaway clients, not a quota.
    rate_limit_per_second: float = Field(50.0, gt=0)
    rate_limit_burst: int = Field(100, gt=0)
    # Calls without a verified token (public paths, partner API, refused tokens) are limited
    # per client address instead, with these values (unset: the per-principal ones). Many
    # mobile users can share one carrier-grade NAT address, so production may want these
    # higher than the per-principal values.
    anonymous_rate_limit_per_second: float | None = Field(None, gt=0)
    anonymous_rate_limit_burst: int | None = Field(None, gt=0)
    # Upper bound on the buckets held in memory; idle buckets are evicted long before this.
    rate_limit_max_clients: int = Field(100_000, gt=0)
    public_paths: list[tuple[str, str]] = Field(default_factory=lambda: list(DEFAULT_PUBLIC_PATHS))
    readiness_timeout_seconds: float = Field(2.0, gt=0)
    # Slow clients (gateway/server.py): a request's headers must be complete this long after
    # its first byte, and a body may go this long without a byte, or the connection is closed
    # (with a 408 where nothing was answered yet). A phone on a poor network sends a 10 MB
    # upload in bursts; it does not go silent for this long and then carry on.
    header_timeout_seconds: float = Field(10.0, gt=0)
    body_timeout_seconds: float = Field(20.0, gt=0)
    # The merged OpenAPI document is rebuilt after this long, so upstream deployments show up
    # without restarting the gateway. An incomplete document is never cached.
    openapi_cache_seconds: float = Field(300.0, ge=0)

    @field_validator("public_paths", "upload_paths")
    @classmethod
    def _normalise_paths(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        normalised = []
        for method, prefix in value:
            if not prefix.startswith("/"):
                raise ValueError(f"path {prefix!r} must start with '/'")
            normalised.append((method.upper(), prefix.rstrip("/") or "/"))
        return normalised

    @field_validator("upstream_urls")
    @classmethod
    def _strip_trailing_slash(cls, value: dict[str, str]) -> dict[str, str]:
        # Paths are appended verbatim ("/api/v1/..."), so a trailing slash would double it.
        return {name: url.rstrip("/") for name, url in value.items()}

    @field_validator("upstream_max_in_flight")
    @classmethod
    def _known_services_positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        for name, limit in value.items():
            if name not in SERVICES:
                raise ValueError(f"upstream_max_in_flight names an unknown service: {name!r}")
            if limit < 1:
                raise ValueError(f"upstream_max_in_flight[{name!r}] must be at least 1")
        return value
