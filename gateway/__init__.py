"""The one public entrance: routes /api/v1/<service>/... to its service, verifies tokens,
limits bodies and rates, and serves the merged OpenAPI document."""

from gateway.app import GatewayApp, create_gateway_app, create_http_gateway_app
from gateway.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.settings import SERVICES, GatewaySettings
from gateway.upstreams import AsgiUpstream, HttpUpstream, Upstream, UpstreamResponse

__all__ = [
    "SERVICES",
    "AsgiUpstream",
    "GatewayApp",
    "GatewaySettings",
    "HttpUpstream",
    "Upstream",
    "UpstreamBadResponse",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "create_gateway_app",
    "create_http_gateway_app",
]
