"""Targeting rules as data: parse and validate rule JSON into a frozen AST, and write it back.

Everything a caller may send is checked here, so the SQL compiler and the Python evaluator only
ever see normalised, bounded, well-typed rules. The grammar is documented in the package
docstring (`notices.targeting`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast

from core.errors import FieldProblem, ValidationFailed
from profiles.models import CREDIT_LEVELS, SIZES, STATUSES, ZONES
from profiles.standards.industry import UnknownIndustry, industry_table

MAX_DEPTH = 6
MAX_NODES = 64
MAX_LIST_ITEMS = 200
MAX_USCC_ITEMS = 10_000
MAX_STRING_CHARS = 64
MAX_TAG_CHARS = 32  # enterprise_tags.tag is VARCHAR(32): a longer tag could never match
MAX_RULE_BYTES = 256 * 1024
MAX_REPORTED_PROBLEMS = 50  # enough to mark every mistake in a console form, bounded for big lists
BIGINT_MAX = 2**63 - 1  # registered_capital_yuan is BIGINT

CodeField = Literal["zone", "region", "industry", "size", "status", "credit_level"]
ListField = Literal["zone", "region", "industry", "size", "status", "credit_level", "uscc"]
PrefixField = Literal["region", "industry"]
TagMatch = Literal["any", "all"]

FIELD_OPS: Mapping[str, tuple[str, ...]] = {
    "zone": ("eq", "in"),
    "region": ("prefix", "eq", "in"),
    "industry": ("prefix", "eq", "in"),
    "size": ("eq", "in"),
    "registered_capital": ("range",),
    "established": ("range",),
    "status": ("eq", "in"),
    "credit_level": ("eq", "in"),
    "tags": ("any", "all"),
    "uscc": ("in",),
}
"""The whitelist: rule field → the operators it allows."""

COMBINATORS = ("all", "any", "not")
LEAF_KEYS = ("field", "op", "value")
RANGE_KEYS = ("gte", "gt", "lte", "lt")

Orderable = TypeVar("Orderable", int, date)
BoundValue = TypeVar("BoundValue", covariant=True)


# ---------------------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class AllOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    rule: Rule


@dataclass(frozen=True, slots=True)
class Equals:
    field: CodeField
    value: str


@dataclass(frozen=True, slots=True)
class OneOf:
    field: ListField
    values: tuple[str, ...]  # sorted, without duplicates


@dataclass(frozen=True, slots=True)
class Prefix:
    field: PrefixField
    value: str


@dataclass(frozen=True, slots=True)
class Bound(Generic[BoundValue]):
    value: BoundValue
    inclusive: bool


@dataclass(frozen=True, slots=True)
class CapitalRange:
    """registered_capital in integer yuan."""

    lower: Bound[int] | None
    upper: Bound[int] | None


@dataclass(frozen=True, slots=True)
class EstablishedRange:
    """established_on, whole days."""

    lower: Bound[date] | None
    upper: Bound[date] | None


@dataclass(frozen=True, slots=True)
class Tags:
    match: TagMatch
    tags: tuple[str, ...]  # sorted, without duplicates, never empty


Leaf: TypeAlias = Equals | OneOf | Prefix | CapitalRange | EstablishedRange | Tags
Rule: TypeAlias = AllOf | AnyOf | Not | Leaf


# ------------------------------------------------------------------------------ public helpers


def parse_rule(data: object) -> Rule:
    """Validate already-decoded JSON; raise ValidationFailed naming every faulty path."""
    parser = _Parser()
    rule = parser.rule(data, "rule", depth=1)
    if rule is not None and not parser.problems:
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_RULE_BYTES:
            parser.report(
                "rule",
                "too_large",
                f"规则 JSON 不能超过 {MAX_RULE_BYTES} 字节（实际 {size}）",
                f"rule JSON must not exceed {MAX_RULE_BYTES} bytes (got {size})",
            )
    if parser.problems or rule is None:
        raise _failure(parser.problems)
    return rule


def parse_rule_json(text: str | bytes) -> Rule:
    """Decode and validate rule JSON text, refusing oversized input before decoding it."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_RULE_BYTES:
        raise _failure(
            [
                _problem(
                    "rule",
                    "too_large",
                    f"规则 JSON 不能超过 {MAX_RULE_BYTES} 字节",
                    f"rule JSON must not exceed {MAX_RULE_BYTES} bytes",
                )
            ]
        )
    try:
        data = json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise _failure(
            [_problem("rule", "invalid_json", "规则不是合法的 JSON", f"rule is not valid JSON: {exc}")]
        ) from exc
    return parse_rule(data)


def to_json(rule: Rule) -> dict[str, Any]:
    """The normalised rule in the input grammar; `parse_rule(to_json(r)) == r`."""
    match rule:
        case AllOf(rules=children):
            return {"all": [to_json(child) for child in children]}
        case AnyOf(rules=children):
            return {"any": [to_json(child) for child in children]}
        case Not(rule=child):
            return {"not": to_json(child)}
        case Equals(field=field, value=value):
            return {"field": field, "op": "eq", "value": value}
        case OneOf(field=field, values=values):
            return {"field": field, "op": "in", "value": list(values)}
        case Prefix(field=field, value=value):
            return {"field": field, "op": "prefix", "value": value}
        case CapitalRange(lower=lower, upper=upper):
            return {
                "field": "registered_capital",
                "op": "range",
                "value": _range_json(lower, upper),
            }
        case EstablishedRange(lower=lower, upper=upper):
            bounds = _range_json(lower, upper)
            iso = {key: day.isoformat() for key, day in bounds.items()}
            return {"field": "established", "op": "range", "value": iso}
        case Tags(match=how, tags=tags):
            return {"field": "tags", "op": how, "value": list(tags)}


def canonical_json(rule: Rule) -> str:
    """Stable text of the normalised rule (sorted keys, sorted value lists) for hashing."""
    return json.dumps(to_json(rule), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rule_fields(rule: Rule) -> set[str]:
    """The rule fields (keys of FIELD_OPS) a rule reads, to know when a profile change matters."""
    match rule:
        case AllOf(rules=children) | AnyOf(rules=children):
            return set().union(*(rule_fields(child) for child in children))
        case Not(rule=child):
            return rule_fields(child)
        case Equals(field=field) | OneOf(field=field) | Prefix(field=field):
            return {field}
        case CapitalRange():
            return {"registered_capital"}
        case EstablishedRange():
            return {"established"}
        case Tags():
            return {"tags"}


def _range_json(lower: Bound[Orderable] | None, upper: Bound[Orderable] | None) -> dict[str, Orderable]:
    bounds: dict[str, Orderable] = {}
    if lower is not None:
        bounds["gte" if lower.inclusive else "gt"] = lower.value
    if upper is not None:
        bounds["lte" if upper.inclusive else "lt"] = upper.value
    return bounds


# ------------------------------------------------------------------------------------ errors


class _BadValue(Exception):
    """A single value that failed its field's check; the caller knows the path."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


def _problem(path: str, code: str, zh: str, en: str) -> FieldProblem:
    return FieldProblem(path, f"{zh} / {en}", code)


def _failure(problems: list[FieldProblem]) -> ValidationFailed:
    first = problems[0]
    return ValidationFailed(first.reason, field=first.field, problems=problems)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {_show(key)}")
        result[key] = value
    return result


def _show(value: object) -> str:
    """A value quoted for a message, cut short so an error never echoes a huge input."""
    text = repr(value)
    return text if len(text) <= MAX_STRING_CHARS + 2 else text[:MAX_STRING_CHARS] + "…"


def _pointer(path: str, key: str | int) -> str:
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{token}"


def _type_name(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        tuple: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


# ------------------------------------------------------------------------------ value checks


def _enum_value(choices: tuple[str, ...], fold: Callable[[str], str], zh_name: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = fold(raw.strip())
        if value not in choices:
            allowed = ", ".join(choices)
            raise _BadValue(
                "invalid_value",
                f"{zh_name}取值无效：{_show(raw)}，可选 {allowed}",
                f"invalid value {_show(raw)}, expected one of {allowed}",
            )
        return value

    return check


_REGION_CODE = re.compile(r"[0-9]{6}")
_REGION_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")
_USCC = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")


def _region_code(raw: str) -> str:
    code = raw.strip()
    if not _REGION_CODE.fullmatch(code):
        raise _BadValue(
            "invalid_value",
            f"行政区划代码须为 6 位数字（GB/T 2260）：{_show(raw)}",
            f"region code must be 6 digits (GB/T 2260): {_show(raw)}",
        )
    return code


def _region_prefix(raw: str) -> str:
    """2, 4 or 6 digits; "440100" (a city written in full) becomes "4401" so it covers its
    districts, as GB/T 2260 codes ending in 00 denote the enclosing division."""
    prefix = raw.strip()
    if not _REGION_PREFIX.fullmatch(prefix):
        raise _BadValue(
            "invalid_value",
            f"行政区划前缀须为 2、4 或 6 位数字（GB/T 2260）：{_show(raw)}",
            f"region prefix must be 2, 4 or 6 digits (GB/T 2260): {_show(raw)}",
        )
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    if prefix == "00":
        raise _BadValue(
            "invalid_value",
            f"行政区划前缀无效：{_show(raw)}",
            f"region prefix names no division: {_show(raw)}",
        )
    return prefix


def _industry_code(raw: str) -> str:
    try:
        return industry_table().validate(raw).code
    except UnknownIndustry as exc:
        raise _BadValue("invalid_value", exc.message_zh, exc.message_en) from exc


def _uscc(raw: str) -> str:
    value = raw.strip().upper()
    if not _USCC.fullmatch(value):
        raise _BadValue(
            "invalid_value",
            f"统一社会信用代码须为 18 位（数字及除 I、O、Z、S、V 外的大写字母）：{_show(raw)}",
            f"USCC must be 18 characters of 0-9 and A-Y without I, O, Z, S, V: {_show(raw)}",
        )
    return value


def _tag(raw: str) -> str:
    if len(raw) > MAX_TAG_CHARS:
        raise _BadValue(
            "string_too_long",
            f"标签不能超过 {MAX_TAG_CHARS} 个字符",
            f"a tag must not exceed {MAX_TAG_CHARS} characters",
        )
    if not raw.strip():
        raise _BadValue("invalid_value", "标签不能为空", "a tag must not be blank")
    return raw


_CODE_CHECKS: Mapping[str, Callable[[str], str]] = {
    "zone": _enum_value(ZONES, str.lower, "片区"),
    "region": _region_code,
    "industry": _industry_code,
    "size": _enum_value(SIZES, str.lower, "规模"),
    "status": _enum_value(STATUSES, str.lower, "经营状态"),
    "credit_level": _enum_value(CREDIT_LEVELS, str.upper, "信用等级"),
    "uscc": _uscc,
}
_PREFIX_CHECKS: Mapping[str, Callable[[str], str]] = {
    "region": _region_prefix,
    "industry": _industry_code,
}

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _capital(raw: object) -> int:
    # bool is an int in Python but never a sum of money.
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _BadValue(
            "wrong_type",
            f"注册资本须为整数（元），不能是 {_type_name(raw)}",
            f"registered capital must be an integer number of yuan, not {_type_name(raw)}",
        )
    if not 0 <= raw <= BIGINT_MAX:
        raise _BadValue(
            "invalid_value",
            f"注册资本须在 0 至 {BIGINT_MAX} 元之间",
            f"registered capital must be between 0 and {BIGINT_MAX} yuan",
        )
    return raw


def _day(raw: object) -> date:
    if not isinstance(raw, str):
        raise _BadValue(
            "wrong_type",
            f"日期须为 YYYY-MM-DD 字符串，不能是 {_type_name(raw)}",
            f"a date must be a YYYY-MM-DD string, not {_type_name(raw)}",
        )
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise _BadValue(
            "invalid_value",
            f"日期无效，须为 YYYY-MM-DD：{_show(raw)}",
            f"invalid date, expected YYYY-MM-DD: {_show(raw)}",
        ) from exc


def _next_int(value: int) -> int | None:
    return None if value >= BIGINT_MAX else value + 1


def _previous_int(value: int) -> int | None:
    return value - 1


def _next_day(value: date) -> date | None:
    return None if value == date.max else value + timedelta(days=1)


def _previous_day(value: date) -> date | None:
    return None if value == date.min else value - timedelta(days=1)


def _is_empty(
    lower: Bound[Orderable] | None,
    upper: Bound[Orderable] | None,
    step_up: Callable[[Orderable], Orderable | None],
    step_down: Callable[[Orderable], Orderable | None],
) -> bool:
    """True when no integer (or day) the column can hold satisfies the bounds: gt 5 with lt 6
    is as empty as gte 7 with lte 6, and so is gt 9999-12-31 on its own."""
    low = None if lower is None else lower.value if lower.inclusive else step_up(lower.value)
    high = None if upper is None else upper.value if upper.inclusive else step_down(upper.value)
    if (lower is not None and low is None) or (upper is not None and high is None):
        return True
    return low is not None and high is not None and low > high


# ------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []
        self.nodes = 0

    def report(self, path: str, code: str, zh: str, en: str) -> None:
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(_problem(path, code, zh, en))

    def rule(self, data: object, path: str, depth: int) -> Rule | None:
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.report(
                path,
                "too_many_nodes",
                f"规则最多 {MAX_NODES} 个节点",
                f"a rule may have at most {MAX_NODES} nodes",
            )
        if self.nodes > MAX_NODES:
            return None
        if depth > MAX_DEPTH:
            self.report(
                path,
                "too_deep",
                f"规则嵌套不能超过 {MAX_DEPTH} 层",
                f"rules may nest at most {MAX_DEPTH} levels",
            )
            return None
        if not isinstance(data, dict):
            self.report(
                path,
                "wrong_type",
                f"规则须为 JSON 对象，不能是 {_type_name(data)}",
                f"a rule must be a JSON object, not {_type_name(data)}",
            )
            return None
        combinators = [key for key in COMBINATORS if key in data]
        if combinators:
            return self.combinator(data, combinators, path, depth)
        return self.leaf(data, path)

    def unknown_keys(self, data: dict[Any, Any], allowed: tuple[str, ...], path: str) -> bool:
        unknown = [key for key in data if key not in allowed]
        for key in unknown:
            self.report(
                _pointer(path, _show(key) if len(str(key)) > MAX_STRING_CHARS else key),
                "unknown_key",
                f"不允许的键 {_show(key)}，可用 {', '.join(allowed)}",
                f"unknown key {_show(key)}, expected {', '.join(allowed)}",
            )
        return bool(unknown)

    def combinator(self, data: dict[Any, Any], present: list[str], path: str, depth: int) -> Rule | None:
        if len(present) > 1:
            self.report(
                path,
                "ambiguous_rule",
                f"规则只能有 all、any、not 之一，收到 {', '.join(present)}",
                f"a rule takes exactly one of all, any, not; got {', '.join(present)}",
            )
            return None
        (kind,) = present
        if self.unknown_keys(data, (kind,), path):
            return None
        body = data[kind]
        body_path = _pointer(path, kind)
        if kind == "not":
            child = self.rule(body, body_path, depth + 1)
            return None if child is None else Not(child)
        items = self.sequence(body, body_path, MAX_LIST_ITEMS)
        if items is None:
            return None
        children = [
            self.rule(item, _pointer(body_path, index), depth + 1) for index, item in enumerate(items)
        ]
        valid = [child for child in children if child is not None]
        if len(valid) != len(children):
            return None
        return AllOf(tuple(valid)) if kind == "all" else AnyOf(tuple(valid))

    def leaf(self, data: dict[Any, Any], path: str) -> Rule | None:
        sound = not self.unknown_keys(data, LEAF_KEYS, path)
        for key in LEAF_KEYS:
            if key not in data:
                sound = False
                self.report(
                    _pointer(path, key),
                    "missing_key",
                    f"缺少 {key}；规则须为 all/any/not 组合或 field/op/value 条件",
                    f"missing {key}; a rule is all/any/not or a field/op/value condition",
                )
        if not sound:
            return None
        field, op = data["field"], data["op"]
        if not isinstance(field, str) or field not in FIELD_OPS:
            self.report(
                _pointer(path, "field"),
                "unknown_field",
                f"不支持的字段 {_show(field)}，可用 {', '.join(FIELD_OPS)}",
                f"unknown field {_show(field)}, expected one of {', '.join(FIELD_OPS)}",
            )
            return None
        allowed = FIELD_OPS[field]
        if not isinstance(op, str) or op not in allowed:
            self.report(
                _pointer(path, "op"),
                "op_not_allowed",
                f"字段 {field} 不支持操作 {_show(op)}，可用 {', '.join(allowed)}",
                f"field {field} does not allow op {_show(op)}, expected {', '.join(allowed)}",
            )
            return None
        return self.leaf_value(field, op, data["value"], _pointer(path, "value"))

    def leaf_value(self, field: str, op: str, value: object, path: str) -> Rule | None:
        if field == "registered_capital":
            return self.capital_range(value, path)
        if field == "established":
            return self.established_range(value, path)
        if field == "tags":
            tags = self.string_list(value, path, _tag, MAX_LIST_ITEMS)
            return None if tags is None else Tags(_tag_match(op), tags)
        if op == "in":
            limit = MAX_USCC_ITEMS if field == "uscc" else MAX_LIST_ITEMS
            values = self.string_list(value, path, _CODE_CHECKS[field], limit)
            return None if values is None else OneOf(_list_field(field), values)
        checks = _PREFIX_CHECKS if op == "prefix" else _CODE_CHECKS
        single = self.string(value, path, checks[field])
        if single is None:
            return None
        if op == "prefix":
            return Prefix(_prefix_field(field), single)
        return Equals(_code_field(field), single)

    def string(self, value: object, path: str, check: Callable[[str], str]) -> str | None:
        if not isinstance(value, str):
            self.report(
                path,
                "wrong_type",
                f"须为字符串，不能是 {_type_name(value)}",
                f"expected a string, not {_type_name(value)}",
            )
            return None
        if len(value) > MAX_STRING_CHARS:
            self.report(
                path,
                "string_too_long",
                f"字符串不能超过 {MAX_STRING_CHARS} 个字符",
                f"strings must not exceed {MAX_STRING_CHARS} characters",
            )
            return None
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            self.report(path, "invalid_value", "含有 NUL 字符", "contains a NUL character")
            return None
        try:
            value.encode()
        except UnicodeEncodeError:
            self.report(path, "invalid_value", "不是合法的 UTF-8 文本", "not valid UTF-8 text")
            return None
        try:
            return check(value)
        except _BadValue as bad:
            self.report(path, bad.code, bad.zh, bad.en)
            return None

    def sequence(self, value: object, path: str, limit: int) -> list[Any] | tuple[Any, ...] | None:
        if not isinstance(value, list | tuple):
            self.report(
                path,
                "wrong_type",
                f"须为数组，不能是 {_type_name(value)}",
                f"expected an array, not {_type_name(value)}",
            )
            return None
        if len(value) > limit:
            self.report(
                path,
                "list_too_long",
                f"数组最多 {limit} 项（实际 {len(value)}）",
                f"arrays may hold at most {limit} items (got {len(value)})",
            )
            return None
        return value

    def string_list(
        self, value: object, path: str, check: Callable[[str], str], limit: int
    ) -> tuple[str, ...] | None:
        items = self.sequence(value, path, limit)
        if items is None:
            return None
        if not items:
            # An empty list in a condition is almost always a form left blank; refusing it keeps
            # "matches nobody" and "matches everybody" explicit ({"any": []}, {"all": []}).
            self.report(path, "empty_list", "数组不能为空", "the list must not be empty")
            return None
        checked = [self.string(item, _pointer(path, index), check) for index, item in enumerate(items)]
        valid = [item for item in checked if item is not None]
        if len(valid) != len(checked):  # the faulty items have been reported
            return None
        return tuple(sorted(set(valid)))

    def bounds(
        self, value: object, path: str, parse: Callable[[object], Orderable]
    ) -> tuple[Bound[Orderable] | None, Bound[Orderable] | None] | None:
        if not isinstance(value, dict):
            self.report(
                path,
                "wrong_type",
                f"范围须为对象 {{gte, gt, lte, lt}}，不能是 {_type_name(value)}",
                f"a range must be an object {{gte, gt, lte, lt}}, not {_type_name(value)}",
            )
            return None
        if self.unknown_keys(value, RANGE_KEYS, path):
            return None
        if not value:
            self.report(
                path,
                "missing_bound",
                "范围至少需要 gte、gt、lte、lt 之一",
                "a range needs at least one of gte, gt, lte, lt",
            )
            return None
        parsed: dict[str, Orderable] = {}
        for key, raw in value.items():
            try:
                parsed[key] = parse(raw)
            except _BadValue as bad:
                self.report(_pointer(path, key), bad.code, bad.zh, bad.en)
        if len(parsed) != len(value):
            return None
        for first, second in (("gte", "gt"), ("lte", "lt")):
            if first in parsed and second in parsed:
                self.report(
                    _pointer(path, second),
                    "conflicting_bounds",
                    f"{first} 与 {second} 不能同时使用",
                    f"{first} and {second} cannot be combined",
                )
                return None
        lower = _bound(parsed, "gte", "gt")
        upper = _bound(parsed, "lte", "lt")
        return lower, upper

    def capital_range(self, value: object, path: str) -> Rule | None:
        bounds = self.bounds(value, path, _capital)
        if bounds is None:
            return None
        if _is_empty(*bounds, _next_int, _previous_int):
            self.report_empty_range(path)
            return None
        return CapitalRange(*bounds)

    def established_range(self, value: object, path: str) -> Rule | None:
        bounds = self.bounds(value, path, _day)
        if bounds is None:
            return None
        if _is_empty(*bounds, _next_day, _previous_day):
            self.report_empty_range(path)
            return None
        return EstablishedRange(*bounds)

    def report_empty_range(self, path: str) -> None:
        self.report(
            path,
            "empty_range",
            "范围为空：下限大于上限",
            "empty range: the lower bound is above the upper bound",
        )


def _bound(parsed: Mapping[str, Orderable], inclusive: str, exclusive: str) -> Bound[Orderable] | None:
    if inclusive in parsed:
        return Bound(parsed[inclusive], inclusive=True)
    if exclusive in parsed:
        return Bound(parsed[exclusive], inclusive=False)
    return None


# The whitelist (FIELD_OPS) has been checked by the time these run; they only narrow the type.


def _code_field(field: str) -> CodeField:
    return cast(CodeField, field)


def _list_field(field: str) -> ListField:
    return cast(ListField, field)


def _prefix_field(field: str) -> PrefixField:
    return cast(PrefixField, field)


def _tag_match(op: str) -> TagMatch:
    return cast(TagMatch, op)
