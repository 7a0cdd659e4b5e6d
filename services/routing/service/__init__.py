"""Use cases of the routing service.

Ownership: routing owns the organisation directory (regions, units, grid workers), the rules
(category × level → unit kind, audited), SLA policies and the calendar override table, and for
each case its assignment — current unit, deadlines, timers, supervision records, extension
requests and co-handling sub-tasks. The case itself (report, status, timeline) is the events
service's; routing keeps only a mirror of its status, learnt from ``events.event_status_changed``,
to know which clocks run. Every decision leaves as a ``routing.*`` event. What staff type
(notes, reasons, tasks, answers) is stored and published with phone and ID numbers masked; the
originals are kept encrypted and read through an audited reveal (originals.py).
"""

from .assignment import dispatch, escalate, on_event_reported, on_status_changed, transfer
from .cohandling import (
    answer_subtask,
    case_subtasks,
    cohandling_counts,
    decide_extension,
    open_subtask,
    request_extension,
    start_co_handling,
    unit_subtasks,
)
from .common import Clock
from .directory import (
    add_grid_worker,
    child_regions,
    dispatcher_queue,
    grid_workers,
    policies,
    put_override,
    put_policy,
    put_region,
    put_rule,
    rule_audit,
    rules,
    supervisions,
    units,
    work_queue,
)
from .text_reveal import reveal_original_text
from .timers import TimerScanner, fire_due_timers

__all__ = [
    "Clock",
    "TimerScanner",
    "add_grid_worker",
    "answer_subtask",
    "case_subtasks",
    "child_regions",
    "cohandling_counts",
    "decide_extension",
    "dispatch",
    "dispatcher_queue",
    "escalate",
    "fire_due_timers",
    "grid_workers",
    "on_event_reported",
    "on_status_changed",
    "open_subtask",
    "policies",
    "put_override",
    "put_policy",
    "put_region",
    "put_rule",
    "request_extension",
    "reveal_original_text",
    "rule_audit",
    "rules",
    "start_co_handling",
    "supervisions",
    "transfer",
    "unit_subtasks",
    "units",
    "work_queue",
]
