"""Shared benchmark plumbing: servers in subprocesses, wrk runs, and the report table."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/entpage_bench"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"


def bench_env(**extra: str) -> dict[str, str]:
    env = {**os.environ}
    env.setdefault("ENTPAGE_DATABASE_URL", BENCH_DATABASE_URL)
    env.setdefault("ENTPAGE_REDIS_URL", BENCH_REDIS_URL)
    env.setdefault("ENTPAGE_DATA_DIR", str(ROOT / "var" / "bench"))
    env.setdefault("ENTPAGE_LOG_JSON", "false")
    env.setdefault("ENTPAGE_LOG_LEVEL", "WARNING")
    env["ENTPAGE_WORKER_IN_PROCESS"] = "false"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on :{port} after {timeout}s")


@contextmanager
def uvicorn_server(app: str, *, env: dict[str, str]) -> Iterator[int]:
    """One uvicorn worker with the production settings (httptools, uvloop, no access log)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
         "--log-level", "warning"],
        env=env, cwd=ROOT,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk from Debian", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is required (Debian package 'wrk')")
    return found


@dataclass(frozen=True, slots=True)
class LoadResult:
    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(label: str, url: str, *, script: Path | None = None, connections: int = 64,
            seconds: int = 10) -> LoadResult:
    command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadResult(label, rps, p50, p99, total, int(non2xx_match.group(1)) if non2xx_match else 0)


def print_table(rows: list[LoadResult], baseline: LoadResult) -> None:
    print(f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs baseline':>12} {'errors':>7}")
    for r in rows:
        print(f"{r.label:<34} {r.requests_per_s:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
              f"{r.requests_per_s / baseline.requests_per_s:>11.0%} {r.non_2xx:>7}")
