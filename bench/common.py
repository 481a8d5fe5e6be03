"""Shared benchmark plumbing: servers in subprocesses, wrk runs, and the report table."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def _cpu_seconds(stat_text: str) -> float:
    """utime + stime from the text of /proc/<pid>/stat."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    return _cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def _process_stats() -> Iterator[str]:
    """The text of every process's /proc/<pid>/stat; processes that end meanwhile are skipped."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield stat.read_text()
        except OSError:
            continue


def named_processes_cpu_seconds(name: str) -> float:
    """utime + stime of every process whose command is `name` (e.g. all PostgreSQL backends),
    so a benchmark can say what the database spent per request. Processes that end between two
    readings drop out; take the readings around a steady load."""
    return sum(_cpu_seconds(text) for text in _process_stats()
               if text[text.find("(") + 1:text.rfind(")")] == name)


def process_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (uvicorn's workers)."""
    return process_cpu_seconds(pid) + sum(
        _cpu_seconds(text) for text in _process_stats()
        if int(text.rsplit(")", 1)[1].split()[1]) == pid)  # field 4: the parent's pid


@dataclass
class Server:
    port: int
    pid: int

    def cpu(self) -> float:
        return process_tree_cpu_seconds(self.pid)


@contextmanager
def uvicorn_server(app: str, *, env: dict[str, str], workers: int = 1,
                   tree: Path = ROOT) -> Iterator[Server]:
    """uvicorn with the production settings (httptools, uvloop, no access log), serving the
    packages of `tree` (another checkout, for bench/page_alternate.py)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
         "--log-level", "warning", *(["--workers", str(workers)] if workers > 1 else [])],
        env=env if tree == ROOT else {**env, "PYTHONPATH": str(tree)}, cwd=tree,
    )
    try:
        wait_for_port(port)
        yield Server(port, proc.pid)
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
    server_cpu_us: float = 0.0  # server CPU per request: what one dedicated core could serve
    database_cpu_us: float = 0.0  # PostgreSQL's CPU per request (all backends)

    @property
    def one_core_capacity(self) -> float:
        return 1e6 / self.server_cpu_us if self.server_cpu_us else 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(label: str, url: str, *, script: Path | None = None, connections: int = 64,
            seconds: int = 10, server: Server | None = None) -> LoadResult:
    command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    cpu_before = server.cpu() if server else 0.0
    database_before = named_processes_cpu_seconds("postgres")
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu_used = server.cpu() - cpu_before if server else 0.0
    database_used = named_processes_cpu_seconds("postgres") - database_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadResult(label, rps, p50, p99, total,
                      int(non2xx_match.group(1)) if non2xx_match else 0,
                      cpu_used * 1e6 / total if total else 0.0,
                      database_used * 1e6 / total if total else 0.0)


def _share(value: float, base: float) -> float:
    return value / base if base else 0.0


def print_table(rows: list[LoadResult], baseline: LoadResult) -> None:
    print(f"{'scenario':<32} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'vs base':>8} "
          f"{'cpu µs/req':>10} {'1-core req/s':>12} {'vs base':>8} {'db µs/req':>9} "
          f"{'errors':>6}")
    for r in rows:
        print(f"{r.label:<32} {r.requests_per_s:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>8.2f} "
              f"{r.requests_per_s / baseline.requests_per_s:>8.0%} {r.server_cpu_us:>10.0f} "
              f"{r.one_core_capacity:>12.0f} "
              f"{_share(r.one_core_capacity, baseline.one_core_capacity):>8.0%} "
              f"{r.database_cpu_us:>9.0f} {r.non_2xx:>6}")
