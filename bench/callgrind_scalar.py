"""Instruction counts per lookup under ``valgrind --tool=callgrind`` (noise-free).

Each implementation runs twice under callgrind: once with ``COUNT`` lookups and once
with none (same build, same ``COUNT`` queries drawn, so drawing them cancels out); the
difference divided by ``COUNT`` is the cost of one lookup.  Scalar (default): each index
is called through its ``scalar_fn`` (as in ``learnedidx bench``'s scalar rows), the
Python loop and call included.  ``--batch``: one ``searchsorted`` call on an array of
``COUNT`` queries (the batch rows' call), its numpy passes included.  Run:

    python -m learnedidx.bench.callgrind_scalar [--n 1000000] [--count 20000] [--batch] [--impl SPEC ...]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

#: Index specs (``learnedidx bench --index`` syntax) measured by default.
IMPLS = ("RMI", "BTree", "BinarySearch", "PyGM", "BTrees")


def _child(impl: str, n: int, count: int, batch: bool, dry: bool) -> None:
    from learnedidx.bench.datasets import uniform_sparse
    from learnedidx.bench.runner import build_index
    keys = uniform_sparse(n, seed=7)
    idx = build_index(impl, keys)[1]
    queries = keys[np.random.default_rng(8).integers(0, n, count)]
    if dry:
        return
    if batch:
        idx.searchsorted(queries)                      # the call the benchmark's batch rows time
        return
    fn = idx.scalar_fn                                 # the call the benchmark's scalar rows time
    for x in queries.tolist():
        fn(x)


def _instructions(impl: str, n: int, count: int, batch: bool = False, dry: bool = False) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "learnedidx.bench.callgrind_scalar", "--child", impl, "--n", str(n), "--count", str(count)]
        cmd += ["--batch"] if batch else []
        cmd += ["--dry"] if dry else []
        # One BLAS thread and a fixed hash seed: OpenBLAS's idle threads spin for a
        # varying number of instructions and the seed moves the interpreter's share, both
        # by more than 20,000 lookups cost (the difference of two runs swung 30-2,100 per
        # lookup without them).
        env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        with open(out) as f:
            text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    return int(m.group(1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--impl", action="append", metavar="SPEC", help=f"index spec (default: {' '.join(IMPLS)})")
    ap.add_argument("--batch", action="store_true", help="one searchsorted call on an array of COUNT queries")
    ap.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)
    ap.add_argument("--dry", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.n, args.count, args.batch, args.dry)
        return 0
    mode = "batch" if args.batch else "scalar"
    print(f"| implementation | instructions per {mode} lookup (n={args.n:,}, {args.count:,} lookups) |")
    print("|---|---:|")
    for impl in args.impl or IMPLS:
        try:
            per = (_instructions(impl, args.n, args.count, args.batch)
                   - _instructions(impl, args.n, args.count, args.batch, dry=True)) / args.count
        except (subprocess.CalledProcessError, ImportError) as exc:
            print(f"| {impl} | failed: {exc} |")
            continue
        print(f"| {impl} | {per:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
