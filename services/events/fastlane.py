"""Case reports without the framework in between.

``POST /api/v1/events`` (a resident's or grid worker's report, which opens a case) is the
events service's hot endpoint: at 200 reports/s the closed-loop bench found about 30% of the
process's CPU going to FastAPI's routing, dependency solving and middleware around the use
case. It is answered here as plain ASGI. The route ``api.report`` stays its one declaration
(its OpenAPI, and the answer whenever the lane is not ready): this lane takes the path, the
body model and the Idempotency-Key rule from that route and validates with the same pydantic
validators, in the framework's order, so the two answer alike. Measured in-process on two
cores (the bench's reports: one category, five grids, a verified resident each; called as
ASGI one after another, 2,000 each way in alternating rounds, process CPU time): the use case
with its token check about 1.5 ms of CPU a report, the same request through this lane about
1.7 ms and through FastAPI about 2.25 ms; compared round by round (three runs of 20 paired
rounds of 100), the lane saves 0.44 to 0.52 ms a report. It sits inside the request-context
middleware: request ids, the access log and metrics are unchanged. The plumbing (matching,
errors, body, response) is shared/web/fastlane.py's.

One difference, on purpose: the route declares no body limit (the gateway's 10 MiB is the
only one); the lane reads at most 64 KiB. A report in a seeded category at every field's
maximum is about 14 KiB of UTF-8 (about 40 KiB with every character ``\\u``-escaped), so only
a body that cannot be a report is refused earlier, 413 instead of 422.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import Receive, Scope

from services.events import api, service
from services.events.context import EventsContext
from services.events.schemas import EventCreate
from shared.auth.tokens import ENDORSEMENT_HEADER
from shared.web.deps import IdempotencyKey
from shared.web.fastlane import (
    Invalid,
    JsonBody,
    ServiceLane,
    bearer,
    checked,
    read_body,
    request_headers,
)

# Without a limit declared on the route: room for every field at its maximum, escaped.
_DEFAULT_MAX_BODY = 64 * 1024


def _declared_route() -> APIRoute:
    """The route api.py declares for reports, found by its endpoint."""
    for route in api.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is api.report:
            if route.methods != {"POST"}:
                raise RuntimeError("api.report is no longer a POST route")
            return route
    raise RuntimeError("api.py declares no report route")


def _declared_limit(route: APIRoute) -> int:
    """The body limit FastAPI would apply to the route (the route's own, else its router's;
    an app-wide limit wraps the lane too), else the lane's own."""
    for limit in (route.max_body_size, api.router.max_body_size):
        if limit is not None:
            return limit
    return _DEFAULT_MAX_BODY


_ROUTE = _declared_route()
_MAX_BODY = _declared_limit(_ROUTE)
# The validators FastAPI builds for the route's parameters, built from the same declarations.
_IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)
_BODY = JsonBody(EventCreate)


class ReportFastLane(ServiceLane):
    # api.report sits on the prefixed router itself, so FastAPI has already joined the
    # router's prefix into its path ("/api/v1/events"; routing's lane adds the prefix
    # because its route sits on an unprefixed sub-router).
    template = _ROUTE.path

    def ready(self) -> bool:
        # Until the start hook has set the context, the framework answers (as it would).
        runtime = self._runtime()
        return runtime is not None and isinstance(runtime.context, EventsContext)

    async def handle(self, params: tuple[str, ...], scope: Scope, receive: Receive
                     ) -> tuple[int, dict[str, Any]]:
        runtime = self.started()
        headers = request_headers(scope)
        # In the framework's order: the body read and decoded (undecodable JSON refused
        # before the token), then the dependencies (the token: a 401 before any 422), then
        # the header and the body checked, their errors listed together.
        raw = await read_body(receive, limit=_MAX_BODY,
                              too_large=f"a report is at most {_MAX_BODY // 1024} KiB of JSON")
        decoded = _BODY.decode(raw, headers.get("content-type"))
        principal = await runtime.verifier.verify_async(
            bearer(headers.get("authorization")), headers.get(ENDORSEMENT_HEADER))
        errors: list[dict[str, Any]] = []
        key = checked(_IDEMPOTENCY_KEY, headers.get("idempotency-key"),
                      ["header", "Idempotency-Key"], errors)
        cmd = _BODY.validate(decoded, errors)
        if errors or cmd is None:
            raise Invalid(errors)
        ctx = runtime.context_as(EventsContext)
        # Exactly the arguments api.report passes.
        return await service.report_event(
            runtime.uow(), principal=principal, cmd=cmd, idempotency_key=key,
            clock=ctx.clock, case_prefix=ctx.settings.case_prefix,
            duplicate_window=timedelta(hours=ctx.settings.duplicate_window_hours),
            pii=ctx.pii, reporter_seal=ctx.reporter_seal,
        )


# What metrics and logs name the route by (the template, not the concrete path).
ROUTE = ReportFastLane.route
