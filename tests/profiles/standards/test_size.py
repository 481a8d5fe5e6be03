from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiles.standards.industry import UnknownIndustry, industry_table
from profiles.standards.size import SizeClass, classify_size, size_standard

D = Decimal
ORDER: dict[SizeClass, int] = {"micro": 0, "small": 1, "medium": 2, "large": 3}


def size(
    code: str,
    staff: int | None = None,
    revenue: str | int | None = None,
    assets: str | int | None = None,
) -> SizeClass | None:
    return classify_size(
        industry_code=code,
        staff=staff,
        revenue_wan=None if revenue is None else D(revenue),
        assets_wan=None if assets is None else D(assets),
    )


# (industry code, staff, revenue 万元, assets 万元, expected) from the 2017 附表, at and around
# each boundary. Large/medium/small need every listed indicator at its lower bound; falling short
# on any one moves the enterprise down a class (国家统计局's own example: a large industrial
# enterprise needs 营业收入 ≥ 40000万元 AND 从业人员 ≥ 1000人).
CASES = [
    # 农、林、牧、渔业: revenue only
    ("A0111", None, 20000, None, "large"),
    ("A0111", None, "19999.99", None, "medium"),
    ("A0111", 5, 500, None, "medium"),
    ("A0311", None, 499, None, "small"),
    ("A0411", None, 50, None, "small"),
    ("A0411", None, "49.99", None, "micro"),
    # 工业 (B, C, D): staff and revenue
    ("C3911", 1000, 40000, None, "large"),
    ("C3911", 999, 40000, None, "medium"),
    ("C3911", 1000, "39999.99", None, "medium"),
    ("B0610", 300, 2000, None, "medium"),
    ("D4411", 299, 2000, None, "small"),
    ("C1311", 20, 300, None, "small"),
    ("C1311", 19, 300, None, "micro"),
    ("C1311", 20, "299.99", None, "micro"),
    ("C1311", 5000, 100, None, "micro"),  # one indicator in the micro band is enough
    # 建筑业: revenue and assets
    ("E4710", None, 80000, 80000, "large"),
    ("E4710", None, 80000, 79999, "medium"),
    ("E4811", None, 6000, 5000, "medium"),
    ("E5011", None, 5999, 5000, "small"),
    ("E5011", None, 300, 300, "small"),
    ("E5011", None, 300, 299, "micro"),
    # 批发业
    ("F5111", 200, 40000, None, "large"),
    ("F5176", 20, 5000, None, "medium"),
    ("F5176", 5, 1000, None, "small"),
    ("F5176", 4, 1000, None, "micro"),
    # 零售业
    ("F5211", 300, 20000, None, "large"),
    ("F5292", 50, 500, None, "medium"),
    ("F5292", 49, 500, None, "small"),
    ("F5292", 10, 100, None, "small"),
    ("F5292", 10, 99, None, "micro"),
    # 交通运输业 (roads, water, air, pipelines, multimodal/agency, 装卸搬运)
    ("G5431", 1000, 30000, None, "large"),
    ("G5521", 300, 3000, None, "medium"),
    ("G5910", 20, 200, None, "small"),
    ("G5821", 20, 199, None, "micro"),
    # 仓储业
    ("G5920", 200, 30000, None, "large"),
    ("G5951", 100, 1000, None, "medium"),
    ("G5960", 20, 100, None, "small"),
    ("G5990", 19, 100, None, "micro"),
    # 邮政业
    ("G6020", 1000, 30000, None, "large"),
    ("G6020", 300, 2000, None, "medium"),
    ("G6010", 20, 100, None, "small"),
    ("G6090", 20, 99, None, "micro"),
    # 住宿业 and 餐饮业
    ("H6110", 300, 10000, None, "large"),
    ("H6121", 100, 2000, None, "medium"),
    ("H6130", 10, 100, None, "small"),
    ("H6210", 300, 10000, None, "large"),
    ("H6220", 100, 1999, None, "small"),
    ("H6291", 9, 100, None, "micro"),
    # 信息传输业
    ("I6311", 2000, 100000, None, "large"),
    ("I6432", 1999, 100000, None, "medium"),
    ("I6410", 100, 1000, None, "medium"),
    ("I6410", 10, 100, None, "small"),
    # 软件和信息技术服务业
    ("I6513", 300, 10000, None, "large"),
    ("I6513", 100, 1000, None, "medium"),
    ("I6520", 10, 50, None, "small"),
    ("I6520", 10, 49, None, "micro"),
    # 房地产开发经营: revenue and assets
    ("K7010", None, 200000, 10000, "large"),
    ("K7010", None, 200000, 9999, "medium"),
    ("K7010", None, 1000, 5000, "medium"),
    ("K7010", None, 100, 2000, "small"),
    ("K7010", None, 100, 1999, "micro"),
    # 物业管理
    ("K7020", 1000, 5000, None, "large"),
    ("K7020", 300, 1000, None, "medium"),
    ("K7020", 100, 500, None, "small"),
    ("K7020", 99, 500, None, "micro"),
    # 租赁和商务服务业: staff and assets
    ("L7111", 300, None, 120000, "large"),
    ("L7212", 100, None, 8000, "medium"),
    ("L7295", 10, None, 100, "small"),
    ("L7295", 10, None, 99, "micro"),
    # 其他未列明行业: staff only
    ("M7310", 300, None, None, "large"),
    ("N7820", 100, 1, 1, "medium"),
    ("O8010", 10, None, None, "small"),
    ("Q8521", 9, None, None, "micro"),
    ("R8730", 299, None, None, "medium"),
    ("K7030", 300, None, None, "large"),
]


@pytest.mark.parametrize(("code", "staff", "revenue", "assets", "expected"), CASES)
def test_published_thresholds(
    code: str,
    staff: int | None,
    revenue: str | int | None,
    assets: str | int | None,
    expected: SizeClass,
) -> None:
    assert size(code, staff, revenue, assets) == expected


@pytest.mark.parametrize(
    "code",
    ["G5311", "G5320", "J6621", "K7040", "P8341", "Q8411", "S9221", "T9700"],
)
def test_industries_outside_the_measure_get_no_size(code: str) -> None:
    assert size(code, 10_000, 10_000_000, 10_000_000) is None


def test_missing_indicators_leave_the_class_undecided_unless_micro_is_certain() -> None:
    assert size("C3911", None, 50000) is None
    assert size("C3911", 2000, None) is None
    assert size("C3911", None, 299) == "micro"
    assert size("E4710", None, None, 100) == "micro"
    assert size("A0111", 3, None) is None  # agriculture is measured by revenue only


def test_codes_are_normalised_and_validated() -> None:
    assert size("3911", 1000, 40000) == "large"
    assert size("c3911", 1000, 40000) == "large"
    with pytest.raises(UnknownIndustry):
        size("C3918", 1, 1)


def test_negative_indicators_are_refused() -> None:
    with pytest.raises(ValueError):
        size("C3911", -1, 10)


def test_every_covered_class_has_a_group_and_the_rest_are_named_exclusions() -> None:
    excluded = ("G53", "J", "K7040", "P", "Q84", "S", "T")
    standard = size_standard()
    for industry in industry_table():
        if industry.level != 4:
            continue
        group = standard.group_for(industry.code)
        assert (group is None) == industry.code.startswith(excluded), industry.code


def test_thresholds_table_has_the_sixteen_groups_of_the_measure() -> None:
    names = {group.name for group in size_standard().groups.values()}
    assert names == {
        "农、林、牧、渔业", "工业", "建筑业", "批发业", "零售业", "交通运输业", "仓储业", "邮政业",
        "住宿业", "餐饮业", "信息传输业", "软件和信息技术服务业", "房地产开发经营", "物业管理",
        "租赁和商务服务业", "其他未列明行业",
    }  # fmt: skip


covered_codes = st.sampled_from(
    [
        i.code
        for i in industry_table()
        if i.level == 4 and size_standard().group_for(i.code) is not None
    ]
)
amounts = st.decimals(min_value=0, max_value=500_000, places=2)


@given(
    covered_codes,
    st.integers(min_value=0, max_value=5000),
    amounts,
    amounts,
    st.sampled_from(["staff", "revenue", "assets"]),
    st.integers(min_value=0, max_value=200_000),
)
def test_more_of_any_indicator_never_means_a_smaller_class(
    code: str, staff: int, revenue: Decimal, assets: Decimal, grow: str, by: int
) -> None:
    before = classify_size(industry_code=code, staff=staff, revenue_wan=revenue, assets_wan=assets)
    after = classify_size(
        industry_code=code,
        staff=staff + by if grow == "staff" else staff,
        revenue_wan=revenue + by if grow == "revenue" else revenue,
        assets_wan=assets + by if grow == "assets" else assets,
    )
    assert before is not None and after is not None  # fully known inputs always classify
    assert ORDER[after] >= ORDER[before]
