"""Integration events published by the feedback service. Consumers depend on these shapes only.

No PII travels here: comments stay in the feedback service; a payload only says whether
there was one. A case can be closed more than once (a dissatisfied rating sends it back for
rework), so a rating names the closure it judges by that closure's ``closed_at`` (as carried
by ``events.event_closed``) and its ordinal ``closure_seq`` (1 for the first closure).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts import contract

Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]


@contract("feedback.event_rated")
class EventRated(BaseModel):
    """The reporter rated a closure of the case (or the default rating was applied after the
    rating period). At most one per ``(event_id, closure_closed_at)``. Satisfied or basically
    satisfied completes the four musts; dissatisfied is followed by
    ``feedback.rework_requested`` for the same closure."""

    event_id: uuid.UUID
    rating: Rating
    comment_present: bool = False
    default_applied: bool
    rated_at: datetime
    closure_closed_at: datetime
    closure_seq: int
    rework: bool  # True exactly when rating == "dissatisfied"


@contract("feedback.rework_requested")
class ReworkRequested(BaseModel):
    """The reporter was dissatisfied: routing reopens the case to ``unit_id`` (the unit that
    handled the rated closure) with a new deadline. The rework counts against that unit."""

    event_id: uuid.UUID
    unit_id: uuid.UUID | None = None
    reason: Literal["reporter_dissatisfied"] = "reporter_dissatisfied"
    closure_closed_at: datetime
    closure_seq: int
    requested_at: datetime


@contract("feedback.hotspot_flagged")
class HotspotFlagged(BaseModel):
    """At least ``threshold`` cases of one category were reported in one community within
    ``window_days``: flagged for proactive handling (主动治理). Published once per
    (community, category) until its count falls below the threshold again."""

    hotspot_id: uuid.UUID
    region_code: str  # community level
    category_code: str
    report_count: int
    threshold: int
    window_days: int
    window_start: datetime
    flagged_at: datetime
    sample_event_ids: list[uuid.UUID]
