"""What a resident is told, and in which shape WeChat accepts it (pure; no I/O).

WeChat subscribe messages are typed by field name prefix and refuse values past their limits
(errcode 47003), so every value is fitted here: ``thing`` ≤ 20 characters, ``phrase`` ≤ 5
(Chinese characters only), ``character_string`` ≤ 32 (letters, digits, symbols), ``number``
≤ 32 digits, ``name`` ≤ 10, ``time`` a formatted date-time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from services.feedback import messages
from shared.calendar import shown_time

LIMITS: dict[str, int] = {
    "thing": 20,
    "phrase": 5,
    "character_string": 32,
    "number": 32,
    "name": 10,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "amount": 32,
    "date": 32,
    "time": 32,
}
_FIELD_TYPE = re.compile(r"^([a-z_]+?)\d+$")
_NOT_CHAR_STRING = re.compile(r"[^0-9A-Za-z_\-.:/#@+*() ]")
_NOT_CHINESE = re.compile(r"[^\u4e00-\u9fff]")


def field_type(key: str) -> str:
    match = _FIELD_TYPE.match(key)
    if match is None or match.group(1) not in LIMITS:
        raise ValueError(f"not a WeChat subscribe-message field: {key!r}")
    return match.group(1)


def fit(key: str, value: str) -> str:
    """``value`` made acceptable for field ``key`` (e.g. ``thing3``): cut to the limit, with
    an ellipsis where a cut would otherwise read as complete text."""
    kind = field_type(key)
    limit = LIMITS[kind]
    if kind == "phrase":
        value = _NOT_CHINESE.sub("", value)
    elif kind in ("character_string", "letter"):
        value = _NOT_CHAR_STRING.sub("", value)
    if len(value) <= limit:
        return value
    if kind == "thing":
        return value[: limit - 1] + "…"
    return value[:limit]


def fit_data(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The ``data`` object of a subscribe message."""
    return {key: {"value": fit(key, value)} for key, value in values.items()}


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str
    template: str  # "case_progress" | "case_closed": the settings name the template id
    page: str
    data: dict[str, dict[str, str]]


# action of events.event_status_changed → (notice kind, short phrase, sentence): the words
# are the message catalog's (services/feedback/messages.py).
CASE_STEPS = messages.CASE_STEPS


def _case_step_notice(
    step: tuple[str, str, str], *, template: str, event_id: str, case_no: str, at: datetime
) -> Notice:
    """A notice about one step of the resident's case: ``step`` is (kind, phrase, sentence)."""
    kind, phrase, sentence = step
    return Notice(
        kind=kind,
        title=messages.case_title(phrase),
        body=messages.case_body(case_no, sentence),
        template=template,
        page=f"pages/events/detail?id={event_id}",
        data=fit_data(
            {
                "character_string1": case_no,
                "phrase2": phrase,
                "time3": shown_time(at),
                "thing4": sentence,
            }
        ),
    )


def case_notice(action: str, *, event_id: str, case_no: str, at: datetime) -> Notice | None:
    """The notice for one lifecycle step, or None when the resident is not told of it."""
    step = CASE_STEPS.get(action)
    if step is None:
        return None
    return _case_step_notice(step, template="case_progress", event_id=event_id,
                             case_no=case_no, at=at)


CLOSED_STEP = messages.CLOSED_STEP


def closed_notice(*, event_id: str, case_no: str, closed_at: datetime) -> Notice:
    """Sent from ``events.event_closed`` (not the status change): by the time the reporter
    reads it, the closure is in the read model and can be rated."""
    return _case_step_notice(CLOSED_STEP, template="case_closed", event_id=event_id,
                             case_no=case_no, at=closed_at)


def booking_notice(
    *, booking_id: str, round_title: str, pickup_starts_at: datetime
) -> Notice:
    return Notice(
        kind="booking_confirmed",
        title=messages.BOOKING_TITLE,
        body=messages.booking_body(round_title, shown_time(pickup_starts_at)),
        template="case_progress",
        page=f"pages/booking/detail?id={booking_id}",
        data=fit_data(
            {
                "thing1": round_title,
                "phrase2": messages.BOOKING_TITLE,
                "time3": shown_time(pickup_starts_at),
                "thing4": messages.BOOKING_HINT,
            }
        ),
    )


RELIEF_KINDS = messages.RELIEF_KINDS


def relief_decision_notice(
    *, application_id: str, kind: str, outcome: str, decided_at: datetime
) -> Notice:
    """The decision only: reasons stay in relief (PII) and are read in the app."""
    words = messages.relief_texts(kind, approved=outcome == "approved")
    return Notice(
        kind="relief_decision",
        title=words["title"],
        body=words["body"],
        template="case_progress",
        page=f"pages/relief/detail?id={application_id}",
        data=fit_data(
            {
                "thing1": words["subject"],
                "phrase2": words["phrase"],
                "time3": shown_time(decided_at),
                "thing4": words["sentence"],
            }
        ),
    )


def staff_wechat_notice(*, notice_id: str, kind: str, title: str, body: str,
                        occurred_at: datetime) -> Notice:
    """A staff notice as a subscribe message to one staff member (template ``staff_notice``:
    title, time, text); the full text and the case are in the staff inbox it opens."""
    return Notice(
        kind=kind,
        title=title,
        body=body,
        template="staff_notice",
        page=f"pages/staff/notices/detail?id={notice_id}",
        data=fit_data({"thing1": title, "time2": shown_time(occurred_at), "thing3": body}),
    )
