"""What the routing routes share: the typed context, paging limit, and small helpers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel

from services.routing.context import RoutingContext
from services.routing.schemas import (
    Text,
)
from shared.auth import Principal
from shared.problems import Forbidden
from shared.web.deps import context_dependency

Context = Annotated[RoutingContext, Depends(context_dependency(RoutingContext))]
Limit = Annotated[int, Query(ge=1, le=200)]
# A category code as events and routing store it (at most 64 characters, no NUL).
CategoryCode = Annotated[Text, Path(min_length=1, max_length=64)]


def fields_of(model: type[BaseModel], rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts holding just the fields of ``model`` (reads never leak extra columns)."""
    return [{k: row[k] for k in model.model_fields if k in row} for row in rows]


def staff_only(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("for platform staff", code="role_required")


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a problem+json answer."""
    return {"description": description, "content": {"application/problem+json": {}}}


UNIT_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: problem_doc("not an admin (`role_required`): only admins manage units"),
    404: problem_doc("no such unit (`unit_not_found`)"),
    409: problem_doc("`unit_kind_taken`: the region already has an active unit of that kind; "
                  "`unit_retired`: the unit is retired"),
    422: problem_doc("`unit_kind_invalid`, `unit_region_invalid`, `unit_level_mismatch`, "
                  "`category_code_invalid`, `validation_error`"),
}
