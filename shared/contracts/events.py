"""Integration events published by the events service. Consumers depend on these shapes only.

No plaintext PII travels here: no names, phones, ID numbers, descriptions or template values.
For sensitive categories (organised crime, fraud) the reporter's identity is left out too
(``reporter_id`` is None); the events service alone can reveal it to staff, with an audit
record. So that the reporter is still told about progress and can rate, those messages carry
``reporter_sealed`` instead: the reporter's user id sealed by :class:`ReporterSeal` under the
reporter-seal keyring that only the events service (which seals) and the feedback service
(which addresses the reporter's notices and checks who rates) hold. Every other consumer —
routing, the partner gateway, anyone reading the broker — sees an opaque value that is bound
to the case and carries a random nonce, so it neither names the informant nor links two tips
by the same informant (a deterministic pseudonym such as an HMAC of the user id would).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared.contracts import contract
from shared.pii import PiiCipher, PiiError

Urgency = Literal["urgent", "normal", "low"]
ReporterSealError = PiiError


class ReporterSeal:
    """Seals and opens ``reporter_sealed``. The format is part of this contract: AES-256-GCM
    (shared.pii) with a ``kid:`` prefix, so the keyring rotates (new cases are sealed with the
    active key; feedback keeps old keys to open messages of older cases), and the case id as
    associated data, so a sealed value copied onto another case does not open."""

    def __init__(self, keyring: str, *, active_kid: str | None = None) -> None:
        # PiiCipher also derives a blind-index key; sealing never uses it.
        self._cipher = PiiCipher.from_config(keyring, active_kid=active_kid,
                                             index_secret=keyring)

    @staticmethod
    def _context(event_id: uuid.UUID) -> str:
        return f"events.reporter:{event_id}"

    def seal(self, event_id: uuid.UUID, reporter_id: uuid.UUID) -> str:
        return self._cipher.encrypt(str(reporter_id), context=self._context(event_id))

    def open(self, event_id: uuid.UUID, sealed: str) -> uuid.UUID:
        """The reporter's user id; ``ReporterSealError`` for an unknown key or a value that
        does not verify (tampered, or sealed for another case)."""
        return uuid.UUID(self._cipher.decrypt(sealed, context=self._context(event_id)))
Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]


@contract("events.event_reported")
class EventReported(BaseModel):
    """A case was opened. Routing assigns it; feedback starts its scorecard clock."""

    event_id: uuid.UUID
    case_no: str
    category_code: str
    major_risk: str  # top of the category tree (one of the five major risks)
    urgency: Urgency
    sensitive: bool
    region_code: str  # community level or deeper
    reported_at: datetime
    channel: Literal["resident", "grid_worker", "partner"]
    reporter_id: uuid.UUID | None = None  # None for sensitive categories
    reporter_sealed: str | None = None  # sensitive categories only: see ReporterSeal
    possible_duplicate_of: uuid.UUID | None = None


# The ``action`` of the step that records a routing assignment on the case file, by the
# assignment's reason (routing.event_assigned ``reason``).
ASSIGNMENT_ACTIONS: dict[str, str] = {
    "initial": "dispatch",
    "redispatch": "redispatch",
    "transfer": "transfer",
    "escalated": "escalate",
}


def status_change_topic(payload: dict[str, Any]) -> str | None:
    """Steps that record a routing assignment travel as ``….v1.assignment``: routing, which
    decided them, leaves that key unbound; everyone else binds every topic."""
    return "assignment" if payload["action"] in _ASSIGNMENT_STEPS else None


_ASSIGNMENT_STEPS = frozenset(ASSIGNMENT_ACTIONS.values())


@contract("events.event_status_changed", topic=status_change_topic)
class EventStatusChanged(BaseModel):
    """One step of the lifecycle. Partners' webhooks and routing's mirror follow this.
    ``action`` is the state-machine action (accept, return, start, submit_result, verify,
    close, reject, assign, rate, rework...); ``passed`` is set on verify."""

    event_id: uuid.UUID
    case_no: str
    category_code: str
    region_code: str
    from_status: str
    to_status: str
    action: str
    actor_role: str
    actor_unit_id: uuid.UUID | None = None
    at: datetime
    reason: str | None = None
    passed: bool | None = None
    reporter_id: uuid.UUID | None = None  # None for sensitive categories
    reporter_sealed: str | None = None  # sensitive categories only: see ReporterSeal
    # Grows with every step of the case: a consumer handling two changes out of order keeps
    # the later one.
    step: int = 0
    # The staff member who took the step (the verifier of a verify, for instance); None for
    # the platform and for residents (whose id is ``reporter_id``'s, withheld when sensitive).
    actor_id: uuid.UUID | None = None


@contract("events.event_closed")
class EventClosed(BaseModel):
    """The case is closed (结案). Everything the scorecards need, timings included."""

    event_id: uuid.UUID
    case_no: str
    category_code: str
    major_risk: str
    urgency: Urgency
    region_code: str
    lead_unit_id: uuid.UUID | None
    handling_unit_ids: list[uuid.UUID]
    reported_at: datetime
    first_dispatched_at: datetime | None
    accepted_at: datetime | None
    result_submitted_at: datetime | None
    closed_at: datetime
    accept_by: datetime | None
    resolve_by: datetime | None
    accepted_on_time: bool | None
    resolved_on_time: bool | None
    escalation_count: int
    return_count: int
    rework_count: int
    classified: bool
    dispatch_trail_recorded: bool
    result_recorded: bool
    reporter_id: uuid.UUID | None = None  # None for sensitive categories
    reporter_sealed: str | None = None  # sensitive categories only: see ReporterSeal


@contract("events.event_rated")
class EventRated(BaseModel):
    """The reporter's rating (or the default one) was recorded: the four musts are met and
    the case is closed-loop complete, unless the rating asks for rework."""

    event_id: uuid.UUID
    case_no: str
    region_code: str
    lead_unit_id: uuid.UUID | None
    rating: Rating
    default_applied: bool
    rated_at: datetime
    closed_loop_complete: bool
    rework: bool
