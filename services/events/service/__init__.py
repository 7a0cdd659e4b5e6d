"""Use cases of the events service.

Ownership: events owns the case file — category tree, the report and its template values,
attachments, the lifecycle status (the one state machine in ``domain.py``), the timeline and
the reporter-reveal audit. Routing owns who handles a case and by when (directory, rules,
assignments, deadlines, timers, supervision, co-handling); events keeps a read model of those
decisions (assignee, deadlines, open sub-tasks) learnt from routing's events, and routing keeps a
mirror of the status learnt from ours. They never call each other directly.
"""

from .actions import apply_rating, take_action
from .attachments import upload_attachment
from .bus import (
    on_assigned,
    on_co_handling_started,
    on_deadline_changed,
    on_deadline_warning,
    on_extension_decided,
    on_extension_requested,
    on_feedback_rated,
    on_overdue,
    on_queued,
    on_region_changed,
    on_subtask_closed,
)
from .common import Clock, utc_now
from .intake import category_tree, report_event, upsert_category
from .queries import get_event, get_timeline, list_events, reveal_reporter
from .text_reveal import reveal_original_text

__all__ = [
    "Clock",
    "apply_rating",
    "category_tree",
    "get_event",
    "get_timeline",
    "list_events",
    "on_assigned",
    "on_co_handling_started",
    "on_deadline_changed",
    "on_deadline_warning",
    "on_extension_decided",
    "on_extension_requested",
    "on_feedback_rated",
    "on_overdue",
    "on_queued",
    "on_region_changed",
    "on_subtask_closed",
    "report_event",
    "reveal_original_text",
    "reveal_reporter",
    "take_action",
    "upload_attachment",
    "upsert_category",
    "utc_now",
]
