"""Ping'an e-Home partner signing client: copy this one file into your project.

Python 3.9+ standard library only. It signs calls to the open API (``/open/v1/...``) and
verifies the webhooks the platform sends you; the platform itself uses these same functions,
so what this file computes is exactly what the server checks.

Every signed request carries four headers:

    X-App-Key:   your app key (pk_...)
    X-Timestamp: Unix seconds; must be within ±300 s of the server's clock
    X-Nonce:     a fresh random string (8-64 of A-Z a-z 0-9 _ -), never reused within 300 s
    X-Signature: lowercase hex HMAC-SHA256(secret, canonical string)

The canonical string is six lines joined by "\\n" (no trailing newline)::

    METHOD          upper case: POST
    PATH            as sent, percent-encoding included: /open/v1/events
    SORTED_QUERY    query pairs sorted by (name, value), re-encoded (RFC 3986); "" when none
    TIMESTAMP       the X-Timestamp value
    NONCE           the X-Nonce value
    SHA256_HEX(BODY) lowercase hex SHA-256 of the raw body bytes ("e3b0c442..." when empty)

Usage::

    client = PartnerClient("https://ehome.example.gov.cn", "pk_...", "secret")
    status, answer = client.request("POST", "/open/v1/events", {"phone": "13800000000", ...},
                                    request_id="order-42")

    # in your webhook handler (raw body bytes and the request headers):
    if not verify_webhook(secret, "POST", path, query, headers, body):
        return 401
    # then dedupe on headers["X-Delivery-Id"]: a delivery can arrive more than once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlsplit

TIMESTAMP_WINDOW_SECONDS = 300
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def sorted_query(query: str) -> str:
    """``b=2&a=1&a=0`` → ``a=0&a=1&b=2`` (decoded, sorted, re-encoded the same way)."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def canonical_string(method: str, path: str, query: str, timestamp: str, nonce: str,
                     body: bytes) -> str:
    return "\n".join((method.upper(), path, sorted_query(query), timestamp, nonce,
                      hashlib.sha256(body).hexdigest()))


def sign(secret: str, method: str, path: str, query: str, timestamp: str, nonce: str,
         body: bytes) -> str:
    message = canonical_string(method, path, query, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, signature: str, method: str, path: str, query: str,
                      timestamp: str, nonce: str, body: bytes) -> bool:
    expected = sign(secret, method, path, query, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def open311_api_key(app_key: str, secret: str) -> str:
    """The ``api_key`` this app sends to Open311 GeoReport v2 (``/open311/v2/``), which has no
    signatures: the app key and a MAC of it under the secret. Rotating the secret rotates it
    (both keys work during the rotation's overlap); it is as secret as the secret."""
    mac = hmac.new(secret.encode(), f"open311\n{app_key}".encode(), hashlib.sha256)
    return f"{app_key}.{mac.hexdigest()[:40]}"


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(app_key: str, secret: str, method: str, path: str, query: str,
                   body: bytes, *, now: float | None = None, nonce: str | None = None
                   ) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or new_nonce()
    return {
        "X-App-Key": app_key,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path, query, timestamp, nonce, body),
    }


def verify_webhook(secret: str, method: str, path: str, query: str,
                   headers: Mapping[str, str], body: bytes, *, now: float | None = None,
                   window: int = TIMESTAMP_WINDOW_SECONDS) -> bool:
    """Check a webhook the platform sent you (same scheme; ``headers`` case-insensitive)."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("x-timestamp", "")
    # ASCII digits only: '²' is a digit to str.isdigit() but int() refuses it.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > window:
        return False
    return signature_matches(secret, lower.get("x-signature", ""), method, path, query,
                             timestamp, lower.get("x-nonce", ""), body)


class PartnerClient:
    """A minimal blocking client over urllib (use your own HTTP stack if you prefer)."""

    def __init__(self, base_url: str, app_key: str, secret: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.secret = secret
        self.timeout = timeout

    def request(self, method: str, path_with_query: str, payload: object | None = None, *,
                request_id: str | None = None) -> tuple[int, object]:
        if request_id is not None:
            # The submission's idempotency key is the body's request_id (signed with the
            # rest); an X-Request-Id header is only a trace id to the platform.
            if not isinstance(payload, dict):
                raise TypeError("request_id goes into a JSON object payload")
            payload = {**payload, "request_id": request_id}
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        parts = urlsplit(path_with_query)
        headers = signed_headers(self.app_key, self.secret, method, parts.path, parts.query,
                                 body)
        if body:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path_with_query, data=body or None,
                                         headers=headers, method=method.upper())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


if __name__ == "__main__":  # the worked example of the README
    example = canonical_string("POST", "/open/v1/events", "", "1764144000",
                               "3f2a9c1e5b7d4a60", b'{"phone":"13800000000"}')
    print(example)
    print(sign("example-secret", "POST", "/open/v1/events", "", "1764144000",
               "3f2a9c1e5b7d4a60", b'{"phone":"13800000000"}'))
