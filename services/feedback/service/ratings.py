"""Ratings: by the reporter, once per closure; default ones for closures left unrated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.feedback import domain
from services.feedback.domain import CaseSummary
from services.feedback.service import projection
from services.feedback.store import cases
from services.feedback.store.tables import case_summaries
from shared.contracts.feedback import EventRated, Rating, ReworkRequested
from shared.db.idempotency import remember, reserve
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import mask_personal_numbers
from shared.problems import Conflict

log = get_logger(__name__)
_SUMMARY_FIELDS = [c.name for c in case_summaries.columns if c.name != "updated_at"]


@dataclass(frozen=True)
class RatingRecorded:
    event_id: uuid.UUID
    rating: Rating
    default_applied: bool
    rated_at: datetime
    closure_closed_at: datetime
    closure_seq: int
    rework_requested: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RatingRecorded:
        return cls(
            event_id=uuid.UUID(body["event_id"]),
            rating=body["rating"],
            default_applied=body["default_applied"],
            rated_at=datetime.fromisoformat(body["rated_at"]),
            closure_closed_at=datetime.fromisoformat(body["closure_closed_at"]),
            closure_seq=body["closure_seq"],
            rework_requested=body["rework_requested"],
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "rating": self.rating,
            "default_applied": self.default_applied,
            "rated_at": self.rated_at.isoformat(),
            "closure_closed_at": self.closure_closed_at.isoformat(),
            "closure_seq": self.closure_seq,
            "rework_requested": self.rework_requested,
        }


def summary_from_row(row: Any) -> CaseSummary | None:
    if row is None:
        return None
    return CaseSummary(**{name: getattr(row, name) for name in _SUMMARY_FIELDS})


async def _record(
    uow: UnitOfWork,
    summary: CaseSummary,
    *,
    rating: Rating,
    comment: str | None,
    default_applied: bool,
    rater_id: uuid.UUID | None,
    now: datetime,
) -> RatingRecorded | None:
    """Store the rating of the latest closure, update the read model, publish. None when
    that closure was rated meanwhile."""
    assert summary.closed_at is not None
    closure_seq = summary.closure_count  # the latest closure is the last one
    inserted = await cases.insert_rating(
        uow,
        event_id=summary.event_id,
        closure_closed_at=summary.closed_at,
        closure_seq=closure_seq,
        rating=rating,
        # Never shown nor published; still, a phone or ID number typed into it is kept masked.
        comment=mask_personal_numbers(comment) if comment else comment,
        default_applied=default_applied,
        rated_at=now,
        rater_id=rater_id,
    )
    if not inserted:
        return None
    recorded = RatingRecorded(
        event_id=summary.event_id,
        rating=rating,
        default_applied=default_applied,
        rated_at=now,
        closure_closed_at=summary.closed_at,
        closure_seq=closure_seq,
        rework_requested=rating == domain.DISSATISFIED,
    )
    await _project_rating(uow, summary, recorded)
    await _announce_rating(uow, summary, recorded, comment_present=bool(comment))
    return recorded


async def _project_rating(
    uow: UnitOfWork, summary: CaseSummary, recorded: RatingRecorded
) -> None:
    """The read model learns of the rating and, for a dissatisfied one, of the rework."""
    closure = recorded.closure_closed_at.isoformat()
    facts = [
        projection.local_fact(
            domain.RATED,
            recorded.event_id,
            recorded.rated_at,
            {"rating": recorded.rating, "default_applied": recorded.default_applied,
             "closure_closed_at": closure},
        )
    ]
    if recorded.rework_requested:
        facts.append(
            projection.local_fact(
                domain.REWORK,
                recorded.event_id,
                recorded.rated_at,
                {"unit_id": str(summary.unit_id) if summary.unit_id else None,
                 "closure_closed_at": closure},
            )
        )
    await projection.project(uow, facts)


async def _announce_rating(
    uow: UnitOfWork, summary: CaseSummary, recorded: RatingRecorded, *, comment_present: bool
) -> None:
    """``feedback.event_rated`` (the comment itself never leaves) and, for a dissatisfied
    rating, ``feedback.rework_requested``."""
    await uow.emit(
        "feedback.event_rated",
        EventRated(
            event_id=recorded.event_id,
            rating=recorded.rating,
            comment_present=comment_present,
            default_applied=recorded.default_applied,
            rated_at=recorded.rated_at,
            closure_closed_at=recorded.closure_closed_at,
            closure_seq=recorded.closure_seq,
            rework=recorded.rework_requested,
        ),
    )
    if recorded.rework_requested:
        await uow.emit(
            "feedback.rework_requested",
            ReworkRequested(
                event_id=recorded.event_id,
                unit_id=summary.unit_id,
                closure_closed_at=recorded.closure_closed_at,
                closure_seq=recorded.closure_seq,
                requested_at=recorded.rated_at,
            ),
        )


async def rate(
    *,
    uow: UnitOfWork,
    rater_id: uuid.UUID,
    event_id: uuid.UUID,
    rating: Rating,
    comment: str | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> RatingRecorded:
    """Record the reporter's rating of the case's latest closure. With an Idempotency-Key, a
    retry answers what the first attempt answered instead of ``already_rated``."""
    now = now or datetime.now(UTC)
    scope = f"feedback.rate:{rater_id}"
    request = {"event_id": str(event_id), "rating": rating, "comment": comment}
    async with uow:
        if idempotency_key is not None:
            replay = await reserve(uow, scope=scope, key=idempotency_key, request=request)
            if replay is not None:
                return RatingRecorded.from_json(replay[1])
        await cases.lock_case(uow, event_id)
        summary = summary_from_row(await cases.get_summary_row(uow, event_id))
        domain.check_can_rate(summary, rater_id)
        assert summary is not None  # check_can_rate refused a case it does not know
        recorded = await _record(
            uow, summary, rating=rating, comment=comment, default_applied=False,
            rater_id=rater_id, now=now,
        )
        if recorded is None:
            raise Conflict("this closure is already rated", code="already_rated")
        if idempotency_key is not None:
            await remember(uow, scope=scope, key=idempotency_key, status=201,
                           body=recorded.as_json())
    log.info("event_rated", event_id=str(event_id), rating=rating,
             rework=recorded.rework_requested)
    return recorded


async def apply_default_ratings(
    *, uow: UnitOfWork, after_days: float, rating: Rating, limit: int, now: datetime | None = None
) -> list[RatingRecorded]:
    """Give the default rating to closures left unrated for ``after_days``. Safe to run in
    every replica at once: a case another transaction is working on is skipped (try-lock),
    and the rating's primary key allows one rating per closure whatever happens."""
    now = now or datetime.now(UTC)
    applied: list[RatingRecorded] = []
    async with uow:
        due = await cases.unrated_closures(
            uow, closed_before=now - timedelta(days=after_days), limit=limit
        )
        for event_id in due:
            if not await cases.try_lock_case(uow, event_id):
                continue
            summary = summary_from_row(await cases.get_summary_row(uow, event_id))
            if (
                summary is None
                or not summary.is_closed
                or summary.rating is not None
                or summary.closed_at is None
                or summary.closed_at >= now - timedelta(days=after_days)
            ):
                continue  # rated or reopened since the scan
            recorded = await _record(
                uow, summary, rating=rating, comment=None, default_applied=True,
                rater_id=None, now=now,
            )
            if recorded is not None:
                applied.append(recorded)
    if applied:
        log.info("default_ratings_applied", count=len(applied))
    return applied
