"""Personal-information protection: field encryption, blind indexes, masking.

Infrastructure only — no domain rules. Any service that stores a personal identifier
(ID number, phone, name) encrypts it with :class:`PiiCipher` and, when it must find rows by
that value, stores :meth:`PiiCipher.blind_index` beside it.

- Encryption is AES-256-GCM. Every ciphertext starts with the id of the key that made it
  (``"<kid>:<base64url(nonce || ciphertext)>"``), so keys rotate: new writes use the active
  key, old rows stay readable while their key remains in the keyring, and a re-encryption
  job can find them by prefix.
- A ``context`` (the field name) is bound as associated data: a ciphertext copied into
  another column does not decrypt there.
- The blind index is HMAC-SHA256 under a separate key, so equality lookups work without
  decrypting and without the index being a plain (dictionary-attackable) hash.
- Key material is any secret string; 32-byte keys are derived from it with HKDF, so the
  same configuration value always yields the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class PiiError(ValueError):
    """A ciphertext cannot be read: unknown key id, tampered data or wrong context."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def parse_keyring(spec: str) -> dict[str, str]:
    """``"v2:secret-two,v1:secret-one"`` → ``{"v2": "secret-two", "v1": "secret-one"}``."""
    keys: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, secret = part.partition(":")
        if not sep or not kid or not secret or not kid.isalnum():
            raise ValueError("PII keys are written 'kid:secret[,kid:secret...]'")
        keys[kid] = secret
    if not keys:
        raise ValueError("at least one PII key is required")
    return keys


class PiiCipher:
    def __init__(self, keys: Mapping[str, str], *, active_kid: str, index_secret: str) -> None:
        if active_kid not in keys:
            raise ValueError(f"active PII key {active_kid!r} is not in the keyring")
        self._aeads = {kid: AESGCM(_derive(s, b"ehome-pii-aead")) for kid, s in keys.items()}
        self._active = active_kid
        self._index_key = _derive(index_secret, b"ehome-pii-blind-index")

    @classmethod
    def from_config(cls, keyring: str, *, active_kid: str | None, index_secret: str) -> PiiCipher:
        keys = parse_keyring(keyring)
        return cls(keys, active_kid=active_kid or next(iter(keys)), index_secret=index_secret)

    @property
    def active_kid(self) -> str:
        return self._active

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self._active}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        kid, sep, body = ciphertext.partition(":")
        aead = self._aeads.get(kid)
        if not sep or aead is None:
            raise PiiError(f"no PII key {kid!r} in the keyring")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError):
            raise PiiError("ciphertext does not verify") from None
        return plain.decode()

    def encrypt_optional(self, plaintext: str | None, *, context: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, context=context)

    def decrypt_optional(self, ciphertext: str | None, *, context: str) -> str | None:
        return None if ciphertext is None else self.decrypt(ciphertext, context=context)

    @staticmethod
    def key_id_of(ciphertext: str) -> str:
        """Which key sealed this value (to find rows a rotation still has to re-encrypt)."""
        return ciphertext.partition(":")[0]

    def needs_rotation(self, ciphertext: str) -> bool:
        return self.key_id_of(ciphertext) != self._active

    def blind_index(self, value: str, *, context: str) -> str:
        """Deterministic keyed hash for equality lookup. Callers normalise ``value`` first
        (case, spaces) so equal values index equally."""
        message = context.encode() + b"\x00" + value.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def mask_id_number(value: str | None) -> str | None:
    """``350623199001011234`` → ``350623********1234`` (region kept, birth date hidden)."""
    if not value:
        return value
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13812341234`` → ``138****1234``."""
    if not value:
        return value
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """``张三丰`` → ``张**``: enough for a person to recognise their own record."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)
