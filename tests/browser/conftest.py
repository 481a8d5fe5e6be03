"""Real headless Chromium (Debian's `chromium`, never a downloaded browser) driven by
playwright, against uvicorn started by the test. See docs/adr/0008-browser-tests.md."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ENTPAGE_CHROMIUM", ""), "/usr/bin/chromium",
                      shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found (apt-get install -y chromium, or set ENTPAGE_CHROMIUM)")
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="the playwright package is not installed (pip install "
        "playwright; it drives the system Chromium, no browser download)")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
