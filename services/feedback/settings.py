"""Settings of the feedback service (its own values are prefixed `EHOME_FEEDBACK_`).

WeChat without a configured base URL (``EHOME_WECHAT_API_BASE``) is replaced by the sandbox of
API.md: subscribe messages are recorded in this service's schema, not sent.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("feedback")
    service_name: ClassVar[str] = "feedback"

    # -- ratings -----------------------------------------------------------------------------
    # A closure left unrated this many days gets the default rating (marked as a default).
    default_rating_after_days: float = 7.0
    default_rating: Literal["satisfied", "basically_satisfied"] = "satisfied"
    default_rating_poll_seconds: float = 60.0
    default_rating_batch_size: int = 200

    # -- scorecards and command centre ------------------------------------------------------
    ranking_min_sample: int = 10  # units with fewer cases are listed but not ranked
    hotspot_threshold: int = 5  # K reports of one category in one community ...
    hotspot_window_days: int = 30  # ... within this many days
    hotspot_poll_seconds: float = 300.0

    # -- notifications and WeChat (unset base → sandbox) -------------------------------------
    wechat_api_base: str | None = Field(
        None, validation_alias=AliasChoices("EHOME_WECHAT_API_BASE", "wechat_api_base")
    )
    # Where identity answers /internal/identity/... (the central WeChat access token, openids).
    identity_base_url: str = "http://identity:8000"
    wechat_timeout_seconds: float = 5.0
    wechat_max_attempts: int = 6  # busy answers (-1) and transport errors are retried
    wechat_backoff_seconds: float = 2.0  # doubles each attempt
    sender_poll_seconds: float = 1.0
    sender_batch_size: int = 50
    sender_lease_seconds: float = 60.0  # a claimed message is retried after this if a sender dies
    mini_program_state: Literal["developer", "trial", "formal"] = "formal"
    # Subscribe-message templates registered in the mini-program's console.
    template_case_progress: str = "tmpl-case-progress"
    template_case_closed: str = "tmpl-case-closed"
    # Staff notices to staff who bound WeChat (thing1 title, time2 when, thing3 text).
    template_staff_notice: str = "tmpl-staff-notice"

    # -- sensitive tips ---------------------------------------------------------------------
    # The events service names the reporter of a sensitive tip only sealed for this service
    # (shared.contracts.events.ReporterSeal): the same "kid:secret[,kid:secret]" keyring as
    # EHOME_EVENTS_REPORTER_SEAL_KEYS (keep retired keys here until old cases are done).
    reporter_seal_keys: str = f"dev1:{DEV_SECRET_MARKER}-reporter-seal-key"

    def secret_values(self) -> dict[str, str | None]:
        values = super().secret_values()
        values["EHOME_FEEDBACK_REPORTER_SEAL_KEYS"] = self.reporter_seal_keys
        return values
