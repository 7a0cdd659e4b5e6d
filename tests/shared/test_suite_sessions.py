"""make test's pytest: three sessions side by side only where the database allows them."""

from __future__ import annotations

import asyncio

import pytest

from shared.testing import suite


def test_sessions_cover_every_test_folder_once() -> None:
    sessions = suite.sessions()
    named = [*suite.BROWSER, *suite.CASE_LOOP]
    rest = sessions["the rest"]
    assert [rest[i + 1] for i in range(0, len(rest), 2)] == named
    assert set(rest[0::2]) == {"--ignore"}
    assert sessions["the browser tests"] == list(suite.BROWSER)
    assert sessions["the case loop's services"] == list(suite.CASE_LOOP)


def test_embedded_postgresql_lets_the_sessions_run_side_by_side() -> None:
    assert suite.too_few_connections(None) is None


def test_a_server_allowing_few_connections_gets_one_session(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def allowed(_: str) -> int:
        return 100

    monkeypatch.setattr(suite, "_allowed_connections", allowed)
    reason = suite.too_few_connections(database_url)
    assert reason is not None
    assert "allows 100 connections" in reason


def test_the_servers_own_allowance_is_read(database_url: str) -> None:
    # Whatever this server allows, the answer agrees with the threshold.
    allowed = asyncio.run(suite._allowed_connections(database_url))
    assert allowed > 0
    verdict = suite.too_few_connections(database_url)
    assert (verdict is None) == (allowed >= suite.SIDE_BY_SIDE_CONNECTIONS)
