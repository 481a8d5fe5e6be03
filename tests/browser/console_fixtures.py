"""Fixtures for the publisher console's browser test: a real server (uvicorn via `entpage serve`
on the embedded default, its own data directory, seeded with 300 enterprises), the fake FCM
beside it, and Debian's headless Chromium driven by playwright.

No browser is ever downloaded: playwright launches /usr/bin/chromium (`apt-get install -y
chromium`); without it, or without the playwright package, these tests skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ENTPAGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PUBLISHER = ("nansha-publisher", "demo-password")
SEED_ENTERPRISES = 300
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(method: str, url: str, body: Any = None, *, token: str | None = None,
              timeout: float = 10.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@dataclass
class ConsoleServer:
    base_url: str
    fcm_url: str | None
    data_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def publisher_token(self) -> str:
        tokens = http_json("POST", f"{self.base_url}/v1/auth/operator-login",
                           {"username": PUBLISHER[0], "password": PUBLISHER[1]})
        return str(tokens["access_token"])

    def admin_token(self) -> str:
        tokens = http_json("POST", f"{self.base_url}/v1/auth/operator-login",
                           {"username": "admin", "password": "demo-password"})
        return str(tokens["access_token"])

    def colleague_token(self, username: str, display_name: str) -> str:
        """A new publisher (`username`) of the demo publisher's department and jurisdiction, as
        an admin would add one; returns its access token."""
        me = http_json("GET", f"{self.base_url}/v1/me", token=self.publisher_token())
        http_json("POST", f"{self.base_url}/v1/admin/operators", {
            "username": username, "display_name": display_name,
            "password": "console-colleague-pass", "role": "publisher",
            "department": me["department"], "jurisdiction_zones": me["jurisdiction"]["zones"],
            "jurisdiction_regions": me["jurisdiction"]["regions"],
        }, token=self.admin_token())
        tokens = http_json("POST", f"{self.base_url}/v1/auth/operator-login",
                           {"username": username, "password": "console-colleague-pass"})
        return str(tokens["access_token"])

    def recipient_staff(self, notice_id: int, *, phone: str) -> tuple[str, str]:
        """A new staff member (`phone`) of the notice's first recipient, as an admin would add
        one; returns that enterprise's USCC and the staff member's access token."""
        receipts = http_json("GET", f"{self.base_url}/v1/notices/{notice_id}/receipts?limit=1",
                             token=self.publisher_token())
        uscc = str(receipts["items"][0]["uscc"])
        http_json("POST", f"{self.base_url}/v1/admin/people", {
            "phone": phone, "name": "测试员", "password": "console-staff-pass",
            "memberships": [{"uscc": uscc, "role": "staff"}],
        }, token=self.admin_token())
        staff = http_json("POST", f"{self.base_url}/v1/auth/login",
                          {"phone": phone, "password": "console-staff-pass"})["access_token"]
        return uscc, str(staff)

    def acknowledge_as_staff(self, notice_id: int, *, phone: str) -> str:
        """Enterprise staff of the first recipient acknowledge the notice (through the API, as
        the app would); returns that enterprise's USCC."""
        uscc, staff = self.recipient_staff(notice_id, phone=phone)
        http_json("POST", f"{self.base_url}/v1/enterprises/{uscc}/notices/{notice_id}/ack", {},
                  token=staff)
        return uscc

    def fcm_stats(self) -> dict[str, int]:
        if not self.fcm_url:
            return {}
        counts: dict[str, int] = http_json("GET", f"{self.fcm_url}/_fake/stats")["counts"]
        return counts


def _clean_env(data_dir: Path) -> dict[str, str]:
    # The test session exports its own ENTPAGE_* (database, Redis, worker off): the server under
    # test must not inherit them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTPAGE_")}
    env.update({
        "ENTPAGE_DATA_DIR": str(data_dir),
        "ENTPAGE_DATABASE_URL": f"sqlite://{data_dir / 'console.sqlite3'}",
        "ENTPAGE_LOG_JSON": "false",
        "ENTPAGE_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _entpage(*args: str, env: dict[str, str], log: Any) -> None:
    subprocess.run([sys.executable, "-m", "core.cli", *args], env=env, check=True,
                   stdout=log, stderr=subprocess.STDOUT, timeout=300)


def _start_fake(module: str, env: dict[str, str], log: Any) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()  # "fake FCM listening on http://127.0.0.1:NNNN"
    if "listening on" not in first:
        process.kill()
        raise RuntimeError(f"{module} did not start: {first!r}")
    return process, first.rsplit(" ", 1)[-1].rstrip("/")


def _wait_healthy(url: str, process: subprocess.Popen[Any], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log_path.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if http_json("GET", f"{url}/healthz", timeout=2)["status"] == "ok":
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become healthy:\n{log_path.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    data_dir = tmp_path_factory.mktemp("console-server")
    log_path = data_dir / "server.log"
    env = _clean_env(data_dir)
    processes: list[subprocess.Popen[Any]] = []
    with log_path.open("a") as log:
        try:
            fcm_url: str | None = None
            fakes = Path(__file__).resolve().parents[2] / "push" / "fakes"
            if (fakes / "fcm.py").exists():
                fcm, fcm_url = _start_fake("push.fakes.fcm", env, log)
                processes.append(fcm)
                env["ENTPAGE_FCM_ENDPOINT"] = fcm_url
            if (fakes / "wechat.py").exists():
                wechat, wechat_url = _start_fake("push.fakes.wechat", env, log)
                processes.append(wechat)
                env["ENTPAGE_WECHAT_API_BASE"] = wechat_url
            _entpage("migrate", env=env, log=log)
            _entpage("seed", "--enterprises", str(SEED_ENTERPRISES), env=env, log=log)
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port",
                 str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            processes.append(server)
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, server, log_path)
            yield ConsoleServer(base_url, fcm_url, data_dir, log_path)
        finally:
            for process in reversed(processes):
                _stop(process)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def console_artifacts() -> Path:
    path = Path(os.environ.get("ENTPAGE_TEST_ARTIFACTS", "test-artifacts")) / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path
