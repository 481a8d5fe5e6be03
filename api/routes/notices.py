"""Targeted notices: audience preview, drafts, publishing, corrections, recall, statistics,
receipts and the audit log for publishers and admins; the inbox for enterprise staff.

Also home of the small HTTP helpers the policy and publisher routes share: the acting `Actor`
with its origin (client IP, user agent, request id) for the audit log, the Idempotency-Key
header, and CSV streaming with a UTF-8 BOM (so Excel opens Chinese text correctly).
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, read_json
from core.audit import Origin
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings
from notices import service
from notices.models import NOTICE_STATUSES
from notices.schemas import (
    Actor,
    Page,
    decode_cursor,
    parse_audit_query,
    parse_format,
    parse_idempotency_key,
    parse_inbox_query,
    parse_limit,
    parse_notice,
    parse_preview,
    reject_unknown_params,
)
from profiles.schemas import validate_uscc

CSV_BOM = "\ufeff"

# ----------------------------------------------------------------------- shared helpers


@functools.cache
def _trusted_proxies(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _is_trusted(address: str, networks: Iterable[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Request) -> str | None:
    """The socket peer, or — when the peer is a proxy listed in ENTPAGE_TRUSTED_PROXIES
    (comma-separated addresses/CIDRs) — the right-most X-Forwarded-For hop that is not itself a
    trusted proxy. Without that setting X-Forwarded-For is ignored: anyone can send it."""
    peer = request.client.host if request.client else None
    networks = _trusted_proxies(get_settings().trusted_proxies)
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop[:45]
    return peer


def origin(request: Request) -> Origin:
    """The audit log's "from where" for any domain (`core.audit`)."""
    return Origin(ip=client_ip(request),
                  user_agent=(request.headers.get("user-agent") or "")[:300] or None,
                  request_id=(request.headers.get("x-request-id") or "")[:64] or None)


async def actor(request: Request) -> Actor:
    return Actor(principal=await auth.principal(request), origin=origin(request))


def idempotency_key(request: Request) -> str | None:
    return parse_idempotency_key(request.headers.get("idempotency-key"))


def idempotent_response(body: dict[str, Any], replayed: bool, *, status: int) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JsonResponse(body, status_code=status, headers=headers)


def path_int(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value < 2**63:
        # Beyond BIGINT nothing can exist; saying so beats a database overflow error.
        raise NotFound(f"No such {name.removesuffix('_id')}.", field=name)
    return value


def page_response(page: Page) -> Response:
    return JsonResponse(page.as_dict())


def csv_response(*, filename: str, preamble: list[list[str]], header: Iterable[str],
                 pages: AsyncIterator[list[dict[str, Any]]],
                 to_row: Callable[[Mapping[str, Any]], list[str]],
                 headers: Mapping[str, str] | None = None) -> StreamingResponse:
    """Stream a CSV page by page (an export of 199,000 rows never sits in memory)."""

    def encode(rows: Iterable[Iterable[str]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8")

    async def body() -> AsyncIterator[bytes]:
        yield CSV_BOM.encode("utf-8") + encode([*preamble, list(header)])
        async for chunk in pages:
            yield encode(to_row(row) for row in chunk)

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", **(headers or {}),
    })


def _uscc(request: Request) -> str:
    uscc, _ = validate_uscc(request.path_params["uscc"], field="uscc", allow_legacy=True)
    return uscc


# ------------------------------------------------------------------------ publishers


async def preview_audience(request: Request) -> Response:
    """Preview how many enterprises, people and devices a rule reaches (publishers, admins)."""
    who = await actor(request)
    rule = parse_preview(await read_json(request))
    return JsonResponse(await service.preview(who, rule))


async def create_notice(request: Request) -> Response:
    """Create a notice draft (publishers, admins); honours Idempotency-Key."""
    who = await actor(request)
    key = idempotency_key(request)
    payload = await read_json(request)
    data = parse_notice(payload, partial=False)
    body, replayed = await service.create_notice(who, data, idempotency_key=key,
                                                 payload=payload)
    return idempotent_response(body, replayed, status=201)


async def list_notices(request: Request) -> Response:
    """List the department's notices, newest first (publishers; admins see all)."""
    who = await actor(request)
    params = request.query_params
    reject_unknown_params(params, {"status", "cursor", "limit"})
    status = params.get("status") or None
    if status is not None and status not in NOTICE_STATUSES:
        raise ValidationFailed(f"status must be one of: {', '.join(NOTICE_STATUSES)}",
                               field="status")
    page = await service.list_notices(
        who, status=status, cursor=decode_cursor(params.get("cursor"), kind="notices", arity=1),
        limit=parse_limit(params.get("limit")),
    )
    return page_response(page)


async def get_notice(request: Request) -> Response:
    """One notice as its publisher sees it (department publishers, admins)."""
    return JsonResponse(await service.get_notice(await actor(request),
                                                 path_int(request, "notice_id")))


async def update_notice(request: Request) -> Response:
    """Edit a draft, or correct a published notice (keeps the revision history)."""
    who = await actor(request)
    data = parse_notice(await read_json(request), partial=True)
    return JsonResponse(await service.update_notice(who, path_int(request, "notice_id"), data))


async def publish_notice(request: Request) -> Response:
    """Publish now (recipient snapshot) or schedule; honours Idempotency-Key."""
    who = await actor(request)
    key = idempotency_key(request)
    body, replayed = await service.publish_notice(who, path_int(request, "notice_id"),
                                                  idempotency_key=key)
    return idempotent_response(body, replayed, status=200)


async def recall_notice(request: Request) -> Response:
    """Recall (撤回) a published or scheduled notice; recipient records are kept."""
    return JsonResponse(await service.recall_notice(await actor(request),
                                                    path_int(request, "notice_id")))


async def notice_revisions(request: Request) -> Response:
    """The published revisions of a notice: who corrected what, and when."""
    items = await service.notice_revisions(await actor(request), path_int(request, "notice_id"))
    return JsonResponse({"items": items})


async def notice_stats(request: Request) -> Response:
    """Recipients, read, acknowledged, hourly timeline and delivery per channel."""
    return JsonResponse(await service.notice_stats(await actor(request),
                                                   path_int(request, "notice_id")))


def _summary_headers(summary: Mapping[str, Any]) -> dict[str, str]:
    names = {"snapshot_recipients": "X-Snapshot-Recipients", "recipients": "X-Recipients",
             "read": "X-Read", "acknowledged": "X-Acknowledged",
             "unacknowledged": "X-Unacknowledged"}
    return {header: str(summary[key]) for key, header in names.items() if key in summary}


async def notice_receipts(request: Request) -> Response:
    """Who was told what and when: snapshot counts plus read/ack receipts (json or csv)."""
    who = await actor(request)
    notice_id = path_int(request, "notice_id")
    params = request.query_params
    reject_unknown_params(params, {"format", "cursor", "limit", "preamble"})
    fmt = parse_format(params)
    if fmt == "json":
        result = await service.receipts(
            who, notice_id, cursor=decode_cursor(params.get("cursor"), kind="receipts", arity=1),
            limit=parse_limit(params.get("limit"), default=100, maximum=1000),
        )
        assert isinstance(result, Page)
        return page_response(result)
    export = await service.receipts(who, notice_id)
    assert isinstance(export, service.Export)
    preamble = [] if params.get("preamble") == "false" else \
        service.receipt_preamble(export.summary)
    return csv_response(filename=f"notice-{notice_id}-receipts.csv", preamble=preamble,
                        header=service.RECEIPT_COLUMNS, pages=export.rows,
                        to_row=service.receipt_csv_row,
                        headers=_summary_headers(export.summary))


async def notice_unacknowledged(request: Request) -> Response:
    """Enterprises that have not acknowledged a notice that asks for it (json or csv)."""
    who = await actor(request)
    notice_id = path_int(request, "notice_id")
    params = request.query_params
    reject_unknown_params(params, {"format", "cursor", "limit"})
    fmt = parse_format(params)
    if fmt == "json":
        result = await service.unacknowledged(
            who, notice_id, cursor=decode_cursor(params.get("cursor"), kind="unack", arity=1),
            limit=parse_limit(params.get("limit"), default=100, maximum=1000),
        )
        assert isinstance(result, Page)
        return page_response(result)
    export = await service.unacknowledged(who, notice_id)
    assert isinstance(export, service.Export)
    return csv_response(filename=f"notice-{notice_id}-unacknowledged.csv", preamble=[],
                        header=service.UNACK_COLUMNS, pages=export.rows,
                        to_row=service.unack_csv_row, headers=_summary_headers(export.summary))


async def notice_audit(request: Request) -> Response:
    """The audit trail of one notice (its department's publishers, admins)."""
    who = await actor(request)
    query = parse_audit_query(request.query_params, allow_object=False)
    return page_response(await service.notice_audit(who, path_int(request, "notice_id"), query))


async def audit_log(request: Request) -> Response:
    """The whole append-only audit log with filters and cursor pagination (admins)."""
    who = await actor(request)
    return page_response(await service.audit_log(who, parse_audit_query(request.query_params)))


# ------------------------------------------------------------------- enterprise inbox


async def enterprise_notices(request: Request) -> Response:
    """An enterprise's notices, unread first then newest (members, kiosk session, admins)."""
    caller = await auth.principal(request)
    query = parse_inbox_query(request.query_params)
    return page_response(await service.list_inbox(caller, _uscc(request), query))


async def enterprise_notice(request: Request) -> Response:
    """One notice with its latest text and why the enterprise received it."""
    caller = await auth.principal(request)
    return JsonResponse(await service.get_for_enterprise(caller, _uscc(request),
                                                         path_int(request, "notice_id")))


async def enterprise_notice_read(request: Request) -> Response:
    """Mark a notice read for the enterprise (members only; the first reader is kept)."""
    caller = await auth.principal(request)
    return JsonResponse(await service.mark_read(caller, _uscc(request),
                                                path_int(request, "notice_id")))


async def enterprise_notice_ack(request: Request) -> Response:
    """Acknowledge a notice that asks for it (members only; idempotent)."""
    caller = await auth.principal(request)
    return JsonResponse(await service.acknowledge(caller, _uscc(request),
                                                  path_int(request, "notice_id")))


async def enterprise_notice_archive(request: Request) -> Response:
    """Archive a notice for the enterprise (members only; implies read)."""
    caller = await auth.principal(request)
    return JsonResponse(await service.archive(caller, _uscc(request),
                                              path_int(request, "notice_id")))


_NOTICE = "/v1/notices/{notice_id:int}"
_INBOX = "/v1/enterprises/{uscc}/notices"

routes = [
    Route("/v1/audiences/preview", preview_audience, methods=["POST"]),
    Route("/v1/notices", create_notice, methods=["POST"]),
    Route("/v1/notices", list_notices, methods=["GET"]),
    Route(_NOTICE, get_notice, methods=["GET"]),
    Route(_NOTICE, update_notice, methods=["PATCH"]),
    Route(f"{_NOTICE}/publish", publish_notice, methods=["POST"]),
    Route(f"{_NOTICE}/recall", recall_notice, methods=["POST"]),
    Route(f"{_NOTICE}/revisions", notice_revisions, methods=["GET"]),
    Route(f"{_NOTICE}/stats", notice_stats, methods=["GET"]),
    Route(f"{_NOTICE}/receipts", notice_receipts, methods=["GET"]),
    Route(f"{_NOTICE}/unacknowledged", notice_unacknowledged, methods=["GET"]),
    Route(f"{_NOTICE}/audit", notice_audit, methods=["GET"]),
    Route("/v1/audit", audit_log, methods=["GET"]),
    Route(_INBOX, enterprise_notices, methods=["GET"]),
    Route(_INBOX + "/{notice_id:int}", enterprise_notice, methods=["GET"]),
    Route(_INBOX + "/{notice_id:int}/read", enterprise_notice_read, methods=["POST"]),
    Route(_INBOX + "/{notice_id:int}/ack", enterprise_notice_ack, methods=["POST"]),
    Route(_INBOX + "/{notice_id:int}/archive", enterprise_notice_archive, methods=["POST"]),
]
