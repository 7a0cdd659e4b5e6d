"""Settings of the routing service (its own values are prefixed `EHOME_ROUTING_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_settings_config


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
