"""Masking the free texts routing stored before they were masked on the way in (originals.py).

Extension reasons, sub-task tasks and answers written earlier hold typed phone and ID numbers
in plaintext; so do the notes of ``routing.event_assigned`` rows still in the outbox (the relay
keeps published rows for a while, and unpublished ones are still to go). This job masks them in
place, keeping each changed text's original encrypted exactly as a new one's is (a note's in
``assignment_notes``, where routing kept none before); calendar override notes are masked only.
It runs in batches, each its own transaction with its rows locked, and may run again: a masked
text has nothing left to mask. A migration cannot do it: it has the database, not the keys.
Run it with ``python -m services.routing.cli mask-free-text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.routing import store
from shared.db.batches import MakeUow, change_in_batches
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_personal_numbers

from .originals import extension_field, note_field, protect, subtask_field


@dataclass
class BackfillCount:
    extensions: int = 0
    subtasks: int = 0
    notes: int = 0
    override_notes: int = 0


async def _extensions(make_uow: MakeUow, pii: PiiCipher, batch_size: int) -> int:
    async def mask(uow: UnitOfWork, row: Any) -> bool:
        masked, sealed = protect(pii, row["event_id"], extension_field(row["id"]),
                                 row["reason"])
        if sealed is not None:
            await store.update_extension(uow, row["id"], {
                "reason": masked, "reason_original": sealed})
        return sealed is not None

    return await change_in_batches(make_uow, fetch_after=store.extensions_to_mask, change=mask,
                                   key=lambda row: row["id"], start=None, batch_size=batch_size)


def _masked_subtask(pii: PiiCipher, row: Any) -> dict[str, Any]:
    """The changes that mask one stored sub-task (empty when it holds no number)."""
    changes: dict[str, Any] = {}
    for part in ("task", "answer"):
        if row[part] is not None and row[f"{part}_original"] is None:
            masked, sealed = protect(pii, row["event_id"], subtask_field(row["id"], part),
                                     row[part])
            if sealed is not None:
                changes.update({part: masked, f"{part}_original": sealed})
    return changes


async def _subtasks(make_uow: MakeUow, pii: PiiCipher, batch_size: int) -> int:
    async def mask(uow: UnitOfWork, row: Any) -> bool:
        changes = _masked_subtask(pii, row)
        if changes:
            await store.update_subtask(uow, row["id"], changes)
        return bool(changes)

    return await change_in_batches(make_uow, fetch_after=store.subtasks_to_mask, change=mask,
                                   key=lambda row: row["id"], start=None, batch_size=batch_size)


async def _outbox_notes(make_uow: MakeUow, pii: PiiCipher, batch_size: int) -> int:
    async def mask(uow: UnitOfWork, row: Any) -> bool:
        masked, sealed = protect(pii, row["event_id"], note_field(row["seq"]), row["note"])
        if sealed is not None:
            await store.set_outbox_note(uow, row["id"], masked)
            await store.keep_note_once(uow, {
                "event_id": row["event_id"], "seq": row["seq"], "reason": row["reason"],
                "note": masked, "note_original": sealed, "at": row["at"]})
        return sealed is not None

    return await change_in_batches(
        make_uow, fetch_after=store.noted_assignments_after, change=mask,
        key=lambda row: row["id"], start=0, batch_size=batch_size)


async def mask_stored_texts(make_uow: MakeUow, pii: PiiCipher, *, batch_size: int = 500
                            ) -> BackfillCount:
    count = BackfillCount(extensions=await _extensions(make_uow, pii, batch_size),
                          subtasks=await _subtasks(make_uow, pii, batch_size),
                          notes=await _outbox_notes(make_uow, pii, batch_size))
    async with make_uow() as uow:  # a handful of calendar days: one transaction
        for row in await store.override_notes(uow):
            masked = mask_personal_numbers(row["note"])
            if masked != row["note"]:
                await store.update_override_note(uow, row["day"], masked)
                count.override_notes += 1
    return count
