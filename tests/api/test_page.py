"""The dedicated page: what staff see, in what order, and never stale after an update."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from core import clock
from profiles.models import Enterprise
from profiles.page_cache import get_page_cache
from tests import factories as f


async def _setup(client: httpx.AsyncClient, **overrides: object) -> tuple[str, str, dict[str, str]]:
    key = await f.integration_key("tax")
    uscc = f.new_uscc()
    resp = await f.put_enterprise(client, key, uscc, **overrides)
    assert resp.status_code == 201, resp.text
    _, tokens = await f.person_with_token(client, "13600000001", [(uscc, "admin")])
    return key, uscc, f.bearer(tokens["access_token"])


async def _matter(client: httpx.AsyncClient, key: str, uscc: str, ext: str, state: str,
                  due: str | None = None, at: str = "2026-05-01T08:00:00Z") -> None:
    body = {"uscc": uscc, "title": f"办件{ext}", "state": state, "updated_at": at}
    if due:
        body["due_on"] = due
    resp = await client.put(f"/v1/matters/tax/{ext}", json=body,
                            headers={"Authorization": f"ApiKey {key}"})
    assert resp.status_code in (200, 201), resp.text


async def test_page_orders_pending_items_and_computes_reminders(client: httpx.AsyncClient) -> None:
    clock.freeze(dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC))  # 10:00 in Shanghai
    key, uscc, headers = await _setup(
        client, established_on="2015-06-01", last_annual_report_year=2024,
        licences=[
            {"kind": "food", "number": "JY-1", "name": "食品经营许可证", "expires_on": "2026-05-04"},
            {"kind": "env", "number": "PW-1", "name": "排污许可证", "expires_on": "2029-01-01"},
        ],
    )
    await _matter(client, key, uscc, "A1", "in_review", due="2026-05-20")
    await _matter(client, key, uscc, "A2", "needs_supplement", due="2026-04-28")
    await _matter(client, key, uscc, "A3", "approved")

    page = (await client.get(f"/v1/enterprises/{uscc}/page", headers=headers)).json()
    assert [m["external_id"] for m in page["pending"]["action_required"]] == ["A2"]
    assert [m["external_id"] for m in page["pending"]["in_progress"]] == ["A1"]
    assert page["pending"]["in_progress"][0]["state_label"] == "审核中"
    assert page["pending"]["in_progress"][0]["updated_at"] == "2026-05-01T08:00:00Z"

    reminders = {(r["kind"], r["ref"]): r for r in page["reminders"]}
    annual = reminders[("annual_report", "2025")]
    assert (annual["due_on"], annual["days_left"], annual["severity"]) == ("2026-06-30", 60, "info")
    licence = reminders[("licence_expiry", "food:JY-1")]
    assert (licence["days_left"], licence["severity"]) == (3, "critical")
    assert ("licence_expiry", "env:PW-1") not in reminders  # years away: no reminder yet
    overdue = reminders[("matter_due", "tax:A2")]
    assert (overdue["days_left"], overdue["severity"]) == (-3, "overdue")
    assert [r["days_left"] for r in page["reminders"]] == sorted(r["days_left"] for r in page["reminders"])
    assert page["badges"]["action_required"] == 1
    assert page["badges"]["in_progress"] == 1
    assert page["badges"]["reminders_urgent"] == 2
    assert "notices" in page and "policies" in page


async def test_annual_report_overdue_after_june_and_quiet_when_filed(client: httpx.AsyncClient) -> None:
    clock.freeze(dt.datetime(2026, 7, 2, 2, 0, tzinfo=dt.UTC))
    key, uscc, headers = await _setup(client, established_on="2015-06-01",
                                      last_annual_report_year=2024)
    page = (await client.get(f"/v1/enterprises/{uscc}/page", headers=headers)).json()
    [annual] = [r for r in page["reminders"] if r["kind"] == "annual_report"]
    assert annual["severity"] == "overdue"
    assert "经营异常名录" in annual["title"]

    await f.put_enterprise(client, key, uscc, established_on="2015-06-01",
                           last_annual_report_year=2025)
    page = (await client.get(f"/v1/enterprises/{uscc}/page", headers=headers)).json()
    assert not [r for r in page["reminders"] if r["kind"] == "annual_report"]


async def test_etag_gives_304_until_the_page_changes(client: httpx.AsyncClient) -> None:
    key, uscc, headers = await _setup(client)
    first = await client.get(f"/v1/enterprises/{uscc}/page", headers=headers)
    etag = first.headers["etag"]
    assert first.headers["content-type"] == "application/json"
    assert int(first.headers["content-length"]) == len(first.content)
    assert (first.headers["cache-control"], first.headers["vary"]) == ("private, no-cache",
                                                                      "Authorization")
    again = await client.get(f"/v1/enterprises/{uscc}/page",
                             headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag and "content-length" not in again.headers
    await f.put_enterprise(client, key, uscc, name="改名后的公司")
    changed = await client.get(f"/v1/enterprises/{uscc}/page",
                               headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["enterprise"]["name"] == "改名后的公司"
    assert changed.headers["etag"] != etag


async def test_every_write_shows_on_the_next_read(client: httpx.AsyncClient) -> None:
    key, uscc, headers = await _setup(client)
    url = f"/v1/enterprises/{uscc}/page"
    assert (await client.get(url, headers=headers)).json()["badges"]["action_required"] == 0
    await _matter(client, key, uscc, "B1", "needs_supplement")
    assert (await client.get(url, headers=headers)).json()["badges"]["action_required"] == 1
    await _matter(client, key, uscc, "B1", "approved", at="2026-05-02T08:00:00Z")
    assert (await client.get(url, headers=headers)).json()["badges"]["action_required"] == 0
    await f.put_enterprise(client, key, uscc, tags=["专精特新", "高新技术企业"])
    assert (await client.get(url, headers=headers)).json()["enterprise"]["tags"] == [
        "专精特新", "高新技术企业"]


async def test_a_matter_moved_to_another_enterprise_leaves_the_old_page(
    client: httpx.AsyncClient,
) -> None:
    key, uscc, headers = await _setup(client)
    other = f.new_uscc()
    await f.put_enterprise(client, key, other)
    await _matter(client, key, uscc, "C1", "needs_supplement")
    url = f"/v1/enterprises/{uscc}/page"
    assert (await client.get(url, headers=headers)).json()["badges"]["action_required"] == 1
    moved = {"uscc": other, "title": "x", "state": "needs_supplement",
             "updated_at": "2026-06-01T00:00:00Z"}
    await client.put("/v1/matters/tax/C1", json=moved, headers={"Authorization": f"ApiKey {key}"})
    assert (await client.get(url, headers=headers)).json()["badges"]["action_required"] == 0


async def test_unknown_enterprise_and_bad_code(client: httpx.AsyncClient) -> None:
    admin = await f.admin_token(client)
    missing = await client.get(f"/v1/enterprises/{f.new_uscc()}/page", headers=f.bearer(admin))
    assert missing.status_code == 404
    bad = await client.get("/v1/enterprises/not-a-code/page", headers=f.bearer(admin))
    assert bad.status_code == 422
    assert bad.json()["field"] == "uscc"


async def test_concurrent_cold_pages_each_get_their_own_page_and_membership_check(
        client: httpx.AsyncClient) -> None:
    """Cold pages asked for at the same moment share one render (core.batching): each caller
    still gets exactly its enterprise's page, and a non-member in the same batch is refused."""
    key = await f.integration_key("tax")
    names = {f.new_uscc(): f"并发企业{i}" for i in range(4)}
    for uscc, name in names.items():
        assert (await f.put_enterprise(client, key, uscc, name=name)).status_code == 201
    ents = list(names)
    members = [await f.person_with_token(client, f"1360000010{i}", [(uscc, "staff")])
               for i, uscc in enumerate(ents)]
    outsider = members[0][1]["access_token"]  # a member of ents[0] only

    async def page(uscc: str, token: str) -> httpx.Response:
        return await client.get(f"/v1/enterprises/{uscc}/page", headers=f.bearer(token))

    asks = [(uscc, tokens["access_token"]) for uscc, (_, tokens) in zip(ents, members,
                                                                        strict=True)]
    asks += [(ents[1], outsider), (ents[2], outsider), (ents[0], members[3][1]["access_token"])]
    answers = await asyncio.gather(*(page(uscc, token) for uscc, token in asks))
    for (uscc, _), answer in zip(asks[:4], answers[:4], strict=True):
        assert answer.status_code == 200, answer.text
        assert answer.json()["enterprise"]["uscc"] == uscc
        assert answer.json()["enterprise"]["name"] == names[uscc]
    assert [a.status_code for a in answers[4:]] == [403, 403, 403]
    missing = await page(f.new_uscc(), outsider)
    assert missing.status_code == 403  # not a member of what does not exist either


async def test_first_views_in_one_batch_take_pages_from_redis_and_render_the_rest(
        client: httpx.AsyncClient) -> None:
    """In a process that has not served them yet (layer 1 empty), concurrent first views share
    one step: a page another process rendered comes from Redis as it was kept there (not
    rendered again), this person's membership is still checked, an outsider already known
    there is refused, and the pages nobody rendered yet are rendered in the same batch."""
    key = await f.integration_key("tax")
    kept_uscc, cold_uscc = f.new_uscc(), f.new_uscc()
    for uscc, name in ((kept_uscc, "缓存企业"), (cold_uscc, "首次企业")):
        assert (await f.put_enterprise(client, key, uscc, name=name)).status_code == 201
    _, member = await f.person_with_token(client, "13600000201", [(kept_uscc, "staff")])
    _, second = await f.person_with_token(client, "13600000202", [(kept_uscc, "staff")])
    _, cold_member = await f.person_with_token(client, "13600000203", [(cold_uscc, "admin")])
    _, outsider = await f.person_with_token(client, "13600000204", [(cold_uscc, "staff")])

    async def page(uscc: str, tokens: dict[str, str]) -> httpx.Response:
        return await client.get(f"/v1/enterprises/{uscc}/page",
                                headers=f.bearer(tokens["access_token"]))

    assert (await page(kept_uscc, member)).status_code == 200  # rendered, kept in Redis
    cache = get_page_cache()
    await cache.written()
    # A change behind the cache's back (no invalidation): a render would show it, Redis not.
    await Enterprise.filter(uscc=kept_uscc).update(name="未经失效的改名")
    cache.local.clear()  # as another process would start
    assert (await page(kept_uscc, outsider)).status_code == 403  # checked, and remembered
    cache.local.clear()

    answers = await asyncio.gather(page(kept_uscc, second), page(cold_uscc, cold_member),
                                   page(kept_uscc, outsider), page(kept_uscc, member))
    assert [a.status_code for a in answers] == [200, 200, 403, 200]
    assert answers[0].json()["enterprise"]["name"] == "缓存企业"  # from Redis
    assert answers[0].content == answers[3].content
    assert answers[1].json()["enterprise"]["name"] == "首次企业"  # rendered
