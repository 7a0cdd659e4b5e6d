"""Masking the free texts stored before they were masked on the way in (originals.py).

Cases and timeline steps written earlier hold typed phone and ID numbers in plaintext. This job
masks them in place, keeping each changed text's original encrypted exactly as a new report's
is; reporter-reveal reasons are masked only. It runs in batches, each its own transaction with
its rows locked (an action changing the same case waits for it), and may run again: a masked
text has nothing left to mask. A migration cannot do it: it has the database, not the keys.
Run it with ``python -m services.events.cli mask-free-text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.events import store
from shared.db.batches import MakeUow, change_in_batches
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_personal_numbers

from .originals import NOTE, protect


@dataclass
class BackfillCount:
    cases: int = 0
    steps: int = 0
    reveal_reasons: int = 0


def _masked_case(pii: PiiCipher, row: Any, text_keys: set[str]) -> dict[str, Any]:
    """The changes that mask one stored case (empty when it holds no number)."""
    originals: dict[str, Any] = dict(row["text_originals"] or {})
    changes: dict[str, Any] = {}
    for name, column in (("description", "description"), ("address", "address"),
                         ("result", "result_text")):
        if row[column] is not None:
            masked, sealed = protect(pii, row["id"], name, row[column])
            if sealed is not None:
                changes[column], originals[name] = masked, sealed
    fields, sealed_fields = dict(row["fields"]), dict(originals.get("fields", {}))
    for key in text_keys:
        if isinstance(fields.get(key), str):
            fields[key], sealed = protect(pii, row["id"], f"fields.{key}", fields[key])
            if sealed is not None:
                sealed_fields[key] = sealed
                changes["fields"] = fields
    if sealed_fields:
        originals["fields"] = sealed_fields
    if changes:
        changes["text_originals"] = originals
    return changes


async def _cases(make_uow: MakeUow, pii: PiiCipher, batch_size: int) -> int:
    async with make_uow() as uow:
        text_keys = {c["code"]: {f["key"] for f in c["template"] if f["type"] == "text"}
                     for c in await store.all_categories(uow, include_inactive=True)}

    async def mask(uow: UnitOfWork, row: Any) -> bool:
        changes = _masked_case(pii, row, text_keys.get(row["category_code"], set()))
        if changes:
            await store.update_case(uow, row["id"], changes)
        return bool(changes)

    return await change_in_batches(make_uow, fetch_after=store.cases_after, change=mask,
                                   key=lambda row: row["seq"], start=0, batch_size=batch_size)


async def _steps(make_uow: MakeUow, pii: PiiCipher, batch_size: int) -> int:
    async def mask(uow: UnitOfWork, row: Any) -> bool:
        masked, sealed = protect(pii, row["event_id"], NOTE, row["note"])
        if sealed is not None:
            await store.update_step(uow, row["id"], {"note": masked, "note_original": sealed})
        return sealed is not None

    return await change_in_batches(make_uow, fetch_after=store.noted_steps_after, change=mask,
                                   key=lambda row: row["id"], start=0, batch_size=batch_size)


async def mask_stored_texts(make_uow: MakeUow, pii: PiiCipher, *,
                            batch_size: int = 500) -> BackfillCount:
    count = BackfillCount(cases=await _cases(make_uow, pii, batch_size),
                          steps=await _steps(make_uow, pii, batch_size))
    async with make_uow() as uow:  # a handful of audit rows: one transaction
        for row in await store.reveal_reasons(uow):
            masked = mask_personal_numbers(row["reason"])
            if masked != row["reason"]:
                await store.update_reveal_reason(uow, row["id"], masked)
                count.reveal_reasons += 1
    return count
