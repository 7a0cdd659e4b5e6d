"""httpx clients for service-to-service and external calls: timeouts and id propagation."""

from shared.http.client import create_http_client

__all__ = ["create_http_client"]
