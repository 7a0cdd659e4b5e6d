"""What feedback tells residents, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): notice titles, bodies and the phrases of WeChat subscribe messages.
``notices`` fits them into their shapes; the words live here."""

from __future__ import annotations

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
