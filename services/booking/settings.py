"""Settings of the booking service (its own values are prefixed `EHOME_BOOKING_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("booking")
    service_name: ClassVar[str] = "booking"

    # HMAC key that signs pickup codes; rotate by redeploying (codes issued before then fail).
    pickup_code_secret: str = f"{DEV_SECRET_MARKER}-pickup-code-secret"
    # Each slot's quota is split over this many rows so one hot pickup point does not
    # serialise every booking on a single row lock.
    stripes_per_slot: int = Field(32, ge=1, le=1024)
    # Connections of the booking hot path's own pool (the rest of the service uses the
    # unit of work's pool, `EHOME_DB_POOL_SIZE`).
    hot_pool_size: int = Field(16, ge=1, le=200)
    # Admission in front of the database: at most this many bookings run at once (0 means the
    # hot pool's size), at most `admission_queue` wait for a turn, and none waits
    # longer than `admission_wait_seconds`; the rest get 503 with Retry-After at once.
    admission_concurrency: int = Field(0, ge=0)
    admission_queue: int = Field(64, ge=0)
    admission_wait_seconds: float = Field(0.2, gt=0)
    retry_after_seconds: int = Field(1, ge=1)
    # How often the no-show timer looks for rounds whose pickup window has ended.
    no_show_scan_seconds: float = Field(30.0, gt=0)

    def secret_values(self) -> dict[str, str | None]:
        secrets = super().secret_values()
        secrets["EHOME_BOOKING_PICKUP_CODE_SECRET"] = self.pickup_code_secret
        return secrets
