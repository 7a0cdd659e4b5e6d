"""Access tokens, role and scope checks, and problem+json errors as every service renders them."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.auth.internal import InternalCaller, internal_headers
from shared.auth.tokens import TokenSigner, TokenVerifier, generate_signing_key
from shared.errors import Conflict, Unauthorized, install_error_handlers
from shared.settings import PlatformSettings
from shared.testing.plugin import AUDIENCE, ISSUER


class Report(BaseModel):
    id_number: str
    count: int


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier
    app.state.settings = PlatformSettings(internal_api_key="k" * 32)
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, object]:
        return {"subject": str(principal.subject), "roles": sorted(principal.roles)}

    @router.get("/regions/{code}")
    async def region(
        code: str, principal: Annotated[Principal, Depends(require_roles(Role.DISPATCHER))]
    ) -> dict[str, str]:
        principal.require_region(code)
        return {"code": code}

    @router.post("/reports")
    async def report(body: Report) -> dict[str, int]:
        return {"count": body.count}

    @router.post("/conflict")
    async def conflict() -> None:
        raise Conflict("already there", code="already_booked")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals 350623199001011234")

    @router.get("/internal/ping")
    async def internal(caller: InternalCaller) -> dict[str, str]:
        return {"caller": caller}

    app.include_router(router)
    return app


@pytest.fixture
def client(token_verifier: TokenVerifier) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(token_verifier), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_yields_its_principal(client: httpx.AsyncClient, make_token) -> None:
    subject = uuid.uuid4()
    response = await client.get("/me", headers=_bearer(make_token(subject=subject)))
    assert response.status_code == 200
    assert response.json() == {"subject": str(subject), "roles": ["resident"]}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "token_missing"),
        ({"Authorization": "Bearer not.a.token"}, "token_invalid"),
        ({"Authorization": "Basic abc"}, "token_invalid"),
    ],
)
async def test_missing_or_malformed_tokens_are_refused_with_401(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_expired_and_foreign_tokens_are_refused_with_401(
    client: httpx.AsyncClient, token_signer: TokenSigner
) -> None:
    expired = token_signer.access_token(
        subject=uuid.uuid4(), roles=["resident"], now=time.time() - 3600, ttl_seconds=60
    )
    foreign = TokenSigner(generate_signing_key(), issuer=ISSUER, audience=AUDIENCE).access_token(
        subject=uuid.uuid4(), roles=["admin"]
    )
    wrong_audience = TokenSigner(token_signer.key, issuer=ISSUER, audience="other").access_token(
        subject=uuid.uuid4(), roles=["admin"]
    )
    codes = []
    for token in (expired, foreign, wrong_audience):
        response = await client.get("/me", headers=_bearer(token))
        assert response.status_code == 401
        codes.append(response.json()["code"])
    assert codes == ["token_expired", "token_invalid", "token_invalid"]


async def test_role_and_region_scope_are_enforced(client: httpx.AsyncClient, make_token) -> None:
    dispatcher = make_token(roles=["dispatcher"], regions=["350626"])
    resident = make_token(roles=["resident"])
    inside = await client.get("/regions/350626106001", headers=_bearer(dispatcher))
    outside = await client.get("/regions/350623100001", headers=_bearer(dispatcher))
    wrong_role = await client.get("/regions/350626106001", headers=_bearer(resident))
    assert inside.status_code == 200
    assert (outside.status_code, outside.json()["code"]) == (403, "out_of_scope")
    assert (wrong_role.status_code, wrong_role.json()["code"]) == (403, "role_required")


async def test_validation_errors_name_the_field_but_never_echo_the_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/reports", json={"id_number": "350623199001011234", "count": "x"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == ["body", "count"]
    assert "350623199001011234" not in response.text


async def test_domain_errors_and_crashes_render_as_problem_json(
    client: httpx.AsyncClient,
) -> None:
    conflict = await client.post("/conflict")
    crash = await client.get("/boom")
    missing = await client.get("/nowhere")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "already_booked"
    assert set(conflict.json()) >= {"type", "title", "status", "detail", "code", "request_id"}
    assert crash.status_code == 500
    assert crash.json()["code"] == "internal_error"
    assert "350623199001011234" not in crash.text
    assert missing.json()["code"] == "not_found"


async def test_internal_endpoints_need_the_internal_key(client: httpx.AsyncClient) -> None:
    refused = await client.get("/internal/ping", headers={"X-Internal-Key": "wrong"})
    allowed = await client.get("/internal/ping", headers=internal_headers("k" * 32, "feedback"))
    assert refused.status_code == 401
    assert allowed.json() == {"caller": "feedback"}


def test_a_verified_token_is_cached_until_it_expires(token_signer: TokenSigner) -> None:
    verifier = TokenVerifier([token_signer.key.public_key], issuer=ISSUER, audience=AUDIENCE)
    token = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"], ttl_seconds=60)
    assert verifier.verify(token) is verifier.verify(token)
    with pytest.raises(Unauthorized):
        verifier.verify(token[:-4] + "AAAA")


def test_prod_settings_refuse_development_secrets() -> None:
    from shared.settings import ServiceSettings

    with pytest.raises(ValueError, match="EHOME_INTERNAL_API_KEY"):
        ServiceSettings(environment="prod")
    assert ServiceSettings(environment="prod", internal_api_key="x" * 40).environment == "prod"


async def test_an_exhausted_connection_pool_sheds_with_503_and_retry_after() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise PoolTimeout("QueuePool limit reached")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/busy")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "overloaded"
