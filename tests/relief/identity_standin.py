"""A stand-in for identity's internal profile endpoint, served by uvicorn on 127.0.0.1 (random
port), answering exactly the contract relief relies on::

    GET /internal/identity/residents/{user_id}/profile   (X-Internal-Key, X-Caller-Service)
    → 200 {user_id, verified, name, id_number, birth_date, gender, region_code, household_id,
           address, household: [{name, id_number, birth_date, relation}]}
    → 404 {code: "resident_not_found"}
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.testing.live_server import closed_port

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


_ISSUED: set[str] = set()


def id_number(region6: str, birth: date, rng: random.Random) -> str:
    body = f"{region6}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


@dataclass
class IdentityStandIn:
    internal_key: str
    profiles: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # (user, caller)
    base_url: str = ""
    rng: random.Random = field(default_factory=random.SystemRandom)

    def add_resident(
        self,
        *,
        region_code: str,
        birth_date: date | None = None,
        verified: bool = True,
        name: str = "林秀英",
        household: list[dict[str, Any]] | None = None,
    ) -> uuid.UUID:
        user_id = uuid.uuid4()
        # An adult by default, born on a random day: residents of one test session share the
        # relief schema, and "one open application per person" must not join strangers.
        birth_date = birth_date or date(1940, 1, 1) + timedelta(days=self.rng.randrange(18_000))
        number = id_number(region_code[:6], birth_date, self.rng)
        while number in _ISSUED:
            number = id_number(region_code[:6], birth_date, self.rng)
        _ISSUED.add(number)
        self.profiles[user_id] = {
            "user_id": str(user_id),
            "verified": verified,
            "name": name,
            "id_number": number,
            "birth_date": birth_date.isoformat(),
            "gender": "female",
            "region_code": region_code,
            "household_id": f"H{uuid.uuid4().hex[:10]}",
            "address": "漳浦县绥安镇南门村12号",
            "household": household if household is not None else [
                {"name": name, "id_number": number, "birth_date": birth_date.isoformat(),
                 "relation": "self"},
                {"name": "林小明", "id_number": id_number(region_code[:6], date(2012, 6, 1),
                                                        self.rng),
                 "birth_date": "2012-06-01", "relation": "son"},
            ],
        }
        return user_id

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/internal/identity/residents/{user_id}/profile")
        async def profile(user_id: uuid.UUID, request: Request) -> JSONResponse:
            if request.headers.get("X-Internal-Key") != self.internal_key:
                return JSONResponse({"code": "internal_key_invalid"}, status_code=401)
            self.calls.append((user_id, request.headers.get("X-Caller-Service", "")))
            found = self.profiles.get(user_id)
            if found is None:
                return JSONResponse({"code": "resident_not_found"}, status_code=404)
            return JSONResponse(found)

        return app




def closed_port_url() -> str:
    """A base URL nothing listens on: connecting is refused (identity is down)."""
    return f"http://127.0.0.1:{closed_port()}"
