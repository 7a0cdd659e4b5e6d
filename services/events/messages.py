"""What events shows residents, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): timeline step titles, status and role labels, template choice labels
and the details of template refusals; and the notes the platform writes on a timeline for
staff, times in Asia/Shanghai. Pure: no I/O, importable from the domain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.calendar import shown_time as shown_time  # re-exported: callers use messages
from shared.i18n import zh_CN

# Steps whose note the platform wrote (bookkeeping, for staff): residents read the step's title.
SYSTEM_NOTE_ACTIONS = frozenset({
    "dispatch", "redispatch", "transfer", "escalate", "close", "rework", "queue", "remind",
    "supervise", "deadline", "extension_request", "extend", "extension_rejected",
    "co_handle", "subtask_answered", "subtask_timed_out",
    # A 督办 is between the supervisor and the unit: residents read that it happened.
    "supervision_issued", "supervision_replied", "supervision_overdue", "supervision_lapsed",
})


def step_title(action: str) -> str:
    return zh_CN.STEP_TITLES.get(action, zh_CN.STEP_TITLE_FALLBACK)


def status_label(status: str | None) -> str | None:
    return None if status is None else zh_CN.STATUS_LABELS.get(status, status)


def role_label(role: str) -> str:
    return zh_CN.ROLE_LABELS.get(role, zh_CN.ROLE_LABELS["system"])


def resident_note(action: str, actor_role: str, note: str | None) -> str | None:
    """The note a resident reads on a step: what a person wrote (a reason, a result, their
    own comment); the platform's bookkeeping notes are for staff and left out."""
    if note is None or actor_role == "system" or action in SYSTEM_NOTE_ACTIONS:
        return None
    return note


def choice_label(key: str, code: str) -> str:
    """The Chinese label of one choice of template field ``key`` (the code when unknown)."""
    return zh_CN.CHOICE_LABELS.get(key, {}).get(code, code)


def choice_options(key: str, codes: Iterable[str]) -> list[dict[str, str]]:
    return [{"code": code, "label": choice_label(key, code)} for code in codes]


def field_missing(label: str) -> str:
    return zh_CN.FIELD_MISSING.format(label=label)


def field_unknown(key: str) -> str:
    return zh_CN.FIELD_UNKNOWN.format(key=key)


def field_invalid(label: str, kind: str, **values: object) -> str:
    why = zh_CN.FIELD_WHY.get(kind, zh_CN.FIELD_WHY["unsupported"]).format(**values)
    return zh_CN.FIELD_INVALID.format(label=label, why=why)


# -- the platform's timeline notes, for staff --------------------------------------------------



def note_assigned(reason: str, unit_name: str) -> str:
    return zh_CN.CASE_NOTE_ASSIGNED[reason].format(unit=unit_name)


def note_automatic(note: str) -> str:
    return zh_CN.CASE_NOTE_AUTOMATIC.format(note=note)


def note_queued(reason: str) -> str:
    return zh_CN.CASE_NOTE_QUEUED.format(reason=zh_CN.CASE_NOTE_QUEUE_REASONS[reason])


def note_deadline_warning(kind: str, deadline: datetime, fraction: float) -> str:
    return zh_CN.CASE_NOTE_DEADLINE_WARNING.format(
        deadline_kind=zh_CN.DEADLINE_KIND_LABELS[kind], deadline=shown_time(deadline),
        used=f"{round(fraction * 100)}%")


def note_overdue(kind: str) -> str:
    return zh_CN.CASE_NOTE_OVERDUE.format(deadline_kind=zh_CN.DEADLINE_KIND_LABELS[kind])


def note_deadline_changed(resolve_by: datetime, reason: str) -> str:
    return zh_CN.CASE_NOTE_DEADLINE_CHANGED.format(
        resolve_by=shown_time(resolve_by), reason=zh_CN.CASE_NOTE_DEADLINE_REASONS[reason])


def note_extension_requested(extra_working_hours: float) -> str:
    return zh_CN.CASE_NOTE_EXTENSION_REQUESTED.format(hours=f"{extra_working_hours:g}")


def note_extension_decided(approved: bool, resolve_by: datetime) -> str:
    verdict = "approved" if approved else "rejected"
    return zh_CN.CASE_NOTE_EXTENSION_DECIDED[verdict].format(resolve_by=shown_time(resolve_by))


def note_co_handling(unit_names: Iterable[str]) -> str:
    return zh_CN.CASE_NOTE_CO_HANDLING.format(
        units=zh_CN.CASE_NOTE_LIST_SEPARATOR.join(unit_names))


def note_subtask_closed(outcome: str) -> str:
    return zh_CN.CASE_NOTE_SUBTASK_CLOSED[outcome]


NOTE_CLOSED_AFTER_CHECK: str = zh_CN.CASE_NOTE_CLOSED_AFTER_CHECK
NOTE_REWORK: str = zh_CN.CASE_NOTE_REWORK
NOTE_POSSIBLE_DUPLICATE: str = zh_CN.CASE_NOTE_POSSIBLE_DUPLICATE


def note_rating(rating: str, *, default_applied: bool) -> str:
    label = zh_CN.RATING_LABELS[rating]
    return zh_CN.CASE_NOTE_RATING_DEFAULT.format(rating=label) if default_applied else label


def supervision_level(level: str) -> str:
    return zh_CN.SUPERVISION_LEVELS.get(level, level)


def note_supervision_issued(level: str, unit: str, reply_by: datetime, instruction: str) -> str:
    """``instruction``: already masked."""
    return zh_CN.CASE_NOTE_SUPERVISION_ISSUED.format(
        level=supervision_level(level), unit=unit, reply_by=shown_time(reply_by),
        instruction=instruction)


def note_supervision_overdue(level: str, reply_by: datetime, region_code: str) -> str:
    return zh_CN.CASE_NOTE_SUPERVISION_OVERDUE.format(
        level=supervision_level(level), reply_by=shown_time(reply_by), region_code=region_code)


def note_supervision_replied(level: str, reply: str | None, *, late: bool) -> str:
    """``reply``: already masked; none from an older producer."""
    wording = (zh_CN.CASE_NOTE_SUPERVISION_REPLIED_LATE if late
               else zh_CN.CASE_NOTE_SUPERVISION_REPLIED)
    return wording.format(level=supervision_level(level),
                          reply=reply or zh_CN.CASE_NOTE_SUPERVISION_REPLY_FALLBACK)


def note_supervision_lapsed(level: str, case_status: str, *, was_overdue: bool) -> str:
    wording = (zh_CN.CASE_NOTE_SUPERVISION_LAPSED_OVERDUE if was_overdue
               else zh_CN.CASE_NOTE_SUPERVISION_LAPSED)
    return wording.format(level=supervision_level(level), status=status_label(case_status))
