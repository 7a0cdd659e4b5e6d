"""Settings of the relief service (its own values are prefixed `EHOME_RELIEF_`)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("relief")
    service_name: ClassVar[str] = "relief"

    # Identity's internal API: the applicant's verified profile, household and address.
    identity_base_url: str = "http://127.0.0.1:8001"
    identity_timeout_seconds: float = 3.0

    # PII keys of the relief schema ("kid:secret[,kid:secret...]"; see shared/pii.py).
    pii_keys: str = f"dev1:{DEV_SECRET_MARKER}-relief-pii-key"
    pii_active_key_id: str | None = None
    pii_index_key: str = f"{DEV_SECRET_MARKER}-relief-pii-index-key"

    def secret_values(self) -> dict[str, str | None]:
        values = super().secret_values()
        values["EHOME_RELIEF_PII_KEYS"] = self.pii_keys
        values["EHOME_RELIEF_PII_INDEX_KEY"] = self.pii_index_key
        return values
