"""Two variants of the cold page measured in alternation: two servers side by side on the same
database and Redis, each given 64 connections of never-viewed enterprises in turn, so that both
see the same drifts of this VM's speed (BENCHMARKS.md, measurement conditions).

    .venv/bin/python bench/page_alternate.py [--a-tree DIR] [--b-tree DIR]
        [--a-env K=V,K=V] [--b-env K=V,K=V] [--rounds 6] [--seconds 4]

A variant is a source tree (e.g. `git worktree add /tmp/base HEAD~1`) and/or environment
settings (e.g. `--b-env ENTPAGE_SIGNATURE_WORKER=false`). Each side gets its own token set, made
by this tree's code with that side's settings: give an older tree the settings that make both
agree (e.g. `ENTPAGE_JWT_ALGORITHM=ES256` and its own `ENTPAGE_DATA_DIR`). The
enterprises of every round are disjoint, so no side is served what the other put in Redis.
Prints each round and the medians; the baseline is side A, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, LoadResult, bench_env, run_wrk, uvicorn_server
from bench.page import LUA_SEQUENTIAL, _prepare

CONNECTIONS = 64
WARM_PAGES = 4_000


def _settings(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


def _script(workdir: Path, name: str, lines: list[str]) -> Path:
    listing = workdir / f"{name}.txt"
    listing.write_text("\n".join(lines) + "\n")
    script = workdir / f"{name}.lua"
    script.write_text(LUA_SEQUENTIAL % listing)
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, default=ROOT)
    parser.add_argument("--b-tree", type=Path, default=ROOT)
    parser.add_argument("--a-env", default="", help="K=V,K=V for side A")
    parser.add_argument("--b-env", default="", help="K=V,K=V for side B")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--enterprises", type=int, default=199_000)
    args = parser.parse_args()
    sides = [(args.a_tree.resolve(), {**bench_env(), **_settings(args.a_env)}),
             (args.b_tree.resolve(), {**bench_env(), **_settings(args.b_env)})]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        pages: list[tuple[Path, list[str], list[str]]] = []
        for index, (_, env) in enumerate(sides):
            workdir = Path(tmp) / "ab"[index]
            workdir.mkdir()
            before = dict(os.environ)  # _prepare applies the side's settings to this process
            _, cold, prewarm, cold_low = asyncio.run(_prepare(
                env, enterprises=args.enterprises, hot=2_000, cold=120_000, workdir=workdir))
            os.environ.clear()
            os.environ.update(before)
            pages.append((workdir, cold.read_text().splitlines()
                          + cold_low.read_text().splitlines(), prewarm.read_text().splitlines()))
        chunk = len(pages[0][1]) // (2 * args.rounds)
        servers = []
        for index, (tree, env) in enumerate(sides):
            server = stack.enter_context(uvicorn_server("api.app:create_app", env=env, tree=tree))
            servers.append(server)
            workdir, _, prewarm_lines = pages[index]
            warm = _script(workdir, "warm",
                           prewarm_lines[index * WARM_PAGES:(index + 1) * WARM_PAGES])
            run_wrk("warm-up", f"http://127.0.0.1:{server.port}", script=warm,
                    connections=CONNECTIONS, seconds=3)
        results: list[list[LoadResult]] = [[], []]
        turn = 0
        for round_number in range(args.rounds):
            for index in ((0, 1) if round_number % 2 == 0 else (1, 0)):
                workdir, lines, _ = pages[index]
                script = _script(workdir, f"cold-{turn}", lines[turn * chunk:(turn + 1) * chunk])
                turn += 1
                result = run_wrk("cold", f"http://127.0.0.1:{servers[index].port}",
                                 script=script, connections=CONNECTIONS, seconds=args.seconds,
                                 server=servers[index])
                results[index].append(result)
                print(f"round {round_number} {'AB'[index]}: {result.requests_per_s:6.0f} pages/s"
                      f"  p50 {result.p50_ms:6.2f}  p99 {result.p99_ms:6.2f} ms  cpu "
                      f"{result.server_cpu_us:4.0f} µs  db {result.database_cpu_us:4.0f} µs  "
                      f"errors {result.non_2xx}", flush=True)
    print()
    base = statistics.median(r.requests_per_s for r in results[0])
    for index, (tree, _) in enumerate(sides):
        rows = results[index]
        rate = statistics.median(r.requests_per_s for r in rows)
        print(f"{'AB'[index]} ({tree}; {[args.a_env, args.b_env][index] or 'default settings'}): "
              f"median {rate:.0f} pages/s ({rate / base:.0%} of A), p99 median "
              f"{statistics.median(r.p99_ms for r in rows):.1f} ms, p50 median "
              f"{statistics.median(r.p50_ms for r in rows):.1f} ms, CPU median "
              f"{statistics.median(r.server_cpu_us for r in rows):.0f} µs (API tree) · "
              f"{statistics.median(r.database_cpu_us for r in rows):.0f} µs (PostgreSQL)")
        if errors := sum(r.non_2xx for r in rows):
            print(f"WARNING: side {'AB'[index]} answered {errors:,} errors: its figures are not "
                  "pages (tokens made with other settings than its server's?)")


if __name__ == "__main__":
    main()
