"""Identity's internal profile API, as relief needs it at apply time (not a hot path).

``GET {identity_base_url}/internal/identity/residents/{user_id}/profile`` with the internal
headers → 200 the verified profile, household and address, or 404 ``resident_not_found``.
Failures become problems the caller can act on: unknown person → 404, unverified → 403,
identity down, slow or answering nonsense → 503 ``identity_unavailable`` (retry later).
"""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from services.relief import messages
from shared.auth.internal import internal_headers
from shared.http.client import create_http_client
from shared.logs import get_logger
from shared.problems import Forbidden, NotFound, RuleViolation, ServiceUnavailable

log = get_logger(__name__)


class HouseholdMember(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    id_number: str | None = None
    birth_date: date | None = None
    relation: str | None = None  # the registry does not always know it


class ResidentProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: uuid.UUID
    verified: bool
    name: str
    id_number: str
    birth_date: date
    gender: str | None = None
    region_code: str
    household_id: str | None = None
    address: str | None = None
    household: list[HouseholdMember] = []


class IdentityClient:
    def __init__(
        self,
        *,
        base_url: str,
        internal_key: str,
        timeout_seconds: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._headers = internal_headers(internal_key, "relief")
        self._http = create_http_client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_seconds,
            connect_timeout=min(timeout_seconds, 2.0),
            max_connections=20,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def _malformed() -> ServiceUnavailable:
        log.warning("identity_profile_malformed")
        return ServiceUnavailable(
            "the identity registry answered a malformed profile", code="identity_unavailable"
        )

    async def resident_profile(self, user_id: uuid.UUID) -> ResidentProfile:
        """The verified resident's profile; raises a problem the API can return as is."""
        path = f"/internal/identity/residents/{user_id}/profile"
        try:
            response = await self._http.get(path, headers=self._headers)
        except httpx.HTTPError as error:
            log.warning("identity_unreachable", error_type=type(error).__name__)
            raise ServiceUnavailable(
                "the identity registry cannot be reached; try again shortly",
                code="identity_unavailable",
                headers={"Retry-After": "5"},
            ) from None
        if response.status_code == 404:
            raise NotFound(
                "this person is not known to the registry", code="resident_not_found"
            )
        if response.status_code != 200:
            log.warning("identity_refused", status=response.status_code)
            raise ServiceUnavailable(
                "the identity registry did not answer as expected",
                code="identity_unavailable",
                headers={"Retry-After": "5"},
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._malformed()
        # Checked before the shape: an unverified account has no name or ID number yet.
        if body.get("verified") is not True:
            raise Forbidden(
                "real-name verification is required before applying for relief",
                code="applicant_not_verified",
            )
        if "region_code" in body and body["region_code"] is None:
            # Worded for the resident: a grid worker enters them (人口录入) first.
            raise RuleViolation(messages.NOT_IN_REGISTRY, code="applicant_not_in_registry")
        try:
            profile = ResidentProfile.model_validate(body)
        except ValidationError:
            raise self._malformed() from None
        return profile
