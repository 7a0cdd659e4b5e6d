"""The identity service's collaborators, built once at start-up and set as
``runtime.context``: token signer, PII cipher, WeChat, real-name provider, import runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.identity.realname import (
    HttpRealNameProvider,
    RealNameProvider,
    SandboxRealNameProvider,
)
from services.identity.settings import Settings
from services.identity.wechat import HttpWeChat, SandboxWeChat, WebApp, WeChat
from shared.auth.tokens import SigningKey, TokenSigner, generate_signing_key
from shared.logs import get_logger
from shared.pii import PiiCipher

if TYPE_CHECKING:  # the runner is built from this context: no import at run time
    from services.identity.service.imports import ImportRunner

log = get_logger(__name__)


@dataclass
class IdentityContext:
    settings: Settings
    signer: TokenSigner
    pii: PiiCipher
    wechat: WeChat
    realname: RealNameProvider
    passwords: PasswordHasher = field(default_factory=PasswordHasher)
    # Public keys published beside the signing key while a rotation is under way.
    extra_public_keys: list[Ed25519PublicKey] = field(default_factory=list)
    today: Any = date.today  # replaced in tests that need a fixed day
    # The registry imports this process runs; set by the start hook that starts the runner.
    imports: ImportRunner | None = None

    async def aclose(self) -> None:
        await self.wechat.aclose()
        await self.realname.aclose()


def resolve_signing_key(settings: Settings, injected: SigningKey | None) -> SigningKey:
    """Injected (embedded launcher, tests) > configured PEM > generated (dev/test only)."""
    if injected is not None:
        return injected
    if settings.signing_key:
        return SigningKey.from_pem(settings.signing_key)
    if settings.environment == "prod":
        raise RuntimeError("EHOME_IDENTITY_SIGNING_KEY is required in prod")
    log.warning(
        "signing_key_generated",
        detail="no EHOME_IDENTITY_SIGNING_KEY: tokens signed by this process die with it",
    )
    return generate_signing_key()


def build_context(
    settings: Settings,
    key: SigningKey,
    *,
    wechat: WeChat | None = None,
    realname: RealNameProvider | None = None,
) -> IdentityContext:
    if wechat is None:
        if settings.wechat_api_base:
            wechat = HttpWeChat(
                base_url=settings.wechat_api_base,
                app_id=settings.wechat_app_id,
                app_secret=settings.wechat_app_secret,
                retries=settings.wechat_retries,
                backoff_seconds=settings.wechat_backoff_seconds,
                timeout_seconds=settings.wechat_timeout_seconds,
                token_margin_seconds=settings.wechat_token_refresh_margin_seconds,
                web=WebApp(app_id=settings.wechat_web_app_id or settings.wechat_app_id,
                           app_secret=settings.wechat_web_app_secret
                           or settings.wechat_app_secret,
                           authorize_url=settings.wechat_web_authorize_url),
            )
        else:
            log.warning("wechat_sandbox", detail="EHOME_WECHAT_API_BASE unset: WeChat sandbox "
                        "answers ('sandbox:<openid>' codes log in)")
            wechat = SandboxWeChat()
    if realname is None:
        if settings.verify_api_base:
            realname = HttpRealNameProvider(
                base_url=settings.verify_api_base, timeout_seconds=settings.verify_timeout_seconds
            )
        else:
            log.warning("realname_sandbox", detail="EHOME_VERIFY_API_BASE unset: real-name "
                        "sandbox verifies any checksum-valid ID")
            realname = SandboxRealNameProvider()
    return IdentityContext(
        settings=settings,
        signer=TokenSigner(key, issuer=settings.jwt_issuer, audience=settings.jwt_audience),
        pii=PiiCipher.from_config(
            settings.pii_keys,
            active_kid=settings.pii_active_key_id,
            index_secret=settings.pii_index_key,
        ),
        wechat=wechat,
        realname=realname,
        extra_public_keys=_public_keys(settings.jwt_public_keys),
        passwords=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        ),
    )


def _public_keys(pems: list[str]) -> list[Ed25519PublicKey]:
    keys = []
    for pem in pems:
        key = serialization.load_pem_public_key(pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("EHOME_JWT_PUBLIC_KEYS must hold Ed25519 public keys")
        keys.append(key)
    return keys
