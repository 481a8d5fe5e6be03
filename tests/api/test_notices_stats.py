"""Per-notice statistics, receipts and the unacknowledged list (JSON and CSV for Excel)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import httpx

from core import clock
from notices import service
from tests.notices.helpers import make_world


async def test_stats_count_reads_acks_and_hourly_timeline(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    clock.freeze(dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC))
    notice = await w.published(kind="warning", priority="urgent", ack_required=True)
    clock.freeze(dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC))  # 09:30 in Shanghai
    uscc = w.enterprises["南沙甲"]
    resp = await client.post(f"/v1/enterprises/{uscc}/notices/{notice['id']}/read",
                             headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 200
    clock.freeze(dt.datetime(2026, 6, 1, 3, 5, tzinfo=dt.UTC))  # 11:05 in Shanghai
    resp = await client.post(f"/v1/enterprises/{uscc}/notices/{notice['id']}/ack",
                             headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 200
    stats = (await client.get(f"/v1/notices/{notice['id']}/stats",
                              headers=w.h(w.publisher))).json()
    assert stats["recipients"] == stats["snapshot_recipients"] == 2
    assert stats["read"] == 1 and stats["acknowledged"] == 1 and stats["unread"] == 1
    assert stats["timeline"] == [
        {"hour": "2026-06-01T09:00:00+08:00", "read": 1, "acknowledged": 0},
        {"hour": "2026-06-01T11:00:00+08:00", "read": 0, "acknowledged": 1},
    ]
    assert stats["timezone"] == "Asia/Shanghai" and stats["delivery"] == {}


async def test_stats_extension_fills_delivery_block(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()

    async def fcm_stats(notice_id: int) -> Mapping[str, Any]:
        return {"fcm": {"delivered": 3, "failed": 0, "dead": 0, "skipped": 1, "of": notice_id}}

    service.register_stats_extension(fcm_stats)
    try:
        stats = (await client.get(f"/v1/notices/{notice['id']}/stats",
                                  headers=w.h(w.publisher))).json()
    finally:
        service._stats_extensions.remove(fcm_stats)
    assert stats["delivery"]["fcm"] == {"delivered": 3, "failed": 0, "dead": 0, "skipped": 1,
                                        "of": notice["id"]}


def _read_csv(resp: httpx.Response) -> list[list[str]]:
    assert resp.headers["content-type"].startswith("text/csv")
    raw = resp.content
    assert raw.startswith("\ufeff".encode()), "Excel needs the UTF-8 BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


async def test_receipts_csv_proves_who_was_told_and_who_read(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published(ack_required=True)
    uscc = w.enterprises["南沙甲"]
    await client.post(f"/v1/enterprises/{uscc}/notices/{notice['id']}/ack",
                      headers=w.h(w.staff["南沙甲"]))
    resp = await client.get(f"/v1/notices/{notice['id']}/receipts", params={"format": "csv"},
                            headers=w.h(w.publisher))
    assert resp.status_code == 200
    assert resp.headers["x-snapshot-recipients"] == "2" and resp.headers["x-read"] == "1"
    rows = _read_csv(resp)
    preamble = {r[0]: r[1] for r in rows if len(r) == 2}
    assert preamble["发布快照企业数"] == "2" and preamble["已确认"] == "1"
    header_at = rows.index(list(service.RECEIPT_COLUMNS))
    data = {r[0]: r for r in rows[header_at + 1:]}
    assert set(data) == {w.enterprises["南沙甲"], w.enterprises["南沙乙"]}
    acked = data[uscc]
    assert acked[1] == "南沙甲有限公司" and acked[4] and acked[6]
    assert f"（{w.staff_ids['南沙甲']}）" in acked[7]
    assert data[w.enterprises["南沙乙"]][4] == ""

    plain = await client.get(f"/v1/notices/{notice['id']}/receipts",
                             params={"format": "csv", "preamble": "false"},
                             headers=w.h(w.publisher))
    assert _read_csv(plain)[0] == list(service.RECEIPT_COLUMNS)

    page = (await client.get(f"/v1/notices/{notice['id']}/receipts", params={"limit": 1},
                             headers=w.h(w.publisher))).json()
    assert len(page["items"]) == 1 and page["next_cursor"] and page["summary"]["read"] == 1
    rest = (await client.get(f"/v1/notices/{notice['id']}/receipts",
                             params={"limit": 1, "cursor": page["next_cursor"]},
                             headers=w.h(w.publisher))).json()
    assert {page["items"][0]["uscc"], rest["items"][0]["uscc"]} == set(data)


async def test_unacknowledged_lists_the_silent_enterprises(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    warning = await w.published(kind="warning", priority="urgent", ack_required=True)
    await client.post(f"/v1/enterprises/{w.enterprises['南沙甲']}/notices/{warning['id']}/ack",
                      headers=w.h(w.staff["南沙甲"]))
    listing = (await client.get(f"/v1/notices/{warning['id']}/unacknowledged",
                                headers=w.h(w.publisher))).json()
    assert [i["uscc"] for i in listing["items"]] == [w.enterprises["南沙乙"]]
    assert listing["summary"]["unacknowledged"] == 1
    resp = await client.get(f"/v1/notices/{warning['id']}/unacknowledged",
                            params={"format": "csv"}, headers=w.h(w.publisher))
    rows = _read_csv(resp)
    assert rows[0] == list(service.UNACK_COLUMNS)
    assert rows[1][:2] == [w.enterprises["南沙乙"], "南沙乙有限公司"]
    plain = await w.published()
    resp = await client.get(f"/v1/notices/{plain['id']}/unacknowledged",
                            headers=w.h(w.publisher))
    assert resp.status_code == 409
    resp = await client.get(f"/v1/notices/{warning['id']}/unacknowledged",
                            params={"format": "xlsx"}, headers=w.h(w.publisher))
    assert resp.status_code == 422 and resp.json()["field"] == "format"
