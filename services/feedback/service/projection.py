"""The read model: facts from the bus in, case summaries out.

Every message becomes one fact keyed by its message id (a redelivery adds nothing); the
summaries of the cases it touches are recomputed from all their facts, under a per-case
advisory lock so concurrent consumers cannot lose each other's facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from services.feedback import domain
from services.feedback.domain import CaseSummary, Fact
from services.feedback.store import bulk, cases
from shared.calendar import WorkingCalendar
from shared.contracts.events import ReporterSeal, ReporterSealError
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.messaging.envelope import Envelope

log = get_logger(__name__)

CALENDAR = WorkingCalendar()

# event type → (fact kind, payload field holding the moment it happened)
FACT_SOURCES: dict[str, tuple[str, str]] = {
    "events.event_reported": (domain.REPORTED, "reported_at"),
    "events.event_status_changed": (domain.STATUS, "at"),
    "events.event_closed": (domain.CLOSED, "closed_at"),
    "routing.event_assigned": (domain.ASSIGNED, "assigned_at"),
    "routing.deadline_changed": (domain.DEADLINE, "at"),
}


def reporter_of(envelope: Envelope, seal: ReporterSeal) -> uuid.UUID | None:
    """Who reported the case: named on the bus, or — for a sensitive tip — sealed for this
    service alone. A sealed value that does not open (a keyring missing the key that sealed
    it) raises: the message is retried and parked rather than the reporter silently lost."""
    payload = envelope.payload
    if payload.get("reporter_id"):
        return uuid.UUID(str(payload["reporter_id"]))
    sealed = payload.get("reporter_sealed")
    if not sealed:
        return None
    event_id = uuid.UUID(str(payload["event_id"]))
    try:
        return seal.open(event_id, str(sealed))
    except ReporterSealError:
        log.error("reporter_seal_not_opened", event_id=str(event_id),
                  key_id=str(sealed).partition(":")[0])
        raise


def fact_from_envelope(envelope: Envelope, *, reporter_id: uuid.UUID | None = None) -> Fact:
    """``reporter_id`` is the reporter opened from ``reporter_sealed`` (sensitive tips): kept
    in this service's own facts — it addresses the reporter's notices and decides who may
    rate — and never shown by its API nor published again."""
    kind, moment = FACT_SOURCES[envelope.event_type]
    payload = envelope.payload
    data = {k: v for k, v in payload.items() if k != "reporter_sealed"}
    if reporter_id is not None and not data.get("reporter_id"):
        data["reporter_id"] = str(reporter_id)
    return Fact(
        message_id=envelope.event_id,
        event_id=uuid.UUID(str(payload["event_id"])),
        kind=kind,
        at=datetime.fromisoformat(str(payload[moment])),
        data=data,
    )


def local_fact(kind: str, event_id: uuid.UUID, at: datetime, data: dict[str, object]) -> Fact:
    """A fact the feedback service itself establishes (a rating, a rework request)."""
    return Fact(message_id=uuid.uuid4(), event_id=event_id, kind=kind, at=at, data=data)


async def project(
    uow: UnitOfWork, facts: Sequence[Fact], *, calendar: WorkingCalendar = CALENDAR
) -> list[CaseSummary]:
    """Store ``facts`` and bring the summaries of the cases they concern up to date."""
    changed = await cases.add_facts(uow, facts)
    if not changed:
        return []
    for event_id in sorted(changed):  # a fixed order: two batches never deadlock
        await cases.lock_case(uow, event_id)
    loaded = await cases.load_facts(uow, changed)
    summaries = [domain.summarize(eid, found, calendar) for eid, found in loaded.items()]
    await cases.save_summaries(uow, summaries)
    return summaries


async def learn_unit(uow: UnitOfWork, envelope: Envelope) -> None:
    """Remember the unit named by an assignment (its name and region label scorecards)."""
    payload = envelope.payload
    await cases.save_unit(
        uow, payload["unit"], datetime.fromisoformat(str(payload["assigned_at"]))
    )


async def project_batch(
    uow: UnitOfWork, facts: Sequence[Fact], *, calendar: WorkingCalendar = CALENDAR
) -> int:
    """``project`` for a replay: many facts in one transaction through COPY; each touched
    case is summarised once per batch. Returns how many cases were brought up to date. The
    summaries table is locked first, so live consumers wait for the batch."""
    await bulk.lock_cases(uow)
    changed = await bulk.add_facts(uow, facts)
    if not changed:
        return 0
    latest_units: dict[str, Fact] = {}
    for fact in facts:
        if fact.kind == domain.ASSIGNED:
            unit_id = str(fact.data["unit"]["unit_id"])
            if unit_id not in latest_units or latest_units[unit_id].at < fact.at:
                latest_units[unit_id] = fact
    for fact in latest_units.values():
        await cases.save_unit(uow, fact.data["unit"], fact.at)
    loaded = await bulk.load_facts(uow, sorted(changed))
    summaries = [domain.summarize(eid, found, calendar) for eid, found in loaded.items()]
    await bulk.save_summaries(uow, summaries)
    return len(summaries)
