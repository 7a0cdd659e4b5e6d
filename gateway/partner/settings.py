"""Settings of the partner app (its own values are prefixed ``EHOME_PARTNER_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings, service_settings_config

# WeChat Pay's notification schedule: 15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m, 30 m, 60 m,
# 3 h, 3 h, 3 h, 6 h — about 24 h in all; then the delivery is dead-lettered.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (
    15, 15, 30, 180, 600, 1200, 1800, 1800, 3600, 10800, 10800, 10800, 21600,
)


class Settings(ServiceSettings):
    model_config = service_settings_config("partner")
    service_name: ClassVar[str] = "partner"

    identity_base_url: str = "http://127.0.0.1:8001"
    events_base_url: str = "http://127.0.0.1:8002"
    timestamp_window_seconds: int = Field(300, gt=0)
    # Open311 GeoReport v2: the one jurisdiction this platform serves (a request naming
    # another gets 404), and the contact its discovery document gives.
    open311_jurisdiction_id: str = "ehome.example.gov.cn"
    open311_contact: str = "平安办 12345 政务服务便民热线"
    credentials_cache_seconds: float = Field(30.0, ge=0)
    # Per app, per replica (token bucket in memory): a guard, not a billing quota.
    rate_limit_per_second: float = Field(20.0, gt=0)
    rate_limit_burst: int = Field(40, gt=0)
    rate_limits: dict[str, float] = Field(default_factory=dict)  # app_key -> per second
    # Callback hosts each app may subscribe ({"pk_...": ["hooks.example.com"]}), on top of
    # those an admin set on the app in identity (PUT .../partners/{id}/callback-hosts). A host
    # resolving to a private or loopback address is refused unless allow_private_callbacks.
    callback_hosts: dict[str, list[str]] = Field(default_factory=dict)
    allow_private_callbacks: bool = False
    retry_schedule: list[float] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE))
    delivery_timeout_seconds: float = Field(5.0, gt=0)
    delivery_concurrency_per_app: int = Field(4, gt=0)
    delivery_batch_size: int = Field(50, gt=0)
    delivery_poll_seconds: float = Field(0.5, gt=0)
    # A claimed delivery whose worker died is claimed again after this (same delivery id).
    delivery_lease_seconds: float = Field(60.0, gt=0)
    nonce_purge_seconds: float = Field(60.0, gt=0)
    # One message at a time per replica: status changes are recorded (and numbered in the
    # feed) in the order they were published, as far as one consumer can keep it.
    consumer_prefetch: int = Field(
        1, validation_alias=AliasChoices("EHOME_PARTNER_CONSUMER_PREFETCH"))
