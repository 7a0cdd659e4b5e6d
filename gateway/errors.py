"""The failures of a hop to a service, as the proxy reports them: 502, 503 or 504."""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of the failures the proxy turns into a gateway problem response.

    ``detail`` is for logs (it may name internal hosts and ports); callers are told only
    ``public_detail``."""

    status = 502
    code = "bad_gateway"
    public_detail = "gave an invalid answer"

    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"{upstream}: {detail}")
        self.upstream = upstream
        self.detail = detail


class UpstreamTimeout(UpstreamError):
    status, code = 504, "upstream_timeout"
    public_detail = "did not answer in time"


class UpstreamUnavailable(UpstreamError):
    status, code = 503, "upstream_unavailable"
    public_detail = "is unavailable; retry later"


class UpstreamBadResponse(UpstreamError):
    status, code = 502, "bad_gateway"
    public_detail = "gave an invalid answer"
