"""What routing writes for people to read, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): the note of an escalation the platform made when a deadline passed,
which events shows on the case timeline. Pure: no I/O."""

from __future__ import annotations

from shared.i18n import zh_CN


def note_deadline_passed(kind: str) -> str:
    """``kind``: the deadline kind (accept, resolve)."""
    return zh_CN.CASE_NOTE_DEADLINE_PASSED.format(deadline_kind=zh_CN.DEADLINE_KIND_LABELS[kind])
