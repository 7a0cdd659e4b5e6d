"""Settings come from the environment under the names deployments use."""

from __future__ import annotations

import pytest

from gateway import GatewaySettings, create_http_gateway_app
from gateway.settings import DEFAULT_PUBLIC_PATHS, DEFAULT_UPSTREAM_URLS


def test_settings_are_read_from_the_documented_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHOME_PORT", "9100")
    monkeypatch.setenv("EHOME_HOST", "0.0.0.0")
    monkeypatch.setenv("EHOME_GATEWAY_UPSTREAM_URLS", '{"events": "http://events.ehome.svc:8000/"}')
    monkeypatch.setenv("EHOME_GATEWAY_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("EHOME_GATEWAY_RATE_LIMIT_BURST", "7")
    monkeypatch.setenv("EHOME_GATEWAY_PUBLIC_PATHS", '[["get", "/api/v1/events/open/"]]')
    settings = GatewaySettings()
    assert (settings.port, settings.host) == (9100, "0.0.0.0")
    assert settings.upstream_urls == {"events": "http://events.ehome.svc:8000"}
    assert settings.max_body_bytes == 2048
    assert settings.rate_limit_burst == 7
    assert settings.public_paths == [("GET", "/api/v1/events/open")]


def test_defaults_cover_every_service_and_the_public_resident_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("EHOME_PORT", "EHOME_GATEWAY_UPSTREAM_URLS", "EHOME_GATEWAY_PUBLIC_PATHS"):
        monkeypatch.delenv(name, raising=False)
    settings = GatewaySettings()
    assert settings.port == 8000
    assert settings.upstream_urls == DEFAULT_UPSTREAM_URLS
    assert settings.public_paths == list(DEFAULT_PUBLIC_PATHS)
    assert ("POST", "/api/v1/identity/wechat-login") in settings.public_paths


def test_upstream_urls_naming_an_unknown_service_are_refused() -> None:
    settings = GatewaySettings(upstream_urls={"payments": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="payments"):
        create_http_gateway_app(settings)


def test_public_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="must start with"):
        GatewaySettings(public_paths=[("GET", "api/v1/events")])
