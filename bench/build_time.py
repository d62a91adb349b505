"""RMI build time, peak build memory, model bytes and window sizes at scale: median of
repeated builds.  The peak is what one more build allocates beyond the keys, as numpy
reports it to ``tracemalloc`` (taken in a build of its own, after the timed ones, since
tracing slows allocation), in bytes per key.

Run: ``python -m learnedidx.bench.build_time --n 10000000 [--dataset lognormal ...] [--root radix ...]``
"""
from __future__ import annotations

import argparse
import sys
import tracemalloc

from learnedidx import RMI

from . import datasets
from .timing import time_runs


def build_peak_bytes(build) -> int:
    """Peak bytes allocated while ``build()`` runs, beyond what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        build()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", choices=sorted(datasets.SYNTHETIC))
    ap.add_argument("--root", action="append", help="root model (default: radix, linear, cubic)")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print("| dataset | n | root | leaves | build s median (min-max) | build peak bytes/key | model bytes/key "
          "| avg log2 window | max window |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for ds in args.dataset or ["uniform", "lognormal"]:
        keys = datasets.generate(ds, args.n, 42)
        for root in args.root or ["radix", "linear", "cubic"]:
            times, idx = time_runs(lambda: RMI(keys, root=root), args.repeats)
            idx._check()
            st = idx.stats()
            del idx
            peak = build_peak_bytes(lambda: RMI(keys, root=root))
            t = sorted(times)
            print(f"| {ds} | {args.n:,} | {root} | {st['leaves']:,} | {t[len(t) // 2]:.2f} ({t[0]:.2f}-{t[-1]:.2f}) | "
                  f"{peak / max(1, keys.size):.1f} | {st['bytes_per_key']:.3f} | {st['avg_log2_window']:.2f} | "
                  f"{st['max_window']:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
