from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.standards.uscc import (
    CHARSET,
    InvalidUscc,
    compute_check_char,
    generate_uscc,
    parse_uscc,
)

VALID = "91350100M000100Y43"  # the example in GB 32100's explanatory material
LEGACY = "91350203M0001QKT19"  # a real pre-2016 code whose check character does not verify

# An independent statement of GB 32100: weight of position i (1-based) is 3^(i-1) mod 31.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def reference_check_char(first17: str) -> str:
    total = sum(ALPHABET.index(char) * pow(3, i, 31) for i, char in enumerate(first17))
    return ALPHABET[-total % 31]


region_codes = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
seeds = st.integers(min_value=0, max_value=2**32)


def generated(seed: int, region: str = "440115") -> str:
    return generate_uscc(random.Random(seed), region_code=region)


def test_charset_is_the_31_characters_of_the_standard() -> None:
    assert CHARSET == ALPHABET
    assert not set("IOSVZ") & set(CHARSET)


def test_valid_example_parses_into_its_parts() -> None:
    uscc = parse_uscc(VALID, allow_legacy=False)
    assert uscc.code == VALID
    assert (uscc.authority, uscc.entity_type) == ("9", "1")
    assert uscc.region_code == "350100"
    assert uscc.org_code == "M000100Y4"
    assert uscc.legacy is False
    assert uscc.org_code_valid is True  # M000100Y → check 4, worked by hand in GB 11714 terms
    assert uscc.authority_name == "市场监管"


def test_hand_computed_check_characters() -> None:
    # Σ for 91350100M000100Y4 is 1640 ≡ 28 (mod 31) → 31 − 28 = 3.
    assert compute_check_char(VALID[:17]) == "3"
    # Σ for 91350203M0001QKT1 is 2279 ≡ 16 (mod 31) → 31 − 16 = 15 → "F".
    assert compute_check_char(LEGACY[:17]) == "F"


def test_people_get_a_precise_error_for_a_bad_check_character() -> None:
    with pytest.raises(InvalidUscc) as caught:
        parse_uscc(LEGACY, allow_legacy=False)
    error = caught.value
    assert error.reason_code == "bad_check_digit"
    assert error.position == 18
    assert (error.expected, error.got) == ("F", "9")
    assert "F" in error.message_zh and "校验" in error.message_zh
    assert "F" in error.message_en


def test_registry_feeds_accept_legacy_codes_flagged() -> None:
    uscc = parse_uscc(LEGACY, allow_legacy=True)
    assert uscc.legacy is True
    assert uscc.code == LEGACY
    assert parse_uscc(VALID, allow_legacy=True).legacy is False


@pytest.mark.parametrize("allow_legacy", [False, True])
@pytest.mark.parametrize("raw", [VALID[:17], VALID + "0", "", "   "])
def test_wrong_length_is_never_accepted(raw: str, allow_legacy: bool) -> None:
    with pytest.raises(InvalidUscc) as caught:
        parse_uscc(raw, allow_legacy=allow_legacy)
    assert caught.value.reason_code == "wrong_length"
    assert caught.value.position is None


@pytest.mark.parametrize("allow_legacy", [False, True])
@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_are_reported_with_their_position(
    letter: str, allow_legacy: bool
) -> None:
    raw = VALID[:9] + letter + VALID[10:]
    with pytest.raises(InvalidUscc) as caught:
        parse_uscc(raw, allow_legacy=allow_legacy)
    error = caught.value
    assert error.reason_code == "illegal_character"
    assert error.position == 10
    assert error.got == letter
    assert "10" in error.message_zh and letter in error.message_zh


def test_inner_space_is_rejected_at_its_position() -> None:
    with pytest.raises(InvalidUscc) as caught:
        parse_uscc("913501 00M000100Y43", allow_legacy=True)
    assert caught.value.reason_code == "illegal_character"
    assert caught.value.position == 7
    assert "空格" in caught.value.message_zh


@pytest.mark.parametrize(
    "raw",
    [
        f"  {VALID}\n",
        VALID.lower(),
        "９１３５０１００Ｍ０００１００Ｙ４３",
        "\u300091350100m000100y43",
    ],
)
def test_harmless_variants_normalise(raw: str) -> None:
    assert parse_uscc(raw, allow_legacy=False).code == VALID


def test_org_code_check_does_not_reject() -> None:
    body = "MA000001"
    for org_check in "0123456789X":
        first17 = "91440115" + body + org_check
        code = first17 + reference_check_char(first17)
        uscc = parse_uscc(code, allow_legacy=False)
        assert uscc.legacy is False
    valid_flags = [
        parse_uscc(
            "91440115" + body + c + reference_check_char("91440115" + body + c), allow_legacy=False
        ).org_code_valid
        for c in "0123456789X"
    ]
    assert valid_flags.count(True) == 1


def test_compute_check_char_validates_its_input() -> None:
    with pytest.raises(InvalidUscc):
        compute_check_char(VALID[:16])
    with pytest.raises(InvalidUscc):
        compute_check_char("9135010OM000100Y4")


@given(st.text(alphabet=ALPHABET, min_size=18, max_size=18))
def test_acceptance_agrees_with_an_independent_checksum(code: str) -> None:
    if reference_check_char(code[:17]) == code[17]:
        assert parse_uscc(code, allow_legacy=False).code == code
    else:
        with pytest.raises(InvalidUscc):
            parse_uscc(code, allow_legacy=False)
        assert parse_uscc(code, allow_legacy=True).legacy is True


@given(seeds, region_codes)
def test_generated_codes_are_fully_valid(seed: int, region: str) -> None:
    code = generated(seed, region)
    uscc = parse_uscc(code, allow_legacy=False)
    assert uscc.region_code == region
    assert (uscc.authority, uscc.entity_type) == ("9", "1")
    assert uscc.org_code_valid
    assert compute_check_char(code[:17]) == code[17] == reference_check_char(code[:17])


@given(seeds, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=30))
def test_any_single_character_change_is_detected(seed: int, position: int, shift: int) -> None:
    code = generated(seed)
    replacement = ALPHABET[(ALPHABET.index(code[position]) + shift) % 31]
    corrupted = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidUscc) as caught:
        parse_uscc(corrupted, allow_legacy=False)
    assert caught.value.reason_code == "bad_check_digit"


@given(seeds, st.integers(min_value=0, max_value=15))
def test_adjacent_transpositions_in_the_body_are_detected(seed: int, position: int) -> None:
    code = generated(seed)
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    with pytest.raises(InvalidUscc):
        parse_uscc(swapped, allow_legacy=False)


@settings(max_examples=50)
@given(seeds)
def test_round_trip_through_lowercase(seed: int) -> None:
    code = generated(seed)
    assert parse_uscc(code.lower(), allow_legacy=False).code == code


def test_generation_is_reproducible_and_honours_parameters() -> None:
    first = [generate_uscc(random.Random(42), region_code="440115") for _ in range(3)]
    again = [generate_uscc(random.Random(42), region_code="440115") for _ in range(3)]
    assert first == again
    rng = random.Random(1)
    code = generate_uscc(rng, region_code="440305", authority="9", entity_type="2")
    assert code.startswith("92440305")
    with pytest.raises(ValueError):
        generate_uscc(rng, region_code="44011")
    with pytest.raises(ValueError):
        generate_uscc(rng, region_code="4401A5")


def test_generating_the_benchmark_population_is_fast() -> None:
    rng = random.Random(2024)
    started = time.perf_counter()
    codes = [generate_uscc(rng, region_code="440115") for _ in range(199_000)]
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"199,000 codes took {elapsed:.2f}s"
    # Eight random characters give 31**8 bodies: collisions at this size should be very rare.
    assert len(set(codes)) > 198_990
