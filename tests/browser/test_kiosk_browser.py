"""The kiosk page in real headless Chromium at 1080×1920: first-start setup, the idle QR
hand-off, the enterprise page, a live notice over the stream, the 繁體 switch, 完成 (the token
is revoked), and auto-logout after inactivity. Screenshots go to ENTPAGE_TEST_ARTIFACTS."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from profiles.kiosks import qr_svg
from push import stream
from tests.api.test_kiosk import register_kiosk
from tests.notices.helpers import World, make_world
from tests.push.test_stream import live_server, stream_env

VIEWPORT = {"width": 1080, "height": 1920}


@pytest.fixture
async def kiosk_server(db: None, settings: Settings) -> AsyncIterator[str]:
    with stream_env(stream_heartbeat_s="2"):
        async with live_server(settings) as url:
            yield url


class Kiosk:
    """One kiosk page in Chromium, with what it logged and requested."""

    def __init__(self, page: Any, base_url: str, shots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.shots = shots
        self.errors: list[str] = []
        self.tokens: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._remember_token)

    def _remember_token(self, request: Any) -> None:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer ") and "/page" in request.url:
            self.tokens.append(auth.removeprefix("Bearer "))

    async def shot(self, name: str) -> Path:
        path = self.shots / f"kiosk-{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        return path

    async def text(self, selector: str) -> str:
        return str(await self.page.locator(selector).inner_text())

    async def idle_nonce(self) -> str:
        """What the app's scanner would read: checked against the QR image itself."""
        qr = self.page.locator("#qr")
        await qr.wait_for(state="visible")
        await self.page.wait_for_function(
            "() => (document.getElementById('qr').getAttribute('src') || '')"
            ".startsWith('data:image/svg+xml')")
        nonce = str(await qr.get_attribute("data-nonce"))
        src = str(await qr.get_attribute("src"))
        svg = urllib.parse.unquote(src.split(",", 1)[1])
        assert svg == qr_svg(f"entpage://kiosk/handoff/{nonce}"), "the QR does not carry the nonce"
        assert await self.page.evaluate("document.getElementById('qr').naturalWidth") > 0
        return nonce


async def approve(client: httpx.AsyncClient, w: World, nonce: str, label: str) -> None:
    resp = await client.post(f"/v1/kiosk/handoffs/{nonce}/approve",
                             json={"uscc": w.enterprises[label]}, headers=w.h(w.staff[label]))
    assert resp.status_code == 200, resp.text


async def test_kiosk_hand_off_page_live_update_finish_and_auto_logout(
        client: httpx.AsyncClient, kiosk_server: str, browser: Any,
        artifacts_dir: Path) -> None:
    w = await make_world(client)
    await w.published(title="关于做好2025年度企业年报公示工作的通知", kind="notice")
    await w.published(title="安全生产专项检查预警", kind="warning", priority="urgent",
                      ack_required=True)
    registered = await register_kiosk(client, w.admin)
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1,
                                        locale="zh-CN", timezone_id="Asia/Shanghai")
    kiosk = Kiosk(await context.new_page(), kiosk_server, artifacts_dir)
    page = kiosk.page

    # First start: an administrator types the credential once; it is not in the page source.
    await page.goto(f"{kiosk_server}/kiosk/")
    await page.locator("#screen-setup").wait_for(state="visible")
    assert registered["credential"] not in await page.content()
    await kiosk.shot("setup")
    await page.fill("#setup-credential", registered["credential"])
    await page.click("[data-testid=setup-save]")

    # Idle: the QR code with a fresh nonce, the kiosk's name and place.
    nonce = await kiosk.idle_nonce()
    assert "南沙政务服务中心" in await kiosk.text("#kiosk-place")
    assert "请使用" in await kiosk.text("#screen-idle")
    await kiosk.shot("idle")
    # A reload keeps the credential (browser storage) but no token survives in storage.
    await page.reload()
    nonce = await kiosk.idle_nonce()
    stored = await page.evaluate("JSON.stringify({...localStorage, ...sessionStorage})")
    assert registered["credential"] in stored and "eyJ" not in stored

    # Staff approve in the app: the kiosk shows their enterprise's page.
    await approve(client, w, nonce, "南沙甲")
    await page.locator("#screen-session").wait_for(state="visible", timeout=5000)
    await page.wait_for_function(
        "() => document.querySelectorAll('#notices li.notice').length === 2")
    assert await kiosk.text("#ent-name") == "南沙甲有限公司"
    assert await kiosk.text("#ent-uscc") == w.enterprises["南沙甲"]
    badges = await kiosk.text("[data-badge=notices_unread] .badge-value")
    assert badges == "2"
    notices = await kiosk.text("#notices")
    assert "安全生产专项检查预警" in notices and "紧急" in notices
    assert "高新技术企业" in await kiosk.text("#tags")
    # Read-only: the only buttons are 完成 and the language switch.
    visible_buttons = await page.locator("button:visible").all_inner_texts()
    assert sorted(visible_buttons) == sorted(["完成", "繁體"])
    await page.wait_for_function("() => document.body.dataset.live === 'on'")
    await kiosk.shot("page")

    # A notice published now arrives over the live stream, with its badge count.
    notice = await w.published(title="关于申报2026年度专精特新企业的通知")
    await stream.announce_notice_published(int(notice["id"]))
    await page.wait_for_function(
        "() => document.querySelector('#notices li.notice .item-title')?.textContent"
        " === '关于申报2026年度专精特新企业的通知'", timeout=3000)
    await page.wait_for_function(
        "() => document.querySelector('[data-badge=notices_unread] .badge-value')"
        "?.textContent === '3'", timeout=3000)
    assert "新" in await kiosk.text("#notices li.notice:first-child .item-head")
    assert "收到新通知" in await kiosk.text("#toast")
    await kiosk.shot("live-notice")

    # 繁體 for Qianhai / Hengqin visitors, and back.
    await page.click("[data-testid=lang-toggle]")
    assert "企業概況" in await kiosk.text("#screen-session")
    assert await kiosk.text("#finish") == "完成"
    assert await page.evaluate("document.documentElement.lang") == "zh-Hant"
    await kiosk.shot("page-hant")
    await page.click("[data-testid=lang-toggle]")
    assert "企业概况" in await kiosk.text("#screen-session")

    # 完成: back to a new QR code, and the session token stops working at once.
    token = kiosk.tokens[-1]
    await page.click("[data-testid=finish]")
    await page.locator("#screen-idle").wait_for(state="visible")
    assert "已安全退出" in await kiosk.text("#idle-message")
    assert await kiosk.text("#screen-idle") and await kiosk.idle_nonce() != nonce
    resp = await client.get(f"/v1/enterprises/{w.enterprises['南沙甲']}/page",
                            headers=w.h(token))
    assert resp.status_code == 401
    assert await page.locator("#notices li").count() == 0  # nothing of the enterprise remains

    # Inactivity: a short session shows the countdown, a touch extends it, then it ends alone.
    with stream_env(kiosk_session_ttl="6"):
        await approve(client, w, await kiosk.idle_nonce(), "南沙乙")
        await page.locator("#screen-session").wait_for(state="visible", timeout=5000)
        await page.wait_for_function("() => document.getElementById('ent-name').textContent"
                                     " === '南沙乙有限公司'")
        overlay = page.locator("[data-testid=timeout-overlay]")
        await overlay.wait_for(state="visible", timeout=8000)
        await kiosk.shot("timeout-warning")
        before = len(kiosk.tokens)
        await page.click("#timeout-stay")
        await overlay.wait_for(state="hidden", timeout=3000)
        left = int(await kiosk.text("[data-testid=session-countdown]"))
        assert left >= 4, left
        await page.locator("#screen-idle").wait_for(state="visible", timeout=12000)
    assert "无操作" in await kiosk.text("#idle-message")
    await kiosk.idle_nonce()
    await kiosk.shot("auto-logout")
    assert len(kiosk.tokens) >= before
    assert kiosk.errors == [], kiosk.errors
    await context.close()
