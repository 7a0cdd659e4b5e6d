"""The bench's case table: generated in SQL (generate_series) into the events schema of the
``benchsearch`` prefix, migrated as the service's, and kept between runs.

Skew as a city's would have it: a few categories, counties and units take most cases (a power
of a uniform draw picks the index); three years of reports, the last weeks still with units,
older ones mostly closed and rated; descriptions built from common phrases, so some words are
everywhere and others rare."""

from __future__ import annotations

import time

import asyncpg

# Phrases of reports, the most frequent first (the draw favours low indexes).
PHRASES = (
    "楼上噪音扰民", "小区车辆乱停放", "道路破损坑洼", "垃圾堆放未清运", "邻里因漏水产生纠纷",
    "物业服务不到位", "占道经营", "夜间施工扰民", "房东不退押金", "欠薪未支付",
    "宅基地界址争议", "燃气管道老化", "消防通道被堵", "电动车楼道充电", "路灯损坏",
    "下水道堵塞", "宠物扰民", "违章搭建", "网络谣言传播", "食品过期销售",
    "婚姻家庭矛盾", "土地承包纠纷", "建筑工地扬尘", "非法集资线索", "电信诈骗被骗",
    "个人信息泄露", "校园周边安全隐患", "河道污染", "山林权属争议", "高空抛物",
)
STREETS = ("铜陵镇东门社区", "西埔镇城关社区", "康美镇马銮村", "陈城镇山只村", "杏陈镇前何村",
           "前楼镇岐下村", "樟塘镇古港村", "铜陵镇桂花社区", "西埔镇西门社区", "康美镇铜钵村")
UNITS = 300  # units the cases are spread over (unit k has id md5('unit' || k))
COUNTIES = 9  # 350621 … 350629


def unit_uuid_sql(k: str) -> str:
    return f"md5('unit' || ({k})::text)::uuid"


_GENERATE = f"""
INSERT INTO cases (id, case_no, category_code, major_risk, urgency, sensitive, description,
                   region_code, address, fields, attachment_ids, reporter_id, channel, on_behalf,
                   status, assignee_unit_id, assign_seq, dispatch_trail, result_recorded,
                   open_subtasks, closed_subtasks, co_units, handling_unit_ids,
                   escalation_count, return_count, rework_count, reported_at, updated_at,
                   resolve_by, closed_at, rating)
SELECT gen_random_uuid(), 'B' || lpad(n::text, 9, '0'), cat.code, cat.major_risk,
       CASE WHEN r.u < 0.1 THEN 'urgent' WHEN r.u < 0.9 THEN 'normal' ELSE 'low' END, false,
       p.phrases[1 + floor(array_length(p.phrases, 1) * power(r.d1, 2))::int] || '，'
         || p.phrases[1 + floor(array_length(p.phrases, 1) * power(r.d2, 1.5))::int]
         || '，请尽快处理（' || n || '）',
       (350621 + floor({COUNTIES} * power(r.g, 2))::int)::text
         || (100 + floor(15 * power(r.t, 2))::int)::text
         || lpad((1 + floor(20 * r.c))::int::text, 3, '0'),
       p.streets[1 + floor(array_length(p.streets, 1) * r.c)::int] || (n % 300) || '号',
       '{{}}', '{{}}', gen_random_uuid(),
       CASE WHEN r.ch < 0.7 THEN 'resident' WHEN r.ch < 0.95 THEN 'grid_worker'
            ELSE 'partner' END, false,
       s.status, {unit_uuid_sql(f"floor({UNITS} * power(r.k, 2))")}, 1, true, s.closed,
       '{{}}', '{{}}',
       CASE WHEN r.co < 0.05 THEN ARRAY[{unit_uuid_sql(f"floor({UNITS} * r.co * 20)")}]
            ELSE '{{}}' END,
       '{{}}', 0, 0, 0, t.at, t.at + interval '1 day' * r.u,
       t.at + interval '1 day' * (3 + 12 * r.u),
       CASE WHEN s.closed THEN t.at + interval '1 day' * (1 + 14 * r.u) END,
       CASE WHEN s.status = 'rated' THEN
            (ARRAY['satisfied', 'basically_satisfied', 'dissatisfied'])[1 + (n % 3)] END
FROM generate_series(1, $1::int) AS n
CROSS JOIN LATERAL (SELECT random() AS d1, random() AS d2, random() AS g, random() AS t,
                           random() AS c, random() AS k, random() AS u, random() AS ch,
                           random() AS co, random() AS cat, random() AS age,
                           n AS seed) r  -- n: drawn again for every row
CROSS JOIN LATERAL (SELECT now() - interval '1095 days' * r.age AS at) t
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.at > now() - interval '20 days'
                THEN (ARRAY['dispatched', 'accepted', 'in_progress', 'returned',
                            'result_submitted'])[1 + (n % 5)]
                WHEN n % 50 = 0 THEN 'rejected'
                WHEN n % 2 = 0 THEN 'rated' ELSE 'closed' END AS status) s0
CROSS JOIN LATERAL (SELECT s0.status,
                           s0.status IN ('closed', 'rated') AS closed) s
CROSS JOIN (SELECT $2::text[] AS phrases, $3::text[] AS streets, $4::text[] AS codes,
                   $5::text[] AS majors) p
CROSS JOIN LATERAL (
    SELECT 1 + floor(array_length(p.codes, 1) * power(r.cat, 2.5))::int AS i) ci
CROSS JOIN LATERAL (SELECT p.codes[ci.i] AS code, p.majors[ci.i] AS major_risk) cat
"""
_SECONDARY = """
SELECT i.relname AS indexname, pg_get_indexdef(i.oid) AS indexdef
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = 'cases'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""


async def ensure_cases(conn: asyncpg.Connection, count: int) -> dict[str, float]:
    """The table with ``count`` generated cases, from an earlier run when it has them; the
    secondary indexes (as the migrations define them) are dropped for the load and rebuilt."""
    have = await conn.fetchval("SELECT count(*) FROM cases")
    if have == count:
        return {"reused": 1.0}
    indexes = await conn.fetch(_SECONDARY)
    started = time.perf_counter()
    await conn.execute("TRUNCATE cases")
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    await conn.execute("SET maintenance_work_mem = '512MB'")
    categories = await conn.fetch("SELECT code, major_risk FROM categories "
                                  "WHERE parent_code IS NOT NULL ORDER BY sort, code")
    await conn.execute(_GENERATE, count, list(PHRASES), list(STREETS),
                       [c["code"] for c in categories], [c["major_risk"] for c in categories])
    loaded = time.perf_counter()
    for index in indexes:
        await conn.execute(index["indexdef"])
    await conn.execute("VACUUM ANALYZE cases")  # the visibility map too, as autovacuum would
    done = time.perf_counter()
    return {"reused": 0.0, "load_s": round(loaded - started, 1),
            "index_s": round(done - loaded, 1)}
