"""Subscription-message templates: data checked against WeChat's per-type limits once per notice
and encoded once, so a value WeChat would refuse with 47003 never leaves, and each send only
splices in the openid.

The data key's prefix is its type (`thing1` is a `thing`). Free text (`thing`, `phrase`, `name`)
is shortened by character with an ellipsis; values of the other limited types cannot be shortened
without changing their meaning, so they are refused instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from core.errors import ValidationFailed

ELLIPSIS = "…"
# Maximum characters by data type (WeChat subscription-message rules).
SHORTENED_TYPES: dict[str, int] = {"thing": 20, "phrase": 5, "name": 10}
REFUSED_TYPES: dict[str, int] = {
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
}
MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
_TYPE_OF_KEY = re.compile(r"^([a-z_]+?)\d+$")
_OPENID_PLACEHOLDER = "entpage-openid-placeholder-8d2b61"


class TemplateDataInvalid(ValidationFailed):
    code = "wechat-template-data-invalid"
    title = "The subscription message data is not valid for WeChat"


def truncate_chars(text: str, max_chars: int, *, ellipsis: str = ELLIPSIS) -> str:
    """`text` if it has at most `max_chars` characters, else a prefix plus `ellipsis` of exactly
    `max_chars` characters. Cuts between characters, never inside one."""
    if len(text) <= max_chars:
        return text
    if max_chars <= len(ellipsis):
        return text[:max_chars]
    kept = text[: max_chars - len(ellipsis)].rstrip("\u200d")  # no dangling zero-width joiner
    return kept + ellipsis


def fit_template_data(data: Mapping[str, str]) -> dict[str, str]:
    """`data` with free-text values shortened to their type's limit; raises TemplateDataInvalid
    for empty values and over-long values of types that cannot be shortened."""
    fitted: dict[str, str] = {}
    for key, value in data.items():
        if not value:
            raise TemplateDataInvalid(f"{key} must not be empty", field=f"data/{key}")
        matched = _TYPE_OF_KEY.match(key)
        value_type = matched.group(1) if matched else key
        if value_type in SHORTENED_TYPES:
            fitted[key] = truncate_chars(value, SHORTENED_TYPES[value_type])
            continue
        limit = REFUSED_TYPES.get(value_type)
        if limit is not None and len(value) > limit:
            raise TemplateDataInvalid(
                f"{key} allows at most {limit} characters, got {len(value)}", field=f"data/{key}"
            )
        fitted[key] = value
    return fitted


@dataclass(frozen=True, slots=True)
class SubscribeMessageTemplate:
    """The `subscribe/send` request body for one notice; `body_for` adds the recipient."""

    template_id: str
    data: Mapping[str, str]
    head: bytes
    tail: bytes

    @classmethod
    def build(
        cls,
        *,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> SubscribeMessageTemplate:
        if not template_id:
            raise TemplateDataInvalid("template_id is required", field="template_id")
        if miniprogram_state not in MINIPROGRAM_STATES:
            raise TemplateDataInvalid(
                f"miniprogram_state must be one of {sorted(MINIPROGRAM_STATES)}",
                field="miniprogram_state",
            )
        fitted = fit_template_data(data)
        if not fitted:
            raise TemplateDataInvalid("data must have at least one key", field="data")
        body: dict[str, Any] = {
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in fitted.items()},
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        body["touser"] = _OPENID_PLACEHOLDER
        encoded = orjson.dumps(body)
        placeholder = orjson.dumps(_OPENID_PLACEHOLDER)
        if encoded.count(placeholder) != 1:
            raise TemplateDataInvalid("data must not contain the openid placeholder", field="data")
        head, _, tail = encoded.partition(placeholder)
        return cls(template_id=template_id, data=fitted, head=head, tail=tail)

    def body_for(self, openid: str) -> bytes:
        return b"".join((self.head, orjson.dumps(openid), self.tail))
