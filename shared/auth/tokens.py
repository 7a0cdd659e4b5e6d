"""EdDSA (Ed25519) access tokens: identity signs, the gateway and every service verify.

Keys are named by ``kid`` (a hash of the public key), so a rotation publishes the new public
key beside the old one and tokens signed by either keep verifying until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.auth.principal import Principal
from shared.errors import ServiceUnavailable, Unauthorized

ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(_raw_public(key)),
        "kid": key_id(key),
        "alg": ALGORITHM,
        "use": "sig",
    }


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        return key_id(self.public_key)

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key")
        return cls(key)


def generate_signing_key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


class TokenSigner:
    def __init__(self, key: SigningKey, *, issuer: str, audience: str) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience

    @property
    def key(self) -> SigningKey:
        return self._key

    def access_token(
        self,
        *,
        subject: uuid.UUID,
        roles: Iterable[str],
        regions: Iterable[str] = (),
        departments: Iterable[uuid.UUID] = (),
        verified: bool = False,
        kind: str = "resident",
        ttl_seconds: int = 900,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(subject),
            "iat": issued,
            "nbf": issued - 5,
            "exp": issued + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "typ": "access",
            "kind": kind,
            "roles": sorted(set(roles)),
            "regions": sorted(set(regions)),
            "depts": sorted(str(d) for d in set(departments)),
            "verified": verified,
        }
        if extra:
            claims["ext"] = extra
        return jwt.encode(
            claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid}
        )


def _key_id_of(token: str) -> str:
    """The ``kid`` of a compact JWS, read straight from its header segment. PyJWT's own
    header parser validates base64 character by character in Python, which costs more than
    the signature check; the signature check that follows validates everything anyway."""
    header_segment = token.partition(".")[0]
    try:
        header = orjson.loads(
            base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4))
        )
    except (ValueError, TypeError):
        raise Unauthorized("malformed access token", code="token_invalid") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(kid, str):
        raise Unauthorized("access token names no key", code="token_invalid")
    return kid


class TokenVerifier:
    """Verifies access tokens against the published public keys. Successful verifications are
    cached by token until they expire: the gateway sees the same token many times a minute."""

    def __init__(
        self,
        public_keys: Iterable[Ed25519PublicKey] = (),
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        cache_size: int = 10_000,
        leeway_seconds: int = 5,
    ) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {key_id(k): k for k in public_keys}
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._leeway = leeway_seconds
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._cache_size = cache_size
        self._last_fetch = 0.0

    @classmethod
    def from_pems(cls, pems: Iterable[str], **kwargs: Any) -> TokenVerifier:
        keys = []
        for pem in pems:
            key = serialization.load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("token keys must be Ed25519 public keys")
            keys.append(key)
        return cls(keys, **kwargs)

    def add_key(self, key: Ed25519PublicKey) -> None:
        self._keys[key_id(key)] = key

    def load_jwks(self, document: dict[str, Any]) -> None:
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
                self.add_key(Ed25519PublicKey.from_public_bytes(raw))

    async def refresh_from_jwks(self, *, min_interval: float = 30.0) -> None:
        """Fetch identity's JWKS (at start-up, and when a token names an unknown key)."""
        if not self._jwks_url or time.monotonic() - self._last_fetch < min_interval:
            return
        self._last_fetch = time.monotonic()
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self._jwks_url)
            response.raise_for_status()
            self.load_jwks(response.json())

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)

    def _cached(self, token: str) -> Principal | None:
        cached = self._cache.get(token)
        if cached is None:
            return None
        expires, principal = cached
        if expires > time.time() - self._leeway:
            return principal
        self._cache.pop(token, None)
        return None

    def verify(self, token: str) -> Principal:
        cached = self._cached(token)
        if cached is not None:
            return cached
        principal, expires = self._decode(token)
        self._cache[token] = (expires, principal)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def verify_async(self, token: str) -> Principal:
        """Like verify, but fetches the JWKS first if the token names a key not seen yet (a
        rotation). A token seen before is answered from the cache without parsing it."""
        cached = self._cached(token)
        if cached is not None:
            return cached
        kid = _key_id_of(token)
        if kid not in self._keys and self._jwks_url:
            try:
                await self.refresh_from_jwks()
            except httpx.HTTPError:
                raise ServiceUnavailable(
                    "token keys are not available", code="token_keys_unavailable"
                ) from None
        return self.verify(token)

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            key = self._keys.get(_key_id_of(token))
            if key is None:
                raise Unauthorized("token signed by an unknown key", code="token_invalid")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid access token", code="token_invalid") from None
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token", code="token_invalid")
        try:
            principal = Principal(
                subject=uuid.UUID(claims["sub"]),
                roles=frozenset(claims.get("roles", ())),
                regions=tuple(claims.get("regions", ())),
                departments=tuple(uuid.UUID(d) for d in claims.get("depts", ())),
                verified=bool(claims.get("verified", False)),
                kind=str(claims.get("kind", "resident")),
                token_id=claims.get("jti"),
                extra=dict(claims.get("ext") or {}),
            )
        except (ValueError, TypeError):
            raise Unauthorized("invalid access token claims", code="token_invalid") from None
        return principal, float(claims["exp"])
