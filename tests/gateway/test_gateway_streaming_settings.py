"""The streaming settings come from the environment under the names the deployment uses, and
the upload limit is sized for what events accepts."""

from __future__ import annotations

import pytest

from gateway import GatewaySettings
from services.events.settings import Settings as EventsSettings


def test_upload_and_idle_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHOME_GATEWAY_UPLOAD_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("EHOME_GATEWAY_UPLOAD_PATHS",
                       '[["post", "/api/v1/events/attachments/"], ["put", "/api/v1/relief/files"]]')
    monkeypatch.setenv("EHOME_GATEWAY_UPSTREAM_IDLE_TIMEOUT_SECONDS", "45")
    settings = GatewaySettings()
    assert settings.upload_max_body_bytes == 4096
    assert settings.upload_paths == [
        ("POST", "/api/v1/events/attachments"), ("PUT", "/api/v1/relief/files")
    ]
    assert settings.upstream_idle_timeout_seconds == 45


def test_by_default_only_the_attachment_upload_streams_and_a_largest_video_fits() -> None:
    settings = GatewaySettings()
    events = EventsSettings()
    assert settings.upload_paths == [("POST", "/api/v1/events/attachments")]
    # The largest video events takes, with room for its multipart envelope, and no more
    # than a megabyte beyond it.
    largest = max(events.max_video_bytes, events.max_image_bytes)
    assert largest < settings.upload_max_body_bytes <= largest + 1024 * 1024
    assert settings.max_body_bytes < largest  # other bodies keep the small limit


def test_an_upload_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="must start with"):
        GatewaySettings(upload_paths=[("POST", "api/v1/events/attachments")])
