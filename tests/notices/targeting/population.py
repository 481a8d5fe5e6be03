"""A reproducible population of enterprises built to sit on the edges of the rule language:
many NULLs, codes at every GB/T 4754 level, odd-case stored values, bounds-hugging capitals and
dates, and tags full of SQL metacharacters. The rule strategies draw from the same pools."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from notices.targeting import EnterpriseFacts
from profiles.models import Enterprise, EnterpriseTag

SEED = 20261121
SIZE = 60
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BIGINT_MAX = 2**63 - 1

STORED_ZONES = ("nansha", "qianhai", "hengqin", "other", "Nansha", "QIANHAI")
# "4401" and "44" are malformed stored codes, so rule prefixes can be longer than the value.
STORED_REGIONS = (
    "440115",
    "440106",
    "440100",
    "440300",
    "440305",
    "441900",
    "110105",
    "4401",
    "44",
)
# Every GB/T 4754 level, a lower-case code (must not match "C39") and a non-code "C3".
STORED_INDUSTRIES = (
    "C3911",
    "C3912",
    "C391",
    "C39",
    "C",
    "C1311",
    "C13",
    "A0111",
    "A01",
    "I6511",
    "I65",
    "F5111",
    "M7310",
    "E4710",
    "c3911",
    "C3",
)
STORED_SIZES = (None, None, None, "large", "medium", "small", "micro", "Small")
CAPITALS = (None, None, None, 0, 1, 999_999, 1_000_000, 1_000_001, 5_000_000, 100_000_000)
CAPITAL_EDGES = (*(c for c in CAPITALS if c is not None), BIGINT_MAX - 1, BIGINT_MAX)
DATES = (
    None,
    None,
    None,
    date(1, 1, 1),
    date(1999, 12, 31),
    date(2000, 1, 1),
    date(2020, 2, 29),
    date(2020, 3, 1),
    date(9999, 12, 31),
)
STORED_STATUSES = ("active", "active", "abnormal", "revoked", "cancelled", "Active")
STORED_CREDITS = (None, None, "A", "B", "M", "C", "D", "a")
TAG_POOL = (
    "高新技术企业",
    "专精特新",
    "科技型中小企业",
    "外资企业",
    "O'Brien",
    "100%",
    "1000",
    "a_b",
    "axb",
    "x--y",
    "ABC",
    "abc",
    "[*]?",
)


@dataclass(frozen=True)
class Population:
    facts: dict[int, EnterpriseFacts]

    @property
    def usccs(self) -> tuple[str, ...]:
        return tuple(sorted(f.uscc for f in self.facts.values()))


def build_population(seed: int = SEED, size: int = SIZE) -> Population:
    rng = random.Random(seed)
    facts: dict[int, EnterpriseFacts] = {}
    usccs: set[str] = set()
    while len(usccs) < size:
        usccs.add("".join(rng.choice(USCC_CHARSET) for _ in range(18)))
    for enterprise_id, uscc in enumerate(sorted(usccs), start=1):
        facts[enterprise_id] = EnterpriseFacts(
            id=enterprise_id,
            uscc=uscc,
            zone=rng.choice(STORED_ZONES),
            region_code=rng.choice(STORED_REGIONS),
            industry_code=rng.choice(STORED_INDUSTRIES),
            size=rng.choice(STORED_SIZES),
            registered_capital_yuan=rng.choice(CAPITALS),
            established_on=rng.choice(DATES),
            status=rng.choice(STORED_STATUSES),
            credit_level=rng.choice(STORED_CREDITS),
            tags=frozenset(rng.sample(TAG_POOL, rng.choice((0, 0, 1, 2, 3)))),
        )
    # One enterprise with every optional value missing, one with every value at its maximum.
    facts[size + 1] = EnterpriseFacts(
        size + 1, "0" * 18, "nansha", "440115", "C3911", None, None, None, "active", None
    )
    facts[size + 2] = EnterpriseFacts(
        size + 2,
        "Y" * 18,
        "hengqin",
        "440402",
        "T9700",
        "large",
        BIGINT_MAX,
        date(9999, 12, 31),
        "active",
        "A",
        frozenset(TAG_POOL),
    )
    return Population(facts)


POPULATION = build_population()


async def insert_population(population: Population) -> None:
    await Enterprise.bulk_create(
        [
            Enterprise(
                id=f.id,
                uscc=f.uscc,
                name=f"企业{f.id}",
                zone=f.zone,
                region_code=f.region_code,
                industry_code=f.industry_code,
                size=f.size,
                registered_capital_yuan=f.registered_capital_yuan,
                established_on=f.established_on,
                status=f.status,
                credit_level=f.credit_level,
                source_system="test",
            )
            for f in population.facts.values()
        ]
    )
    await EnterpriseTag.bulk_create(
        [
            EnterpriseTag(enterprise_id=f.id, tag=tag)
            for f in population.facts.values()
            for tag in sorted(f.tags)
        ]
    )
