"""The audited read of a case's free texts as typed (see originals.py): the reporter reads
their own report's; staff who see the case read them with a reason, on a sensitive tip only
the staff entitled to its evidence (its lead and assisting units, supervisors of its region,
admins: queries.entitled_to_evidence)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.events import store
from services.events.schemas import OriginalNote, OriginalText
from shared.auth import Principal
from shared.context import current_request_id
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import PiiCipher, mask_personal_numbers
from shared.problems import BadRequest, Forbidden

from .originals import NOTE, open_original, text_context
from .queries import entitled_to_evidence, visible_case

log = get_logger(__name__)


def _reveal_role(principal: Principal, row: Any) -> str:
    if row["reporter_id"] == principal.subject:
        return "reporter"
    if row["sensitive"] and not entitled_to_evidence(principal, row):
        # A tip's texts are evidence for those who handle or oversee it, not for everyone
        # in its region (dispatchers, grid workers).
        raise Forbidden("only the staff handling or supervising this tip read it as typed",
                        code="role_required")
    # Anyone else who sees the case is staff (visible_case): their units or their regions.
    return principal.accountable_role()


async def reveal_original_text(
    uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID, reason: str | None,
    pii: PiiCipher, now: datetime,
) -> OriginalText:
    """The case's free texts as typed. The audit row commits with the read: no audit, no
    answer."""
    async with uow:
        row = await visible_case(uow, principal, event_id)
        role = _reveal_role(principal, row)
        if role != "reporter" and (reason is None or not reason.strip()):
            raise BadRequest("say why you need the original text", code="reason_required")
        await store.record_text_reveal(
            uow, event_id=event_id, revealed_by=principal.subject, role=role,
            reason=mask_personal_numbers(reason.strip()) if reason else "own report",
            request_id=current_request_id(), at=now,
        )
        notes = await store.masked_notes(uow, event_id)
    originals = row["text_originals"] or {}
    sealed_fields = originals.get("fields", {})
    answer = OriginalText(
        event_id=event_id,
        description=open_original(pii, event_id, "description", originals.get("description"),
                          row["description"]),
        address=open_original(pii, event_id, "address", originals.get("address"), row["address"]),
        fields={k: open_original(pii, event_id, f"fields.{k}", v, None)
                for k, v in sealed_fields.items()},
        result=open_original(pii, event_id, "result", originals.get("result"), row["result_text"]),
        notes=[OriginalNote(step=n["id"], at=n["at"], action=n["action"],
                            note=pii.decrypt(n["note_original"],
                                             context=text_context(event_id, NOTE)))
               for n in notes],
    )
    log.warning("original_text_revealed", event_id=str(event_id), by=str(principal.subject),
                role=role)
    return answer
