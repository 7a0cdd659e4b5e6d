"""The partner app: the signed open API (``/open/v1/...``), webhooks and the changes feed.

It is a service-style app (its own schema ``partner``) that the gateway routes ``/open/v1``
to through ``partner_upstream``; it authenticates every call itself (HMAC signatures)."""
