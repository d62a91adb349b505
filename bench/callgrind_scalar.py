"""Instruction counts per scalar lookup under ``valgrind --tool=callgrind`` (noise-free).

Each implementation runs twice under callgrind: once with ``COUNT`` lookups and once
with none (same build, same queries); the difference divided by ``COUNT`` is the cost
of one lookup, including the Python loop and call.  Run:

    python -m learnedidx.bench.callgrind_scalar [--n 1000000] [--count 20000]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

IMPLS = ("rmi", "numpy", "pygm", "btrees")


def _setup(impl: str, keys: np.ndarray):
    if impl == "rmi":
        from learnedidx import RMI
        return RMI(keys).searchsorted
    if impl == "numpy":
        ks, kt = keys.searchsorted, keys.dtype.type
        return lambda x: int(ks(kt(x)))
    if impl == "pygm":
        import pygm
        return pygm.SortedList(keys).bisect_left
    if impl == "btrees":
        from BTrees.QQBTree import QQBTree
        tree = QQBTree()
        tree.update(dict(zip(keys[::-1].tolist(), range(keys.size - 1, -1, -1))))
        return lambda x: tree[tree.minKey(x)]
    raise ValueError(f"unknown implementation {impl!r}; choose one of {IMPLS}")


def _child(impl: str, n: int, count: int) -> None:
    from learnedidx.bench.datasets import uniform_sparse
    keys = uniform_sparse(n, seed=7)
    fn = _setup(impl, keys)
    queries = keys[np.random.default_rng(8).integers(0, n, max(count, 1))].tolist()[:count]
    for x in queries:
        fn(x)


def _instructions(impl: str, n: int, count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "learnedidx.bench.callgrind_scalar", "--child", impl, "--n", str(n), "--count", str(count)]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(out) as f:
            text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    return int(m.group(1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--impl", action="append", choices=IMPLS)
    ap.add_argument("--child", choices=IMPLS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.n, args.count)
        return 0
    print(f"| implementation | instructions per scalar lookup (n={args.n:,}, {args.count:,} lookups) |")
    print("|---|---:|")
    for impl in args.impl or IMPLS:
        try:
            per = (_instructions(impl, args.n, args.count) - _instructions(impl, args.n, 0)) / args.count
        except (subprocess.CalledProcessError, ImportError) as exc:
            print(f"| {impl} | failed: {exc} |")
            continue
        print(f"| {impl} | {per:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
