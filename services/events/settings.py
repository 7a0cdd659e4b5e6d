"""Settings of the events service (its own values are prefixed `EHOME_EVENTS_`)."""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal

from pydantic import Field

from shared.pii import PiiCipher
from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("events")
    service_name: ClassVar[str] = "events"

    # Prefix of human case numbers: ZZ-20261126-000123 (ZZ = Zhangzhou).
    case_prefix: str = "ZZ"
    # Where attachments live: "local" (a directory, the default for `make run`) or "s3" (an
    # S3-compatible object store: EHOME_EVENTS_S3_* below; credentials may also come from the
    # pod's usual AWS environment when left unset).
    storage: Literal["local", "s3"] = "local"
    attachment_dir: str = ".data/events/attachments"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "ehome-attachments"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    # Signs the short-lived attachment links a <video> or <img> tag loads without a token.
    # Unset, a key is derived from EHOME_INTERNAL_API_KEY (itself a real secret in prod, a
    # dev-only one in dev), so deployments without this secret yet still start safely; once
    # set it must be a real secret in prod like the others.
    attachment_url_key: str | None = None
    attachment_url_seconds: int = Field(300, gt=0, le=3600)
    max_image_bytes: int = 10 * 1024 * 1024
    max_video_bytes: int = 50 * 1024 * 1024
    duplicate_window_hours: int = 72

    # Phone numbers entered in template fields are encrypted at rest (shared.pii):
    # "kid:secret[,kid:secret]"; the active key encrypts, all keys decrypt (rotation).
    pii_keys: str = f"dev1:{DEV_SECRET_MARKER}-events-pii-key"
    pii_active_key_id: str | None = None
    pii_index_key: str = f"{DEV_SECRET_MARKER}-events-pii-index-key"

    # Sensitive tips (fraud, organised crime) carry the reporter only sealed for the feedback
    # service (shared.contracts.events.ReporterSeal): "kid:secret[,kid:secret]", the same
    # keyring as EHOME_FEEDBACK_REPORTER_SEAL_KEYS; the active key seals new cases.
    reporter_seal_keys: str = f"dev1:{DEV_SECRET_MARKER}-reporter-seal-key"
    reporter_seal_active_key_id: str | None = None

    def pii_cipher(self) -> PiiCipher:
        return PiiCipher.from_config(self.pii_keys, active_kid=self.pii_active_key_id,
                                     index_secret=self.pii_index_key)

    def attachment_link_key(self) -> str:
        if self.attachment_url_key:
            return self.attachment_url_key
        derived = hmac.new(self.internal_api_key.encode(), b"ehome events attachment links",
                           hashlib.sha256)
        return derived.hexdigest()

    def secret_values(self) -> dict[str, str | None]:
        values = super().secret_values()
        values["EHOME_EVENTS_REPORTER_SEAL_KEYS"] = self.reporter_seal_keys
        values["EHOME_EVENTS_PII_KEYS"] = self.pii_keys
        values["EHOME_EVENTS_PII_INDEX_KEY"] = self.pii_index_key
        if self.attachment_url_key is not None:
            values["EHOME_EVENTS_ATTACHMENT_URL_KEY"] = self.attachment_url_key
        return values
