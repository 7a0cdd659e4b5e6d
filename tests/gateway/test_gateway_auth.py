"""Access tokens: verified at the door (except public paths), and forwarded with the gateway's
endorsement so services need not check the signature again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import FastAPI

from gateway import GatewayApp, create_gateway_app
from shared.auth import TokenSigner, TokenVerifier
from shared.auth.tokens import ENDORSEMENT_HEADER, TokenEndorser
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import asgi_upstreams, gateway_settings


async def test_missing_token_is_refused_with_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/events/whoami")
    assert_problem(response, 401, "token_missing")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer ", "token-without-scheme"],
)
async def test_malformed_token_is_refused_with_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/v1/events/whoami", headers={"Authorization": header})
    assert_problem(response, 401, "token_invalid")


async def test_token_signed_by_another_key_is_refused_with_401(
    client: httpx.AsyncClient, stranger_signer: TokenSigner
) -> None:
    forged = stranger_signer.access_token(subject=uuid.uuid4(), roles=["admin"])
    response = await client.get(
        "/api/v1/events/whoami", headers={"Authorization": f"Bearer {forged}"}
    )
    assert_problem(response, 401, "token_invalid")


async def test_token_claiming_our_key_id_but_signed_by_another_key_is_refused_with_401(
    client: httpx.AsyncClient, signer: TokenSigner, stranger_signer: TokenSigner
) -> None:
    genuine = signer.access_token(subject=uuid.uuid4(), roles=["resident"])
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["roles"] = ["admin"]
    forged = jwt.encode(
        claims,
        stranger_signer.key.private_key,
        algorithm="EdDSA",
        headers={"kid": signer.key.kid},
    )
    response = await client.get(
        "/api/v1/events/whoami", headers={"Authorization": f"Bearer {forged}"}
    )
    assert_problem(response, 401, "token_invalid")


async def test_expired_token_is_refused_with_401(
    client: httpx.AsyncClient, signer: TokenSigner
) -> None:
    expired = signer.access_token(
        subject=uuid.uuid4(), roles=["resident"], ttl_seconds=60, now=time.time() - 3600
    )
    response = await client.get(
        "/api/v1/events/whoami", headers={"Authorization": f"Bearer {expired}"}
    )
    assert_problem(response, 401, "token_expired")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/identity/wechat-login"),
        ("GET", "/api/v1/events/categories"),
    ],
)
async def test_public_path_works_without_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"code": "sandbox:o1"})
    assert response.status_code == 200, response.text


async def test_public_prefix_does_not_open_a_sibling_path(client: httpx.AsyncClient) -> None:
    # "/api/v1/events/categories" is public; "/api/v1/events/categories-admin" is not.
    response = await client.get("/api/v1/events/categories-admin")
    assert_problem(response, 401, "token_missing")


async def test_public_path_is_public_only_for_its_method(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/events/categories")
    assert_problem(response, 401, "token_missing")


async def test_authorization_header_is_forwarded_unchanged(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/v1/relief/echo", headers=auth)
    forwarded = dict(response.json()["headers"])
    assert forwarded["authorization"] == auth["Authorization"]


def _forwarded(response: httpx.Response, header: str) -> list[str]:
    return [value for name, value in response.json()["headers"] if name == header]


async def test_the_verified_token_travels_with_the_gateways_endorsement(
    client: httpx.AsyncClient, auth: dict[str, str], token: str
) -> None:
    response = await client.get("/api/v1/relief/echo", headers=auth)
    endorser = TokenEndorser(gateway_settings().internal_api_key)
    assert _forwarded(response, ENDORSEMENT_HEADER) == [endorser.endorse(token)]


async def test_an_endorsement_sent_by_the_client_never_reaches_a_service(
    client: httpx.AsyncClient, auth: dict[str, str], token: str
) -> None:
    forged = TokenEndorser("guessed-internal-key").endorse(token)
    response = await client.get("/api/v1/relief/echo", headers={**auth, ENDORSEMENT_HEADER: forged})
    assert forged not in _forwarded(response, ENDORSEMENT_HEADER)
    assert len(_forwarded(response, ENDORSEMENT_HEADER)) == 1


async def test_a_public_path_forwards_no_endorsement_since_nothing_was_verified(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    make_client: Callable[[GatewayApp], httpx.AsyncClient],
    auth: dict[str, str],
) -> None:
    settings = gateway_settings(public_paths=[("GET", "/api/v1/relief/echo")])
    app = create_gateway_app(settings, upstreams=asgi_upstreams(service_apps), verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get(
            "/api/v1/relief/echo", headers={**auth, ENDORSEMENT_HEADER: "forged"}
        )
    assert response.status_code == 200
    assert _forwarded(response, ENDORSEMENT_HEADER) == []


async def test_a_second_authorization_header_is_refused_so_no_unchecked_token_travels(
    client: httpx.AsyncClient, token: str
) -> None:
    # The gateway checked one token; a service reads the first header of a name. Two of
    # them would let a token nobody checked ride behind the one that was.
    for headers in (
        [("Authorization", "Bearer forged"), ("Authorization", f"Bearer {token}")],
        [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer forged")],
        [("Authorization", ""), ("Authorization", f"Bearer {token}")],
    ):
        response = await client.get("/api/v1/relief/echo", headers=headers)
        assert_problem(response, 400, "bad_request")
