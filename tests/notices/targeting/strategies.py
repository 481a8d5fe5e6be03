"""Hypothesis strategies for valid rule JSON, biased towards the values the test population
holds (and their neighbours), so generated rules hit boundaries instead of empty space."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from hypothesis import assume
from hypothesis import strategies as st

from tests.notices.targeting.population import (
    BIGINT_MAX,
    CAPITAL_EDGES,
    DATES,
    POPULATION,
    TAG_POOL,
    USCC_CHARSET,
)

Json = dict[str, Any]
MAX_DEPTH = 6
MAX_NODES = 64

# Real GB/T 4754-2017 codes at every level, including the stored ones and codes no stored
# value starts with.
INDUSTRY_CODES = (
    "C",
    "C39",
    "C391",
    "C3911",
    "C3912",
    "C13",
    "C131",
    "C1311",
    "A",
    "A01",
    "A011",
    "A0111",
    "I",
    "I65",
    "I651",
    "I6511",
    "F51",
    "F5111",
    "M73",
    "M7310",
    "E47",
    "E4710",
    "T",
)
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # lone surrogates are not text a client can send
REGION_CODES = ("440115", "440106", "440100", "440300", "440305", "441900", "110105", "440101")
REGION_PREFIXES = ("44", "4401", "440115", "440100", "440000", "4403", "11", "1101", "31", "4419")


def _case_variants(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted({value, value.upper(), value.lower(), value.title(), value.swapcase()}))


def _any_case(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(values).flatmap(_case_variants)


def _industry() -> st.SearchStrategy[str]:
    # "3911" is accepted too: the section letter is implied by the division.
    return st.one_of(_any_case(INDUSTRY_CODES), st.sampled_from(("3911", "39", "6511")))


def _leaf(field: str, op: str, value: object) -> Json:
    return {"field": field, "op": op, "value": value}


def _eq_or_in(field: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[Json]:
    return st.one_of(
        values.map(lambda v: _leaf(field, "eq", v)),
        st.lists(values, min_size=1, max_size=4).map(lambda vs: _leaf(field, "in", vs)),
    )


def _range(values: st.SearchStrategy[Any], encode: Any, step: Any) -> st.SearchStrategy[Json]:
    @st.composite
    def build(draw: st.DrawFn) -> Json:
        lower_kind = draw(st.sampled_from((None, "gte", "gt")))
        upper_kind = draw(st.sampled_from((None, "lte", "lt")))
        assume(lower_kind or upper_kind)
        bounds = {}
        if lower_kind:
            bounds[lower_kind] = draw(values)
        if upper_kind:
            bounds[upper_kind] = draw(values)
        # Mirror the documented emptiness rule: no value the column can hold is in range.
        low = high = None
        if lower_kind:
            low = bounds[lower_kind] if lower_kind == "gte" else step(bounds[lower_kind], 1)
            assume(low is not None)
        if upper_kind:
            high = bounds[upper_kind] if upper_kind == "lte" else step(bounds[upper_kind], -1)
            assume(high is not None)
        if low is not None and high is not None:
            assume(low <= high)
        return {key: encode(value) for key, value in bounds.items()}

    return build()


def _step_int(value: int, steps: int) -> int | None:
    moved = value + steps
    return moved if moved <= BIGINT_MAX else None


def _step_day(value: date, days: int) -> date | None:
    try:
        return value + timedelta(days=days)
    except OverflowError:
        return None


def _capital_values() -> st.SearchStrategy[int]:
    near = {v + d for v in CAPITAL_EDGES for d in (-1, 0, 1) if 0 <= v + d <= BIGINT_MAX}
    return st.one_of(st.sampled_from(sorted(near)), st.integers(0, BIGINT_MAX))


def _date_values() -> st.SearchStrategy[date]:
    near = set()
    for day in DATES:
        if day is not None:
            for delta in (-1, 0, 1):
                moved = _step_day(day, delta)
                if moved is not None:
                    near.add(moved)
    near |= {date.min, date.max}
    return st.one_of(st.sampled_from(sorted(near)), st.dates())


def _tag() -> st.SearchStrategy[str]:
    free_text = st.text(
        st.characters(exclude_characters="\x00", exclude_categories=SURROGATES),
        min_size=1,
        max_size=32,
    ).filter(lambda t: t.strip() != "")
    return st.one_of(st.sampled_from(TAG_POOL), free_text)


def _uscc() -> st.SearchStrategy[str]:
    made_up = st.text(st.sampled_from(USCC_CHARSET), min_size=18, max_size=18)
    return st.one_of(st.sampled_from(POPULATION.usccs), made_up).flatmap(
        lambda code: st.sampled_from((code, code.lower()))
    )


def leaves() -> st.SearchStrategy[Json]:
    tags = st.lists(_tag(), min_size=1, max_size=4)
    return st.one_of(
        _eq_or_in("zone", _any_case(("nansha", "qianhai", "hengqin", "other"))),
        _eq_or_in("region", st.sampled_from(REGION_CODES)),
        st.sampled_from(REGION_PREFIXES).map(lambda p: _leaf("region", "prefix", p)),
        _eq_or_in("industry", _industry()),
        _industry().map(lambda p: _leaf("industry", "prefix", p)),
        _eq_or_in("size", _any_case(("large", "medium", "small", "micro"))),
        _range(_capital_values(), lambda v: v, _step_int).map(
            lambda r: _leaf("registered_capital", "range", r)
        ),
        _range(_date_values(), date.isoformat, _step_day).map(lambda r: _leaf("established", "range", r)),
        _eq_or_in("status", _any_case(("active", "abnormal", "revoked", "cancelled"))),
        _eq_or_in("credit_level", _any_case(("A", "B", "M", "C", "D"))),
        tags.map(lambda ts: _leaf("tags", "any", ts)),
        tags.map(lambda ts: _leaf("tags", "all", ts)),
        st.lists(_uscc(), min_size=1, max_size=5).map(lambda us: _leaf("uscc", "in", us)),
    )


def _combinators(children: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.one_of(
        st.lists(children, max_size=3).map(lambda rs: {"all": rs}),
        st.lists(children, max_size=3).map(lambda rs: {"any": rs}),
        children.map(lambda r: {"not": r}),
    )


def _children(rule: Json) -> list[Json]:
    if "not" in rule:
        return [rule["not"]]
    if "all" in rule:
        return list(rule["all"])
    return list(rule.get("any", []))


def node_count(rule: Json) -> int:
    return 1 + sum(node_count(child) for child in _children(rule))


def depth(rule: Json) -> int:
    return 1 + max((depth(child) for child in _children(rule)), default=0)


def rule_documents() -> st.SearchStrategy[Json]:
    """Valid rule JSON of every field and op, nested up to the depth and size limits."""
    return st.recursive(leaves(), _combinators, max_leaves=20).filter(
        lambda rule: depth(rule) <= MAX_DEPTH and node_count(rule) <= MAX_NODES
    )
