"""Simplified Chinese: every text a resident reads. API codes (statuses, actions, error
``code``s, choice codes) stay English; these are only what is shown for them."""

from __future__ import annotations

from typing import Final

# Case statuses (``status`` stays the code).
STATUS_LABELS: Final[dict[str, str]] = {
    "reported": "已上报",
    "rejected": "不予受理",
    "dispatched": "已派单",
    "accepted": "已受理",
    "in_progress": "办理中",
    "result_submitted": "已出结果",
    "verified": "已核查",
    "closed": "已办结",
    "rated": "已评价",
    "returned": "已回退",
}

# Timeline steps by action code: the title a step shows.
STEP_TITLES: Final[dict[str, str]] = {
    "report": "提交事项",
    "dispatch": "派发承办单位",
    "redispatch": "重新派单",
    "transfer": "转办",
    "escalate": "上报上级处理",
    "reject": "不予受理",
    "accept": "承办单位受理",
    "return": "承办单位回退",
    "start": "开始办理",
    "submit_result": "提交办理结果",
    "verify": "核查办理结果",
    "close": "事项办结",
    "rate": "评价",
    "rework": "重新办理",
    "queue": "等待派单",
    "remind": "办理时限提醒",
    "supervise": "督办",
    "deadline": "办理时限调整",
    "extension_request": "申请延期",
    "extend": "延期已批准",
    "extension_rejected": "延期未批准",
    "co_handle": "协同办理",
    "subtask_answered": "协办单位已答复",
    "subtask_timed_out": "协办单位答复超时",
    "supervision_issued": "下达督办",
    "supervision_replied": "督办已回复",
    "supervision_overdue": "督办逾期未回复，已提级",
    "supervision_lapsed": "督办已终止",
}
STEP_TITLE_FALLBACK: Final = "办理进展"
# Manual supervision (人工督办) levels, by level code.
SUPERVISION_LEVELS: Final[dict[str, str]] = {
    "reminder": "提醒", "supervision": "督办", "listed": "挂牌督办",
}

# Who acted, by role code (residents see roles and units, never a staff member).
ROLE_LABELS: Final[dict[str, str]] = {
    "resident": "群众",
    "grid_worker": "网格员",
    "dispatcher": "调度员",
    "supervisor": "督导员",
    "dept_staff": "承办单位",
    "dept_admin": "承办单位",
    "reviewer": "审核员",
    "admin": "平台管理员",
    "service": "平台",
    "system": "平台",
}

# Template choice labels by field key, then choice code.
CHOICE_LABELS: Final[dict[str, dict[str, str]]] = {
    "channel": {"phone": "电话", "sms": "短信", "wechat": "微信", "qq": "QQ",
                "website": "网站", "other": "其他"},
    "party_role": {"landlord": "房东", "tenant": "租客", "agency": "中介"},
}

# Template value refusals: ``{label}`` is the field's label.
FIELD_MISSING: Final = "请填写：{label}"
FIELD_UNKNOWN: Final = "不支持的填写项：{key}"
FIELD_INVALID: Final = "{label}：{why}"
FIELD_WHY: Final[dict[str, str]] = {
    "text": "请填写不超过{max_length}个字的文字",
    "number": "请填写数字",
    "choice": "请从以下选项中选择：{choices}",
    "date": "请填写日期（年-月-日）",
    "phone": "请填写正确的手机或固定电话号码",
    "unsupported": "不支持的填写类型",
}

# Resident notices about a case: action → (notice kind, short phrase, sentence).
CASE_NOTICE_STEPS: Final[dict[str, tuple[str, str, str]]] = {
    "assign": ("dispatched", "已派单", "已派发给承办单位处理"),
    "accept": ("accepted", "已受理", "承办单位已受理"),
    "submit_result": ("result", "已出结果", "承办单位已提交办理结果"),
    "rework": ("rework", "重新办理", "已按您的评价重新办理"),
    "reject": ("rejected", "不予受理", "未予受理，详情请查看案件"),
}
CASE_CLOSED_STEP: Final = ("closed", "已办结", "已办结，请对办理结果进行评价")
CASE_NOTICE_TITLE: Final = "事项{phrase}"
CASE_NOTICE_BODY: Final = "您反映的事项（{case_no}）{sentence}。"

BOOKING_CONFIRMED_TITLE: Final = "预约成功"
BOOKING_CONFIRMED_BODY: Final = "您已成功预约「{round_title}」，请于{pickup}起凭取货码领取。"
BOOKING_CONFIRMED_HINT: Final = "请凭取货码按时领取"

RELIEF_KINDS: Final[dict[str, str]] = {
    "dibao": "最低生活保障", "tekun": "特困人员救助供养", "temporary": "临时救助",
}
RELIEF_KIND_FALLBACK: Final = "救助"
RELIEF_APPROVED: Final = "审批通过"
RELIEF_REFUSED: Final = "未通过"
RELIEF_TITLE: Final = "救助申请{phrase}"
RELIEF_BODY: Final = "您的{name}申请{phrase}。"
RELIEF_SEE_REASONS: Final = "原因请在小程序中查看。"
RELIEF_APPROVED_SENTENCE: Final = "您的申请已审批通过"
RELIEF_REFUSED_SENTENCE: Final = "您的申请未通过，原因请在小程序中查看"
RELIEF_SUBJECT: Final = "{name}申请"
