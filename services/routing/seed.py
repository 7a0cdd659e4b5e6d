"""Seed of the organisation directory: Zhangzhou's region tree (city, its eleven counties,
sample towns, communities and grids), the units that serve them, the default rules and SLA
policies. Unit ids are derived from region and kind, so they are the same in every deployment
and tests can name them."""

from __future__ import annotations

import uuid

from shared.regions import region_level

CITY = ("350600", "漳州市")
COUNTIES = [
    ("350602", "芗城区"), ("350603", "龙文区"), ("350604", "龙海区"), ("350605", "长泰区"),
    ("350622", "云霄县"), ("350623", "漳浦县"), ("350624", "诏安县"), ("350626", "东山县"),
    ("350627", "南靖县"), ("350628", "平和县"), ("350629", "华安县"),
]
TOWNS = [
    ("350626100", "西埔镇"), ("350626101", "樟塘镇"), ("350626102", "康美镇"),
    ("350626103", "杏陈镇"), ("350626104", "陈城镇"), ("350626105", "前楼镇"),
    ("350626106", "铜陵镇"), ("350623100", "绥安镇"), ("350623101", "旧镇镇"),
    ("350602001", "西桥街道"), ("350605100", "武安镇"),
]
COMMUNITIES = [
    ("350626106001", "东门社区"), ("350626106002", "西门社区"), ("350626100001", "西埔社区"),
    ("350626100201", "林前村"), ("350623100001", "绥安社区"), ("350623101201", "旧镇村"),
    ("350602001001", "西桥社区"), ("350605100001", "武安社区"),
]
GRIDS = [
    ("350626106001001", "东门社区第一网格"), ("350626106001002", "东门社区第二网格"),
    ("350626106002001", "西门社区第一网格"), ("350623100001001", "绥安社区第一网格"),
    ("350602001001001", "西桥社区第一网格"),
]
REGIONS = [CITY, *COUNTIES, *TOWNS, *COMMUNITIES, *GRIDS]

COUNTY_DEPARTMENTS = [
    ("pingan_office", "平安办"), ("police", "公安局"), ("market_regulation", "市场监督管理局"),
    ("judicial_office", "司法局"), ("emergency_management", "应急管理局"),
    ("housing", "住房和城乡建设局"), ("civil_affairs", "民政局"),
]


def unit_id(region_code: str, kind: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ehome:unit:{region_code}:{kind}")


def units() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for code, name in COUNTIES:
        for kind, dept in COUNTY_DEPARTMENTS:
            rows.append({"kind": kind, "name": f"{name}{dept}", "region_code": code,
                         "level": "county"})
    for code, name in TOWNS:
        rows.append({"kind": "town_office", "name": f"{name}综治中心", "region_code": code,
                     "level": "town"})
    for code, name in COMMUNITIES:
        rows.append({"kind": "community", "name": f"{name}居委会", "region_code": code,
                     "level": "community"})
    for row in rows:
        row["id"] = unit_id(str(row["region_code"]), str(row["kind"]))
    return rows


def regions() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for code, name in REGIONS:
        level = region_level(code)
        parent = None if code == CITY[0] else (code[:4] + "00" if level == "county"
                                               else code[:-3])
        rows.append({"code": code, "name": name, "level": level, "parent_code": parent})
    return rows


# (category, level, unit kind, entry): entry rules choose the first unit of a new report;
# the others choose the unit when a case is escalated to that level. "dispatcher" = triage.
RULES = [
    ("telecom_fraud", "county", "police", True),
    ("organised_crime", "county", "police", True),
    ("illegal_business", "county", "market_regulation", True),
    ("safety_food", "county", "market_regulation", True),
    ("political_security", "county", "dispatcher", True),
    ("cyber_security", "county", "dispatcher", True),
    ("dispute_tenancy", "county", "market_regulation", False),
    ("dispute_labour", "county", "civil_affairs", False),
    ("safety_construction", "county", "housing", False),
    ("safety_gas", "county", "emergency_management", False),
    ("safety_fire", "county", "emergency_management", False),
]

# (category or "*", urgency, accept working hours, resolve amount, unit, auto-escalate).
# After the Beijing 12345 reference: 1 h / same-day acceptance, 1 / 7 / 15 working days.
SLA_POLICIES = [
    ("*", "urgent", 1.0, 1.0, "days", True),
    ("*", "normal", 7.0, 7.0, "days", True),
    ("*", "low", 7.0, 15.0, "days", False),
]
