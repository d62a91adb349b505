"""RMI build time, model bytes and window sizes at scale: median of repeated builds.

Run: ``python -m learnedidx.bench.build_time --n 10000000 [--dataset lognormal ...] [--root radix ...]``
"""
from __future__ import annotations

import argparse
import sys

from learnedidx import RMI

from . import datasets
from .timing import time_runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", choices=sorted(datasets.SYNTHETIC))
    ap.add_argument("--root", action="append", help="root model (default: radix, linear, cubic)")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print("| dataset | n | root | leaves | build s median (min-max) | model bytes/key | avg log2 window | max window |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for ds in args.dataset or ["uniform", "lognormal"]:
        keys = datasets.generate(ds, args.n, 42)
        for root in args.root or ["radix", "linear", "cubic"]:
            times, idx = time_runs(lambda: RMI(keys, root=root), args.repeats)
            idx._check()
            st = idx.stats()
            t = sorted(times)
            print(f"| {ds} | {args.n:,} | {root} | {st['leaves']:,} | {t[len(t) // 2]:.2f} ({t[0]:.2f}-{t[-1]:.2f}) | "
                  f"{st['bytes_per_key']:.3f} | {st['avg_log2_window']:.2f} | {st['max_window']:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
