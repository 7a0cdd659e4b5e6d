"""The audited read of a case's routing texts as typed (see originals.py): staff who work the
case or oversee its region read them with a reason; on a sensitive tip only supervisors and
admins of its region (a note may quote the informant), as the events service rules for its own
texts. Every read is recorded in ``text_reveals`` in the transaction that answers it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing import store
from services.routing.schemas import (
    OriginalExtension,
    OriginalNote,
    OriginalSubtask,
    OriginalTexts,
)
from shared.auth import Principal, Role
from shared.auth.principal import REGION_SCOPED_ROLES, UNIT_SCOPED_ROLES
from shared.context import current_request_id
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import PiiCipher, mask_personal_numbers
from shared.problems import BadRequest, Forbidden, NotFound

from .originals import extension_field, note_field, subtask_field, text_context

log = get_logger(__name__)


async def _require_entitled(uow: UnitOfWork, principal: Principal, assignment: Any) -> None:
    if not principal.is_staff:
        raise Forbidden("for platform staff", code="role_required")
    region = assignment["region_code"]
    if assignment["sensitive"]:
        principal.require_role(Role.SUPERVISOR, Role.ADMIN)
        principal.require_region(region)
        return
    if principal.has_role(Role.ADMIN):
        return
    if principal.has_role(*REGION_SCOPED_ROLES) and principal.covers_region(region):
        return
    units = {assignment["unit_id"],
             *await store.assisting_units(uow, assignment["event_id"], assignment["unit_id"])}
    if principal.has_role(*UNIT_SCOPED_ROLES) and units.intersection(principal.departments):
        return
    raise Forbidden("this case is outside your scope", code="out_of_scope")


def _open(pii: PiiCipher, event_id: uuid.UUID, name: str, sealed: str) -> str:
    return pii.decrypt(sealed, context=text_context(event_id, name))


def _open_optional(pii: PiiCipher, event_id: uuid.UUID, name: str, sealed: str | None
                   ) -> str | None:
    return None if sealed is None else _open(pii, event_id, name, sealed)


async def reveal_original_text(
    uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID, reason: str,
    pii: PiiCipher, now: datetime,
) -> OriginalTexts:
    """The texts of the case whose typed phone or ID numbers were masked, as typed. No audit
    row, no answer: both are in one transaction."""
    if not reason.strip():
        raise BadRequest("say why you need the original text", code="reason_required")
    async with uow:
        assignment = await store.get_assignment(uow, event_id, lock=False)
        if assignment is None:
            raise NotFound("routing knows no such event", code="event_not_found")
        await _require_entitled(uow, principal, assignment)
        role = principal.accountable_role()
        await store.record_text_reveal(uow, {
            "event_id": event_id, "revealed_by": principal.subject, "role": role,
            "reason": mask_personal_numbers(reason.strip()), "request_id": current_request_id(),
            "at": now,
        })
        sealed = await store.sealed_texts(uow, event_id)
    answer = OriginalTexts(
        event_id=event_id,
        notes=[OriginalNote(seq=n["seq"], reason=n["reason"], at=n["at"],
                            note=_open(pii, event_id, note_field(n["seq"]), n["note_original"]))
               for n in sealed.notes],
        extensions=[OriginalExtension(
            request_id=e["id"], at=e["created_at"],
            reason=_open(pii, event_id, extension_field(e["id"]), e["reason_original"]))
            for e in sealed.extensions],
        subtasks=[OriginalSubtask(
            subtask_id=t["id"], unit_id=t["unit_id"],
            task=_open_optional(pii, event_id, subtask_field(t["id"], "task"),
                                t["task_original"]),
            answer=_open_optional(pii, event_id, subtask_field(t["id"], "answer"),
                                  t["answer_original"]))
            for t in sealed.subtasks],
    )
    log.warning("original_text_revealed", event_id=str(event_id), by=str(principal.subject),
                role=role)
    return answer
