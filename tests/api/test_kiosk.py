"""Kiosks over the API: registration, kiosk login, the one-time QR hand-off, kiosk sessions
(read-only, one enterprise, short, revocable) and the kiosk page's headers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from core.settings import reset_settings_cache
from core.tokens import get_tokens, hash_opaque_token
from profiles.kiosk_models import Kiosk
from tests.notices.helpers import World, make_world
from tests.push.test_stream import stream_env

# ----------------------------------------------------------------------------- helpers


async def register_kiosk(client: httpx.AsyncClient, admin: str, *, name: str = "南沙政务服务中心 1号机",
                         location: str = "南沙区政务服务中心一楼大厅") -> dict[str, Any]:
    resp = await client.post("/v1/admin/kiosks", json={"name": name, "location": location},
                             headers={"Authorization": f"Bearer {admin}"})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def kiosk_token(client: httpx.AsyncClient, credential: str) -> str:
    resp = await client.post("/v1/kiosk/login", json={"credential": credential})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def new_handoff(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    resp = await client.post("/v1/kiosk/handoffs", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def kiosk_session(client: httpx.AsyncClient, w: World, label: str, *,
                        kiosk: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole hand-off: a kiosk shows a QR code, the enterprise's staff approve it, the
    kiosk's poll returns the session."""
    kiosk = kiosk or await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    handoff = await new_handoff(client, token)
    resp = await client.post(f"/v1/kiosk/handoffs/{handoff['nonce']}/approve",
                             json={"uscc": w.enterprises[label]}, headers=w.h(w.staff[label]))
    assert resp.status_code == 200, resp.text
    resp = await client.get(f"/v1/kiosk/handoffs/{handoff['nonce']}", headers=w.h(token))
    assert resp.status_code == 200 and resp.json()["status"] == "approved", resp.text
    body: dict[str, Any] = resp.json()
    return body


# ----------------------------------------------------------------------------- registration


async def test_register_shows_the_credential_once_and_keeps_only_its_hash(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    kiosk = await register_kiosk(client, w.admin)
    assert re.fullmatch(r"kk_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", kiosk["credential"])
    row = await Kiosk.get(id=kiosk["id"])
    assert row.credential_hash == hash_opaque_token(kiosk["credential"])
    assert kiosk["credential"] not in str(await Kiosk.all().values())
    listed = await client.get("/v1/admin/kiosks", headers=w.h(w.admin))
    assert listed.status_code == 200
    assert "credential" not in listed.text and listed.json()["items"][0]["name"] == kiosk["name"]
    # Publishers are not administrators; unknown fields are refused.
    resp = await client.post("/v1/admin/kiosks", json={"name": "x", "location": "y"},
                             headers=w.h(w.publisher))
    assert resp.status_code == 403
    resp = await client.post("/v1/admin/kiosks", json={"name": "x", "location": "y", "k": 1},
                             headers=w.h(w.admin))
    assert resp.status_code == 422 and resp.json()["field"] == "k"


async def test_kiosk_login_checks_the_credential_and_the_active_flag(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    kiosk = await register_kiosk(client, w.admin)
    wrong = kiosk["credential"][:-4] + "AAAA"
    for credential in (wrong, "garbage"):
        resp = await client.post("/v1/kiosk/login", json={"credential": credential})
        assert resp.status_code == 401 and resp.json()["field"] == "credential"
    token = await kiosk_token(client, kiosk["credential"])
    claims = get_tokens().verify(token)
    assert (claims["pt"], claims["sub"]) == ("kiosk", f"kiosk:{kiosk['id']}")
    resp = await client.post(f"/v1/admin/kiosks/{kiosk['id']}/deactivate", headers=w.h(w.admin))
    assert resp.status_code == 200 and resp.json()["active"] is False
    resp = await client.post("/v1/kiosk/login", json={"credential": kiosk["credential"]})
    assert resp.status_code == 401
    # A token issued before deactivation can no longer start a hand-off.
    resp = await client.post("/v1/kiosk/handoffs", headers=w.h(token))
    assert resp.status_code == 401


# ----------------------------------------------------------------------------- hand-off


async def test_handoff_is_single_use_and_only_for_members(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    handoff = await new_handoff(client, token)
    assert handoff["qr_text"] == f"entpage://kiosk/handoff/{handoff['nonce']}"
    assert handoff["qr_svg"].startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in \
        handoff["qr_svg"]
    assert 0 < handoff["expires_in"] <= 120
    nonce = handoff["nonce"]
    resp = await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=w.h(token))
    assert resp.json()["status"] == "pending"
    approve = f"/v1/kiosk/handoffs/{nonce}/approve"
    # Staff of another enterprise, a publisher, and the kiosk itself cannot approve it.
    resp = await client.post(approve, json={"uscc": w.enterprises["南沙甲"]},
                             headers=w.h(w.staff["前海丙"]))
    assert resp.status_code == 403
    for other in (w.publisher, token):
        resp = await client.post(approve, json={"uscc": w.enterprises["南沙甲"]},
                                 headers=w.h(other))
        assert resp.status_code == 403
    resp = await client.post(approve, json={"uscc": "91350100M00010"},
                             headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 422 and resp.json()["field"] == "uscc"
    # Two members racing: exactly one approval consumes the nonce.
    results = await asyncio.gather(*(
        client.post(approve, json={"uscc": w.enterprises["南沙甲"]},
                    headers=w.h(w.staff["南沙甲"])) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    ok = next(r for r in results if r.status_code == 200).json()
    assert ok["kiosk"] == {"id": kiosk["id"], "name": kiosk["name"],
                           "location": kiosk["location"]}
    # Another kiosk cannot claim it; this kiosk claims it once.
    other = await kiosk_token(client, (await register_kiosk(client, w.admin, name="2号机"))[
        "credential"])
    assert (await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=w.h(other))).status_code \
        == 404
    claimed = (await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=w.h(token))).json()
    assert claimed["status"] == "approved" and claimed["uscc"] == w.enterprises["南沙甲"]
    assert claimed["enterprise"]["name"] == "南沙甲有限公司"
    claims = get_tokens().verify(claimed["access_token"])
    assert claims["pt"] == "kiosk_session" and claims["ent"] == w.enterprises["南沙甲"]
    assert claims["kiosk"] == kiosk["id"] and claims["exp"] - claims["iat"] <= 300
    resp = await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=w.h(token))
    assert resp.status_code == 404


async def test_handoff_expires(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    with stream_env(kiosk_handoff_ttl="1"):
        handoff = await new_handoff(client, token)
    assert handoff["expires_in"] == 1
    await asyncio.sleep(1.3)
    resp = await client.post(f"/v1/kiosk/handoffs/{handoff['nonce']}/approve",
                             json={"uscc": w.enterprises["南沙甲"]}, headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 404 and resp.json()["field"] == "nonce"


# ----------------------------------------------------------------------------- sessions


async def test_session_reads_only_its_enterprise_and_never_writes(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published(title="请核对年报信息")
    session = await kiosk_session(client, w, "南沙甲")
    headers = w.h(session["access_token"])
    mine, other = w.enterprises["南沙甲"], w.enterprises["南沙乙"]
    assert (await client.get(f"/v1/enterprises/{mine}/page", headers=headers)).status_code == 200
    inbox = await client.get(f"/v1/enterprises/{mine}/notices", headers=headers)
    assert inbox.status_code == 200 and inbox.json()["items"][0]["id"] == notice["id"]
    for path in (f"/v1/enterprises/{other}/page", f"/v1/enterprises/{other}/notices",
                 "/v1/notices", "/v1/admin/kiosks"):
        assert (await client.get(path, headers=headers)).status_code == 403, path
    for action in ("read", "ack", "archive"):
        resp = await client.post(f"/v1/enterprises/{mine}/notices/{notice['id']}/{action}",
                                 headers=headers)
        assert resp.status_code == 403, action
    # Nothing was marked read by the attempts.
    assert (await w.inbox("南沙甲"))["unread"] == 1


async def test_every_write_endpoint_refuses_a_kiosk_session(client: httpx.AsyncClient) -> None:
    """Walks the app's routes, so a write endpoint added later is covered too."""
    from api.app import all_routes

    w = await make_world(client)
    session = await kiosk_session(client, w, "南沙甲")
    headers = w.h(session["access_token"])
    params = {"uscc": w.enterprises["南沙甲"], "notice_id": "1", "policy_id": "1",
              "publisher_id": "1", "person_id": "1", "kiosk_id": "1", "nonce": "x" * 32,
              "source_system": "samr", "external_id": "1", "device_id": "1", "id": "1"}
    checked = 0
    for route in all_routes():
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
            if route.path in ("/v1/kiosk/session/extend", "/v1/kiosk/session/end"):
                continue
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: params.get(m.group(1), "1"), route.path)
            resp = await client.request(method, path, json={}, headers=headers)
            assert not 200 <= resp.status_code < 300, (method, path, resp.status_code)
            assert resp.status_code < 500, (method, path, resp.text)
            if resp.status_code != 422:  # a login-style call that never asks who is calling
                assert resp.status_code in (401, 403, 404), (method, path, resp.status_code)
            checked += 1
    assert checked >= 20
    # And the session still works for reading afterwards.
    resp = await client.get(f"/v1/enterprises/{w.enterprises['南沙甲']}/page", headers=headers)
    assert resp.status_code == 200


async def test_extend_replaces_the_token_and_end_revokes_it(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    session = await kiosk_session(client, w, "南沙甲")
    page = f"/v1/enterprises/{w.enterprises['南沙甲']}/page"
    first = session["access_token"]
    resp = await client.post("/v1/kiosk/session/extend", headers=w.h(first))
    assert resp.status_code == 200, resp.text
    second = resp.json()["access_token"]
    assert second != first
    c1, c2 = get_tokens().verify(first), get_tokens().verify(second)
    assert c1["sid"] == c2["sid"] and c1["sst"] == c2["sst"] and c1["jti"] != c2["jti"]
    assert (await client.get(page, headers=w.h(first))).status_code == 401
    assert (await client.get(page, headers=w.h(second))).status_code == 200
    # Only kiosk sessions extend or end sessions.
    for call in ("extend", "end"):
        resp = await client.post(f"/v1/kiosk/session/{call}", headers=w.h(w.staff["南沙甲"]))
        assert resp.status_code == 403
    resp = await client.post("/v1/kiosk/session/end", headers=w.h(second))
    assert resp.status_code == 204
    assert (await client.get(page, headers=w.h(second))).status_code == 401
    assert (await client.post("/v1/kiosk/session/extend", headers=w.h(second))).status_code \
        == 401


async def test_session_is_short_and_has_an_absolute_maximum(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    with stream_env(kiosk_session_ttl="2", kiosk_session_max="4"):
        session = await kiosk_session(client, w, "南沙甲")
        assert session["expires_in"] == 2
        token = session["access_token"]
        # Inactivity: nobody touched the screen, the token lapses (5 s verification leeway).
        await asyncio.sleep(1.0)
        resp = await client.post("/v1/kiosk/session/extend", headers=w.h(token))
        assert resp.status_code == 200
        token = resp.json()["access_token"]
        assert resp.json()["expires_in"] <= 3
        await asyncio.sleep(2.5)
        # Past the maximum, touching the screen no longer extends.
        resp = await client.post("/v1/kiosk/session/extend", headers=w.h(token))
        assert resp.status_code == 401
    lapsed = await kiosk_session(client, w, "南沙乙")
    with stream_env(kiosk_session_ttl="1"):
        short = await kiosk_session(client, w, "南沙乙")
    await asyncio.sleep(7.0)  # TTL + the tokens' 5 s leeway
    resp = await client.get(f"/v1/enterprises/{w.enterprises['南沙乙']}/page",
                            headers=w.h(short["access_token"]))
    assert resp.status_code == 401
    resp = await client.get(f"/v1/enterprises/{w.enterprises['南沙乙']}/page",
                            headers=w.h(lapsed["access_token"]))
    assert resp.status_code == 200


# ----------------------------------------------------------------------------- audit


@contextlib.asynccontextmanager
async def audit_log_unwritable() -> AsyncIterator[None]:
    """The database refuses every audit row: the table is renamed away, then back."""
    from core.db import conn

    await conn().execute_script("ALTER TABLE audit_log RENAME TO audit_log_away")
    try:
        yield
    finally:
        await conn().execute_script("ALTER TABLE audit_log_away RENAME TO audit_log")


async def kiosk_audit(client: httpx.AsyncClient, w: World, **params: str) -> list[dict[str, Any]]:
    resp = await client.get("/v1/audit", params={"action": "kiosk.", **params},
                            headers=w.h(w.admin))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def test_the_handoff_and_the_session_start_are_audited_with_origin(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTPAGE_TRUSTED_PROXIES", "127.0.0.1/32")
    reset_settings_cache()  # settings are read once; this test changes them
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    nonce = (await new_handoff(client, token))["nonce"]
    at_kiosk = {**w.h(token), "X-Forwarded-For": "10.20.0.7", "User-Agent": "kiosk/2.0"}
    assert (await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=at_kiosk)).json()[
        "status"] == "pending"
    uscc = w.enterprises["南沙甲"]
    resp = await client.post(f"/v1/kiosk/handoffs/{nonce}/approve", json={"uscc": uscc},
                             headers={**w.h(w.staff["南沙甲"]), "X-Forwarded-For": "203.0.113.9",
                                      "User-Agent": "entpage-app/3.2", "X-Request-ID": "rq-1"})
    assert resp.status_code == 200, resp.text
    claimed = (await client.get(f"/v1/kiosk/handoffs/{nonce}", headers=at_kiosk)).json()
    sid = get_tokens().verify(claimed["access_token"])["sid"]

    # Admins read the enterprise's trail: who approved which kiosk, when and from where, then
    # the kiosk's session start. Polls that found nothing approved left no entries.
    started, approved = await kiosk_audit(client, w, object_type="enterprise", object_id=uscc)
    where = {"kiosk_id": kiosk["id"], "kiosk_name": kiosk["name"],
             "kiosk_location": kiosk["location"]}
    assert approved["action"] == "kiosk.handoff_approved"
    assert approved["actor"] == f"person:{w.staff_ids['南沙甲']}"
    assert approved["summary"] == where and approved["at"]
    assert (approved["ip"], approved["user_agent"], approved["request_id"]) == (
        "203.0.113.9", "entpage-app/3.2", "rq-1")
    assert started["action"] == "kiosk.session_started"
    assert started["actor"] == f"kiosk:{kiosk['id']}"
    assert (started["ip"], started["user_agent"]) == ("10.20.0.7", "kiosk/2.0")
    assert started["summary"]["approved_by"] == approved["actor"]
    assert started["summary"]["session"] == sid and started["summary"]["session_max_until"]
    assert {**started["summary"], **where} == started["summary"]
    # The kiosk's own trail, and only admins read the log.
    assert [e["id"] for e in await kiosk_audit(client, w, actor=f"kiosk:{kiosk['id']}")] == [
        started["id"]]
    assert (await client.get("/v1/audit", headers=w.h(w.publisher))).status_code == 403
    assert (await client.get("/v1/audit", headers=w.h(w.staff["南沙甲"]))).status_code == 403


async def test_a_refused_approval_is_never_recorded_as_approved(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    nonce = (await new_handoff(client, token))["nonce"]
    approve = f"/v1/kiosk/handoffs/{nonce}/approve"
    uscc = w.enterprises["南沙甲"]
    # Someone who is not a member tries to put the enterprise's page on the kiosk: refused,
    # and that attempt is on the record (a routine stale code is not, see below).
    resp = await client.post(approve, json={"uscc": uscc}, headers=w.h(w.staff["前海丙"]))
    assert resp.status_code == 403
    [refused] = await kiosk_audit(client, w)
    assert (refused["action"], refused["actor"], refused["object_id"]) == (
        "kiosk.handoff_refused", f"person:{w.staff_ids['前海丙']}", uscc)
    assert refused["summary"] == {"reason": "not_a_member", "kiosk_id": kiosk["id"]}
    # Members racing: one approval, one entry; the losers' 409s write nothing.
    results = await asyncio.gather(*(
        client.post(approve, json={"uscc": uscc}, headers=w.h(w.staff["南沙甲"]))
        for _ in range(4)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    actions = [e["action"] for e in await kiosk_audit(client, w)]
    assert actions == ["kiosk.handoff_approved", "kiosk.handoff_refused"]
    # An expired code approves nothing and records nothing.
    with stream_env(kiosk_handoff_ttl="1"):
        stale = (await new_handoff(client, token))["nonce"]
    await asyncio.sleep(1.3)
    resp = await client.post(f"/v1/kiosk/handoffs/{stale}/approve", json={"uscc": uscc},
                             headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 404
    assert len(await kiosk_audit(client, w)) == 2


async def test_without_its_audit_entry_no_handoff_is_approved_and_no_session_starts(
        client: httpx.AsyncClient) -> None:
    """The database refuses the audit row (`audit_log_unwritable`)."""
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    nonce = (await new_handoff(client, token))["nonce"]
    approve, poll = f"/v1/kiosk/handoffs/{nonce}/approve", f"/v1/kiosk/handoffs/{nonce}"
    body, member = {"uscc": w.enterprises["南沙甲"]}, w.h(w.staff["南沙甲"])
    async with audit_log_unwritable():
        with pytest.raises(Exception, match="audit_log"):
            await client.post(approve, json=body, headers=member)
        # Not approved: the kiosk still waits, and the same code can be approved again.
        assert (await client.get(poll, headers=w.h(token))).json()["status"] == "pending"
    assert (await client.post(approve, json=body, headers=member)).status_code == 200
    async with audit_log_unwritable():
        with pytest.raises(Exception, match="audit_log"):
            await client.get(poll, headers=w.h(token))
    # The claim used the code up without a session; nothing says a session started.
    assert (await client.get(poll, headers=w.h(token))).status_code == 404
    assert [e["action"] for e in await kiosk_audit(client, w)] == ["kiosk.handoff_approved"]


async def test_ending_a_session_is_recorded_and_ends_it_even_if_the_log_cannot_be_written(
        client: httpx.AsyncClient) -> None:
    """完成 must take the page off the screen whatever happens to the audit log."""
    w = await make_world(client)
    uscc = w.enterprises["南沙甲"]
    page = f"/v1/enterprises/{uscc}/page"
    first = (await kiosk_session(client, w, "南沙甲"))["access_token"]
    claims = get_tokens().verify(first)
    assert (await client.post("/v1/kiosk/session/end", headers=w.h(first))).status_code == 204
    ended, started, _ = await kiosk_audit(client, w, object_type="enterprise", object_id=uscc)
    assert ended["action"] == "kiosk.session_ended"
    assert ended["actor"] == f"kiosk:{claims['kiosk']}"
    assert ended["summary"]["session"] == claims["sid"] == started["summary"]["session"]
    assert ended["summary"]["kiosk_id"] == claims["kiosk"] and ended["summary"]["session_started"]

    second = (await kiosk_session(client, w, "南沙甲"))["access_token"]
    async with audit_log_unwritable():
        resp = await client.post("/v1/kiosk/session/end", headers=w.h(second))
    assert resp.status_code == 204
    assert (await client.get(page, headers=w.h(second))).status_code == 401


async def test_a_refusal_stays_a_403_when_it_cannot_be_recorded(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    kiosk = await register_kiosk(client, w.admin)
    token = await kiosk_token(client, kiosk["credential"])
    nonce = (await new_handoff(client, token))["nonce"]
    async with audit_log_unwritable():
        resp = await client.post(f"/v1/kiosk/handoffs/{nonce}/approve",
                                 json={"uscc": w.enterprises["南沙甲"]},
                                 headers=w.h(w.staff["前海丙"]))
    assert resp.status_code == 403
    assert resp.json()["type"] == "/problems/forbidden"


# ----------------------------------------------------------------------------- the page


@pytest.mark.parametrize("path", ["/kiosk/", "/kiosk/kiosk.js", "/kiosk/kiosk.css"])
async def test_kiosk_page_is_served_with_strict_headers(client: httpx.AsyncClient,
                                                       path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["x-frame-options"] == "DENY"
    # No secret in the page's source: no credential, no token.
    assert not re.search(r"kk_[0-9a-f]{8}_|eyJ[A-Za-z0-9_-]{10,}\.", resp.text)
