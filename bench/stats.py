"""Latency figures from a list of per-request timings."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile, interpolated between the nearest ranks (numpy's default "linear")."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@dataclass
class Run:
    """One measured pass: client-side seconds per request, the loop's wall time, and what went wrong."""

    name: str
    seconds: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)
    # The workers' own timing (gunicorn access log), microseconds; empty when unavailable.
    server_micros: list[int] = field(default_factory=list)
    workers_seen: int = 0
    warmup: int = 0
    warmup_max_ms: float = 0.0
    # CPU seconds the server's processes (gunicorn's master and workers, from /proc) spent over the measured requests.
    cpu: float = 0.0

    def ms(self, p: int) -> float:
        return percentile([s * 1000 for s in self.seconds], p)

    @property
    def max_ms(self) -> float:
        return max(self.seconds) * 1000 if self.seconds else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.seconds) / self.wall if self.wall else float("nan")

    @property
    def cpu_ms(self) -> float:
        """The server's CPU milliseconds per request."""
        return self.cpu * 1000 / len(self.seconds) if self.seconds else float("nan")

    def server_ms(self, p: int) -> float:
        return percentile([m / 1000 for m in self.server_micros], p)


def baseline_ms(before: Run, after: Run, p: int) -> float:
    """What a measured case is divided by: the mean of the baseline run before it and the one after, which cancels a
    steady drift in whatever else the machine is doing."""
    return (before.ms(p) + after.ms(p)) / 2
