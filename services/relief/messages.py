"""What relief shows people, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): labels of statuses, kinds, agencies, stages, outcomes and actions,
timeline step titles and the notes the platform writes, the public notice's line, and the
details of 422 refusals. Codes stay English. Pure: no I/O, importable from the domain."""

from __future__ import annotations

import re
from datetime import datetime

from shared.calendar import SHANGHAI
from shared.calendar import shown_time as shown_time  # re-exported: callers use messages
from shared.i18n import zh_CN

_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def kind_label(kind: str) -> str:
    return zh_CN.RELIEF_KINDS.get(kind, zh_CN.RELIEF_KIND_FALLBACK)


def status_label(status: str) -> str:
    return zh_CN.RELIEF_STATUS_LABELS.get(status, status)


def agency_label(agency: str | None) -> str | None:
    return None if agency is None else zh_CN.RELIEF_AGENCY_LABELS.get(agency, agency)


def stage_label(stage: str) -> str:
    return zh_CN.RELIEF_STAGE_LABELS.get(stage, stage)


def outcome_label(outcome: str) -> str:
    return zh_CN.RELIEF_OUTCOME_LABELS.get(outcome, outcome)


def household_source_label(source: str) -> str:
    return zh_CN.RELIEF_HOUSEHOLD_SOURCE_LABELS.get(source, source)


def objection_label(upheld: bool | None) -> str:
    state = "open" if upheld is None else "upheld" if upheld else "dismissed"
    return zh_CN.RELIEF_OBJECTION_LABELS[state]


def action_labels(actions: list[str]) -> dict[str, str]:
    return {a: zh_CN.RELIEF_ACTION_LABELS.get(a, a) for a in actions}


def role_label(role: str) -> str:
    return zh_CN.ROLE_LABELS.get(role, zh_CN.ROLE_LABELS["system"])


def _agency_step_titles() -> dict[str, str]:
    titles = dict(zh_CN.RELIEF_STEP_TITLES)
    for agency, label in zh_CN.RELIEF_AGENCY_LABELS.items():
        for pattern, wording in zh_CN.RELIEF_AGENCY_STEP_TITLES.items():
            titles[pattern.format(agency=agency)] = wording.format(label=label)
    return titles


# Every step code the machine can write, worded once at import.
STEP_TITLES: dict[str, str] = _agency_step_titles()


def step_title(step: str) -> str:
    return STEP_TITLES.get(step, zh_CN.RELIEF_STEP_TITLE_FALLBACK)



def note_rejected(count: int, notify_by: datetime) -> str:
    return zh_CN.RELIEF_NOTE_REJECTED.format(count=count, notify_by=shown_time(notify_by))


def note_notice(ends: datetime) -> str:
    return zh_CN.RELIEF_NOTE_NOTICE.format(ends=shown_time(ends))


NOTE_MINOR: str = zh_CN.RELIEF_NOTE_MINOR
NOTE_ON_BEHALF: str = zh_CN.RELIEF_NOTE_ON_BEHALF


def note_paid(month: str, *, monthly_run: bool = False) -> str:
    """``month`` written ``YYYY-MM``."""
    year, _, number = month.partition("-")
    wording = zh_CN.RELIEF_NOTE_PAID_MONTHLY if monthly_run else zh_CN.RELIEF_NOTE_PAID
    return wording.format(year=year, month=int(number))


def shown_note(note: str | None) -> str | None:
    """A timeline note as shown. Relief's notes are written by the platform, never by a
    person; those written before the notes were Chinese are left out, as every fact they
    carried (the deadline to tell the applicant, the end of the notice, a minor, applying on
    someone's behalf) is on the application itself."""
    return note if note is not None and _CHINESE.search(note) else None


def masked_text(value: str) -> str:
    """Free text (reasons, opinions) shown masked: its first character and its length."""
    if not value:
        return ""
    stars = "*" * min(len(value) - 1, 9)
    return f"{value[:1]}{stars}{zh_CN.RELIEF_MASKED_LENGTH.format(count=len(value))}"


def notice_line(*, masked_name: str, household_size: int, kind: str, ends: datetime) -> str:
    """One line of the public notice board (公示栏)."""
    return zh_CN.RELIEF_NOTICE_LINE.format(
        name=masked_name, size=household_size, kind=kind_label(kind),
        ends=ends.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
    )


def field_missing(label_key: str) -> str:
    return zh_CN.FIELD_MISSING.format(label=zh_CN.RELIEF_FIELD_LABELS[label_key])


CHOOSE_OPINION: str = zh_CN.RELIEF_CHOOSE_OPINION
MONTHLY_AMOUNT_INVALID: str = zh_CN.RELIEF_MONTHLY_AMOUNT_INVALID
AMOUNT_INVALID: str = zh_CN.RELIEF_AMOUNT_INVALID
MONTH_INVALID: str = zh_CN.RELIEF_MONTH_INVALID
HOUSEHOLD_ID_INVALID: str = zh_CN.RELIEF_HOUSEHOLD_ID_INVALID
UNKNOWN_ACTION: str = zh_CN.RELIEF_UNKNOWN_ACTION
NOT_IN_REGISTRY: str = zh_CN.RELIEF_NOT_IN_REGISTRY
