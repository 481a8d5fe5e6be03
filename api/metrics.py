"""Prometheus text exposition for request counts and latencies, kept in-process."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.gauges: dict[str, Callable[[], float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.latency_buckets[route][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds

    def render(self) -> str:
        lines = [
            "# HELP entpage_http_requests_total HTTP requests by method, route and status.",
            "# TYPE entpage_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            lines.append(
                f'entpage_http_requests_total{{method="{method}",route="{route}",'
                f'status="{status}"}} {count}'
            )
        lines += [
            "# HELP entpage_http_request_duration_seconds Request latency by route.",
            "# TYPE entpage_http_request_duration_seconds histogram",
        ]
        for route, counts in sorted(self.latency_buckets.items()):
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    f'entpage_http_request_duration_seconds_bucket{{route="{route}",le="{le}"}} '
                    f"{cumulative}"
                )
            lines.append(f'entpage_http_request_duration_seconds_sum{{route="{route}"}} '
                         f"{self.latency_sum[route]:.6f}")
            lines.append(f'entpage_http_request_duration_seconds_count{{route="{route}"}} '
                         f"{cumulative}")
        for name, read in sorted(self.gauges.items()):
            lines += [f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"


metrics = Metrics()
