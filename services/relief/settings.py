"""Settings of the relief service (its own values are prefixed `EHOME_RELIEF_`)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("relief")
    service_name: ClassVar[str] = "relief"
