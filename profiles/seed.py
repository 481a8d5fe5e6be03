"""Reproducible synthetic population for demos, tests and benchmarks (`entpage seed`).

Shape from the Xinyang survey of 153 enterprises: 88.2% with ≤100 staff; industries 28.1%
manufacturing, 31.1% services, 4.4% high-tech, 6.7% agriculture, 2.2% construction, 27.4% other;
three free-trade zones. Rows are generated in chunks and bulk-loaded (COPY on PostgreSQL), so memory
stays flat and 199,000 enterprises take minutes, not hours.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core import clock
from core.bulk import copy_rows, reset_sequence
from core.db import conn, truncate_all
from core.passwords import hash_password
from profiles.standards.industry import industry_table
from profiles.standards.uscc import generate_uscc

DEMO_PASSWORD = "demo-password"
ZONES = {
    # zone: (GB/T 2260 district, name prefix)
    "nansha": ("440115", "广州南沙"),
    "qianhai": ("440305", "深圳前海"),
    "hengqin": ("440402", "珠海横琴"),
}
INDUSTRY_MIX = (  # (share, sections or divisions the codes are drawn from)
    (0.281, ("C",)),
    (0.311, ("F", "G", "H", "L", "M", "N", "O", "R")),
    (0.044, ("I63", "I64", "I65", "M73")),
    (0.067, ("A",)),
    (0.022, ("E",)),
    (0.274, ("B", "D", "J", "K", "P", "Q", "S")),
)
TAGS = (
    ("高新技术企业", 0.06), ("专精特新", 0.03), ("科技型中小企业", 0.08), ("外资企业", 0.08),
    ("港澳投资企业", 0.10), ("出口企业", 0.10), ("小微企业", 0.0),
)
MATTER_STATES = (("submitted", 0.25), ("in_review", 0.35), ("needs_supplement", 0.15),
                 ("approved", 0.15), ("closed", 0.10))
MATTER_TITLES = ("食品经营许可证延续", "对外贸易经营者备案", "高新技术企业认定", "稳岗补贴申领",
                 "税务登记信息变更", "建设工程规划许可", "人才住房补贴申请", "研发费用加计扣除备案")
LICENCE_KINDS = (("food", "食品经营许可证"), ("trade", "对外贸易经营者备案登记表"),
                 ("env", "排污许可证"), ("build", "建筑业企业资质证书"))
WORDS = "华信达通盛利源泰恒瑞丰安嘉德隆昌鑫宏广新启创智远航海星辰云峰"
SUFFIX = {"C": "制造", "A": "农业", "E": "建设", "I": "信息科技", "M": "技术", "G": "物流",
          "F": "贸易", "H": "餐饮"}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class SeedSummary:
    enterprises: int
    people: int
    memberships: int
    licences: int
    matters: int
    tags: int
    devices: int
    seconds: float
    demo_logins: dict[str, str]


def _weighted(rng: random.Random, items: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _industry_pools() -> list[tuple[float, list[str]]]:
    table = industry_table()
    classes = [i.code for i in table if len(i.code) == 5]
    pools = []
    for share, prefixes in INDUSTRY_MIX:
        pool = [c for c in classes if c.startswith(prefixes)]
        pools.append((share, pool))
    return pools


def _staff_count(rng: random.Random) -> int:
    if rng.random() < 0.882:
        return rng.choice((rng.randint(1, 9), rng.randint(10, 100)))
    return rng.choice((rng.randint(101, 300), rng.randint(301, 1000), rng.randint(1001, 5000)))


def _size_for(staff: int) -> str:
    if staff < 10:
        return "micro"
    if staff < 100:
        return "small"
    if staff < 1000:
        return "medium"
    return "large"


async def seed(
    *,
    enterprises: int,
    random_seed: int = 20261121,
    reset: bool = False,
    chunk: int = 5000,
    progress: Progress | None = None,
    extra_steps: list[Callable[[random.Random], Awaitable[int]]] | None = None,
) -> SeedSummary:
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    if reset:
        await truncate_all()
    elif (await conn().execute_query_dict("SELECT COUNT(*) AS n FROM enterprises"))[0]["n"]:
        raise RuntimeError("the database already has enterprises; use --reset to replace them")
    rng = random.Random(random_seed)
    pools = _industry_pools()
    password_hash = await hash_password(DEMO_PASSWORD)  # one hash for every synthetic person
    now = clock.now()
    today = clock.today_shanghai()
    counts = {"people": 0, "memberships": 0, "licences": 0, "matters": 0, "tags": 0}
    seen_usccs: set[str] = set()
    person_id = 0
    licence_id = matter_id = tag_id = membership_id = 0
    for start in range(0, enterprises, chunk):
        ent_rows, tag_rows, lic_rows, matter_rows, people_rows, member_rows = [], [], [], [], [], []
        for enterprise_id in range(start + 1, min(start + chunk, enterprises) + 1):
            zone = rng.choice(tuple(ZONES))
            region, prefix = ZONES[zone]
            uscc = generate_uscc(rng, region_code=region)
            while uscc in seen_usccs:
                uscc = generate_uscc(rng, region_code=region)
            seen_usccs.add(uscc)
            pool = rng.choices([p for _, p in pools], weights=[s for s, _ in pools])[0]
            industry = rng.choice(pool)
            staff = _staff_count(rng)
            established = dt.date(rng.randint(1995, today.year), rng.randint(1, 12),
                                  rng.randint(1, 28))
            reported = rng.random()
            last_report = (today.year - 1 if reported < 0.8 else
                           today.year - 2 if reported < 0.95 else None)
            name = (f"{prefix}{rng.choice(WORDS)}{rng.choice(WORDS)}"
                    f"{SUFFIX.get(industry[0], '实业')}有限公司{enterprise_id}")
            ent_rows.append((
                enterprise_id, uscc, name, zone, region, industry, _size_for(staff),
                int(rng.lognormvariate(14, 1.3)), established,
                _weighted(rng, (("active", 0.95), ("abnormal", 0.03), ("cancelled", 0.02))),
                _weighted(rng, (("A", 0.4), ("B", 0.35), ("M", 0.15), ("C", 0.07), ("D", 0.03))),
                f"法人{enterprise_id}", None, last_report, False, "seed", now, now,
            ))
            tags = {t for t, share in TAGS if rng.random() < share}
            if industry.startswith(("I63", "I64", "I65", "M73")) and rng.random() < 0.7:
                tags.add("高新技术企业")
            if staff < 100:
                tags.add("小微企业")
            for tag in sorted(tags):
                tag_id += 1
                tag_rows.append((tag_id, enterprise_id, tag))
            for _ in range(rng.choice((0, 1, 1, 2))):
                kind, lname = rng.choice(LICENCE_KINDS)
                licence_id += 1
                issued = today - dt.timedelta(days=rng.randint(30, 2000))
                expires = today + dt.timedelta(days=rng.randint(-60, 1100))
                lic_rows.append((licence_id, enterprise_id, kind, f"{kind.upper()}{licence_id:08d}",
                                 lname, "市场监督管理局", issued, expires))
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                matter_id += 1
                state = _weighted(rng, MATTER_STATES)
                due = today + dt.timedelta(days=rng.randint(-20, 60)) if rng.random() < 0.7 else None
                matter_rows.append((
                    matter_id, enterprise_id, rng.choice(("samr", "tax", "hrss", "commerce")),
                    f"M{matter_id:09d}", rng.choice(MATTER_TITLES), state, None, None, due,
                    f"https://zwfw.example.gov.cn/matters/M{matter_id:09d}",
                    now - dt.timedelta(hours=rng.randint(1, 2000)), now, now,
                ))
            for index in range(rng.randint(1, 5)):
                person_id += 1
                membership_id += 1
                people_rows.append((person_id, f"1{3 + person_id % 7}{person_id:09d}",
                                    f"员工{person_id}", password_hash, "zh-Hans", True, now))
                role = "legal_rep" if index == 0 else ("admin" if index == 1 else "staff")
                member_rows.append((membership_id, person_id, enterprise_id, role, now))
        await copy_rows("enterprises", (
            "id", "uscc", "name", "zone", "region_code", "industry_code", "size",
            "registered_capital_yuan", "established_on", "status", "credit_level",
            "legal_representative", "address", "last_annual_report_year", "legacy_uscc",
            "source_system", "created_at", "updated_at"), ent_rows)
        await copy_rows("enterprise_tags", ("id", "enterprise_id", "tag"), tag_rows)
        await copy_rows("licences", ("id", "enterprise_id", "kind", "number", "name", "issuer",
                                     "issued_on", "expires_on"), lic_rows)
        await copy_rows("matters", (
            "id", "enterprise_id", "source_system", "external_id", "title", "state", "progress",
            "progress_label", "due_on", "action_url", "source_updated_at", "created_at",
            "updated_at"), matter_rows)
        await copy_rows("people", ("id", "phone", "name", "password_hash", "locale", "active",
                                   "created_at"), people_rows)
        await copy_rows("memberships", ("id", "person_id", "enterprise_id", "role", "created_at"),
                        member_rows)
        counts["people"] += len(people_rows)
        counts["memberships"] += len(member_rows)
        counts["licences"] += len(lic_rows)
        counts["matters"] += len(matter_rows)
        counts["tags"] += len(tag_rows)
        report("enterprises", min(start + chunk, enterprises), enterprises)
    for table in ("enterprises", "enterprise_tags", "licences", "matters", "people",
                  "memberships"):
        await reset_sequence(table)
    devices = 0
    for step in extra_steps or []:
        devices += await step(rng)
    if conn().capabilities.dialect == "postgres":
        await conn().execute_script("ANALYZE")
    logins = await _demo_accounts()
    return SeedSummary(enterprises, counts["people"], counts["memberships"], counts["licences"],
                       counts["matters"], counts["tags"], devices,
                       time.perf_counter() - started, logins)


async def _demo_accounts() -> dict[str, str]:
    """Fixed demo logins, so the README can name them."""
    from profiles import accounts
    from profiles.models import Operator, Person

    logins: dict[str, str] = {}
    if not await Operator.exists(username="admin"):
        await accounts.create_operator(username="admin", display_name="平台管理员",
                                       password=DEMO_PASSWORD, role="admin",
                                       department="数据管理局", zones=[], regions=[])
    logins["admin (operator-login)"] = f"admin / {DEMO_PASSWORD}"
    if not await Operator.exists(username="nansha-publisher"):
        await accounts.create_operator(username="nansha-publisher", display_name="南沙商务局",
                                       password=DEMO_PASSWORD, role="publisher",
                                       department="南沙区商务局", zones=["nansha"], regions=[])
    logins["publisher (operator-login)"] = f"nansha-publisher / {DEMO_PASSWORD}"
    first = await Person.filter(id=1).first()
    if first is not None:
        logins["enterprise staff (login)"] = f"{first.phone} / {DEMO_PASSWORD}"
    return logins
