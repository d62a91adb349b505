"""How much of a batch lookup is memory: the same index timed on cold and on hot queries.

For each dataset and index, two query arrays of the same length: **cold**, ``--queries``
present keys drawn at random from all keys (``bench.workloads``, as ``learnedidx bench``
draws them), and **hot**, the same number cycling through ``--hot`` keys drawn with the
next seed (default 2,000), so that
after the first pass every line those lookups read (model, windows, B-tree nodes and
pages) sits in the caches.  The hot time is the lookup's instructions and cache-resident
reads; cold minus hot is what the key array's (and the model's) misses add.  A shared
machine's memory load moves the cold time, not the hot one.

Method: every index is built once; the rows alternate (each repeat times every index on
both arrays before the next repeat), every answer is checked against
``numpy.searchsorted``, and a row's figure is the median of ``--repeats`` runs of one
batch call (``bench.timing``).

Run: ``python -m learnedidx.bench.hot_vs_cold [--dataset gshhg_s2 ...] [--index SPEC ...]
[--queries 1000000] [--hot 2000] [--repeats 7]``
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import datasets, workloads
from .runner import _check, build_index
from .timing import summary_ns, time_runs

DEFAULT_INDEXES = ("RMI:root_params.bits=14,leaves=22019", "BTree:node_bytes=64,page_keys=16")


def measure(keys: np.ndarray, specs, queries: int = 1_000_000, hot: int = 2_000, repeats: int = 7,
            seed: int = 42) -> list[dict]:
    """``[{"index", "cold_ns", "hot_ns"}]`` per spec, medians of alternating checked runs.

    >>> rows = measure(np.arange(0, 20_000, 2, dtype=np.uint64), ["BinarySearch"], queries=1_000,
    ...                hot=10, repeats=1)
    >>> sorted(rows[0])
    ['cold_ns', 'hot_ns', 'index']
    """
    cold = workloads.make(keys, "present", queries, seed)
    few = workloads.make(keys, "present", min(hot, queries), seed + 1)
    arrays = {"cold": cold.queries, "hot": np.resize(few.queries, queries)}
    expected = {"cold": cold.expected, "hot": np.resize(few.expected, queries)}
    built = [build_index(spec, keys)[:2] for spec in specs]
    times = {(name, k): [] for name, _ in built for k in arrays}
    for _ in range(repeats):
        for name, idx in built:
            for k, q in arrays.items():
                t, got = time_runs(lambda: idx.searchsorted(q), 1)
                times[name, k] += t
                _check(name, got, expected[k])
    return [{"index": name, **{f"{k}_ns": summary_ns(times[name, k], queries)["median"] for k in arrays}}
            for name, _ in built]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", help="dataset (repeatable; default gshhg_s2)")
    ap.add_argument("--n", type=int, default=10_000_000, help="keys of synthetic datasets (real ones: all)")
    ap.add_argument("--index", action="append", metavar="SPEC", help="index spec as in `learnedidx bench`")
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--hot", type=int, default=2_000, help="distinct keys of the hot queries")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    print("| dataset | index | cold ns | hot ns | cold - hot |")
    print("|---|---|---:|---:|---:|")
    for name in args.dataset or ["gshhg_s2"]:
        keys, _ = datasets.load(name, n=args.n if name in datasets.SYNTHETIC else None, seed=args.seed)
        for row in measure(keys, args.index or DEFAULT_INDEXES, args.queries, args.hot, args.repeats, args.seed):
            cold, hot = row["cold_ns"], row["hot_ns"]
            print(f"| {name} | {row['index']} | {cold:.1f} | {hot:.1f} | {cold - hot:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
