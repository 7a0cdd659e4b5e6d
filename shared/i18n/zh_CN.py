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

# -- relief (一键报难): what applicants, reviewers and the public notice read -------------------
RELIEF_STATUS_LABELS: Final[dict[str, str]] = {
    "submitted": "已提交",
    "in_review": "联合审核中",
    "in_notice": "公示中",
    "awaiting_approval": "待审批",
    "approved": "审批通过",
    "disbursing": "发放中",
    "rejected": "未通过",
    "withdrawn": "已撤回",
}
RELIEF_AGENCY_LABELS: Final[dict[str, str]] = {
    "town": "乡镇（街道）",
    "ping_an_office": "平安办",
    "civil_affairs": "民政局",
    "agriculture": "农业农村局",
}
RELIEF_STAGE_LABELS: Final[dict[str, str]] = {
    "town": "乡镇受理",
    "joint_review": "联合审核",
    "notice": "公示",
    "approval": "审批",
}
RELIEF_OUTCOME_LABELS: Final[dict[str, str]] = {"approved": "审批通过", "rejected": "未通过"}
# Where the household on an application comes from.
RELIEF_HOUSEHOLD_SOURCE_LABELS: Final[dict[str, str]] = {
    "registry": "人口库登记",
    "declared": "申请人申报",
}
# An objection to a public notice: open, upheld or dismissed.
RELIEF_OBJECTION_LABELS: Final[dict[str, str]] = {
    "open": "待处理",
    "upheld": "异议成立",
    "dismissed": "异议不成立",
}
# What a reviewer's buttons say, by action code.
RELIEF_ACTION_LABELS: Final[dict[str, str]] = {
    "accept": "受理",
    "reject": "驳回",
    "review": "审核",
    "object": "提出异议",
    "resolve_objection": "处理异议",
    "approve": "审批通过",
    "withdraw": "撤回申请",
    "disburse": "发放救助金",
}
# Timeline steps by step code; an agency's steps are worded from the templates below.
RELIEF_STEP_TITLES: Final[dict[str, str]] = {
    "submitted": "提交申请",
    "accepted": "乡镇（街道）已受理",
    "rejected_at_town": "乡镇（街道）不予受理",
    "rejected_at_approval": "民政局审批未通过",
    "rejected_at_joint_review": "联合审核未通过",
    "rejected_at_notice": "公示异议成立，申请未通过",
    "objection_recorded": "收到公示异议",
    "objection_upheld": "异议成立，申请未通过",
    "objection_dismissed": "异议不成立",
    "notice_skipped_minor": "申请人为未成年人，不予公示",
    "approved": "审批通过",
    "withdrawn": "申请人已撤回",
    "disbursed": "救助金已发放",
}
RELIEF_AGENCY_STEP_TITLES: Final[dict[str, str]] = {
    "approved_by_{agency}": "{label}审核同意",
    "rejected_by_{agency}": "{label}审核不同意",
    "approved_by_{agency}_notice_started": "{label}审核同意，开始公示",
}
RELIEF_STEP_TITLE_FALLBACK: Final = "办理进展"
# Timeline notes the platform writes (times in Asia/Shanghai).
RELIEF_NOTE_REJECTED: Final = "共{count}条理由，须于{notify_by}前告知申请人"
RELIEF_NOTE_NOTICE: Final = "公示至{ends}"
RELIEF_NOTE_MINOR: Final = "申请人为未成年人，不予公示"
RELIEF_NOTE_ON_BEHALF: Final = "工作人员代申请人提交"
RELIEF_NOTE_PAID: Final = "发放{year}年{month}月救助金"
RELIEF_NOTE_PAID_MONTHLY: Final = "按月发放{year}年{month}月救助金"
# Free text shown masked: its first character, stars, and how long it is.
RELIEF_MASKED_LENGTH: Final = "（共{count}字）"
# The line of the public notice (公示) board.
RELIEF_NOTICE_LINE: Final = ("{name}家（{size}人）申请{kind}，公示至{ends}，"
                             "如有异议请在公示期内提出。")
# 422 refusals of relief: what is missing or wrong, naming the field's label.
RELIEF_FIELD_LABELS: Final[dict[str, str]] = {
    "apply_reason": "困难情况",
    "reject_reason": "驳回理由",
    "objection_text": "异议内容",
    "resolution": "处理意见",
    "opinion": "审核意见",
}
RELIEF_CHOOSE_OPINION: Final = "请选择：同意或不同意"
RELIEF_MONTHLY_AMOUNT_INVALID: Final = "每月救助金额须为正数，且仅低保、特困供养可核定"
RELIEF_AMOUNT_INVALID: Final = "发放金额须为正数（单位：分）"
RELIEF_MONTH_INVALID: Final = "请填写发放月份（年-月）"
RELIEF_HOUSEHOLD_ID_INVALID: Final = "家庭成员身份证号码校验位不正确"
RELIEF_UNKNOWN_ACTION: Final = "不支持的操作"
RELIEF_NOT_IN_REGISTRY: Final = "您的信息尚未录入人口库，请联系网格员完成人口录入后再申请救助"

# -- booking (物资预约): rounds, bookings, pickup -----------------------------------------------
BOOKING_STATUS_LABELS: Final[dict[str, str]] = {
    "confirmed": "已预约",
    "redeemed": "已领取",
    "cancelled": "已取消",
    "no_show": "逾期未领取",
}
BOOKING_PHASE_LABELS: Final[dict[str, str]] = {
    "upcoming": "未开始",
    "open": "预约中",
    "pickup": "领取中",
    "ended": "已结束",
}
BOOKING_LIMIT_LABELS: Final[dict[str, str]] = {
    "person": "每人限约一份",
    "household": "每户限约一份",
}
BOOKING_SLOT_REQUIRED: Final = "该领取点按时段预约，请选择领取时段"
BOOKING_WINDOW_RANGE: Final = "预约和领取时间须在{earliest}年至{latest}年之间"
BOOKING_WINDOW_BOOKING: Final = "预约截止时间须晚于预约开始时间"
BOOKING_WINDOW_PICKUP: Final = "领取结束时间须晚于领取开始时间"
BOOKING_WINDOW_ORDER: Final = "预约须在领取结束前截止"
BOOKING_SLOT_OUTSIDE: Final = "领取时段须在领取时间之内"
BOOKING_ROUND_ENDED: Final = "本轮物资预约已结束"
BOOKING_QUOTA_SLOT_REQUIRED: Final = "该领取点分时段设置名额，请指定时段"

# -- feedback: notices to staff (督办, escalations, new cases, deadline warnings, 协办) ---------
# Levels of a region or of a unit over one, by level code (shared.regions, routing's units).
REGION_LEVEL_LABELS: Final[dict[str, str]] = {
    "province": "省", "city": "市", "county": "县区", "town": "镇街", "community": "社区",
    "grid": "网格",
}
# A case's deadlines, by deadline kind.
DEADLINE_KIND_LABELS: Final[dict[str, str]] = {"accept": "受理", "resolve": "办结"}
# A passed deadline, told to the supervisors over the unit (times in Asia/Shanghai).
STAFF_NOTICE_OVERDUE_TITLE: Final = "案件督办"
STAFF_NOTICE_OVERDUE_BODY: Final = (
    "{deadline_kind}期限{deadline}已过，已立督办，请督促承办单位办理。")
# An escalation, told to the supervisors and dispatchers over the receiving unit.
STAFF_NOTICE_ESCALATION_TITLE: Final = "案件升级"
STAFF_NOTICE_ESCALATION_BODY: Final = "已由{from_level}级{how}上报至{to_level}级办理。"
STAFF_NOTICE_ESCALATED_BY: Final[dict[str, str]] = {"automatic": "自动", "unit": "经办单位"}
# A case entering a unit's queue, by assignment reason: (title, body).
STAFF_NOTICE_ASSIGNED: Final[dict[str, tuple[str, str]]] = {
    "initial": ("新案件待办", "新案件已分派至本单位，请于{accept_by}前受理。"),
    "redispatch": ("案件重新分派", "案件已重新分派至本单位，请于{accept_by}前受理。"),
    "transfer": ("案件转办", "案件已转至本单位办理，请于{accept_by}前受理。"),
    "escalated": ("案件上报至本单位", "下级单位上报的案件已转至本单位，请于{accept_by}前受理。"),
}
# A case waiting for the dispatchers: title by notice kind, body by queue reason.
STAFF_NOTICE_QUEUED_TITLES: Final[dict[str, str]] = {
    "returned": "案件退回", "queued": "案件待分派",
}
STAFF_NOTICE_QUEUED_BODIES: Final[dict[str, str]] = {
    "returned": "承办单位已退回案件，请重新分派。",
    "no_rule": "没有匹配的分派规则，请人工分派。",
    "no_unit_at_next_level": "上一级没有可承办单位，请人工分派。",
}
STAFF_NOTICE_WARNING_TITLE: Final = "期限提醒"
STAFF_NOTICE_WARNING_BODY: Final = (
    "{deadline_kind}期限{deadline}将至（已用{used}），请抓紧办理。")
# A manual 督办 to a unit, and one left unanswered; ``{level}`` from SUPERVISION_LEVELS.
STAFF_NOTICE_SUPERVISION_ISSUED_TITLE: Final = "案件{level}"
STAFF_NOTICE_SUPERVISION_ISSUED_BODY: Final = "请于{reply_by}前答复。{instruction}"
STAFF_NOTICE_SUPERVISION_OVERDUE_TITLE: Final = "{level}逾期未复"
STAFF_NOTICE_SUPERVISION_OVERDUE_BODY: Final = (
    "{level}答复期限{reply_by}已过，承办单位未答复，请跟进。")
# A co-handling request to an assisting unit; the lead unit's name, or the fallback.
STAFF_NOTICE_CO_HANDLING_TITLE: Final = "协办请求"
STAFF_NOTICE_CO_HANDLING_BODY: Final = "{lead}请求本单位协办，请于{due_at}前答复。"
STAFF_NOTICE_LEAD_UNIT_FALLBACK: Final = "牵头单位"

# -- events: timeline notes the platform writes, read by staff (times in Asia/Shanghai) -------
# A case given to a unit without a typed note, by assignment reason.
CASE_NOTE_ASSIGNED: Final[dict[str, str]] = {
    "initial": "已派发至{unit}",
    "redispatch": "已重新派发至{unit}",
    "transfer": "已转至{unit}",
    "escalated": "已上报至{unit}",
}
# Added to the note of an assignment the platform made by itself (rules, timers).
CASE_NOTE_AUTOMATIC: Final = "{note}（系统自动）"
# Waiting for the dispatchers, by queue reason.
CASE_NOTE_QUEUED: Final = "等待调度员分派（{reason}）"
CASE_NOTE_QUEUE_REASONS: Final[dict[str, str]] = {
    "no_rule": "没有匹配的分派规则",
    "returned": "承办单位已退回",
    "no_unit_at_next_level": "上一级没有可承办单位",
}
# ``{deadline_kind}`` from DEADLINE_KIND_LABELS; ``{used}`` a percentage ("57%").
CASE_NOTE_DEADLINE_WARNING: Final = "{deadline_kind}期限{deadline}（已用时{used}）"
CASE_NOTE_OVERDUE: Final = "{deadline_kind}期限已过，已督办"
# The deadline passed that made the platform escalate the case (routing's assignment note).
CASE_NOTE_DEADLINE_PASSED: Final = "{deadline_kind}期限已过"
CASE_NOTE_DEADLINE_CHANGED: Final = "办结期限调整为{resolve_by}（{reason}）"
CASE_NOTE_DEADLINE_REASONS: Final[dict[str, str]] = {"extension": "延期", "rework": "重新办理"}
CASE_NOTE_EXTENSION_REQUESTED: Final = "申请延长{hours}个工作小时"
CASE_NOTE_EXTENSION_DECIDED: Final[dict[str, str]] = {
    "approved": "延期已批准，办结期限{resolve_by}",
    "rejected": "延期未批准，办结期限{resolve_by}",
}
# Co-handling (协办): the assisting units' names, joined by the list separator.
CASE_NOTE_CO_HANDLING: Final = "协办单位：{units}"
CASE_NOTE_LIST_SEPARATOR: Final = "、"
CASE_NOTE_SUBTASK_CLOSED: Final[dict[str, str]] = {
    "answered": "协办单位已答复",
    "timed_out": "协办单位逾期未答复",
}
CASE_NOTE_CLOSED_AFTER_CHECK: Final = "核查通过，事项办结"
# A rating by code; the default one (not given by the reporter in time) says so.
RATING_LABELS: Final[dict[str, str]] = {
    "satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意",
}
CASE_NOTE_RATING_DEFAULT: Final = "{rating}（默认评价）"
CASE_NOTE_REWORK: Final = "群众不满意，重新办理"
CASE_NOTE_POSSIBLE_DUPLICATE: Final = "疑似重复上报，与此前一条上报相同"
# A manual 督办 (``{level}`` from SUPERVISION_LEVELS); the typed instruction or reply as is.
CASE_NOTE_SUPERVISION_ISSUED: Final = "{level} → {unit}，请于{reply_by}前答复：{instruction}"
CASE_NOTE_SUPERVISION_OVERDUE: Final = (
    "{level}：{reply_by}前未答复，已提请{region_code}督导员跟进")
CASE_NOTE_SUPERVISION_REPLIED: Final = "{level}：{reply}"
CASE_NOTE_SUPERVISION_REPLIED_LATE: Final = "{level}（逾期答复）：{reply}"
CASE_NOTE_SUPERVISION_REPLY_FALLBACK: Final = "已答复"
CASE_NOTE_SUPERVISION_LAPSED: Final = "{level}未获答复即终止：事项{status}"
CASE_NOTE_SUPERVISION_LAPSED_OVERDUE: Final = "{level}未获答复即终止：事项{status}，答复期限已过"

# -- feedback: grid workers' tasks and scorecards (#19) ---------------------------------------
GRID_WORK: Final[dict[str, str]] = {
    # A task now belongs to one grid worker, title by how it came to them (routing's reason)
    # and, for a new one, by its kind.
    "task_new_assigned_title": "新的网格任务",
    "task_new_verification_title": "新的核查任务",
    "task_handover_title": "工作移交",
    "task_reassigned_title": "任务改派",
    # ``{task}`` the task's title (numbers masked), ``{due_at}`` Asia/Shanghai time.
    "task_body": "{task}，请于{due_at}前完成。",
    "task_handover_body": "{task}（离岗网格员移交给您），请于{due_at}前完成。",
}

# -- routing: grid workers' tasks (#19) --------------------------------------------------------
GRID_TASKS: Final[dict[str, str]] = {
    # The title of a verification duty (核查) the platform gives a worker of the case's grid.
    "verification_title": "核查案件 {case_no}",
}

# -- identity: the sandbox's stand-in for WeChat's web authorisation page (#20) ---------------
WECHAT_WEB_SANDBOX: Final[dict[str, str]] = {
    "title": "沙箱微信授权",
    "note": "本平台未接入微信，此页代替微信网页授权：填写一个 openid 即以该微信用户身份登录"
            "（与小程序沙箱登录 sandbox:openid 为同一账号）。",
    "openid_label": "沙箱微信用户 openid",
    "submit": "授权登录",
}

# -- partner: Open311 GeoReport v2 (#20); a request's status_notes are STATUS_LABELS ----------
OPEN311: Final[dict[str, str]] = {
    "key_service": "api_key 由平台管理员为合作应用签发（open311_api_key）",
    "region_description": "事件所在社区或网格",
    "region_datatype": "区划代码（社区或网格，12 或 15 位数字）",
    "service_notice": "受理编号 {case_no}",
}
