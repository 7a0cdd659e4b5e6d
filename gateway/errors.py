"""The failures of a hop to a service, as the proxy reports them: 502, 503 or 504 before an
answer has begun; a cut-off response after."""

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


class UpstreamBodyBroken(Exception):
    """A service's answer broke off after its head had gone on to the client: too late for
    a problem answer, so the client's response is cut off (its connection closed: never a
    short body that looks complete). ``reason`` labels the metric: ``closed`` (the service
    hung up), ``stalled`` (no byte within the idle timeout), ``malformed``, ``failed`` (an
    in-process service raised), ``aborted`` (read after the gateway closed it)."""

    def __init__(self, upstream: str, reason: str, detail: str) -> None:
        super().__init__(f"{upstream}: {detail}")
        self.upstream = upstream
        self.reason = reason
        self.detail = detail
