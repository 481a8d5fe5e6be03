"""Notices and policies on the benchmark population, so the page benchmark renders pages with
the sections issue 3 adds ("the page with notices and policies keeps the targets of the page
issue"): every enterprise gets ≈ 3 notices and ≈ 3 matched policies, like a district where a
few departments publish.

Published once through the real use cases (jurisdiction check, INSERT … SELECT snapshot, audit)
by the benchmark publisher of bench/notices.py, and kept: later runs find them by title.
"""

from __future__ import annotations

import sys
from typing import Any

MARK = "［基准］"
_GUIDE = {"who_qualifies": "见适用条件", "how_to_apply": "登录政务服务网在线申报",
          "contact": "020-12345678"}
NOTICES: list[dict[str, Any]] = [
    {"kind": "reminder", "title": "2026年度企业年报将于1月1日开始报送",
     "body": "请于**6月30日前**通过国家企业信用信息公示系统报送年度报告。", "rule": {"all": []}},
    {"kind": "notice", "title": "南沙区企业服务中心办公时间调整",
     "body": "自下周一起，服务中心工作日延长至19:00。",
     "rule": {"field": "zone", "op": "eq", "value": "nansha"}},
    {"kind": "warning", "title": "前海台风防御：请落实防风措施", "priority": "urgent",
     "ack_required": True, "body": "预计48小时内受台风影响，请做好人员与物资安全。",
     "rule": {"field": "zone", "op": "eq", "value": "qianhai"}},
    {"kind": "notice", "title": "横琴跨境办税服务上线",
     "body": "跨境办税可在横琴政务服务中心一站办理。",
     "rule": {"field": "zone", "op": "eq", "value": "hengqin"}},
    {"kind": "warning", "title": "制造业企业安全生产专项检查",
     "body": "请对照检查清单完成自查，并于月底前提交。",
     "rule": {"field": "industry", "op": "prefix", "value": "C"}},
    {"kind": "notice", "title": "小微企业减税降费政策解读会",
     "body": "本周四下午在线解读最新减税降费政策。",
     "rule": {"field": "tags", "op": "any", "value": ["小微企业"]}},
]
POLICIES: list[dict[str, Any]] = [
    {"title": "小微企业创业担保贷款贴息", "category": "创业扶持",
     "rule": {"field": "tags", "op": "any", "value": ["小微企业"]},
     "opens_on": "2026-01-01", "closes_on": "2026-12-31"},
    {"title": "制造业数字化转型补助", "category": "产业发展",
     "rule": {"field": "industry", "op": "prefix", "value": "C"},
     "opens_on": "2026-03-01", "closes_on": "2027-02-28"},
    {"title": "高新技术企业研发费用补助", "category": "科技创新",
     "rule": {"field": "tags", "op": "any", "value": ["高新技术企业", "科技型中小企业"]},
     "opens_on": "2026-05-01", "closes_on": None},
    {"title": "南沙小微企业租金减免", "category": "创业扶持",
     "rule": {"all": [{"field": "zone", "op": "eq", "value": "nansha"},
                      {"field": "size", "op": "in", "value": ["small", "micro"]}]},
     "opens_on": "2026-02-01", "closes_on": "2026-12-15"},
    {"title": "规模以上企业人才安居补贴", "category": "人才引进",
     "rule": {"all": [{"field": "size", "op": "in", "value": ["medium", "large"]},
                      {"not": {"field": "status", "op": "eq", "value": "revoked"}}]},
     "opens_on": "2027-01-01", "closes_on": "2027-06-30"},
    {"title": "新设企业开办补贴", "category": "创业扶持",
     "rule": {"field": "established", "op": "range", "value": {"gte": "2023-01-01"}},
     "opens_on": "2026-01-01", "closes_on": "2026-10-31"},
    {"title": "重点企业稳岗返还", "category": "稳岗就业",
     "rule": {"field": "registered_capital", "op": "range", "value": {"gte": 10_000_000}},
     "opens_on": "2026-06-01", "closes_on": "2026-12-31"},
]


async def ensure_page_content() -> None:
    """Publish the notices and policies above unless an earlier run did."""
    from bench.notices import _publisher
    from core.db import conn
    from notices import policies, service
    from notices.policy_schemas import parse_policy
    from notices.schemas import parse_notice

    found = await conn().execute_query_dict(
        "SELECT (SELECT COUNT(*) FROM notices WHERE title LIKE $1 AND status = 'published') "
        "+ (SELECT COUNT(*) FROM policies WHERE title LIKE $1 AND status = 'published') AS n",
        [MARK + "%"])
    if int(found[0]["n"]) == len(NOTICES) + len(POLICIES):
        return
    actor = await _publisher()
    for body in NOTICES:
        draft, _ = await service.create_notice(
            actor, parse_notice({**body, "title": MARK + body["title"]}, partial=False),
            idempotency_key=None, payload=None)
        published, _ = await service.publish_notice(actor, int(draft["id"]), idempotency_key=None)
        print(f"bench: notice {body['title']!r} → {published['recipient_count']:,} enterprises",
              file=sys.stderr)
    for body in POLICIES:
        payload = {**body, "title": MARK + body["title"], "guide": _GUIDE,
                   "benefit_summary": "最高补贴50万元", "source_url": "https://www.gd.gov.cn/"}
        if payload["closes_on"] is None:
            del payload["closes_on"]
        draft, _ = await policies.create_policy(actor, parse_policy(payload, partial=False),
                                                idempotency_key=None, payload=None)
        published, _ = await policies.publish_policy(actor, int(draft["id"]), idempotency_key=None)
        print(f"bench: policy {body['title']!r} → {published['match_count']:,} enterprises",
              file=sys.stderr)
    # Measure pages as they are once autovacuum has caught up: hint bits set, statistics fresh.
    for table in ("notice_recipients", "policy_matches", "notices", "policies"):
        await conn().execute_script(f"VACUUM ANALYZE {table}")
