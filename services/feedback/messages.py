"""What feedback tells residents and staff, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): notice titles, bodies and the phrases of WeChat subscribe messages,
and the (title, body) of each staff notice. ``notices`` and ``service.staff_notices`` fit them
into their shapes; the words live here. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime

from shared.calendar import shown_time as shown_time  # re-exported: callers use messages
from shared.i18n import zh_CN

# action of events.event_status_changed → (notice kind, short phrase, sentence)
CASE_STEPS: dict[str, tuple[str, str, str]] = dict(zh_CN.CASE_NOTICE_STEPS)
CLOSED_STEP: tuple[str, str, str] = zh_CN.CASE_CLOSED_STEP
RELIEF_KINDS: dict[str, str] = dict(zh_CN.RELIEF_KINDS)


def case_title(phrase: str) -> str:
    return zh_CN.CASE_NOTICE_TITLE.format(phrase=phrase)


def case_body(case_no: str, sentence: str) -> str:
    return zh_CN.CASE_NOTICE_BODY.format(case_no=case_no, sentence=sentence)


BOOKING_TITLE: str = zh_CN.BOOKING_CONFIRMED_TITLE
BOOKING_HINT: str = zh_CN.BOOKING_CONFIRMED_HINT


def booking_body(round_title: str, pickup: str) -> str:
    return zh_CN.BOOKING_CONFIRMED_BODY.format(round_title=round_title, pickup=pickup)


def relief_name(kind: str) -> str:
    return zh_CN.RELIEF_KINDS.get(kind, zh_CN.RELIEF_KIND_FALLBACK)


def relief_texts(kind: str, approved: bool) -> dict[str, str]:
    """The words of a relief decision notice: title, body, subject, phrase, sentence."""
    name = relief_name(kind)
    phrase = zh_CN.RELIEF_APPROVED if approved else zh_CN.RELIEF_REFUSED
    body = zh_CN.RELIEF_BODY.format(name=name, phrase=phrase)
    return {
        "title": zh_CN.RELIEF_TITLE.format(phrase=phrase),
        "body": body if approved else body + zh_CN.RELIEF_SEE_REASONS,
        "subject": zh_CN.RELIEF_SUBJECT.format(name=name),
        "phrase": phrase,
        "sentence": zh_CN.RELIEF_APPROVED_SENTENCE if approved
        else zh_CN.RELIEF_REFUSED_SENTENCE,
    }


# -- staff notices: each answers its (title, body); times shown in Asia/Shanghai -------------



def overdue_notice(deadline_kind: str, deadline: datetime) -> tuple[str, str]:
    return zh_CN.STAFF_NOTICE_OVERDUE_TITLE, zh_CN.STAFF_NOTICE_OVERDUE_BODY.format(
        deadline_kind=zh_CN.DEADLINE_KIND_LABELS[deadline_kind], deadline=shown_time(deadline))


def escalation_notice(from_level: str, to_level: str, *, automatic: bool) -> tuple[str, str]:
    levels = zh_CN.REGION_LEVEL_LABELS
    how = zh_CN.STAFF_NOTICE_ESCALATED_BY["automatic" if automatic else "unit"]
    return zh_CN.STAFF_NOTICE_ESCALATION_TITLE, zh_CN.STAFF_NOTICE_ESCALATION_BODY.format(
        from_level=levels[from_level], how=how, to_level=levels[to_level])


def assigned_notice(reason: str, accept_by: datetime) -> tuple[str, str]:
    title, body = zh_CN.STAFF_NOTICE_ASSIGNED[reason]
    return title, body.format(accept_by=shown_time(accept_by))


def queued_notice(kind: str, reason: str) -> tuple[str, str]:
    """``kind``: the notice kind (``returned`` or ``queued``); ``reason``: routing's."""
    return zh_CN.STAFF_NOTICE_QUEUED_TITLES[kind], zh_CN.STAFF_NOTICE_QUEUED_BODIES[reason]


def deadline_warning_notice(
    deadline_kind: str, deadline: datetime, fraction: float
) -> tuple[str, str]:
    return zh_CN.STAFF_NOTICE_WARNING_TITLE, zh_CN.STAFF_NOTICE_WARNING_BODY.format(
        deadline_kind=zh_CN.DEADLINE_KIND_LABELS[deadline_kind],
        deadline=shown_time(deadline), used=f"{fraction:.0%}")


def supervision_issued_notice(
    level: str, reply_by: datetime, instruction: str
) -> tuple[str, str]:
    name = zh_CN.SUPERVISION_LEVELS[level]
    return (zh_CN.STAFF_NOTICE_SUPERVISION_ISSUED_TITLE.format(level=name),
            zh_CN.STAFF_NOTICE_SUPERVISION_ISSUED_BODY.format(
                reply_by=shown_time(reply_by), instruction=instruction))


def supervision_overdue_notice(level: str, reply_by: datetime) -> tuple[str, str]:
    name = zh_CN.SUPERVISION_LEVELS[level]
    return (zh_CN.STAFF_NOTICE_SUPERVISION_OVERDUE_TITLE.format(level=name),
            zh_CN.STAFF_NOTICE_SUPERVISION_OVERDUE_BODY.format(
                level=name, reply_by=shown_time(reply_by)))


def co_handling_notice(lead_unit_name: str | None, due_at: datetime) -> tuple[str, str]:
    lead = lead_unit_name or zh_CN.STAFF_NOTICE_LEAD_UNIT_FALLBACK
    return zh_CN.STAFF_NOTICE_CO_HANDLING_TITLE, zh_CN.STAFF_NOTICE_CO_HANDLING_BODY.format(
        lead=lead, due_at=shown_time(due_at))


def grid_task_notice(kind: str, reason: str, task_title: str, due_at: datetime
                     ) -> tuple[str, str]:
    """A grid task given to one worker: new (a task from above, or a case to verify on
    site), handed over from a worker who left, or reassigned."""
    texts = zh_CN.GRID_WORK
    title = texts[f"task_{reason}_{kind}_title"] if reason == "new" \
        else texts[f"task_{reason}_title"]
    body = texts["task_handover_body" if reason == "handover" else "task_body"]
    return title, body.format(task=task_title, due_at=shown_time(due_at))
