"""The page answered before the router (api.page_shortcut): the route's own answers and errors,
the cached page only for a verified member, and never after a revocation or a write."""

from __future__ import annotations

import httpx
import orjson
from starlette.types import Message, Receive, Scope, Send

from api.page_shortcut import PageRouteShortcut, _cached_answer
from tests import factories as f

_SAME_HEADERS = ("etag", "cache-control", "vary", "content-type", "content-length")


async def _member(client: httpx.AsyncClient, phone: str,
                  key: str | None = None) -> tuple[str, str, int, str]:
    key = key or await f.integration_key("tax")
    uscc = f.new_uscc()
    assert (await f.put_enterprise(client, key, uscc)).status_code == 201
    person_id, tokens = await f.person_with_token(client, phone, [(uscc, "staff")])
    return key, uscc, person_id, tokens["access_token"]


class Downstream:
    """Stands in for the rest of the application: records whether a request reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _from_cache(uscc: str, token: str) -> bool:
    """Whether the shortcut's cache alone answers (no token check, no render)."""
    scope: Scope = {"type": "http", "method": "GET", "query_string": b"",
                    "headers": [(b"authorization", f"Bearer {token}".encode())]}
    return _cached_answer(scope, uscc) is not None


async def _through_shortcut(path: str, token: str, *,
                            extra: list[tuple[bytes, bytes]] | None = None
                            ) -> tuple[int, dict[bytes, bytes], bytes, Downstream]:
    downstream = Downstream()
    scope: Scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
                    "headers": [(b"authorization", f"Bearer {token}".encode()), *(extra or [])]}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await PageRouteShortcut(downstream)(scope, receive, send)
    return (sent[0]["status"], dict(sent[0]["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]), downstream)


async def test_a_members_repeat_view_is_the_routes_own_answer(client: httpx.AsyncClient) -> None:
    _, uscc, _, token = await _member(client, "13600000201")
    path = f"/v1/enterprises/{uscc}/page"
    first = await client.get(path, headers=f.bearer(token))  # the route: cold render
    assert first.status_code == 200
    assert _from_cache(uscc, token)
    status, headers, body, downstream = await _through_shortcut(path, token)
    assert downstream.calls == 0 and status == 200 and body == first.content
    for name in _SAME_HEADERS:
        assert headers[name.encode()].decode() == first.headers[name], name
    status, headers, body, _ = await _through_shortcut(
        path, token, extra=[(b"if-none-match", first.headers["etag"].encode())])
    assert status == 304 and body == b"" and headers[b"etag"].decode() == first.headers["etag"]
    # Through the whole application the request id is still added.
    again = await client.get(path, headers=f.bearer(token))
    assert again.content == first.content and again.headers["x-request-id"]


async def test_a_revoked_member_is_refused_and_a_write_shows_at_once(
        client: httpx.AsyncClient) -> None:
    key, uscc, person_id, token = await _member(client, "13600000202")
    path = f"/v1/enterprises/{uscc}/page"
    for _ in range(2):
        assert (await client.get(path, headers=f.bearer(token))).status_code == 200
    assert _from_cache(uscc, token)
    changed = await f.put_enterprise(client, key, uscc, name="改名后的企业")
    assert changed.status_code == 200
    assert not _from_cache(uscc, token)  # the write dropped it
    status, _, body, _ = await _through_shortcut(path, token)
    assert status == 200 and orjson.loads(body)["enterprise"]["name"] == "改名后的企业"
    assert _from_cache(uscc, token)
    admin = await f.admin_token(client)
    revoked = await client.delete(f"/v1/admin/people/{person_id}/memberships/{uscc}",
                                  headers=f.bearer(admin))
    assert revoked.status_code in (200, 204)
    assert not _from_cache(uscc, token)
    assert (await _through_shortcut(path, token))[0] == 403
    assert (await client.get(path, headers=f.bearer(token))).status_code == 403


async def test_other_page_requests_get_the_routes_answers_and_errors(
        client: httpx.AsyncClient) -> None:
    key, uscc, _, token = await _member(client, "13600000203")
    _, other, _, _ = await _member(client, "13600000204", key)
    path = f"/v1/enterprises/{uscc}/page"
    assert (await client.get(path, headers=f.bearer(token))).status_code == 200
    admin = await f.admin_token(client)
    for request_path, bearer, status, problem_field in [
        (f"/v1/enterprises/{other}/page", token, 403, None),  # not a member
        ("/v1/enterprises/not-a-code/page", token, 422, "uscc"),
        (path, token + "x", 401, None),  # a token that does not verify
        (path, admin, 200, None),  # administrators read every page
    ]:
        got, headers, body, downstream = await _through_shortcut(request_path, bearer)
        assert (got, downstream.calls) == (status, 0), request_path
        if status != 200:
            assert headers[b"content-type"] == b"application/problem+json"
            assert orjson.loads(body).get("field") == problem_field
        routed = await client.get(request_path, headers=f.bearer(bearer))
        assert routed.status_code == status
    # Not the page route's path: the router decides (here: no such route).
    assert (await _through_shortcut(f"/v1/enterprises/{uscc}/x/page", token))[3].calls == 1
    assert (await client.get(f"/v1/enterprises/{uscc}/x/page",
                             headers=f.bearer(token))).status_code == 404
