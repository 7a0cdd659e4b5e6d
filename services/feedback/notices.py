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
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
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


def wechat_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str
    template: str  # "case_progress" | "case_closed": the settings name the template id
    page: str
    data: dict[str, dict[str, str]]


# action of events.event_status_changed → (notice kind, short phrase, sentence)
CASE_STEPS: dict[str, tuple[str, str, str]] = {
    "assign": ("dispatched", "已派单", "已派发给承办单位处理"),
    "accept": ("accepted", "已受理", "承办单位已受理"),
    "submit_result": ("result", "已出结果", "承办单位已提交办理结果"),
    "rework": ("rework", "重新办理", "已按您的评价重新办理"),
    "reject": ("rejected", "不予受理", "未予受理，详情请查看案件"),
}


def _case_step_notice(
    step: tuple[str, str, str], *, template: str, event_id: str, case_no: str, at: datetime
) -> Notice:
    """A notice about one step of the resident's case: ``step`` is (kind, phrase, sentence)."""
    kind, phrase, sentence = step
    return Notice(
        kind=kind,
        title=f"事项{phrase}",
        body=f"您反映的事项（{case_no}）{sentence}。",
        template=template,
        page=f"pages/events/detail?id={event_id}",
        data=fit_data(
            {
                "character_string1": case_no,
                "phrase2": phrase,
                "time3": wechat_time(at),
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


CLOSED_STEP = ("closed", "已办结", "已办结，请对办理结果进行评价")


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
        title="预约成功",
        body=f"您已成功预约「{round_title}」，请于{wechat_time(pickup_starts_at)}起凭取货码领取。",
        template="case_progress",
        page=f"pages/booking/detail?id={booking_id}",
        data=fit_data(
            {
                "thing1": round_title,
                "phrase2": "预约成功",
                "time3": wechat_time(pickup_starts_at),
                "thing4": "请凭取货码按时领取",
            }
        ),
    )


RELIEF_KINDS = {"dibao": "最低生活保障", "tekun": "特困人员救助供养", "temporary": "临时救助"}


def relief_decision_notice(
    *, application_id: str, kind: str, outcome: str, decided_at: datetime
) -> Notice:
    """The decision only: reasons stay in relief (PII) and are read in the app."""
    approved = outcome == "approved"
    name = RELIEF_KINDS.get(kind, "救助")
    phrase = "审批通过" if approved else "未通过"
    sentence = "您的申请已审批通过" if approved else "您的申请未通过，原因请在小程序中查看"
    return Notice(
        kind="relief_decision",
        title=f"救助申请{phrase}",
        body=f"您的{name}申请{phrase}。" + ("" if approved else "原因请在小程序中查看。"),
        template="case_progress",
        page=f"pages/relief/detail?id={application_id}",
        data=fit_data(
            {
                "thing1": f"{name}申请",
                "phrase2": phrase,
                "time3": wechat_time(decided_at),
                "thing4": sentence,
            }
        ),
    )
