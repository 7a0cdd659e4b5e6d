"""The grid app calls the #19 endpoints by paths written in web/grid/src/api/grid.ts (typed by
hand from the contract until the console's OpenAPI snapshot has them): each must be an
operation the platform documents, so a renamed endpoint fails here, not on a worker's phone."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.web.conftest import ConsolePlatform

CLIENT = Path(__file__).resolve().parents[3] / "web" / "grid" / "src" / "api" / "grid.ts"
# '/api/v1/...' or `/api/v1/...${id}...` up to a query string or the closing quote.
CALLED = re.compile(r"['`](/api/v1/[^'`?]+)")


def called_paths(source: str) -> set[str]:
    """The paths the client names, each ``${...}`` as an OpenAPI parameter."""
    return {re.sub(r"\$\{[^}]+\}", "{}", path) for path in CALLED.findall(source)}


def documented(paths: dict[str, object]) -> set[str]:
    return {re.sub(r"\{[^}]+\}", "{}", path) for path in paths}


def test_every_path_the_app_calls_is_documented(console_platform: ConsolePlatform) -> None:
    served = httpx.get(f"{console_platform.base_url}/openapi.json", timeout=30).json()
    called = called_paths(CLIENT.read_text(encoding="utf-8"))
    assert len(called) >= 15
    assert called - documented(served["paths"]) == set()


def test_the_check_reads_templates_and_queries() -> None:
    source = "a: '/api/v1/x/y?mine=true', b: (id: string) => `/api/v1/x/${id}/z`,"
    assert called_paths(source) == {"/api/v1/x/y", "/api/v1/x/{}/z"}
    assert documented({"/api/v1/x/{task_id}/z": {}}) == {"/api/v1/x/{}/z"}
