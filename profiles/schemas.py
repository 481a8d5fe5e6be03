"""What department systems and admins send, validated into frozen dataclasses."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from core.errors import FieldProblem, ValidationFailed
from core.validation import Reader
from profiles.models import CREDIT_LEVELS, MATTER_STATES, MEMBER_ROLES, SIZES, STATUSES, ZONES
from profiles.standards.industry import UnknownIndustry, industry_table
from profiles.standards.uscc import InvalidUscc, parse_uscc

REGION_CODE = re.compile(r"\d{6}")
PHONE = re.compile(r"\+?\d{6,15}")
SOURCE_SYSTEM = re.compile(r"[a-z][a-z0-9_-]{1,31}")
EXTERNAL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
URL = re.compile(r"https://[^\s<>\"']{1,490}")


@dataclass(frozen=True, slots=True)
class LicenceInput:
    kind: str
    number: str
    name: str
    issuer: str | None
    issued_on: dt.date | None
    expires_on: dt.date | None


@dataclass(frozen=True, slots=True)
class EnterpriseInput:
    uscc: str
    legacy_uscc: bool
    name: str
    zone: str
    region_code: str
    industry_code: str
    size: str | None
    registered_capital_yuan: int | None
    established_on: dt.date | None
    status: str
    credit_level: str | None
    legal_representative: str | None
    address: str | None
    last_annual_report_year: int | None
    tags: tuple[str, ...]
    licences: tuple[LicenceInput, ...]


@dataclass(frozen=True, slots=True)
class MatterInput:
    source_system: str
    external_id: str
    uscc: str
    title: str
    state: str
    progress: int | None
    progress_label: str | None
    due_on: dt.date | None
    action_url: str | None
    updated_at: dt.datetime


def validate_uscc(raw: Any, *, field: str, allow_legacy: bool) -> tuple[str, bool]:
    """GB 32100 check. Registry feeds may send legacy codes that fail the check digit."""
    if not isinstance(raw, str):
        raise ValidationFailed(f"{field}: must be a string", field=field)
    # Every page request checks one: valid codes are remembered as strings, which the
    # collector never tracks (an lru_cache of `Uscc` objects kept three objects per enterprise
    # in every young collection). Legacy codes, from registry feeds only, are checked each time.
    code = _valid_codes.get(raw)
    if code is not None:
        return code, False
    try:
        parsed = parse_uscc(raw, allow_legacy=allow_legacy)
    except InvalidUscc as exc:
        raise ValidationFailed(
            f"{field}: {exc.message_en} ({exc.message_zh})",
            problems=[FieldProblem(field, f"{exc.message_en} ({exc.message_zh})", "invalid-uscc")],
        ) from exc
    if not parsed.legacy:
        if len(_valid_codes) >= _VALID_CODES_KEPT:
            _valid_codes.clear()
        _valid_codes[raw] = parsed.code
    return parsed.code, parsed.legacy


_VALID_CODES_KEPT = 16_384
_valid_codes: dict[str, str] = {}  # as received → canonical


def parse_enterprise(uscc_in_path: str, payload: Any, *, allow_legacy: bool) -> EnterpriseInput:
    uscc, legacy = validate_uscc(uscc_in_path, field="uscc", allow_legacy=allow_legacy)
    r = Reader(payload)
    r.reject_unknown({
        "uscc", "name", "zone", "region_code", "industry_code", "size", "registered_capital_yuan",
        "established_on", "status", "credit_level", "legal_representative", "address",
        "last_annual_report_year", "tags", "licences",
    })
    if r.has("uscc") and isinstance(r.payload.get("uscc"), str) \
            and r.payload["uscc"].strip().upper() != uscc:
        r.fail("uscc", "does not match the USCC in the URL", "mismatch")
    name = r.string("name", max_length=200)
    zone = r.choice("zone", ZONES)
    region_code = r.string("region_code", max_length=6, pattern=REGION_CODE)
    industry_raw = r.string("industry_code", max_length=8)
    industry_code: str | None = None
    if industry_raw is not None:
        try:
            industry_code = industry_table().validate(industry_raw).code
        except UnknownIndustry:
            r.fail("industry_code", f"{industry_raw!r} is not a GB/T 4754-2017 industry code",
                   "unknown-industry")
    size = r.choice("size", SIZES, required=False)
    capital = r.integer("registered_capital_yuan", required=False, minimum=0,
                        maximum=10**15)
    established_on = r.date("established_on", required=False)
    status = r.choice("status", STATUSES, required=False) or "active"
    credit = r.choice("credit_level", CREDIT_LEVELS, required=False)
    legal_rep = r.string("legal_representative", required=False, max_length=100)
    address = r.string("address", required=False, max_length=300)
    report_year = r.integer("last_annual_report_year", required=False, minimum=1990,
                            maximum=2200)
    tags = r.string_list("tags", max_items=50, max_length=32) or []
    licences = []
    seen: set[tuple[str, str]] = set()
    for lic in r.objects("licences", max_items=100):
        lic.reject_unknown({"kind", "number", "name", "issuer", "issued_on", "expires_on"})
        kind = lic.string("kind", max_length=64)
        number = lic.string("number", max_length=64)
        lname = lic.string("name", max_length=200)
        issuer = lic.string("issuer", required=False, max_length=100)
        issued_on = lic.date("issued_on", required=False)
        expires_on = lic.date("expires_on", required=False)
        if issued_on and expires_on and expires_on < issued_on:
            lic.fail("expires_on", "is before issued_on", "range")
        if kind and number:
            if (kind, number) in seen:
                lic.fail("number", "duplicates another licence of the same kind", "duplicate")
            seen.add((kind, number))
            if lname:
                licences.append(LicenceInput(kind, number, lname, issuer, issued_on, expires_on))
    r.raise_if_failed()
    assert name and zone and region_code and industry_code  # guaranteed by raise_if_failed
    return EnterpriseInput(
        uscc=uscc, legacy_uscc=legacy, name=name, zone=zone, region_code=region_code,
        industry_code=industry_code, size=size, registered_capital_yuan=capital,
        established_on=established_on, status=status, credit_level=credit,
        legal_representative=legal_rep, address=address, last_annual_report_year=report_year,
        tags=tuple(dict.fromkeys(tags)), licences=tuple(licences),
    )


def parse_matter(source_system: str, external_id: str, payload: Any) -> MatterInput:
    r = Reader(payload)
    if not SOURCE_SYSTEM.fullmatch(source_system):
        r.fail("source_system", "must be a lowercase slug", "format")
    if not EXTERNAL_ID.fullmatch(external_id):
        r.fail("external_id", "must be 1–64 characters of A-Z a-z 0-9 . _ : -", "format")
    r.reject_unknown({"uscc", "title", "state", "progress", "progress_label", "due_on",
                      "action_url", "updated_at"})
    uscc_raw = r.string("uscc", max_length=18)
    uscc = None
    if uscc_raw is not None:
        try:
            uscc, _ = validate_uscc(uscc_raw, field="uscc", allow_legacy=True)
        except ValidationFailed as exc:
            r.problems.extend(exc.problems)
    title = r.string("title", max_length=200)
    state = r.choice("state", MATTER_STATES)
    progress = r.integer("progress", required=False, minimum=0, maximum=100)
    progress_label = r.string("progress_label", required=False, max_length=100)
    due_on = r.date("due_on", required=False)
    action_url = r.string("action_url", required=False, max_length=500, pattern=URL)
    updated_at = r.datetime("updated_at")
    r.raise_if_failed()
    assert uscc and title and state and updated_at
    return MatterInput(source_system, external_id, uscc, title, state, progress, progress_label,
                       due_on, action_url, updated_at)


@dataclass(frozen=True, slots=True)
class PersonInput:
    phone: str
    name: str
    password: str
    memberships: tuple[tuple[str, str], ...]  # (uscc, role)


def parse_person(payload: Any) -> PersonInput:
    from core.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

    r = Reader(payload)
    r.reject_unknown({"phone", "name", "password", "memberships"})
    phone = r.string("phone", max_length=16, pattern=PHONE)
    name = r.string("name", max_length=100)
    password = r.string("password", min_length=MIN_PASSWORD_LENGTH,
                        max_length=MAX_PASSWORD_LENGTH)
    memberships: list[tuple[str, str]] = []
    for m in r.objects("memberships", max_items=50):
        m.reject_unknown({"uscc", "role"})
        role = m.choice("role", MEMBER_ROLES)
        raw = m.string("uscc", max_length=18)
        if raw is not None:
            try:
                code, _ = validate_uscc(raw, field=m.at("uscc"), allow_legacy=True)
            except ValidationFailed as exc:
                r.problems.extend(exc.problems)
            else:
                if role:
                    memberships.append((code, role))
    r.raise_if_failed()
    assert phone and name and password
    return PersonInput(phone, name, password, tuple(memberships))
