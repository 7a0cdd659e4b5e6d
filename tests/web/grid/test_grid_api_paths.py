"""The grid app is typed from the platform's OpenAPI: its types are generated from the snapshot
the console's test keeps equal to the served document (web/console/openapi.json), and the
paths written in web/grid/src/api/grid.ts must each be an operation the platform documents,
so a renamed endpoint or a changed shape fails here (or in the build), not on a phone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.web.conftest import ConsolePlatform

WEB = Path(__file__).resolve().parents[3] / "web"
CLIENT = WEB / "grid" / "src" / "api" / "grid.ts"
SNAPSHOT = WEB / "console" / "openapi.json"
SCHEMA_NAME = re.compile(r'^ {8}"?([\w.\-]+)"?: ', re.MULTILINE)
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


def generated_schemas(typescript: str) -> set[str]:
    """The component schemas openapi-typescript wrote (``components.schemas`` entries)."""
    block = typescript.split("\n    schemas: {\n", 1)[1].split("\n    responses: ", 1)[0]
    return set(SCHEMA_NAME.findall(block))


def test_the_app_is_typed_from_the_platforms_snapshot() -> None:
    """``npm run api:types`` reads the snapshot, and src/api/schema.d.ts was generated from it
    as it is now: after a refresh of the snapshot, regenerate."""
    scripts = json.loads((WEB / "grid" / "package.json").read_text(encoding="utf-8"))["scripts"]
    assert "../console/openapi.json" in scripts["api:types"]
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    typed = generated_schemas((WEB / "grid" / "src" / "api" / "schema.d.ts").read_text(
        encoding="utf-8"))
    assert typed == set(snapshot["components"]["schemas"]), (
        "web/grid/src/api/schema.d.ts is stale: run `npm run api:types` in web/grid")


def test_the_schema_check_reads_only_component_schemas() -> None:
    typescript = ("export interface components {\n    schemas: {\n        A: {\n"
                  "            b: {\n                c: string;\n            };\n        };\n"
                  "        B: string;\n    };\n    responses: never;\n}\n")
    assert generated_schemas(typescript) == {"A", "B"}
