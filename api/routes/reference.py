"""Public reference data for the publisher console and other clients: the GB/T 4754-2017
industry tree and the option lists a targeting form needs (zones, sizes, statuses, credit
levels, common tags, policy categories, notice kinds). Nothing here is secret or per-user.

Both documents are built once per process from versioned data, served with a strong ETag
(304 on If-None-Match) and gzip when the client accepts it: the industry tree is ~1,960 nodes,
fetched by every console that opens the industry picker.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from notices.models import NOTICE_KINDS, PRIORITIES
from notices.policy_schemas import categories
from notices.targeting.evaluate import SIZE_NAMES, STATUS_NAMES, ZONE_NAMES
from notices.targeting.schema import MAX_LIST_ITEMS, MAX_NODES, MAX_TAG_CHARS, MAX_USCC_ITEMS
from profiles.models import CREDIT_LEVELS, SIZES, STATUSES, ZONES
from profiles.standards.industry import LEVEL_NAMES, VERSION, industry_table

# zh-Hant labels sit beside the zh-Hans ones the targeting explanations use (片区：南沙).
ZONE_NAMES_HANT = {"nansha": "南沙", "qianhai": "前海蛇口", "hengqin": "橫琴", "other": "其他片區"}
SIZE_NAMES_HANT = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
STATUS_NAMES_HANT = {"active": "存續", "abnormal": "經營異常", "revoked": "吊銷", "cancelled": "註銷"}
# Credit levels follow the tax credit grades (纳税信用等级 A/B/M/C/D).
CREDIT_NAMES = {
    "A": ("A级 守信", "A級 守信"),
    "B": ("B级 良好", "B級 良好"),
    "M": ("M级 新设立", "M級 新設立"),
    "C": ("C级 较差", "C級 較差"),
    "D": ("D级 失信", "D級 失信"),
}
NOTICE_KIND_NAMES = {
    "notice": ("通知", "通知"),
    "warning": ("预警", "預警"),
    "reminder": ("提醒", "提醒"),
}
PRIORITY_NAMES = {"normal": ("普通", "普通"), "urgent": ("紧急", "緊急")}
# Designations department systems commonly attach to enterprises; the tag picker also takes
# free text, since a tag is matched exactly and any department may introduce one.
COMMON_TAGS = (
    ("高新技术企业", "高新技術企業"),
    ("专精特新", "專精特新"),
    ("科技型中小企业", "科技型中小企業"),
    ("外资企业", "外資企業"),
    ("港澳投资企业", "港澳投資企業"),
    ("出口企业", "出口企業"),
    ("小微企业", "小微企業"),
)
MAX_AGE_INDUSTRIES = 86_400
MAX_AGE_OPTIONS = 3_600


@dataclass(frozen=True, slots=True)
class Document:
    """A JSON document rendered once, with its gzip form and a strong ETag per encoding."""

    raw: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, content: Any) -> Document:
        raw = orjson.dumps(content)
        digest = hashlib.sha256(raw).hexdigest()[:32]
        return cls(raw=raw, gzipped=gzip.compress(raw, compresslevel=9, mtime=0), etag=digest)


def _pair(names: tuple[str, str]) -> dict[str, str]:
    return {"name": names[0], "name_hant": names[1]}


@functools.cache
def industries_document() -> Document:
    table = industry_table()
    counts = table.count_by_level()
    return Document.of({
        "version": VERSION,
        "counts": {LEVEL_NAMES[level]: n for level, n in sorted(counts.items())},
        "items": table.tree(),
    })


@functools.cache
def options_document() -> Document:
    return Document.of({
        "zones": [{"code": z, "name": ZONE_NAMES[z], "name_hant": ZONE_NAMES_HANT[z]}
                  for z in ZONES],
        "sizes": [{"code": s, "name": SIZE_NAMES[s], "name_hant": SIZE_NAMES_HANT[s]}
                  for s in SIZES],
        "statuses": [{"code": s, "name": STATUS_NAMES[s], "name_hant": STATUS_NAMES_HANT[s]}
                     for s in STATUSES],
        "credit_levels": [{"code": c, **_pair(CREDIT_NAMES[c])} for c in CREDIT_LEVELS],
        "tags": [{"name": name, "name_hant": hant} for name, hant in COMMON_TAGS],
        "policy_categories": [{"name": c.name, "name_hant": c.name_hant, "en": c.en}
                              for c in categories()],
        "notice_kinds": [{"code": k, **_pair(NOTICE_KIND_NAMES[k])} for k in NOTICE_KINDS],
        "priorities": [{"code": p, **_pair(PRIORITY_NAMES[p])} for p in PRIORITIES],
        "rule_limits": {"max_nodes": MAX_NODES, "max_list_items": MAX_LIST_ITEMS,
                        "max_uscc_items": MAX_USCC_ITEMS, "max_tag_chars": MAX_TAG_CHARS},
        "timezone": "Asia/Shanghai",
    })


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _matches(if_none_match: str, etags: tuple[str, ...]) -> bool:
    if if_none_match.strip() == "*":
        return True
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return any(tag in offered for tag in etags)


def serve_document(request: Request, document: Document, *, max_age: int) -> Response:
    gz = _accepts_gzip(request)
    # The two encodings are different bytes, so each gets its own strong validator.
    plain_tag, gz_tag = f'"{document.etag}"', f'"{document.etag}-gz"'
    etag = gz_tag if gz else plain_tag
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if _matches(request.headers.get("if-none-match", ""), (plain_tag, gz_tag)):
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    body = document.gzipped if gz else document.raw
    return Response(body, media_type="application/json", headers=headers)


async def industries(request: Request) -> Response:
    """The GB/T 4754-2017 industry tree: section → division → group → class (public)."""
    return serve_document(request, industries_document(), max_age=MAX_AGE_INDUSTRIES)


async def options(request: Request) -> Response:
    """Zones, sizes, statuses, credit levels, common tags, policy categories (public)."""
    return serve_document(request, options_document(), max_age=MAX_AGE_OPTIONS)


routes = [
    Route("/v1/reference/industries", industries, methods=["GET"]),
    Route("/v1/reference/options", options, methods=["GET"]),
]
