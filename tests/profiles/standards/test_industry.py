from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiles.standards.industry import (
    VERSION,
    Industry,
    IndustryNode,
    IndustryTable,
    UnknownIndustry,
    industry_table,
    parse_industry_csv,
)

# Division ranges as printed in GB/T 4754-2017 (stated independently of the module's constant).
RANGES = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 96), "T": (97, 97),
}  # fmt: skip
SHAPE = {1: r"[A-T]", 2: r"[A-T][0-9]{2}", 3: r"[A-T][0-9]{3}", 4: r"[A-T][0-9]{4}"}


@pytest.fixture(scope="module")
def table() -> IndustryTable:
    return industry_table()


all_industries = st.sampled_from(list(industry_table()))


def test_counts_per_level(table: IndustryTable) -> None:
    counts = Counter(industry.level for industry in table)
    # 1380 classes in the 2017 edition; 第1号修改单 (2019) added 7215 农村集体经济组织管理.
    assert counts == {1: 20, 2: 97, 3: 473, 4: 1381}
    assert table.count_by_level() == dict(counts)
    assert "2017" in VERSION and "修改单" in VERSION


def test_codes_have_the_shape_of_their_level(table: IndustryTable) -> None:
    for industry in table:
        assert re.fullmatch(SHAPE[industry.level], industry.code), industry
        assert industry.name and industry.name == industry.name.strip()
        assert "(" not in industry.name and ")" not in industry.name  # full-width throughout


def test_sections_are_a_to_t(table: IndustryTable) -> None:
    assert [section.code for section in table.sections()] == list(RANGES)


def test_every_division_falls_in_its_sections_range(table: IndustryTable) -> None:
    divisions = [industry for industry in table if industry.level == 2]
    for division in divisions:
        first, last = RANGES[division.code[0]]
        assert first <= int(division.code[1:]) <= last, division
    assert sorted(int(d.code[1:]) for d in divisions) == list(range(1, 98))


def test_every_parent_exists_one_level_up_and_is_a_prefix(table: IndustryTable) -> None:
    for industry in table:
        if industry.level == 1:
            assert industry.parent is None
            continue
        assert industry.parent is not None
        parent = table.get(industry.parent)
        assert parent is not None, industry
        assert parent.level == industry.level - 1
        assert industry.code.startswith(parent.code)


def test_prefix_relation_is_exactly_the_tree(table: IndustryTable) -> None:
    for industry in table:
        if industry.level == 4:
            continue
        descendants: set[str] = set()
        frontier = [industry.code]
        while frontier:
            children = [child.code for code in frontier for child in table.children(code)]
            descendants.update(children)
            frontier = children
        by_prefix = {
            other.code
            for other in table
            if other.code.startswith(industry.code) and other.code != industry.code
        }
        assert by_prefix == descendants, industry.code


def test_every_non_class_has_children(table: IndustryTable) -> None:
    for industry in table:
        assert bool(table.children(industry.code)) == (industry.level < 4), industry


def test_undivided_groups_use_class_digit_zero_and_share_the_name(table: IndustryTable) -> None:
    for group in (industry for industry in table if industry.level == 3):
        classes = table.children(group.code)
        if len(classes) == 1:
            assert classes[0].code.endswith("0"), group
            assert classes[0].name == group.name, group
        else:
            assert not any(c.code.endswith("0") for c in classes), group


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("A", "农、林、牧、渔业"),
        ("A0111", "稻谷种植"),
        ("C15", "酒、饮料和精制茶制造业"),
        ("C39", "计算机、通信和其他电子设备制造业"),
        ("C3911", "计算机整机制造"),
        ("C395", "非专业视听设备制造"),
        ("I6513", "应用软件开发"),
        ("J6621", "商业银行服务"),
        ("L7215", "农村集体经济组织管理"),
        ("M75", "科技推广和应用服务业"),
        ("R87", "广播、电视、电影和录音制作业"),
        ("T9700", "国际组织"),
    ],
)
def test_names_follow_the_standard(table: IndustryTable, code: str, name: str) -> None:
    industry = table.get(code)
    assert industry is not None
    assert industry.name == name


def test_label(table: IndustryTable) -> None:
    assert table.label("C39") == "C39 计算机、通信和其他电子设备制造业"
    assert table.label("3911") == "C3911 计算机整机制造"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("C3911", "C3911"),
        ("3911", "C3911"),
        ("c39", "C39"),
        (" c39 ", "C39"),
        ("39", "C39"),
        ("0111", "A0111"),
        ("c", "C"),
        ("７２１５", "L7215"),
        ("97", "T97"),
    ],
)
def test_normalise(table: IndustryTable, raw: str, canonical: str) -> None:
    assert table.normalise(raw) == canonical


@pytest.mark.parametrize("raw", ["", " ", "A39", "00", "98", "C3", "C391X", "U", "C 39", "C39110"])
def test_normalise_rejects_malformed_codes(table: IndustryTable, raw: str) -> None:
    with pytest.raises(UnknownIndustry) as caught:
        table.normalise(raw)
    assert caught.value.code == raw


def test_validate_requires_existence(table: IndustryTable) -> None:
    assert table.normalise("C3918") == "C3918"  # well formed …
    with pytest.raises(UnknownIndustry):
        table.validate("C3918")  # … but not in the standard
    assert table.get("C3918") is None
    assert table.get("A39") is None
    assert "C3911" in table and "C3918" not in table
    assert table.validate("3911") == table.get("C3911")


@given(all_industries)
def test_normalise_round_trips(industry: Industry) -> None:
    table = industry_table()
    assert table.normalise(industry.code) == industry.code
    assert table.normalise(industry.code.lower()) == industry.code
    if industry.level > 1:
        assert table.normalise(industry.code[1:]) == industry.code


@given(all_industries)
def test_ancestors_and_section(industry: Industry) -> None:
    table = industry_table()
    ancestors = table.ancestors(industry.code)
    assert [a.level for a in ancestors] == list(range(1, industry.level))
    assert all(industry.code.startswith(a.code) for a in ancestors)
    assert table.section_of(industry.code).code == industry.code[0]


def test_children_and_ancestors_examples(table: IndustryTable) -> None:
    assert [a.code for a in table.ancestors("C3911")] == ["C", "C39", "C391"]
    assert table.ancestors("C") == ()
    groups = [child.code for child in table.children("C39")]
    assert groups == [f"C39{digit}" for digit in range(1, 10)]
    assert table.children("C3911") == ()
    with pytest.raises(UnknownIndustry):
        table.children("Z")


def test_tree_for_a_picker(table: IndustryTable) -> None:
    tree = table.tree()
    assert [node["code"] for node in tree] == list(RANGES)

    def walk(nodes: list[IndustryNode], depth: int) -> int:
        total = 0
        for node in nodes:
            assert set(node) == {"code", "name", "children"}
            assert len(node["code"]) == (1 if depth == 1 else depth + 1)
            assert (node["children"] == []) == (depth == 4)
            total += 1 + walk(node["children"], depth + 1)
        return total

    assert walk(tree, 1) == len(table)
    tree[0]["children"].clear()
    assert table.tree()[0]["children"], "callers must not be able to corrupt the shared table"


def test_loader_skips_provenance_comments_and_rejects_duplicates() -> None:
    text = "# provenance\ncode,level,name,parent\nA,1,农、林、牧、渔业,\nA01,2,农业,A\n"
    table = parse_industry_csv(text)
    assert [i.code for i in table] == ["A", "A01"]
    with pytest.raises(ValueError):
        parse_industry_csv(text + "A01,2,农业,A\n")
