"""Start a fake in its own process (as benchmarks need, so it does not share the client's CPU)
and learn the URL it bound from its first output line."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpawnedFake:
    base_url: str
    pid: int


@contextlib.contextmanager
def spawned_fake(module: str, *, args: Sequence[str] = (), host: str = "127.0.0.1") -> Iterator[SpawnedFake]:
    """Run `python -m <module> --host <host> --port 0 <args>` for the block, then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--host", host, "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()  # "<name> listening on http://host:port"
        if " listening on " not in first_line:
            raise RuntimeError(f"{module} did not start: {first_line!r}")
        yield SpawnedFake(base_url=first_line.strip().rsplit(" ", 1)[1], pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
