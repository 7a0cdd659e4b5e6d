"""Seed data of the events service: the category tree (五大风险 and their subcategories) and
the snapshot of community- and grid-level regions it accepts reports for.

Why a region snapshot here instead of asking routing: intake must answer "bad region" in the
same request without a synchronous call to another service, and RabbitMQ only delivers to queues
that exist, so a snapshot announced by routing before events first started would be lost.
The snapshot is taken from routing's seed at release time (``tests/events`` checks they agree)
and kept current afterwards by ``routing.region_changed``.
"""

from __future__ import annotations

from typing import Any

from services.events.messages import choice_options

Field = dict[str, Any]


def text(key: str, label: str, required: bool = False) -> Field:
    return {"key": key, "label": label, "type": "text", "required": required}


def number(key: str, label: str, required: bool = False) -> Field:
    return {"key": key, "label": label, "type": "number", "required": required}


def choice(key: str, label: str, choices: list[str], required: bool = False) -> Field:
    """``choices`` the codes reports carry; ``options`` each with the label residents read."""
    return {"key": key, "label": label, "type": "choice", "required": required,
            "choices": choices, "options": choice_options(key, choices)}


def date(key: str, label: str, required: bool = False) -> Field:
    return {"key": key, "label": label, "type": "date", "required": required}


def phone(key: str, label: str, required: bool = False) -> Field:
    return {"key": key, "label": label, "type": "phone", "required": required}


# (code, parent, name, default urgency, sensitive, verified_only, template)
CATEGORIES: list[tuple[str, str | None, str, str, bool, bool, list[Field]]] = [
    ("political_security", None, "政治安全", "urgent", True, True, []),
    ("public_order", None, "社会治安", "normal", False, False, []),
    ("organised_crime", "public_order", "黑恶犯罪", "urgent", True, True,
     [text("suspects", "涉嫌人员或团伙"), text("place", "活动地点", required=True)]),
    ("telecom_fraud", "public_order", "电信诈骗", "urgent", True, True,
     [choice("channel", "诈骗渠道", ["phone", "sms", "wechat", "qq", "website", "other"],
             required=True),
      number("loss_amount", "损失金额(元)"), phone("suspect_phone", "对方号码")]),
    ("illegal_business", "public_order", "违法经营", "normal", False, False,
     [text("business_name", "经营者名称", required=True)]),
    ("public_order_other", "public_order", "其他治安问题", "normal", False, False, []),
    ("social_conflict", None, "社会矛盾", "normal", False, False, []),
    ("dispute_family", "social_conflict", "婚姻家庭纠纷", "normal", False, False, []),
    ("dispute_neighbour", "social_conflict", "邻里纠纷", "normal", False, False, []),
    ("dispute_land", "social_conflict", "房屋宅基地纠纷", "normal", False, False, []),
    ("dispute_labour", "social_conflict", "劳动争议", "normal", False, False,
     [text("employer", "用人单位", required=True), number("unpaid_amount", "拖欠金额(元)")]),
    ("dispute_property", "social_conflict", "物业纠纷", "normal", False, False, []),
    ("dispute_tenancy", "social_conflict", "租赁纠纷", "normal", False, False,
     [choice("party_role", "您的身份", ["landlord", "tenant", "agency"], required=True),
      date("contract_date", "合同日期")]),
    ("public_safety", None, "公共安全", "normal", False, False, []),
    ("safety_gas", "public_safety", "燃气安全", "urgent", False, False,
     [text("place", "具体位置", required=True)]),
    ("safety_fire", "public_safety", "消防安全", "urgent", False, False,
     [text("place", "具体位置", required=True)]),
    ("safety_construction", "public_safety", "建筑施工安全", "normal", False, False, []),
    ("safety_road", "public_safety", "道路交通安全", "normal", False, False, []),
    ("safety_food", "public_safety", "食品安全", "normal", False, False,
     [text("shop_name", "商户名称", required=True), date("purchase_date", "购买日期")]),
    ("cyber_security", None, "网络安全", "normal", False, False, []),
    ("cyber_rumour", "cyber_security", "网络谣言", "normal", False, False, []),
    ("cyber_data_leak", "cyber_security", "个人信息泄露", "normal", True, True, []),
]

# Community (12-digit) and grid (15-digit) regions of the seeded Zhangzhou directory.
REGIONS: list[tuple[str, str]] = [
    ("350626106001", "东门社区"),
    ("350626106001001", "东门社区第一网格"),
    ("350626106001002", "东门社区第二网格"),
    ("350626106002", "西门社区"),
    ("350626106002001", "西门社区第一网格"),
    ("350626100001", "西埔社区"),
    ("350626100201", "林前村"),
    ("350623100001", "绥安社区"),
    ("350623100001001", "绥安社区第一网格"),
    ("350623101201", "旧镇村"),
    ("350602001001", "西桥社区"),
    ("350602001001001", "西桥社区第一网格"),
    ("350605100001", "武安社区"),
]
