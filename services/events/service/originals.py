"""Phone and ID numbers people type into a case's free text.

Every free text the case file stores — the report's description, address and text template
values, the handlers' notes, reasons and results, routing's dispatch notes — is stored, shown,
searched and published with its phone and ID numbers masked (shared.pii). Where masking changed
a text, the typed original is kept encrypted beside it (``cases.text_originals``,
``timeline.note_original``), bound to its case and field, and read only through the audited
reveal (text_reveal.py), and on a sensitive tip in the case read of the staff who handle it
(queries.py: the numbers in a tip are the evidence; the reporter's identity is kept apart).

Routing's dispatch notes are masked only: routing keeps the note it was given.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.pii import PiiCipher, mask_and_seal

NOTE = "note"


def text_context(event_id: uuid.UUID, name: str) -> str:
    """Associated data of an original: a ciphertext copied to another case or field fails."""
    return f"events.text:{event_id}:{name}"


def protect(pii: PiiCipher, event_id: uuid.UUID, name: str, value: str
            ) -> tuple[str, str | None]:
    """(the text to store, its encrypted original — None when nothing was masked)."""
    return mask_and_seal(pii, value, context=text_context(event_id, name))


def open_original(pii: PiiCipher, event_id: uuid.UUID, name: str, sealed: str | None,
                  stored: Any) -> Any:
    """The text as typed: ``stored`` itself when masking changed nothing (no original)."""
    return stored if sealed is None else pii.decrypt(sealed, context=text_context(event_id, name))


def opened_report(pii: PiiCipher, row: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The case's description, address, text template values (over ``fields``) and result
    as typed, keyed as in the case read."""
    event_id = row["id"]
    originals = row["text_originals"] or {}
    opened = dict(fields)
    for key, sealed in originals.get("fields", {}).items():
        opened[key] = open_original(pii, event_id, f"fields.{key}", sealed, fields.get(key))
    return {
        "description": open_original(pii, event_id, "description",
                                     originals.get("description"), row["description"]),
        "address": open_original(pii, event_id, "address", originals.get("address"),
                                 row["address"]),
        "result": open_original(pii, event_id, "result", originals.get("result"),
                                row["result_text"]),
        "fields": opened,
    }


def protect_report(
    pii: PiiCipher, event_id: uuid.UUID, row: dict[str, Any], text_keys: list[str]
) -> None:
    """Mask the report's description, address and text template values in ``row`` (the case
    about to be inserted) and put the originals of those masked into ``text_originals``."""
    originals: dict[str, Any] = {}
    for name in ("description", "address"):
        if row[name] is not None:
            row[name], sealed = protect(pii, event_id, name, row[name])
            if sealed is not None:
                originals[name] = sealed
    fields = dict(row["fields"])
    sealed_fields: dict[str, str] = {}
    for key in text_keys:
        if isinstance(fields.get(key), str):
            fields[key], sealed = protect(pii, event_id, f"fields.{key}", fields[key])
            if sealed is not None:
                sealed_fields[key] = sealed
    if sealed_fields:
        originals["fields"] = sealed_fields
    row["fields"] = fields
    row["text_originals"] = originals or None


def with_original(originals: dict[str, Any] | None, name: str, sealed: str | None
                  ) -> dict[str, Any] | None:
    """``text_originals`` with ``name`` replaced (a new result replaces the earlier one's)."""
    kept = {k: v for k, v in (originals or {}).items() if k != name}
    if sealed is not None:
        kept[name] = sealed
    return kept or None
