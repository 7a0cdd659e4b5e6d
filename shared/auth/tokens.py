"""EdDSA (Ed25519) access tokens: identity signs, the gateway and every service verify.

Keys are named by ``kid`` (a hash of the public key), so a rotation publishes the new public
key beside the old one and tokens signed by either keep verifying until they expire.

A signature check costs ~130 µs of CPU, and in a surge every request carries a token never
seen before (each resident books once), so the cache does not help. The gateway therefore
*endorses* each token it has verified: an HMAC of the token under a key derived from the
platform's internal key, sent upstream in ``X-Ehome-Token-Endorsement``. A service that finds
a valid endorsement reads the claims without checking the signature again (expiry, issuer,
audience and type are still checked); without one — a call that did not come through the
gateway — it verifies the signature itself. Forging an endorsement needs the internal key,
which already opens the internal endpoints.

Neither the cache nor an endorsement outlives a revocation: every answer, cached or not, is
checked against the verifier's ``RevocationList`` (shared/auth/revocations.py), which a poller
keeps current from identity, and a revoked token is refused with 401 ``token_revoked``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
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
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from shared.auth.principal import Principal
from shared.auth.revocations import RevocationList
from shared.problems import ServiceUnavailable, Unauthorized

ALGORITHM = "EdDSA"
ENDORSEMENT_HEADER = "x-ehome-token-endorsement"
_REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


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
        session: uuid.UUID | str | None = None,
    ) -> str:
        """``session``: the login (refresh-token family) the token belongs to, claim ``sid``:
        a logout revokes that session's tokens."""
        moment = now if now is not None else time.time()
        issued = int(moment)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(subject),
            # To the millisecond: a revocation refuses tokens issued before it, and the new
            # token a re-scoped account gets a moment later must not fall in the same second.
            "iat": round(moment, 3),
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
        if session is not None:
            claims["sid"] = str(session)
        return jwt.encode(
            claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid}
        )


def _b64url_decode(segment: str) -> bytes:
    """Strict base64url: a character outside the alphabet is an error, not skipped."""
    padded = segment.translate(_URLSAFE_TO_STANDARD) + "=" * (-len(segment) % 4)
    try:
        return binascii.a2b_base64(padded.encode("ascii"), strict_mode=True)
    except UnicodeEncodeError:
        raise ValueError("not base64url") from None


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64url_decode(segment))
    except (ValueError, binascii.Error):
        raise Unauthorized("malformed access token", code="token_invalid") from None
    if not isinstance(value, dict):
        raise Unauthorized("malformed access token", code="token_invalid")
    return value


def _segments(token: str) -> tuple[str, str, str]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise Unauthorized("malformed access token", code="token_invalid")
    return parts[0], parts[1], parts[2]


def _key_id_of(token: str) -> str:
    """The ``kid`` of a compact JWS, read straight from its header segment."""
    kid = _json_segment(_segments(token)[0]).get("kid")
    if not isinstance(kid, str):
        raise Unauthorized("access token names no key", code="token_invalid")
    return kid


class TokenEndorser:
    """The gateway's word, to the services behind it, that it verified a token."""

    def __init__(self, internal_api_key: str) -> None:
        # A key of its own, so an endorsement can never double as the internal key.
        self._key = hmac.new(
            internal_api_key.encode(), b"ehome access-token endorsement v1", hashlib.sha256
        ).digest()

    def endorse(self, token: str) -> str:
        return _b64url(hmac.new(self._key, token.encode(), hashlib.sha256).digest())

    def vouches_for(self, token: str, endorsement: str) -> bool:
        return hmac.compare_digest(self.endorse(token), endorsement)


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
        endorser: TokenEndorser | None = None,
        revocations: RevocationList | None = None,
    ) -> None:
        # Checked with libsodium: ~70 µs a signature here against ~125 µs through OpenSSL,
        # and the gateway checks one per request of every resident it has not seen yet.
        self._keys: dict[str, VerifyKey] = {
            key_id(k): VerifyKey(_raw_public(k)) for k in public_keys
        }
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._leeway = leeway_seconds
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._cache_size = cache_size
        self._last_fetch = 0.0
        self._endorser = endorser
        self.revocations = revocations if revocations is not None else RevocationList()

    @property
    def endorser(self) -> TokenEndorser | None:
        return self._endorser

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
        self._keys[key_id(key)] = VerifyKey(_raw_public(key))

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

    def verify(self, token: str, endorsement: str | None = None) -> Principal:
        """The token's principal. ``endorsement``: the gateway's, when the request came
        through it; a valid one spares the signature check."""
        cached = self._cached(token)
        if cached is not None:
            return self._unrevoked(cached)
        if endorsement and self._endorser and self._endorser.vouches_for(token, endorsement):
            principal, expires = self._principal(_json_segment(_segments(token)[1]))
        else:
            principal, expires = self._decode(token)
        self._cache[token] = (expires, principal)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return self._unrevoked(principal)

    def _unrevoked(self, principal: Principal) -> Principal:
        if self.revocations and self.revocations.refuses(principal):
            raise Unauthorized("this access token has been revoked", code="token_revoked")
        return principal

    async def verify_async(self, token: str, endorsement: str | None = None) -> Principal:
        """Like verify, but fetches the JWKS first if the token names a key not seen yet (a
        rotation). A token seen before is answered from the cache without parsing it."""
        cached = self._cached(token)
        if cached is not None:
            return self._unrevoked(cached)
        if not endorsement and self._jwks_url:
            kid = _key_id_of(token)
            if kid not in self._keys:
                try:
                    await self.refresh_from_jwks()
                except httpx.HTTPError:
                    raise ServiceUnavailable(
                        "token keys are not available", code="token_keys_unavailable"
                    ) from None
        return self.verify(token, endorsement)

    def _decode(self, token: str) -> tuple[Principal, float]:
        """Check the signature, then the claims."""
        header_segment, payload_segment, signature_segment = _segments(token)
        header = _json_segment(header_segment)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("unexpected token algorithm", code="token_invalid")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("token signed by an unknown key", code="token_invalid")
        try:
            key.verify(
                f"{header_segment}.{payload_segment}".encode(),
                _b64url_decode(signature_segment),
            )
        except (BadSignatureError, ValueError, binascii.Error):
            raise Unauthorized("invalid access token", code="token_invalid") from None
        return self._principal(_json_segment(payload_segment))

    def _principal(self, claims: dict[str, Any]) -> tuple[Principal, float]:
        """Validate the registered claims and build the principal."""
        if any(name not in claims for name in _REQUIRED_CLAIMS):
            raise Unauthorized("access token lacks required claims", code="token_invalid")
        now = time.time()
        expires, issued, not_before = claims["exp"], claims["iat"], claims.get("nbf", 0)
        if not all(_is_number(v) for v in (expires, issued, not_before)):
            raise Unauthorized("invalid access token claims", code="token_invalid")
        if expires <= now - self._leeway:
            raise Unauthorized("access token expired", code="token_expired")
        if issued > now + self._leeway or not_before > now + self._leeway:
            raise Unauthorized("access token not valid yet", code="token_invalid")
        audience = claims["aud"]
        audiences = audience if isinstance(audience, list) else [audience]
        if claims["iss"] != self._issuer or self._audience not in audiences:
            raise Unauthorized("access token for another issuer or audience", code="token_invalid")
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
                issued_at=float(issued),
                session_id=_optional_str(claims.get("sid")),
            )
        except (ValueError, TypeError, AttributeError):
            raise Unauthorized("invalid access token claims", code="token_invalid") from None
        return principal, float(expires)


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("sid must be a string")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
