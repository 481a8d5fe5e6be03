"""Audience previews and the facts loader against a small population whose answers are known."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from notices.targeting import (
    AudienceSample,
    EnterpriseFacts,
    count_enterprises,
    count_people,
    load_facts,
    load_facts_by_uscc,
    parse_rule,
    sample_enterprises,
)
from profiles.models import Enterprise, EnterpriseTag, Membership, Person
from tests.notices.targeting.population import POPULATION, insert_population

NANSHA_JSON = {"field": "zone", "op": "eq", "value": "nansha"}
NANSHA = parse_rule(NANSHA_JSON)
NOBODY = parse_rule({"any": []})
EVERYONE = parse_rule({"all": []})


@pytest.fixture
async def known(db: None) -> None:
    """Five enterprises (1–3 in Nansha) and people: Ann in 1 and 2, Bob in 3, Cai (inactive)
    in 1, Dan in 4, nobody in 5."""
    zones = {1: "nansha", 2: "nansha", 3: "nansha", 4: "qianhai", 5: "hengqin"}
    await Enterprise.bulk_create(
        [
            Enterprise(
                id=n,
                uscc=f"{n:018d}",
                name=f"企业{n}",
                zone=zone,
                region_code="440115",
                industry_code="C3911",
                status="active",
                source_system="test",
            )
            for n, zone in zones.items()
        ]
    )
    people = {"Ann": True, "Bob": True, "Cai": False, "Dan": True}
    await Person.bulk_create(
        [
            Person(id=n, phone=f"1380000000{n}", name=name, password_hash="x", active=active)
            for n, (name, active) in enumerate(people.items(), start=1)
        ]
    )
    links = [(1, 1), (1, 2), (2, 3), (3, 1), (4, 4)]  # (person, enterprise)
    await Membership.bulk_create([Membership(person_id=p, enterprise_id=e, role="staff") for p, e in links])


async def test_count_enterprises(known: None) -> None:
    assert await count_enterprises(NANSHA) == 3
    assert await count_enterprises(EVERYONE) == 5
    assert await count_enterprises(NOBODY) == 0
    assert await count_enterprises(parse_rule({"not": NANSHA_JSON})) == 2


async def test_count_people_counts_each_active_person_once(known: None) -> None:
    # Ann belongs to two Nansha enterprises, Cai is inactive, Dan is in Qianhai.
    assert await count_people(NANSHA) == 2
    assert await count_people(EVERYONE) == 3
    assert await count_people(NOBODY) == 0
    assert await count_people(parse_rule({"field": "uscc", "op": "in", "value": [f"{5:018d}"]})) == 0


async def test_sample_is_ordered_by_id_and_limited(known: None) -> None:
    sample = await sample_enterprises(NANSHA, limit=2)
    assert sample == [
        AudienceSample(1, f"{1:018d}", "企业1", "nansha", "440115", "C3911"),
        AudienceSample(2, f"{2:018d}", "企业2", "nansha", "440115", "C3911"),
    ]
    assert [s.id for s in await sample_enterprises(EVERYONE)] == [1, 2, 3, 4, 5]
    assert await sample_enterprises(NANSHA, limit=0) == []


@pytest.mark.parametrize("limit", [-1, 201])
async def test_sample_limit_is_bounded(known: None, limit: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await sample_enterprises(NANSHA, limit=limit)
    assert caught.value.field == "limit"


async def test_facts_load_every_whitelisted_field_and_tag(db: None) -> None:
    await insert_population(POPULATION)
    ids = list(POPULATION.facts)
    assert await load_facts([*ids, 10_000]) == POPULATION.facts
    by_uscc = await load_facts_by_uscc([f.uscc for f in POPULATION.facts.values()] + ["X" * 18])
    assert by_uscc == {f.uscc: f for f in POPULATION.facts.values()}


async def test_facts_of_an_enterprise_without_optional_values(db: None) -> None:
    await Enterprise.create(
        id=7,
        uscc="91350100M000100Y43",
        name="空",
        zone="other",
        region_code="110105",
        industry_code="A0111",
        status="abnormal",
        source_system="test",
    )
    await EnterpriseTag.create(enterprise_id=7, tag="专精特新")
    assert await load_facts([7]) == {
        7: EnterpriseFacts(
            7,
            "91350100M000100Y43",
            "other",
            "110105",
            "A0111",
            None,
            None,
            None,
            "abnormal",
            None,
            frozenset({"专精特新"}),
        )
    }
    assert await load_facts([]) == {}
