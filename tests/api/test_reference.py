"""Public reference data for the console (industry tree, option lists), the console page and its
static files, and the console's body-preview endpoint."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import httpx

from notices.models import NOTICE_KINDS, PRIORITIES
from notices.policy_schemas import category_names
from profiles.models import CREDIT_LEVELS, SIZES, STATUSES, ZONES
from profiles.standards.industry import VERSION, industry_table
from tests import factories as f
from tests.notices.helpers import next_phone, operator_token

STATIC = Path(__file__).resolve().parents[2] / "api" / "static" / "console"


def _walk(nodes: list[dict[str, Any]], depth: int = 1) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in nodes:
        counts[depth] = counts.get(depth, 0) + 1
        assert node["code"].startswith(node["code"][0]) and node["name"]
        for child in node["children"]:
            assert child["code"].startswith(node["code"]), (node["code"], child["code"])
        for level, n in _walk(node["children"], depth + 1).items():
            counts[level] = counts.get(level, 0) + n
    return counts


async def test_industries_is_the_gbt4754_tree(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/reference/industries", headers={"accept-encoding": "identity"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["version"] == VERSION
    assert body["counts"]["section"] == 20 and body["counts"]["division"] == 97
    assert body["counts"]["group"] == 473 and 1300 < body["counts"]["class"] < 1450
    assert _walk(body["items"]) == {1: 20, 2: 97, 3: 473, 4: body["counts"]["class"]}
    assert [s["code"] for s in body["items"]][:3] == ["A", "B", "C"]
    c = next(s for s in body["items"] if s["code"] == "C")
    c39 = next(d for d in c["children"] if d["code"] == "C39")
    assert c39["name"] == industry_table().label("C39").split(" ", 1)[1]
    assert any(g["code"] == "C391" for g in c39["children"])


async def test_industries_cache_validators_and_gzip(client: httpx.AsyncClient) -> None:
    plain = await client.get("/v1/reference/industries", headers={"accept-encoding": "identity"})
    etag = plain.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert plain.headers["cache-control"] == "public, max-age=86400"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in plain.headers

    zipped = await client.get("/v1/reference/industries", headers={"accept-encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] == etag[:-1] + '-gz"'  # different bytes, different validator
    assert len(zipped.content) == len(plain.content)  # httpx decoded it
    assert json.loads(gzip.decompress(await _raw(client, "/v1/reference/industries"))) == plain.json()

    for sent in (etag, f"W/{etag}", zipped.headers["etag"], f'"other", {etag}', "*"):
        again = await client.get("/v1/reference/industries", headers={"if-none-match": sent})
        assert again.status_code == 304, sent
        assert again.content == b"" and again.headers["etag"]
    changed = await client.get("/v1/reference/industries", headers={"if-none-match": '"old"'})
    assert changed.status_code == 200

    refused = await client.get("/v1/reference/industries", headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def _raw(client: httpx.AsyncClient, path: str) -> bytes:
    request = client.build_request("GET", path, headers={"accept-encoding": "gzip"})
    response = await client.send(request, stream=True)
    try:
        return b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()


async def test_options_lists_every_choice_with_both_scripts(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/reference/options")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "public, max-age=3600"
    body = resp.json()
    assert [z["code"] for z in body["zones"]] == list(ZONES)
    zones = {z["code"]: z for z in body["zones"]}
    assert zones["nansha"]["name"] == "南沙" and zones["hengqin"]["name_hant"] == "橫琴"
    assert [s["code"] for s in body["sizes"]] == list(SIZES)
    assert [s["code"] for s in body["statuses"]] == list(STATUSES)
    assert [c["code"] for c in body["credit_levels"]] == list(CREDIT_LEVELS)
    assert [k["code"] for k in body["notice_kinds"]] == list(NOTICE_KINDS)
    assert [p["code"] for p in body["priorities"]] == list(PRIORITIES)
    assert [c["name"] for c in body["policy_categories"]] == list(category_names())
    tags = [t["name"] for t in body["tags"]]
    assert "高新技术企业" in tags and "专精特新" in tags
    for group in ("zones", "sizes", "statuses", "credit_levels", "tags", "notice_kinds",
                  "priorities", "policy_categories"):
        assert all(item["name"] and item["name_hant"] for item in body[group]), group
    assert body["rule_limits"]["max_uscc_items"] == 10_000
    assert body["timezone"] == "Asia/Shanghai"
    again = await client.get("/v1/reference/options",
                             headers={"if-none-match": resp.headers["etag"]})
    assert again.status_code == 304


async def test_reference_needs_no_login_and_is_in_openapi(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "/v1/reference/industries" in doc["paths"] and "/v1/reference/options" in doc["paths"]
    assert "/v1/console/render" in doc["paths"]


async def test_console_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    for path in ("/console", "/console/"):
        resp = await client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/html")
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["x-content-type-options"] == "nosniff"
        html = resp.text
        assert '<script type="module" src="/console/static/js/main.js">' in html
        assert "<script>" not in html and " style=" not in html  # nothing inline: CSP holds
    script = await client.get("/console/static/js/main.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["content-security-policy"] and script.headers["etag"]
    assert (await client.get("/console/static/js/missing.js")).status_code == 404
    assert (await client.get("/console/static/../../routes/console.py")).status_code == 404


def test_console_sources_carry_no_secret_and_resolve_their_imports() -> None:
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {"index.html", "console.css", "main.js", "api.js"} <= {p.name for p in files}
    jwt = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "demo-password" not in text and "PRIVATE KEY" not in text, path
        assert not jwt.search(text), path
        if path.suffix == ".js":
            # No code path writes markup from strings except through the sanitizer.
            assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write",
                             text), path
            assert "eval(" not in text and "new Function" not in text, path
            for target in re.findall(r"from '(\./[^']+)'", text):
                assert (path.parent / target).exists(), (path, target)
    hant = (STATIC / "data" / "industry-names-hant.json").read_text(encoding="utf-8")
    names = json.loads(hant)["names"]
    assert names["C"] == "製造業" and all(code in industry_table() for code in names)


async def test_render_preview_sanitizes_like_publishing(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/console/render", json={"body": "x"})).status_code == 401
    _, staff = await f.person_with_token(client, next_phone(), [])
    denied = await client.post("/v1/console/render", json={"body": "x"},
                               headers=f.bearer(staff["access_token"]))
    assert denied.status_code == 403
    _, token = await operator_token(client, "render-publisher")
    body = ("# 标题\n\n**加粗** [链接](https://www.gov.cn/) <img src=x onerror=alert(1)>"
            "<script>alert(1)</script>")
    resp = await client.post("/v1/console/render", json={"body": body}, headers=f.bearer(token))
    assert resp.status_code == 200
    html = resp.json()["html"]
    assert "<h1>标题</h1>" in html and "<strong>加粗</strong>" in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<img" not in html and "<script" not in html and "onerror" not in html
    assert resp.json()["excerpt"].startswith("标题")
    assert resp.headers["cache-control"] == "no-store"

    as_html = await client.post("/v1/console/render", headers=f.bearer(token), json={
        "body": '<p onclick="x()">段落</p><a href="javascript:alert(1)">坏链接</a>',
        "body_format": "html"})
    assert as_html.json()["html"] == "<p>段落</p><a rel=\"noopener noreferrer nofollow\">坏链接</a>"

    bad = await client.post("/v1/console/render", headers=f.bearer(token),
                            json={"body": "x", "body_format": "docx", "extra": 1})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body_format", "extra"}
    too_long = await client.post("/v1/console/render", headers=f.bearer(token),
                                 json={"body": "长" * 20_001})
    assert too_long.status_code == 422 and too_long.json()["field"] == "body"
