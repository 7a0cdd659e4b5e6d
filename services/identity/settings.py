"""Settings of the identity service (its own values are prefixed `EHOME_IDENTITY_`).

External systems without a configured base URL are replaced by the sandboxes of API.md.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from shared.settings import DEV_SECRET_MARKER, ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("identity")
    service_name: ClassVar[str] = "identity"

    # -- WeChat (unset base → sandbox) -----------------------------------------------------
    wechat_api_base: str | None = Field(
        None, validation_alias=AliasChoices("EHOME_WECHAT_API_BASE", "wechat_api_base")
    )
    wechat_app_id: str = "wx-sandbox-app"
    wechat_app_secret: str = f"{DEV_SECRET_MARKER}-wechat-secret"
    wechat_retries: int = 3  # extra attempts on errcode -1 (busy) and 45011 (rate limit)
    wechat_backoff_seconds: float = 0.2  # doubles each attempt
    wechat_timeout_seconds: float = 5.0
    # Refresh the stable access token this long before WeChat says it expires.
    wechat_token_refresh_margin_seconds: int = 300
    # The 公众号 whose web pages (/h5/) residents sign in from: its own appid and secret
    # (unset: the mini-program's, for a deployment whose two share an account, rare), and
    # WeChat's authorisation page (a stand-in's in tests).
    wechat_web_app_id: str | None = None
    wechat_web_app_secret: str | None = None
    wechat_web_authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"

    # -- real-name verification provider (unset base → sandbox) ----------------------------
    verify_api_base: str | None = Field(
        None, validation_alias=AliasChoices("EHOME_VERIFY_API_BASE", "verify_api_base")
    )
    verify_timeout_seconds: float = 3.0
    verify_retry_seconds: float = 60.0  # a pending request is tried again after this
    verify_worker_poll_seconds: float = 5.0
    verify_max_attempts: int = 20

    # -- tokens ------------------------------------------------------------------------------
    # Ed25519 private key (PEM). Required in prod; dev/test generate one at start-up.
    signing_key: str | None = None
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    # -- PII -------------------------------------------------------------------------------
    # "kid:secret[,kid:secret]"; the active key encrypts, all keys decrypt (rotation).
    pii_keys: str = f"dev1:{DEV_SECRET_MARKER}-pii-key"
    pii_active_key_id: str | None = None
    pii_index_key: str = f"{DEV_SECRET_MARKER}-pii-index-key"

    # -- staff ------------------------------------------------------------------------------
    bootstrap_admin_password: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "EHOME_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap_admin_password"
        ),
    )

    # argon2id cost of staff passwords (RFC 9106 second recommendation by default).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4

    # -- registry imports and partner apps --------------------------------------------------
    max_upload_bytes: int = 20 * 1024 * 1024
    max_import_rows: int = 50_000
    # Uncompressed bytes of an XLSX's parts, read from the zip directory before anything is
    # parsed: 1.27 MB of upload once unpacked to 315 MB of sheet XML.
    max_import_xml_bytes: int = 64 * 1024 * 1024
    import_batch_rows: int = 200  # rows written per transaction (and per progress step)
    import_concurrency: int = 2  # imports one process reads and writes at once; others queue
    # A running import's process touches it this often; one not touched for the stale time
    # (its process died) is marked failed (import_interrupted) by any replica's sweeper.
    import_heartbeat_seconds: float = 10.0
    import_stale_seconds: float = 60.0
    import_sweep_seconds: float = 30.0
    import_drain_seconds: float = 10.0  # on shutdown, how long running imports may finish
    partner_secret_overlap_seconds: int = 24 * 3600

    def secret_values(self) -> dict[str, str | None]:
        values = super().secret_values()
        values["EHOME_IDENTITY_SIGNING_KEY"] = self.signing_key
        values["EHOME_IDENTITY_PII_KEYS"] = self.pii_keys
        values["EHOME_IDENTITY_PII_INDEX_KEY"] = self.pii_index_key
        if self.wechat_api_base:
            values["EHOME_IDENTITY_WECHAT_APP_SECRET"] = self.wechat_app_secret
            if self.wechat_web_app_secret is not None:
                values["EHOME_IDENTITY_WECHAT_WEB_APP_SECRET"] = self.wechat_web_app_secret
        return values
