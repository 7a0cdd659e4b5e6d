"""Prometheus metrics, one registry per app so the embedded mode can host several apps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi.telemetry import TelemetryConfig
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# These metrics and the JSON request logs are the platform's telemetry. FastAPI's OpenTelemetry
# hooks stay off: unconfigured, they still asked the global providers on every request.
NO_OPENTELEMETRY: TelemetryConfig = {
    "tracing": False, "metrics": False, "logs": False, "operation_spans": False,
}

_STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _CallbackCollector(Collector):
    def __init__(self, sources: dict[str, Callable[[], float]], labels: dict[str, str]) -> None:
        self._sources = sources
        self._labels = labels

    def collect(self) -> Iterable[Metric]:
        for name, read in self._sources.items():
            family = CounterMetricFamily(name, name.replace("_", " "), labels=list(self._labels))
            family.add_metric(list(self._labels.values()), read())
            yield family


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one request. Series are looked up once (``labels()`` costs microseconds on
        every hot-path call); methods outside the standard set count as OTHER, so a client
        cannot create new series at will."""
        if method not in _STANDARD_METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(self.service, method, route, str(status)),
                self.latency.labels(self.service, method, route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def register_counters(self, sources: dict[str, Callable[[], float]]) -> None:
        """Expose running totals kept by workers (relay, consumers) without double counting."""
        self.registry.register(_CallbackCollector(sources, {"service": self.service}))

    def render(self) -> bytes:
        return generate_latest(self.registry)
