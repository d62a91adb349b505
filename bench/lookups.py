"""Lookup benchmark: the RMI against numpy and the peers, batch and scalar, one run.

Method: keys come from a seeded generator (``bench.datasets``); queries are drawn
uniformly from the keys with the same seed; the expected answers are precomputed with
``numpy.searchsorted`` and **every timed run of every implementation is checked**
against them (a mismatch raises: it is a bug, not a figure).  Each figure is the
median of ``repeats`` runs; ratios compare figures of the same run.

Batch rows time one call over the whole query array; scalar rows time a Python loop
of one call per query (the loop's own cost, ~40 ns, is included for every row alike).

Run: ``python -m learnedidx.bench.lookups --n 10000000 --dataset uniform --dataset lognormal``
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from learnedidx import RMI

from . import datasets
from .timing import summary_ns, time_runs


class MismatchError(AssertionError):
    """A benchmarked implementation returned a wrong answer."""


def _check(name: str, got, expected: np.ndarray) -> None:
    got = np.asarray(got)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        bad = int(np.flatnonzero(got != expected)[0]) if got.shape == expected.shape else -1
        raise MismatchError(f"{name} returned a wrong answer (first mismatch at query {bad})")


def _batch_sorted_searchsorted(keys, q):
    order = np.argsort(q)
    out = np.empty(q.size, dtype=np.int64)
    out[order] = np.searchsorted(keys, q[order])
    return out


def _scalar_impls(keys: np.ndarray, idx: RMI, peers: bool):
    """``(name, build_seconds, nbytes, fn)`` for the scalar rows; fn maps one int to a position."""
    impls = [("RMI scalar", None, idx.nbytes, idx.searchsorted)]
    ks = keys.searchsorted
    kt = keys.dtype.type
    impls.append(("numpy scalar", 0.0, 0, lambda x: int(ks(kt(x)))))
    if not peers:
        return impls
    try:
        import pygm
    except ImportError:
        pygm = None
    if pygm is not None:
        t0 = time.perf_counter()
        g = pygm.SortedList(keys)
        impls.append(("PyGM bisect_left", time.perf_counter() - t0, None, g.bisect_left))
    try:
        from BTrees.QQBTree import QQBTree
    except ImportError:
        QQBTree = None
    if QQBTree is not None and keys.dtype == np.uint64:
        t0 = time.perf_counter()
        tree = QQBTree()
        # value = position of the key's first occurrence (reversed so the first wins)
        tree.update(dict(zip(keys[::-1].tolist(), range(keys.size - 1, -1, -1))))
        build = time.perf_counter() - t0
        impls.append(("BTrees minKey", build, None, lambda x: tree[tree.minKey(x)]))
    return impls


def run(dataset: str, n: int, queries: int, scalar_queries: int, repeats: int, seed: int,
        peers: bool = True, rmi_kwargs: dict | None = None, log=print) -> list[dict]:
    """Benchmark one dataset; return one row (dict) per implementation and mode."""
    keys = datasets.generate(dataset, n, seed)
    rng = np.random.default_rng(seed + 1)
    q = keys[rng.integers(0, n, queries)]
    expected = np.searchsorted(keys, q)
    rows = []

    t0 = time.perf_counter()
    idx = RMI(keys, **(rmi_kwargs or {}))
    build = time.perf_counter() - t0
    idx._check()
    st = idx.stats()
    common = {"dataset": dataset, "n": n, "dtype": keys.dtype.name}

    def add(name, mode, times, count, build_s, nbytes, extra=None):
        row = dict(common, index=name, mode=mode, queries=count, ns=summary_ns(times, count),
                   build_s=build_s, bytes=nbytes, checked=True)
        row["bytes_per_key"] = None if nbytes is None else nbytes / n
        row.update(extra or {})
        rows.append(row)
        log(f"  {name:<34} {row['ns']['median']:8.1f} ns/lookup")

    rmi_extra = {"avg_log2_window": st["avg_log2_window"], "max_error": st["max_error"],
                 "leaves": st["leaves"], "root": st["root"]}
    log(f"{dataset}: n={n:,} {keys.dtype}, {queries:,} batch / {scalar_queries:,} scalar queries, {repeats} repeats")
    for name, fn in [
        ("RMI batch", lambda: idx.searchsorted(q)),
        ("numpy.searchsorted batch", lambda: np.searchsorted(keys, q)),
        ("argsort+searchsorted+scatter", lambda: _batch_sorted_searchsorted(keys, q)),
    ]:
        times, got = time_runs(fn, repeats)
        _check(name, got, expected)
        is_rmi = name.startswith("RMI")
        add(name, "batch", times, queries, build if is_rmi else 0.0, idx.nbytes if is_rmi else 0,
            rmi_extra if is_rmi else None)

    qs = q[:scalar_queries].tolist()
    exp_s = expected[:scalar_queries]
    for name, build_s, nbytes, fn in _scalar_impls(keys, idx, peers):
        times, got = time_runs(lambda: [fn(x) for x in qs], repeats)
        _check(name, got, exp_s)
        is_rmi = name.startswith("RMI")
        add(name, "scalar", times, len(qs), build if is_rmi else build_s, nbytes, rmi_extra if is_rmi else None)
    return rows


def ratios(rows: list[dict]) -> list[str]:
    """The target ratios of the compiled-kernel issue, per dataset, from one run's rows."""
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        med = {r["index"]: r["ns"]["median"] for r in rows if r["dataset"] == ds}
        line = [f"{ds}: RMI batch / argsort+ss = {med['RMI batch'] / med['argsort+searchsorted+scatter']:.2f}"]
        line.append(f"RMI scalar / numpy scalar = {med['RMI scalar'] / med['numpy scalar']:.2f}")
        if "PyGM bisect_left" in med:
            line.append(f"RMI scalar / PyGM = {med['RMI scalar'] / med['PyGM bisect_left']:.2f}")
        if "BTrees minKey" in med:
            line.append(f"RMI scalar / BTrees = {med['RMI scalar'] / med['BTrees minKey']:.2f}")
        out.append(", ".join(line))
    return out


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (median with min-max)."""
    head = "| dataset | n | index | mode | ns/lookup median (min-max) | build s | bytes/key | avg log2 window |\n"
    head += "|---|---:|---|---|---:|---:|---:|---:|\n"
    lines = []
    for r in rows:
        ns = r["ns"]
        bpk = "" if r["bytes_per_key"] is None else f"{r['bytes_per_key']:.3f}"
        w = f"{r['avg_log2_window']:.2f}" if "avg_log2_window" in r else ""
        lines.append(f"| {r['dataset']} | {r['n']:,} | {r['index']} | {r['mode']} | "
                     f"{ns['median']:.1f} ({ns['min']:.1f}-{ns['max']:.1f}) | {r['build_s']:.2f} | {bpk} | {w} |")
    return head + "\n".join(lines)


def machine() -> dict:
    """Facts about the machine and versions, for the JSON report."""
    import learnedidx
    return {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor(), "learnedidx": learnedidx.__version__}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m learnedidx.bench.lookups", description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", choices=sorted(datasets.SYNTHETIC))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--scalar-queries", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-peers", action="store_true", help="skip PyGM and BTrees")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    rows = []
    for ds in args.dataset or ["uniform", "lognormal"]:
        rows += run(ds, args.n, args.queries, min(args.scalar_queries, args.queries), args.repeats, args.seed,
                    peers=not args.no_peers)
    print()
    print(markdown_table(rows))
    print()
    print("\n".join(ratios(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "seed": args.seed, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
