"""The mini-program client's own tests (`miniprogram_stubs/test/`, Node's built-in runner), run
from pytest so `make test` covers them: utils/api.js and the pages against a live backend that
the Node tests start themselves (fake WeChat + fake FCM + `entpage migrate/seed/serve` on a
temporary embedded database), plus the static checks of the mini-program project.

Skipped only when `node` is not installed. Whatever pytest's own session did to the environment
(ENTPAGE_* variables set by fixtures) is kept away from the Node run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "miniprogram_stubs" / "test"
MIN_NODE_MAJOR = 18  # node:test, global fetch
TIMEOUT_S = 600
_SUMMARY = re.compile(r"^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)\s*$", re.MULTILINE)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the mini-program client tests "
                    "(miniprogram_stubs/test/, `node --test`) need Node.js >= 18")
    return node


def _major(version: str) -> int:
    match = re.match(r"v?(\d+)\.", version.strip())
    return int(match.group(1)) if match else 0


def test_miniprogram_client_against_live_backend() -> None:
    node = _node()
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert _major(version) >= MIN_NODE_MAJOR, (
        f"Node.js {version} is too old for miniprogram_stubs/test (needs >= {MIN_NODE_MAJOR})")
    # The directory's files, listed: the same set `node --test miniprogram_stubs/test/` runs on
    # Node 20, and unambiguous on Node 22+, where arguments are glob patterns.
    files = sorted(str(p) for p in TEST_DIR.glob("*.js"))
    assert files, f"no tests in {TEST_DIR}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTPAGE_")}
    env["ENTPAGE_VENV_BIN"] = str(Path(sys.executable).parent)  # this interpreter's `entpage`
    env.pop("NODE_OPTIONS", None)
    command = [node, "--test"]
    if _major(version) >= 20:
        command.append("--test-reporter=tap")
    # Its own process group: on a timeout the backends and fakes the tests started go too.
    process = subprocess.Popen([*command, *files], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"node --test did not finish within {TIMEOUT_S} s:\n{(stdout + stderr)[-12000:]}")
    summary = {name: int(count) for name, count in _SUMMARY.findall(stdout)}
    failures = [line for line in stdout.splitlines() if line.lstrip().startswith("not ok")
                and "# TODO" not in line and "# SKIP" not in line]
    assert process.returncode == 0 and summary.get("fail") == 0 \
        and summary.get("cancelled", 0) == 0 and summary.get("tests", 0) > 0, (
            f"node --test failed (exit {process.returncode}, summary {summary}):\n"
            + "\n".join(failures) + "\n\n--- output (tail) ---\n" + (stdout + stderr)[-12000:])
