"""Timing helpers: medians over repeats, each run's answers checked by the caller."""
from __future__ import annotations

import time


def time_runs(fn, repeats: int = 5) -> tuple[list[float], object]:
    """Run ``fn`` ``repeats`` times; return every wall time (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def summary_ns(times: list[float], count: int) -> dict:
    """min / median / max nanoseconds per operation for wall times over ``count`` operations."""
    per = sorted(t * 1e9 / count for t in times)
    return {"min": per[0], "median": per[len(per) // 2], "max": per[-1]}
