"""Phone and ID numbers staff type into routing's free texts.

Dispatch, transfer and escalation notes, extension reasons, co-handling tasks and sub-task
answers are stored and published with their phone and ID numbers masked (shared.pii): the
masked copy is what ``routing.event_assigned`` carries, so no typed number travels on the bus
or waits in the outbox. Where masking changed a text, the typed original is kept encrypted
beside it, bound to its case and field, and read only through the audited reveal
(text_reveal.py). A calendar override's note belongs to no case and nobody reads it back: it is
masked only.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.routing import store
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_and_seal


def text_context(event_id: uuid.UUID, name: str) -> str:
    """Associated data of an original: a ciphertext copied to another case or field fails."""
    return f"routing.text:{event_id}:{name}"


def note_field(seq: int) -> str:
    return f"note.{seq}"


def extension_field(request_id: uuid.UUID) -> str:
    return f"extension.{request_id}.reason"


def subtask_field(subtask_id: uuid.UUID, part: str) -> str:
    """``part``: ``task`` or ``answer``."""
    return f"subtask.{subtask_id}.{part}"


def protect(pii: PiiCipher, event_id: uuid.UUID, name: str, value: str
            ) -> tuple[str, str | None]:
    """(the text to store, its encrypted original — None when nothing was masked)."""
    return mask_and_seal(pii, value, context=text_context(event_id, name))



async def keep_note(uow: UnitOfWork, pii: PiiCipher, *, event_id: uuid.UUID, seq: int,
                    reason: str, note: str, at: datetime) -> str:
    """Store the note typed with assignment ``seq`` (masked, and its original when masked);
    the masked note, to publish."""
    masked, sealed = protect(pii, event_id, note_field(seq), note)
    await store.insert_note(uow, {"event_id": event_id, "seq": seq, "reason": reason,
                                  "note": masked, "note_original": sealed, "at": at})
    return masked
