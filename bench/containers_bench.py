"""Benchmark: learnedidx.SortedList / SortedDict against sortedcontainers, same run, answers checked.

Usage::

    python -m learnedidx.bench.containers_bench --n 1000000 --n 10000000

For each ``n`` (uniform random int64 keys, seed fixed) it times, per operation, the
learned containers and sortedcontainers in the same process on the same precomputed
queries, checks that every answer agrees, and prints a markdown table of ns/op
(minimum over ``--repeats``) and the speed-up (sortedcontainers / learned; > 1 means
the learned container is faster).  Bytes per key come from tracemalloc around each
build.  Mutating rows start from equal contents and compare the final contents.
"""
from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np


def _time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _bytes_per_key(build, n):
    gc.collect()
    tracemalloc.start()
    obj = build()
    gc.collect()
    cur, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del obj
    return cur / n


def run(n: int, m: int, repeats: int, seed: int, memory: bool):
    """Rows ``(operation, n, learned ns/op, sortedcontainers ns/op)`` for one size."""
    import sortedcontainers as sc

    from learnedidx import SortedDict, SortedList

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2 ** 40, n, dtype=np.int64)
    keys_list = keys.tolist()
    rows = []

    def row(name, count, ours_fn, theirs_fn, check=None, reps=repeats):
        t_ours, a = _time(ours_fn, reps)
        t_theirs, b = _time(theirs_fn, reps)
        if check is None:
            assert a == b, f"{name}: answers differ"
        else:
            check(a, b)
        rows.append((name, n, t_ours * 1e9 / count, t_theirs * 1e9 / count))

    # construction (one repeat: the builds dominate the run)
    t0 = time.perf_counter()
    ours = SortedList(keys_list)
    t_list = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = sc.SortedList(keys_list)
    t_theirs = time.perf_counter() - t0
    rows.append(("build from list", n, t_list * 1e9 / n, t_theirs * 1e9 / n))
    t0 = time.perf_counter()
    ours_arr = SortedList.from_arrays(keys)
    t_arr = time.perf_counter() - t0
    rows.append(("build from array (sc: from list)", n, t_arr * 1e9 / n, t_theirs * 1e9 / n))
    assert np.array_equal(ours_arr.to_numpy(), np.sort(keys))
    del ours_arr

    present = rng.choice(keys, m).tolist()
    mixed = [int(x) for x in np.where(rng.random(m) < 0.5, rng.choice(keys, m), rng.integers(0, 2 ** 40, m))]
    positions = rng.integers(0, n, m).tolist()

    row("in (half present)", m, lambda: [x in ours for x in mixed], lambda: [x in theirs for x in mixed])
    row("bisect_left", m, lambda: [ours.bisect_left(x) for x in mixed], lambda: [theirs.bisect_left(x) for x in mixed])
    row("index", m, lambda: [ours.index(x) for x in present], lambda: [theirs.index(x) for x in present])
    row("[i]", m, lambda: [ours[i] for i in positions], lambda: [theirs[i] for i in positions])
    lows = present[: max(1, m // 10)]

    row("irange of 100 keys", len(lows),
        lambda: [list(ours.irange(lo, _kth(ours, lo, 99))) for lo in lows],
        lambda: [list(theirs.irange(lo, _kth(theirs, lo, 99))) for lo in lows])
    arr = np.asarray(mixed, dtype=np.int64)
    row("contains_many (sc: loop of in)", m, lambda: ours.contains_many(arr).tolist(),
        lambda: [x in theirs for x in mixed])
    row("bisect_left_many (sc: loop)", m, lambda: ours.bisect_left_many(arr).tolist(),
        lambda: [theirs.bisect_left(x) for x in mixed])

    # updates: one pass each on equal contents (a merge happens every n/8 updates)
    upd = rng.integers(0, 2 ** 40, m).tolist()
    row("add", m, lambda: [ours.add(x) for x in upd], lambda: [theirs.add(x) for x in upd], reps=1)
    row("discard", m, lambda: [ours.discard(x) for x in upd], lambda: [theirs.discard(x) for x in upd], reps=1)
    t0 = time.perf_counter()
    ours._set_static(*ours._arrays())          # a forced merge: new static run, new RMI
    ours._reset_buffer()
    t_merge = time.perf_counter() - t0
    limit = ours._limit
    rows.append((f"merge+retrain amortised over {limit} updates", n, t_merge * 1e9 / limit, float("nan")))
    ops = rng.random(m) < 0.5
    stream = list(zip(ops.tolist(), rng.integers(0, 2 ** 40, m).tolist(), mixed))

    def mix(sl):
        out = []
        for w, u, q in stream:
            if w:
                sl.add(u)
            else:
                out.append(q in sl)
        return out
    row("50/50 add / in stream", m, lambda: mix(ours), lambda: mix(theirs), reps=1)
    assert np.array_equal(ours.to_numpy(), np.asarray(list(theirs), dtype=np.int64)), "contents differ"
    ours = theirs = None
    gc.collect()

    # SortedDict
    vals = np.arange(n, dtype=np.int64)
    d = SortedDict.from_arrays(keys, vals)
    sd = sc.SortedDict(zip(keys_list, vals.tolist()))
    row("SortedDict d[k]", m, lambda: [d[x] for x in present], lambda: [sd[x] for x in present])
    parr = np.asarray(present, dtype=np.int64)
    row("SortedDict get_many (sc: loop)", m, lambda: d.get_many(parr).tolist(), lambda: [sd[x] for x in present])
    d = sd = None
    gc.collect()

    if memory:
        rows.append(("SortedList bytes/key", n, _bytes_per_key(lambda: SortedList.from_arrays(keys.copy()), n),
                     _bytes_per_key(lambda: sc.SortedList(keys.tolist()), n)))
        rows.append(("SortedDict(value_dtype) bytes/key", n,
                     _bytes_per_key(lambda: SortedDict.from_arrays(keys.copy(), vals.copy()), n),
                     _bytes_per_key(lambda: sc.SortedDict(zip(keys.tolist(), vals.tolist())), n)))
    return rows


def _kth(sl, lo, k):
    """The key ``k`` places after the first key >= ``lo`` (or the last key)."""
    i = min(sl.bisect_left(lo) + k, len(sl) - 1)
    return sl[i]


def table(rows) -> str:
    """Markdown table of the rows."""
    out = ["| operation | n | learnedidx | sortedcontainers | speed-up (sc / ours) |",
           "|---|---:|---:|---:|---:|"]
    for name, n, a, b in rows:
        unit = "B/key" if "bytes" in name else "ns/op"
        ratio = b / a if a and b == b else float("nan")
        out.append(f"| {name} | {n:,} | {a:,.1f} {unit} | {b:,.1f} {unit} | {ratio:.2f}x |")
    return "\n".join(out)


def main(argv=None):
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="key count (repeatable); default 1000000")
    ap.add_argument("--m", type=int, default=100_000, help="operations per timed row")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc rows (slow at 10M)")
    args = ap.parse_args(argv)
    rows = []
    for n in args.n or [1_000_000]:
        rows += run(n, args.m, args.repeats, args.seed, not args.no_memory)
        print(table(rows), flush=True)
    return rows


if __name__ == "__main__":
    main()
