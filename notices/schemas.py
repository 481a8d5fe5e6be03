"""What publishers, admins and enterprise staff send to the notices domain, validated into frozen
dataclasses, plus the opaque cursors and the request origin the audit log records.

Every parser collects all problems with their paths (`title`, `rule/any/0/op`) and raises one
`ValidationFailed`; unknown fields are refused so a typo never silently does nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from core.audit import Origin
from core.errors import FieldProblem, ValidationFailed
from core.principals import Principal
from core.validation import Reader
from notices.models import BODY_FORMATS, NOTICE_KINDS, PRIORITIES
from notices.sanitize import MAX_BODY_CHARS
from notices.targeting import Rule, parse_rule, to_json

TITLE_MAX = 80
ACTION_URL_MAX = 500
NOTE_MAX = 200
HTTPS_URL = re.compile(r"https://[^\s<>\"'\\]{1,490}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
INBOX_STATES = ("unread", "all", "archived")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

NOTICE_FIELDS = ("kind", "title", "body", "body_format", "priority", "ack_required",
                 "action_url", "publish_at", "expire_at", "rule", "standing")
# After publishing, only the text and its presentation may change (a correction); the audience
# (rule, standing), the kind, the acknowledgement contract and the schedule are the record.
CORRECTABLE_FIELDS = frozenset({"title", "body", "body_format", "priority", "action_url",
                                "expire_at"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and from where: the audit log's "who" and "from where"."""

    principal: Principal
    origin: Origin = field(default_factory=Origin)

    @property
    def subject(self) -> str:
        return self.principal.subject


@dataclass(frozen=True, slots=True)
class NoticeFields:
    """A validated set of notice fields. `present` says which ones the payload carried, so the
    same type serves creation (all required ones present) and partial edits."""

    values: Mapping[str, Any]
    present: frozenset[str]
    rule: Rule | None = None
    note: str | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


@dataclass(frozen=True, slots=True)
class InboxQuery:
    state: str = "all"
    limit: int = DEFAULT_LIMIT
    cursor: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 50
    cursor: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a cursor-paginated listing."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor, **self.extra}


# ------------------------------------------------------------------------------ rule parsing


def read_rule(r: Reader, name: str = "rule", *, required: bool) -> Rule | None:
    """Parse a rule into the reader's problem list; paths already start with `rule/…`."""
    if not r.has(name) or r.payload.get(name) is None:
        if required:
            r.fail(name, "is required", "required")
        return None
    try:
        rule = parse_rule(r.payload[name])
    except ValidationFailed as exc:
        prefix = r.at(name)
        for problem in exc.problems:
            # The engine names paths from "rule"; nest them under this payload's own path.
            path = prefix + problem.field[len("rule"):] if problem.field.startswith("rule") \
                else prefix
            r.problems.append(FieldProblem(path, problem.reason, problem.code))
        return None
    return rule


def parse_preview(payload: Any) -> Rule:
    r = Reader(payload)
    r.reject_unknown({"rule"})
    rule = read_rule(r, required=True)
    r.raise_if_failed()
    assert rule is not None
    return rule


# --------------------------------------------------------------------------- notice payloads


def https_url(r: Reader, name: str, *, max_length: int = ACTION_URL_MAX) -> str | None:
    value = r.string(name, required=False, max_length=max_length)
    if value is None:
        return None
    parts = urlsplit(value)
    if not HTTPS_URL.fullmatch(value) or parts.scheme != "https" or not parts.hostname:
        r.fail(name, "must be an https:// URL", "format")
        return None
    return value


def parse_notice(payload: Any, *, partial: bool) -> NoticeFields:
    """A new draft (`partial=False`: kind, title and body required) or an edit."""
    r = Reader(payload)
    r.reject_unknown({*NOTICE_FIELDS, *(("correction_note",) if partial else ())})
    values: dict[str, Any] = {}
    present = frozenset(k for k in NOTICE_FIELDS if r.has(k))
    required = not partial
    if required or "kind" in present:
        values["kind"] = r.choice("kind", NOTICE_KINDS)
    if required or "title" in present:
        values["title"] = r.string("title", max_length=TITLE_MAX)
    if required or "body" in present:
        values["body"] = r.string("body", max_length=MAX_BODY_CHARS)
    if "body_format" in present or required:
        values["body_format"] = r.choice("body_format", BODY_FORMATS, required=False) \
            or "markdown"
    if "priority" in present or required:
        values["priority"] = r.choice("priority", PRIORITIES, required=False) or "normal"
    if "ack_required" in present or required:
        values["ack_required"] = r.boolean("ack_required")
    if "standing" in present or required:
        values["standing"] = r.boolean("standing")
    if "action_url" in present or required:
        values["action_url"] = https_url(r, "action_url")
    if "publish_at" in present or required:
        values["publish_at"] = r.datetime("publish_at", required=False)
    if "expire_at" in present or required:
        values["expire_at"] = r.datetime("expire_at", required=False)
    rule = read_rule(r, required=False)
    if rule is not None:
        values["rule"] = to_json(rule)
    elif "rule" in present and r.payload.get("rule") is None:
        values["rule"] = None
    note = r.string("correction_note", required=False, max_length=NOTE_MAX) if partial else None
    publish_at, expire_at = values.get("publish_at"), values.get("expire_at")
    if publish_at is not None and expire_at is not None and expire_at <= publish_at:
        r.fail("expire_at", "must be after publish_at", "range")
    r.raise_if_failed()
    return NoticeFields(values=values, present=present | ({"rule"} if rule else set()),
                        rule=rule, note=note)


def parse_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(raw):
        raise ValidationFailed(
            "Idempotency-Key must be 1–200 visible ASCII characters.", field="Idempotency-Key"
        )
    return raw


def request_hash(payload: Any) -> str:
    """A stable digest of a request, so a key reused for a different request is caught."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


# -------------------------------------------------------------------------- query parameters


def parse_limit(raw: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT,
                name: str = "limit") -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(f"{name} must be an integer from 1 to {maximum}", field=name)
    return int(raw)


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def decode_cursor(raw: str | None, *, kind: str, arity: int) -> tuple[Any, ...] | None:
    """Cursors are opaque to clients; one from another listing (`kind`) is refused."""
    if raw is None or raw == "":
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValidationFailed("cursor is not valid", field="cursor") from exc
    if not isinstance(values, list) or len(values) != arity + 1 or values[0] != kind:
        raise ValidationFailed("cursor is not valid for this listing", field="cursor")
    return tuple(values[1:])


def parse_inbox_query(params: Mapping[str, str]) -> InboxQuery:
    _reject_unknown_params(params, {"state", "limit", "cursor"})
    state = params.get("state") or "all"
    if state not in INBOX_STATES:
        raise ValidationFailed(f"state must be one of: {', '.join(INBOX_STATES)}", field="state")
    cursor = decode_cursor(params.get("cursor"), kind=f"inbox-{state}", arity=3)
    return InboxQuery(state=state, limit=parse_limit(params.get("limit")), cursor=cursor)


def parse_audit_query(params: Mapping[str, str], *, allow_object: bool = True) -> AuditQuery:
    allowed = {"actor", "action", "since", "until", "limit", "cursor"}
    if allow_object:
        allowed |= {"object_type", "object_id"}
    _reject_unknown_params(params, allowed)
    r = Reader(dict(params))
    since = r.datetime("since", required=False)
    until = r.datetime("until", required=False)
    r.raise_if_failed()
    cursor = decode_cursor(params.get("cursor"), kind="audit", arity=1)
    return AuditQuery(
        object_type=params.get("object_type") or None,
        object_id=params.get("object_id") or None,
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        since=since, until=until,
        limit=parse_limit(params.get("limit"), default=50, maximum=500),
        cursor=int(cursor[0]) if cursor else None,
    )


def parse_format(params: Mapping[str, str], *, allowed: tuple[str, ...] = ("json", "csv")) -> str:
    value = params.get("format") or allowed[0]
    if value not in allowed:
        raise ValidationFailed(f"format must be one of: {', '.join(allowed)}", field="format")
    return value


def _reject_unknown_params(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]}", field=unknown[0],
            problems=[FieldProblem(k, "unknown query parameter", "unknown-field")
                      for k in unknown],
        )


def reject_unknown_params(params: Mapping[str, str], allowed: set[str]) -> None:
    _reject_unknown_params(params, allowed)
