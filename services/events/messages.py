"""What events shows residents, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): timeline step titles, status and role labels, template choice labels
and the details of template refusals. Pure: no I/O, importable from the domain."""

from __future__ import annotations

from collections.abc import Iterable

from shared.i18n import zh_CN

# Steps whose note the platform wrote (English, for staff): residents read the step's title.
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
    own comment); the platform's bookkeeping notes are English for staff and left out."""
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
