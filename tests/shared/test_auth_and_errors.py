"""Access tokens, role and scope checks, and problem+json errors as every service renders them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.auth.internal import InternalCaller, internal_headers
from shared.auth.tokens import TokenEndorser, TokenSigner, TokenVerifier, generate_signing_key
from shared.problems import Conflict, Unauthorized
from shared.settings import PlatformSettings
from shared.testing.plugin import AUDIENCE, ISSUER
from shared.web.problems import install_error_handlers


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


def _verifier(token_signer: TokenSigner, **kwargs: object) -> TokenVerifier:
    return TokenVerifier(
        [token_signer.key.public_key],
        issuer=ISSUER,
        audience=AUDIENCE,
        **kwargs,  # type: ignore[arg-type]
    )


def _forge(claims: dict[str, object], header: dict[str, object], signer: TokenSigner) -> str:
    """A token signed with the right key but hand-built header or claims."""
    return jwt.encode(claims, signer.key.private_key, algorithm="EdDSA", headers=header)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
        "typ": "access",
        "roles": ["resident"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


# Claims are built when the test runs, not when it is collected: a whole-suite run takes
# longer than a token lives, and a token minted at collection would have expired by then.
@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (lambda now: {"exp": None}, "token_invalid"),
        (lambda now: {"sub": None}, "token_invalid"),
        (lambda now: {"exp": "tomorrow"}, "token_invalid"),
        (lambda now: {"exp": now - 60}, "token_expired"),
        (lambda now: {"iat": now + 3600}, "token_invalid"),
        (lambda now: {"nbf": now + 3600}, "token_invalid"),
        (lambda now: {"iss": "someone-else"}, "token_invalid"),
        (lambda now: {"aud": ["other", "another"]}, "token_invalid"),
        (lambda now: {"typ": "refresh"}, "token_invalid"),
        (lambda now: {"sub": "not-a-uuid"}, "token_invalid"),
    ],
)
def test_signed_tokens_with_bad_claims_are_refused(
    token_signer: TokenSigner, overrides: Callable[[int], dict[str, object]], code: str
) -> None:
    claims = _claims(**overrides(int(time.time())))
    token = _forge(claims, {"kid": token_signer.key.kid}, token_signer)
    with pytest.raises(Unauthorized) as refused:
        _verifier(token_signer).verify(token)
    assert refused.value.code == code


def test_an_audience_list_naming_ours_is_accepted(token_signer: TokenSigner) -> None:
    token = _forge(_claims(aud=["other", AUDIENCE]), {"kid": token_signer.key.kid}, token_signer)
    assert _verifier(token_signer).verify(token).roles == {"resident"}


def test_tampered_or_malformed_tokens_are_refused(token_signer: TokenSigner) -> None:
    good = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"])
    header, payload, signature = good.split(".")
    promoted = _forge(_claims(roles=["admin"]), {"kid": token_signer.key.kid}, token_signer)
    unsigned_header = jwt.utils.base64url_encode(b'{"alg":"none","kid":"x"}').decode()
    candidates = [
        f"{header}.{promoted.split('.')[1]}.{signature}",  # someone else's claims, our signature
        f"{unsigned_header}.{payload}.",  # alg none
        f"{header}.{payload}.{signature[:-2]}!!",  # not base64url
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.extra",
    ]
    verifier = _verifier(token_signer)
    for token in candidates:
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(token)
        assert refused.value.code == "token_invalid", token


def test_a_token_the_gateway_endorsed_is_read_without_a_second_signature_check(
    token_signer: TokenSigner,
) -> None:
    # A verifier that knows no key at all: only the endorsement can let a token through.
    endorser = TokenEndorser("k" * 32)
    verifier = TokenVerifier([], issuer=ISSUER, audience=AUDIENCE, endorser=endorser)
    subject = uuid.uuid4()
    token = token_signer.access_token(subject=subject, roles=["resident"], verified=True)

    assert verifier.verify(token, endorser.endorse(token)).subject == subject


def test_a_wrong_or_missing_endorsement_means_a_full_check(token_signer: TokenSigner) -> None:
    verifier = TokenVerifier([], issuer=ISSUER, audience=AUDIENCE, endorser=TokenEndorser("k"))
    token = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"])
    for endorsement in (None, "", TokenEndorser("other-key").endorse(token)):
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(token, endorsement)
        assert refused.value.code == "token_invalid"  # unknown key: the signature was checked


def test_an_endorsed_token_is_still_refused_once_expired(token_signer: TokenSigner) -> None:
    endorser = TokenEndorser("k" * 32)
    verifier = TokenVerifier([], issuer=ISSUER, audience=AUDIENCE, endorser=endorser)
    expired = token_signer.access_token(
        subject=uuid.uuid4(), roles=["resident"], ttl_seconds=60, now=time.time() - 3600
    )
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(expired, endorser.endorse(expired))
    assert refused.value.code == "token_expired"


async def test_a_service_accepts_the_endorsement_header_on_a_request(
    token_signer: TokenSigner,
) -> None:
    endorser = TokenEndorser("k" * 32)
    app = _app(TokenVerifier([], issuer=ISSUER, audience=AUDIENCE, endorser=endorser))
    token = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        # Without the endorsement first: once accepted, a token is answered from the cache.
        bare = await client.get("/me", headers=_bearer(token))
        endorsed = await client.get(
            "/me", headers={**_bearer(token), "X-Ehome-Token-Endorsement": endorser.endorse(token)}
        )
    assert bare.status_code == 401
    assert endorsed.status_code == 200


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
