"""Dependencies every service's api.py uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request

from shared.db.uow import UnitOfWork
from shared.web.runtime import ServiceRuntime


# async on purpose: FastAPI runs plain ``def`` dependencies in its thread pool, a measurable
# cost on every request for what is an attribute read.
async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_uow(request: Request) -> UnitOfWork:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.uow()


C = TypeVar("C")


def context_dependency(kind: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A dependency that hands a route its service's typed context::

        Context = Annotated[BookingContext, Depends(context_dependency(BookingContext))]
    """

    async def get_context(request: Request) -> C:
        runtime: ServiceRuntime = request.app.state.runtime
        return runtime.context_as(kind)

    return get_context


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
