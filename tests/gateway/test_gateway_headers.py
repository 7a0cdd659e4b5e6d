"""Request ids travel in, upstream and back out; hop-by-hop headers stop at the gateway."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.gateway.gateway_assertions import assert_problem

MINTED_ID = re.compile(r"^[0-9a-f]{32}$")


def _forwarded(response: httpx.Response) -> dict[str, str]:
    """The headers the service received, from its echo."""
    return dict(response.json()["headers"])


async def test_given_request_id_is_echoed_and_forwarded(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/identity/echo", headers={**auth, "X-Request-ID": "mini-program:42.a_b-c"}
    )
    assert response.headers["x-request-id"] == "mini-program:42.a_b-c"
    assert _forwarded(response)["x-request-id"] == "mini-program:42.a_b-c"
    # With no correlation id given, the request id starts the correlation.
    assert response.headers["x-correlation-id"] == "mini-program:42.a_b-c"
    assert _forwarded(response)["x-correlation-id"] == "mini-program:42.a_b-c"


async def test_missing_request_id_is_minted_echoed_and_forwarded(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/v1/identity/echo", headers=auth)
    minted = response.headers["x-request-id"]
    assert MINTED_ID.match(minted)
    assert _forwarded(response)["x-request-id"] == minted


async def test_unsafe_request_id_is_replaced(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/identity/echo", headers={**auth, "X-Request-ID": "bad id\twith spaces"}
    )
    minted = response.headers["x-request-id"]
    assert MINTED_ID.match(minted)
    assert _forwarded(response)["x-request-id"] == minted
    assert [v for k, v in response.json()["headers"] if k == "x-request-id"] == [minted]


async def test_correlation_id_is_kept_apart_from_the_request_id(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/routing/echo",
        headers={**auth, "X-Request-ID": "req-1", "X-Correlation-ID": "journey-9"},
    )
    assert response.headers["x-request-id"] == "req-1"
    assert response.headers["x-correlation-id"] == "journey-9"
    assert _forwarded(response)["x-correlation-id"] == "journey-9"


async def test_request_id_is_echoed_on_gateway_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/events/whoami", headers={"X-Request-ID": "err-7"})
    body = assert_problem(response, 401, "token_missing")
    assert body["request_id"] == "err-7"
    assert response.headers["x-correlation-id"] == "err-7"


async def test_request_id_is_echoed_on_operations_endpoints(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "ops-1"})
    assert_problem(response, 404, "not_found")
    assert response.headers["x-request-id"] == "ops-1"
    healthy = await client.get("/healthz", headers={"X-Request-ID": "ops-2"})
    assert healthy.headers["x-request-id"] == "ops-2"


async def test_service_sees_the_gateways_request_id_even_if_it_answers_another(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # The stand-in's problem body claims request_id "from-the-service"; the header is ours.
    response = await client.get("/api/v1/booking/problem", headers={**auth, "X-Request-ID": "r-5"})
    assert response.headers.get_list("x-request-id") == ["r-5"]


async def test_hop_by_hop_request_headers_are_not_forwarded(
    client: httpx.AsyncClient, auth: dict[str, str], service_apps: dict[str, FastAPI]
) -> None:
    response = await client.get(
        "/api/v1/feedback/echo",
        headers={
            **auth,
            "Connection": "keep-alive, X-Client-Private",
            "X-Client-Private": "one hop only",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Proxy-Connection": "keep-alive",
            "X-End-To-End": "kept",
        },
    )
    forwarded = _forwarded(response)
    for hop in (
        "connection",
        "x-client-private",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "transfer-encoding",
    ):
        assert hop not in forwarded, hop
    assert forwarded["x-end-to-end"] == "kept"
    assert forwarded["x-forwarded-for"] == "203.0.113.7"
    assert forwarded["x-forwarded-host"] == "gateway.test"


async def test_hop_by_hop_response_headers_are_not_returned(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/v1/feedback/hop-by-hop", headers=auth)
    assert response.status_code == 200
    for hop in ("keep-alive", "proxy-authenticate", "trailer", "x-upstream-private"):
        assert hop not in response.headers, hop
    assert "x-upstream-private" not in response.headers.get("connection", "")
    assert response.headers["x-upstream-public"] == "kept"
    assert response.headers["content-length"] == "2"


async def test_forwarding_headers_are_set_by_the_gateway_not_the_client(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/booking/echo",
        headers={
            **auth,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-For": "10.1.2.3",
        },
    )
    received = response.json()["headers"]
    assert [v for k, v in received if k == "x-forwarded-proto"] == ["http"]
    assert [v for k, v in received if k == "x-forwarded-host"] == ["gateway.test"]
    # The client's claim is kept for the record; the gateway appends the peer it saw.
    assert [v for k, v in received if k == "x-forwarded-for"] == ["10.1.2.3, 203.0.113.7"]


async def test_expect_continue_is_not_forwarded(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/booking/echo", content=b"{}", headers={**auth, "Expect": "100-continue"}
    )
    assert "expect" not in _forwarded(response)
    assert response.json()["body"] == "{}"
