"""Settings of the events service (its own values are prefixed `EHOME_EVENTS_`)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("events")
    service_name: ClassVar[str] = "events"

    # Prefix of human case numbers: ZZ-20261126-000123 (ZZ = Zhangzhou).
    case_prefix: str = "ZZ"
    attachment_dir: str = ".data/events/attachments"
    max_image_bytes: int = 10 * 1024 * 1024
    max_video_bytes: int = 50 * 1024 * 1024
    max_attachments_per_case: int = 9
    duplicate_window_hours: int = 72
