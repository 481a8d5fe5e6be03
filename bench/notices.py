"""Audience preview latency and publish-to-all wall time, each next to a baseline measured in the
same run on the same database.

    .venv/bin/python bench/notices.py [--enterprises 199000] [--runs 20] [--publishes 3]

Uses PostgreSQL + Redis (ENTPAGE_DATABASE_URL / ENTPAGE_REDIS_URL, default: the local
`entpage_bench` database and Redis db 14, see bench/common.py) and seeds the population with
`entpage seed` if it has fewer enterprises than asked (it runs against whatever population
exists otherwise). Calls go through the real use cases in-process (notices.service), so the
figures are the domain + database cost without HTTP.

- preview: ten typical rules, each previewed `--runs` times by a publisher whose jurisdiction
  is the three zones (so the inside/outside check runs too); p50/p95 over all calls, next to
  `SELECT count(*) FROM enterprises` timed the same way.
- publish: a notice to every enterprise (rule {"all": []}): claim, jurisdiction check, one
  INSERT … SELECT of the recipient snapshot, revision, audit, commit. Next to it, a naive
  per-enterprise ORM insert loop over a 2,000-enterprise sample, extrapolated.

Targets (issue 3): preview p95 < 100 ms; publish to 199,000 < 3 s. The benchmark deletes the
notices it published (recipient rows cascade); their audit rows stay (append-only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env

TYPICAL_RULES: list[tuple[str, dict[str, Any]]] = [
    ("zone = nansha", {"field": "zone", "op": "eq", "value": "nansha"}),
    ("manufacturing (industry C)", {"field": "industry", "op": "prefix", "value": "C"}),
    ("tag 高新技术企业", {"field": "tags", "op": "any", "value": ["高新技术企业"]}),
    (
        "qianhai ∧ C39 electronics",
        {
            "all": [
                {"field": "zone", "op": "eq", "value": "qianhai"},
                {"field": "industry", "op": "prefix", "value": "C39"},
            ]
        },
    ),
    (
        "hengqin ∧ small/micro",
        {
            "all": [
                {"field": "zone", "op": "eq", "value": "hengqin"},
                {"field": "size", "op": "in", "value": ["small", "micro"]},
            ]
        },
    ),
    ("capital ≥ 1000万", {"field": "registered_capital", "op": "range", "value": {"gte": 10_000_000}}),
    ("established since 2023", {"field": "established", "op": "range", "value": {"gte": "2023-01-01"}}),
    (
        "高企 or 专精特新, not revoked",
        {
            "all": [
                {"field": "tags", "op": "any", "value": ["高新技术企业", "专精特新"]},
                {"not": {"field": "status", "op": "eq", "value": "revoked"}},
            ]
        },
    ),
    (
        "credit C/D or abnormal",
        {
            "any": [
                {"field": "credit_level", "op": "in", "value": ["C", "D"]},
                {"field": "status", "op": "eq", "value": "abnormal"},
            ]
        },
    ),
    (
        "Guangzhou (4401) ∧ IT (I)",
        {
            "all": [
                {"field": "region", "op": "prefix", "value": "4401"},
                {"field": "industry", "op": "prefix", "value": "I"},
            ]
        },
    ),
]
BENCH_PUBLISHER = "bench.notices"
NAIVE_SAMPLE = 2_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return (time.perf_counter() - started) * 1000, result


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    os.environ.update(env)
    from core.db import close_db, conn, init_db
    from core.redis import close_redis, init_redis
    from core.settings import get_settings, reset_settings_cache
    from profiles.page_cache import init_page_cache

    reset_settings_cache()
    settings = get_settings()
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "core.cli", "migrate"],
                            env=env, check=True, capture_output=True)
    await init_db(settings)
    count = (await conn().execute_query_dict("SELECT COUNT(*) AS n FROM enterprises"))[0]["n"]
    if count < args.enterprises and not args.no_seed:
        await close_db()
        print(f"bench: seeding {args.enterprises:,} enterprises (found {count:,})", file=sys.stderr)
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "core.cli", "seed", "--enterprises", str(args.enterprises), "--reset"],
            env=env,
            check=True,
        )
        await init_db(settings)
        count = (await conn().execute_query_dict("SELECT COUNT(*) AS n FROM enterprises"))[0]["n"]
    redis = init_redis(settings)
    init_page_cache(redis, ttl_s=settings.page_cache_ttl_s)
    try:
        await measure(args, int(count))
    finally:
        await close_redis()
        await close_db()


async def _publisher() -> Any:
    from core.audit import Origin
    from core.principals import Principal
    from notices.schemas import Actor
    from profiles import accounts
    from profiles.models import Operator

    op = await Operator.get_or_none(username=BENCH_PUBLISHER)
    if op is None:
        op = await accounts.create_operator(
            username=BENCH_PUBLISHER,
            display_name="基准测试发布者",
            password="bench-password",
            role="publisher",
            department="基准测试局",
            zones=["nansha", "qianhai", "hengqin"],
            regions=[],
        )
    return Actor(Principal("operator", op.id, role="publisher"),
                 Origin(ip="127.0.0.1", user_agent="bench/notices.py"))


async def measure(args: argparse.Namespace, population: int) -> None:
    from core.db import conn
    from notices import service
    from notices.models import Notice, NoticeRecipient
    from notices.schemas import parse_notice
    from notices.targeting import parse_rule

    actor = await _publisher()
    print(
        f"population: {population:,} enterprises "
        f"({(await conn().execute_query_dict('SELECT COUNT(*) AS n FROM memberships'))[0]['n']:,}"
        " memberships)"
    )

    # ---------------------------------------------------------------- preview vs baseline
    async def count_all() -> Any:
        return await conn().execute_query_dict("SELECT count(*) AS n FROM enterprises")

    for _ in range(3):
        await count_all()
    baseline = [(await timed(count_all))[0] for _ in range(args.runs * 2)]

    per_rule: list[tuple[str, list[float], dict[str, Any]]] = []
    for label, raw in TYPICAL_RULES:
        rule = parse_rule(raw)
        for _ in range(2):  # warm caches and plans
            await service.preview(actor, rule)
        samples: list[float] = []
        result: dict[str, Any] = {}

        async def once(rule: Any = rule) -> Any:
            return await service.preview(actor, rule)

        for _ in range(args.runs):
            ms, result = await timed(once)
            samples.append(ms)
        per_rule.append((label, samples, result))
    every = [ms for _, samples, _ in per_rule for ms in samples]

    print()
    print(
        f"audience preview: {len(TYPICAL_RULES)} rules × {args.runs} runs, publisher with a "
        "3-zone jurisdiction (inside/outside check included)"
    )
    print(f"{'rule':<32} {'enterprises':>11} {'people':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for label, samples, result in per_rule:
        people = f"{'≈' if result['estimated'] else ''}{result['people']:,}"  # ≈: sampled
        print(
            f"{label:<32} {result['enterprises']:>11,} {people:>10} "
            f"{statistics.median(samples):>8.1f} {pct(samples, 0.95):>8.1f}"
        )
    print(f"{'ALL previews':<32} {'':>11} {'':>10} {statistics.median(every):>8.1f} {pct(every, 0.95):>8.1f}")
    print(
        f"{'baseline SELECT count(*)':<32} {population:>11,} {'':>10} "
        f"{statistics.median(baseline):>8.1f} {pct(baseline, 0.95):>8.1f}"
    )
    p95 = pct(every, 0.95)
    print(f"target preview p95 < 100 ms: {p95:.1f} ms {'PASS' if p95 < 100 else 'FAIL'}")

    # --------------------------------------------------------------- publish vs naive loop
    created: list[int] = []
    publish_ms: list[float] = []
    try:
        for i in range(args.publishes):
            draft, _ = await service.create_notice(
                actor,
                parse_notice(
                    {
                        "kind": "notice",
                        "title": f"基准测试：全体企业通知 {i + 1}",
                        "body": "这是一条基准测试通知。",
                        "rule": {"all": []},
                    },
                    partial=False,
                ),
                idempotency_key=None,
                payload=None,
            )
            created.append(int(draft["id"]))
            if args.checkpoint:
                await conn().execute_script("CHECKPOINT")
            notice_id = int(draft["id"])

            async def publish(notice_id: int = notice_id) -> Any:
                return await service.publish_notice(actor, notice_id, idempotency_key=None)

            ms, published = await timed(publish)
            assert published[0]["recipient_count"] == population, published[0]
            publish_ms.append(ms)

        naive_notice, _ = await service.create_notice(
            actor,
            parse_notice(
                {"kind": "notice", "title": "基准测试：逐个插入", "body": "对照组", "rule": {"all": []}},
                partial=False,
            ),
            idempotency_key=None,
            payload=None,
        )
        created.append(int(naive_notice["id"]))
        ids = [
            r["id"]
            for r in await conn().execute_query_dict(
                f"SELECT id FROM enterprises ORDER BY id LIMIT {NAIVE_SAMPLE}"
            )
        ]
        from tortoise.transactions import in_transaction

        from core import clock

        async def naive() -> None:
            async with in_transaction():
                now = clock.now()
                for enterprise_id in ids:  # what set-based publishing replaces
                    await NoticeRecipient.create(
                        notice_id=naive_notice["id"],
                        enterprise_id=enterprise_id,
                        matched_via="publish",
                        match_batch="naive",
                        matched_at=now,
                    )

        naive_ms, _ = await timed(naive)
        naive_total = naive_ms * population / len(ids)
    finally:
        if created:  # recipients carry plain ids (no cascade): delete them first
            await NoticeRecipient.filter(notice_id__in=created).delete()
            await Notice.filter(id__in=created).delete()
            # ≈ 600,000 dead recipient rows would otherwise slow the page benchmark's inbox
            # scans until autovacuum gets to them: leave the database as it was found.
            await conn().execute_script("VACUUM ANALYZE notice_recipients, notices")

    print()
    print(f"publish to all {population:,} enterprises (recipient snapshot written), {args.publishes} runs")
    print(f"{'approach':<44} {'wall s':>8} {'rows/s':>10}")
    for i, ms in enumerate(publish_ms, 1):
        print(
            f"{f'set-based INSERT … SELECT, run {i}':<44} {ms / 1000:>8.2f} "
            f"{population / (ms / 1000):>10,.0f}"
        )
    print(
        f"{f'naive ORM loop, {len(ids):,} sample, extrapolated':<44} "
        f"{naive_total / 1000:>8.2f} {population / (naive_total / 1000):>10,.0f}"
    )
    best, worst = min(publish_ms), max(publish_ms)
    print(f"set-based is {naive_total / statistics.median(publish_ms):.0f}× faster than the naive loop")
    print(
        f"target publish < 3 s: median {statistics.median(publish_ms) / 1000:.2f} s "
        f"(best {best / 1000:.2f}, worst {worst / 1000:.2f}) "
        f"{'PASS' if worst < 3000 else 'FAIL'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=199_000)
    parser.add_argument("--runs", type=int, default=20, help="timed previews per rule")
    parser.add_argument("--publishes", type=int, default=3)
    parser.add_argument(
        "--no-seed", action="store_true", help="measure whatever population exists, never seed"
    )
    parser.add_argument(
        "--checkpoint", action="store_true", help="CHECKPOINT before each publish (cold WAL, worst case)"
    )
    args = parser.parse_args()
    asyncio.run(run(args, bench_env()))


if __name__ == "__main__":
    main()
