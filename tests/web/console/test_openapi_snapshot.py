"""The console is typed against a committed snapshot of the gateway's OpenAPI
(web/console/openapi.json, from which src/api/schema.d.ts is generated): a server change the
console does not know about fails here, not in a clerk's browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.web.conftest import ConsolePlatform

SNAPSHOT = Path(__file__).resolve().parents[3] / "web" / "console" / "openapi.json"
REFRESH = ("refresh it: curl -s <platform>/openapi.json | python3 -c 'import json,sys; "
           "print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True, "
           "ensure_ascii=False))' > web/console/openapi.json; then in web/console "
           "`npm run api:types` and adapt the console")


def normalised(document: Any) -> str:
    """The one text form of a document: keys sorted, two-space indent, UTF-8 as is."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def differences(served: dict[str, Any], known: dict[str, Any]) -> list[str]:
    """What changed, by operation and schema, so the failure says where to look."""
    found: list[str] = []
    for kind, section in (("operation", "paths"), ("schema", "components")):
        now = _entries(served, section)
        before = _entries(known, section)
        found += [f"new {kind} {name}" for name in sorted(now.keys() - before.keys())]
        found += [f"removed {kind} {name}" for name in sorted(before.keys() - now.keys())]
        found += [f"changed {kind} {name}" for name in sorted(now.keys() & before.keys())
                  if now[name] != before[name]]
    return found


def _entries(document: dict[str, Any], section: str) -> dict[str, Any]:
    if section == "paths":
        return {f"{method.upper()} {path}": operation
                for path, item in document.get("paths", {}).items()
                for method, operation in item.items()}
    return dict(document.get("components", {}).get("schemas", {}))


def test_the_console_knows_the_api_the_platform_serves(console_platform: ConsolePlatform) -> None:
    served = httpx.get(f"{console_platform.base_url}/openapi.json", timeout=30)
    assert served.status_code == 200
    known = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    changed = differences(served.json(), known)
    assert not changed, f"the API differs from the console's snapshot ({REFRESH}): {changed}"
    assert normalised(served.json()) == SNAPSHOT.read_text(encoding="utf-8"), REFRESH


def test_a_changed_operation_is_named_in_the_failure() -> None:
    known = {"paths": {"/a": {"get": {"x": 1}}}, "components": {"schemas": {"S": {}}}}
    served = {"paths": {"/a": {"get": {"x": 2}}, "/b": {"post": {}}},
              "components": {"schemas": {}}}
    assert differences(served, known) == ["new operation POST /b", "changed operation GET /a",
                                          "removed schema S"]
