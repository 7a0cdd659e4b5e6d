"""Settings of the routing service (its own values are prefixed `EHOME_ROUTING_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.pii import PiiCipher
from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("routing")
    service_name: ClassVar[str] = "routing"

    # Reminders fire when these shares of the allowed working time are used up.
    reminder_fractions: list[float] = Field(default_factory=lambda: [0.5, 0.8])
    # Office hours counted by deadlines, "HH:MM-HH:MM" each (Asia/Shanghai).
    working_windows: list[str] = Field(
        default_factory=lambda: ["08:30-12:00", "14:00-17:30"]
    )
    timer_scan_seconds: float = 1.0
    timer_batch_size: int = 50
    run_timer_scanner: bool = True
    co_handling_default_hours: float = 14.0
    # A verification duty (核查) given to a grid worker when a case in their grid waits for
    # its on-site check is due this many working days later (the working calendar).
    grid_verification_due_days: int = Field(1, ge=1, le=30)

    # Originals of the free texts staff type (notes, reasons, tasks, answers) are kept
    # encrypted where masking changed them (shared.pii): "kid:secret[,kid:secret]"; the active
    # key encrypts, all keys decrypt (rotation).
    pii_keys: str = f"dev1:{DEV_SECRET_MARKER}-routing-pii-key"
    pii_active_key_id: str | None = None

    def pii_cipher(self) -> PiiCipher:
        # Routing looks no row up by a personal value: it has no blind-index key, and the
        # index key the cipher derives from the keyring is never used (as ReporterSeal's).
        return PiiCipher.from_config(self.pii_keys, active_kid=self.pii_active_key_id,
                                     index_secret=self.pii_keys)

    def secret_values(self) -> dict[str, str | None]:
        values = super().secret_values()
        values["EHOME_ROUTING_PII_KEYS"] = self.pii_keys
        return values

    # Grid duty (网格员值守): a check-in further than this from its grid's area is flagged (it
    # is recorded all the same); coverage maps draw cells of this size.
    check_in_tolerance_m: float = 500.0
    coverage_cell_m: float = 50.0
