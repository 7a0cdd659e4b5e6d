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
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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


# -- phone and ID numbers typed into free text ---------------------------------------------------
#
# Structured identifiers are encrypted; people also type them into descriptions, addresses and
# notes ("请联系 138 1234 5678"). The detector finds them so a service can store a masked copy
# and keep the original encrypted. It knows the number formats only (no domain rules):
#
# - mainland mobiles: 11 digits ``1[3-9]…``, also written ``+86``/``0086``/``86``/``0`` first;
# - landlines with their area code: ``010``/``02x`` + 8 digits, ``0xxx`` + 7 or 8 digits (the
#   local number starts 2-9); a local number without area code is left alone (it is as short
#   as a date or an amount);
# - resident ID numbers: 18 characters (17 digits + digit or X) and the old 15 digits, whose
#   birth date is plausible (18: 19xx/20xx; month 01-12; day 01-31). The GB 11643 check digit
#   does NOT decide: a mistyped ID still names its holder by the other 17 digits, so an ID-shaped
#   number is masked even when its check digit is wrong (``PiiSpan.check_digit_ok`` tells).
#
# A number may be split by single spaces or hyphens (``138-1234-5678``, ``0596-2345678``,
# ``3506 2319 9001 0112 34``) or put its area code in brackets; it may be typed in full-width
# (``１３８…``) or any other script's digits, which are read as the ASCII digits they stand for.
# Numbers are matched on whole groups: a longer run of digits (a bank card, an order number)
# is not cut into a phone. Masks are never longer than what they replace and are not detected
# again, so masking twice changes nothing.

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# One character for one character, so offsets in the folded text are offsets in the original.
_FOLDED_PUNCTUATION = {
    **{ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"},
    0x00A0: " ", 0x3000: " ", 0xFF08: "(", 0xFF09: ")", 0xFF0B: "+", 0xFF38: "X", 0xFF58: "x",
}
_GROUP = r"[0-9]+(?:[Xx](?![0-9A-Za-z]))?"
_SEPARATOR = r"(?:[ \t-]{1,2}|\) ?)"
# Starts on a digit (a leading "+" or "(" is taken in afterwards): a pattern that starts with
# one character class is scanned for fast.
_NUMBER_RUN = re.compile(rf"{_GROUP}(?:{_SEPARATOR}\(?{_GROUP})*")
_GROUP_IN_RUN = re.compile(r"[0-9]+[Xx]?")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MAX_DIGITS = 18  # the longest number found (an ID); longer candidates are not numbers of ours
_MIN_DIGITS = 10  # the shortest (a landline with a 3-digit area code)

PiiKind = Literal["mobile", "landline", "id_number"]


@dataclass(frozen=True)
class PiiSpan:
    """A personal number found in a text: where (offsets into the text as given), what kind,
    the number itself (ASCII digits, ``X`` upper case, no prefix or separators) and its mask."""

    kind: PiiKind
    start: int
    end: int
    number: str
    masked: str
    check_digit_ok: bool | None = None  # ID numbers of 18 characters only


def id_check_digit(first17: str) -> str:
    """GB 11643: the check character of an 18-character resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


# Characters that fold: any script's digits (ASCII ones fold to themselves; one character class
# is what the regex engine scans fast) and the punctuation above.
_FOLDABLE = re.compile(r"[\d" + "".join(chr(c) for c in _FOLDED_PUNCTUATION) + "]")


def _folded_char(match: re.Match[str]) -> str:
    char = match.group()
    digit = unicodedata.decimal(char, None)
    return str(digit) if digit is not None else _FOLDED_PUNCTUATION[ord(char)]


_ANY_DIGIT = re.compile(r"\d")  # any script's: a text without one holds no number


def _fold(text: str) -> str:
    return text if text.isascii() else _FOLDABLE.sub(_folded_char, text)


def _plausible_birth(month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def _id_number(s: str) -> bool:
    if s[0] == "0":
        return False
    if len(s) == 18:
        return s[:17].isdigit() and s[6:8] in ("19", "20") and _plausible_birth(s[10:12], s[12:14])
    return len(s) == 15 and s.isdigit() and _plausible_birth(s[8:10], s[10:12])


def _landline(s: str) -> tuple[str, str] | None:
    """(area code, local number) of a landline written with its area code."""
    if s[0] != "0" or not 10 <= len(s) <= 12 or not s.isdigit():
        return None
    area_length = 3 if s[1] == "2" or s.startswith("010") else 4
    if s[1] in "01" and not s.startswith("010"):
        return None
    local = s[area_length:]
    return (s[:area_length], local) if 7 <= len(local) <= 8 and local[0] in "23456789" else None


def _classify(s: str) -> tuple[PiiKind, str, str] | None:
    """(kind, number, mask) of a candidate string of digits, or None."""
    for prefix in ("", "86", "0086", "0"):
        if s.startswith(prefix) and _MOBILE.fullmatch(s[len(prefix):]):
            number = s[len(prefix):]
            return "mobile", number, number[:3] + "****" + number[-4:]
    if len(s) in (15, 18) and _id_number(s):
        return "id_number", s, s[:6] + "*" * (len(s) - 10) + s[-4:]
    landline = _landline(s)
    if landline is not None:
        area, local = landline
        return "landline", s, area + "*" * (len(local) - 4) + local[-4:]
    return None


def _spans_in_run(folded: str, run: re.Match[str]) -> list[PiiSpan]:
    """Numbers made of whole groups of one run, longest first from the left."""
    groups = [(run.start() + g.start(), run.start() + g.end(), g.group().upper())
              for g in _GROUP_IN_RUN.finditer(run.group())]
    found: list[PiiSpan] = []
    i = 0
    while i < len(groups):
        match = None
        # Every group holds a digit at least: no number of ours spans more than 18 groups.
        for j in range(min(len(groups), i + _MAX_DIGITS) - 1, i - 1, -1):
            digits = "".join(g[2] for g in groups[i:j + 1])
            if len(digits) < _MIN_DIGITS:
                break  # shorter still from here on
            if len(digits) > _MAX_DIGITS or "X" in digits[:-1]:
                continue
            kind = _classify(digits)
            if kind is not None:
                match = (j, kind)
                break
        if match is None:
            i += 1
            continue
        j, (kind_name, number, masked) = match
        start = groups[i][0]
        while start > 0 and folded[start - 1] in "+(":  # a leading "+", "(" or "(+" goes too
            start -= 1
        check = id_check_digit(number[:17]) == number[17] if len(number) == 18 else None
        found.append(PiiSpan(kind_name, start, groups[j][1], number, masked, check))
        i = j + 1
    return found


def find_personal_numbers(text: str) -> list[PiiSpan]:
    """Mobile, landline and resident ID numbers in ``text``, in order, not overlapping."""
    if not _ANY_DIGIT.search(text):
        return []
    folded = _fold(text)
    return [span for run in _NUMBER_RUN.finditer(folded)
            for span in _spans_in_run(folded, run)]


def mask_personal_numbers(text: str) -> str:
    """``text`` with every number :func:`find_personal_numbers` finds replaced by its mask
    (``138****5678``, ``0596***5678``, ``350623********1234``); the same string when none."""
    spans = find_personal_numbers(text)
    if not spans:
        return text
    parts, last = [], 0
    for span in spans:
        parts += [text[last:span.start], span.masked]
        last = span.end
    parts.append(text[last:])
    return "".join(parts)


def mask_optional_text(text: str | None) -> str | None:
    """:func:`mask_personal_numbers` of a text that may be absent."""
    return None if text is None else mask_personal_numbers(text)


def mask_and_seal(cipher: PiiCipher, text: str, *, context: str) -> tuple[str, str | None]:
    """(``text`` with its phone and ID numbers masked, the typed original encrypted under
    ``context``), the original None when nothing was masked: only a text that held a number
    keeps a copy that must be revealed through an audit."""
    masked = mask_personal_numbers(text)
    if masked == text:
        return text, None
    return masked, cipher.encrypt(text, context=context)
