"""统一社会信用代码 (Unified Social Credit Code), GB 32100-2015.

Layout (1-based positions): 1 registration authority, 2 entity type, 3–8 GB/T 2260 division code,
9–17 organisation code (GB 11714: 8 body characters + its own mod-11 check character),
18 check character over positions 1–17 (mod 31).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters GB 32100 allows; a character's value is its index. I, O, S, V, Z are absent."""

USCC_LENGTH = 18
_VALUES: dict[str, int] = {char: value for value, char in enumerate(CHARSET)}
# W_i = 3^(i-1) mod 31, as tabulated in GB 32100-2015.
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714 organisation code: body characters are digits or capital letters (A = 10 … Z = 35).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Characters that people commonly type where GB 32100 forbids them, with the likely intent.
_LOOKALIKES = {"I": "1", "O": "0", "S": "5", "V": "U", "Z": "2"}

AUTHORITY_NAMES: dict[str, str] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "市场监管",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}
"""Registration authorities named by GB 32100 and its amendments; other codes are not rejected."""

ReasonCode = Literal["wrong_length", "illegal_character", "bad_check_digit"]


class InvalidUscc(ValueError):
    """A USCC that cannot be accepted, with a stable reason code and bilingual messages."""

    def __init__(
        self,
        reason_code: ReasonCode,
        message_zh: str,
        message_en: str,
        position: int | None = None,
        *,
        expected: str | None = None,
        got: str | None = None,
    ) -> None:
        super().__init__(message_en)
        self.reason_code: ReasonCode = reason_code
        self.message_zh = message_zh
        self.message_en = message_en
        self.position = position  # 1-based; None when the problem is not at one position
        self.expected = expected
        self.got = got


@dataclass(frozen=True, slots=True)
class Uscc:
    code: str
    authority: str
    entity_type: str
    region_code: str
    org_code: str
    legacy: bool
    """True when a registry feed supplied a code whose check character does not verify."""

    @property
    def org_code_valid(self) -> bool:
        """Whether positions 9–17 satisfy GB 11714's own check; many real codes do not."""
        return _org_check_char(self.org_code[:8]) == self.org_code[8]

    @property
    def authority_name(self) -> str | None:
        return AUTHORITY_NAMES.get(self.authority)

    def __str__(self) -> str:
        return self.code


def compute_check_char(first17: str) -> str:
    """The GB 32100 check character (position 18) for 17 already-normalised characters."""
    if len(first17) != USCC_LENGTH - 1:
        raise _wrong_length(len(first17), USCC_LENGTH - 1)
    _reject_illegal_characters(first17)
    return _check_char(first17)


def parse_uscc(raw: str, *, allow_legacy: bool) -> Uscc:
    """Normalise and validate a USCC (requests memoise the result: `profiles.schemas`).

    Surrounding whitespace is dropped, full-width characters are folded (NFKC) and letters are
    upper-cased; any other deviation is rejected. With ``allow_legacy`` (registry feeds) a check
    character that does not verify is accepted and flagged; length and charset errors never are.
    """
    code = unicodedata.normalize("NFKC", raw).strip().upper()
    _reject_illegal_characters(code)
    if len(code) != USCC_LENGTH:
        raise _wrong_length(len(code), USCC_LENGTH)
    expected = _check_char(code[:17])
    legacy = expected != code[17]
    if legacy and not allow_legacy:
        raise InvalidUscc(
            "bad_check_digit",
            f"统一社会信用代码校验位错误：第18位应为“{expected}”，实际为“{code[17]}”，请核对后重新输入。",
            f"Check character mismatch: position 18 should be '{expected}', got '{code[17]}'.",
            18,
            expected=expected,
            got=code[17],
        )
    return Uscc(
        code=code,
        authority=code[0],
        entity_type=code[1],
        region_code=code[2:8],
        org_code=code[8:17],
        legacy=legacy,
    )


def generate_uscc(
    rng: random.Random, *, region_code: str, authority: str = "9", entity_type: str = "1"
) -> str:
    """A random, fully valid USCC (GB 11714 organisation check included) for synthetic data.

    Codes are random, not unique: callers that need uniqueness must de-duplicate. The eight
    organisation-code body characters come from one random draw split into four character pairs
    whose weighted sums are precomputed, because the seeder calls this ~200k times.
    """
    prefix = f"{authority}{entity_type}{region_code}"
    main_total = _prefix_weighted_sum(authority, entity_type, region_code)
    org_total = 0
    pairs = []
    draw = rng.randrange(_PAIR_COUNT**4)
    for pair_table in _PAIR_TABLES:
        draw, pair_index = divmod(draw, _PAIR_COUNT)
        text, org_part, main_part = pair_table[pair_index]
        pairs.append(text)
        org_total += org_part
        main_total += main_part
    org_check = _ORG_CHECK_BY_REMAINDER[org_total % 11]
    main_total += _VALUES[org_check] * _WEIGHTS[16]
    return f"{prefix}{''.join(pairs)}{org_check}{CHARSET[(31 - main_total % 31) % 31]}"


@lru_cache(maxsize=256)
def _prefix_weighted_sum(authority: str, entity_type: str, region_code: str) -> int:
    if len(authority) != 1 or len(entity_type) != 1:
        raise ValueError("authority and entity_type must be one character each")
    if len(region_code) != 6 or not (region_code.isascii() and region_code.isdigit()):
        raise ValueError(f"region_code must be a six-digit GB/T 2260 code, got {region_code!r}")
    prefix = authority + entity_type + region_code
    _reject_illegal_characters(prefix)
    return sum(_VALUES[char] * weight for char, weight in zip(prefix, _WEIGHTS, strict=False))


def _check_char(first17: str) -> str:
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def _org_check_char(body8: str) -> str:
    total = sum(_org_value(char) * weight for char, weight in zip(body8, _ORG_WEIGHTS, strict=True))
    return _ORG_CHECK_BY_REMAINDER[total % 11]


def _org_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def _org_check_for_remainder(remainder: int) -> str:
    check = 11 - remainder
    if check == 10:
        return "X"
    return "0" if check == 11 else str(check)


_ORG_CHECK_BY_REMAINDER = tuple(_org_check_for_remainder(remainder) for remainder in range(11))
_PAIR_COUNT = len(CHARSET) ** 2


def _pair_table(offset: int) -> tuple[tuple[str, int, int], ...]:
    """(text, GB 11714 partial sum, GB 32100 partial sum) for every pair at body offset."""
    table = []
    for first in CHARSET:
        for second in CHARSET:
            org_part = (
                _org_value(first) * _ORG_WEIGHTS[offset]
                + _org_value(second) * _ORG_WEIGHTS[offset + 1]
            )
            main_part = (
                _VALUES[first] * _WEIGHTS[8 + offset] + _VALUES[second] * _WEIGHTS[9 + offset]
            )
            table.append((first + second, org_part, main_part))
    return tuple(table)


_PAIR_TABLES = tuple(_pair_table(offset) for offset in (0, 2, 4, 6))


def _reject_illegal_characters(code: str) -> None:
    for index, char in enumerate(code):
        if char not in _VALUES:
            raise _illegal_character(index + 1, char)


def _illegal_character(position: int, char: str) -> InvalidUscc:
    shown = "空格" if char.isspace() else f"“{char}”"
    shown_en = "a space" if char.isspace() else repr(char)
    hint_zh = hint_en = ""
    if char in _LOOKALIKES:
        hint_zh = f"（统一社会信用代码不使用字母 I、O、S、V、Z，是否应为“{_LOOKALIKES[char]}”？）"
        hint_en = f" (I, O, S, V and Z are never used; did you mean '{_LOOKALIKES[char]}'?)"
    return InvalidUscc(
        "illegal_character",
        f"统一社会信用代码第{position}位含非法字符{shown}{hint_zh}。",
        f"Illegal character {shown_en} at position {position}{hint_en}.",
        position,
        got=char,
    )


def _wrong_length(actual: int, wanted: int) -> InvalidUscc:
    return InvalidUscc(
        "wrong_length",
        f"统一社会信用代码应为{wanted}位，实际为{actual}位。",
        f"Expected {wanted} characters, got {actual}.",
    )
