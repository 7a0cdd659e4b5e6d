"""Dependencies every service's api.py uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from shared.db.uow import UnitOfWork
from shared.web.runtime import ServiceRuntime


# async on purpose: FastAPI runs plain ``def`` dependencies in its thread pool, a measurable
# cost on every request for what is an attribute read.
async def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def get_uow(request: Request) -> UnitOfWork:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.uow()


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Uow = Annotated[UnitOfWork, Depends(get_uow)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Makes a retried write answer what its first attempt answered.",
    ),
]
