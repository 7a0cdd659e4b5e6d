"""The OpenAPI documents describe the errors: every refusal an operation can give is declared,
as application/problem+json with the shared Problem schema; methods nobody serves are 405."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.openapi import merge_documents
from gateway.proxy import PublicPaths
from shared.auth import TokenVerifier
from shared.auth.deps import require_roles
from shared.auth.principal import Principal
from shared.settings import ServiceSettings
from shared.web import create_service_app
from tests.gateway.gateway_assertions import assert_problem

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
WRITES = {"post", "put", "patch", "delete"}


class Note(BaseModel):
    text: str


def _service_document(verifier: TokenVerifier) -> dict[str, Any]:
    router = APIRouter()

    @router.get("/api/v1/notes/open")
    async def open_list() -> list[str]:
        return []

    @router.put("/api/v1/notes/{note_id}")
    async def put_note(
        note_id: int,
        body: Note,
        caller: Annotated[Principal, Depends(require_roles("admin"))],
    ) -> Note:
        return body

    settings = ServiceSettings(
        environment="test", database_url="postgresql://unused@127.0.0.1:1/none", broker="memory"
    )
    app = create_service_app(settings, title="notes", routers=[router], verifier=verifier)
    return app.openapi()


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"]}


def _every_error_is_a_problem(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    assert response["content"] == PROBLEM, (method, path, code)


def test_a_services_document_declares_the_problems_each_operation_can_give(
    verifier: TokenVerifier,
) -> None:
    document = _service_document(verifier)
    _every_error_is_a_problem(document)
    put = document["paths"]["/api/v1/notes/{note_id}"]["put"]
    assert {401, 403, 404, 409, 413, 415, 422} <= _statuses(put)
    listing = document["paths"]["/api/v1/notes/open"]["get"]
    assert not {401, 403, 404, 409, 415, 422} & _statuses(listing)


def test_the_merged_document_adds_the_gateways_own_refusals(verifier: TokenVerifier) -> None:
    notes = _service_document(verifier)
    merged = merge_documents(
        {"notes": notes}, is_public=PublicPaths([("GET", "/api/v1/notes/open")])
    )
    _every_error_is_a_problem(merged)
    gateway_refusals = {400, 429, 502, 503, 504}
    put = merged["paths"]["/api/v1/notes/{note_id}"]["put"]
    assert {401, 403, 404, 409, 413, 415, 422} | gateway_refusals <= _statuses(put)
    listing = merged["paths"]["/api/v1/notes/open"]["get"]
    assert gateway_refusals <= _statuses(listing)
    assert not {401, 403} & _statuses(listing)  # public: no credentials are checked


async def test_the_served_merged_document_declares_problems_for_every_operation(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    _every_error_is_a_problem(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = _statuses(operation)
            if operation.get("security") != []:
                assert {401, 403} <= statuses, (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert 422 in statuses, (method, path)
            if "requestBody" in operation:
                assert 415 in statuses, (method, path)
            if "{" in path:
                assert 404 in statuses, (method, path)
            if method in WRITES:
                assert 409 in statuses, (method, path)


async def test_trace_is_405_before_authentication(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/events/whoami", "/open/v1/events", "/healthz", "/nowhere"):
        response = await client.request("TRACE", path)
        assert_problem(response, 405, "method_not_allowed")
        assert "GET" in response.headers["allow"]
        assert "TRACE" not in response.headers["allow"]
    for method in ("CONNECT", "PROPFIND"):
        response = await client.request(method, "/api/v1/events/whoami")
        assert_problem(response, 405, "method_not_allowed")
