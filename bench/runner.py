"""Lookup benchmark: a loop over index implementations, every answer checked.

Method (SOSD-style): keys come from a seeded generator (``bench.datasets``); queries
are drawn uniformly from the keys with the next seed; the expected answers are
precomputed with ``numpy.searchsorted`` and **every timed run of every index is
checked** against them (a mismatch raises :class:`MismatchError`: a bug, not a figure).
Each figure is min/median/max over ``repeats`` runs; ratios compare medians of the same
run.  Build time is measured around the constructor.

- *batch* rows time one ``idx.searchsorted(queries)`` call on the whole array;
- *scalar* rows time a Python loop of ``idx.scalar_fn(x)`` over Python ints, i.e. the
  fastest single-key call each tool offers (numpy: ``keys.searchsorted(np.uint64(x))``,
  PyGM/sortedcontainers: ``bisect_left``, BTrees: ``minKey`` then the position); the
  loop itself (~40 ns) is in every row alike.

Run: ``python -m learnedidx.bench.runner --n 10000000 --dataset uniform --dataset lognormal``
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from . import datasets
from .timing import summary_ns, time_runs

#: Index specs run when none is given: ours, the B-tree, numpy idioms, the peers.
DEFAULT_INDEXES = ("RMI", "BTree", "InterleavedBinarySearch", "BinarySearch", "SortedBinarySearch",
                   "PyGM", "BTrees")

#: Peers whose batch path is a Python loop: timed in scalar mode only.
SCALAR_ONLY = {"PyGM", "BTrees", "sortedcontainers"}


class MismatchError(AssertionError):
    """A benchmarked index returned a wrong answer."""


class SpecError(ValueError):
    """An index spec names an unknown index or parameter."""


def _parse_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"BTree:node_bytes=128,page_keys=32"`` -> ``("BTree", {"node_bytes": 128, "page_keys": 32})``.

    >>> parse_spec("RMI:root=cubic,leaves=4096")
    ('RMI', {'root': 'cubic', 'leaves': 4096})
    """
    name, _, rest = spec.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SpecError(f"bad index parameter {item!r} in {spec!r}; write NAME:param=value,...")
        params[key.strip()] = _parse_value(value.strip())
    return name.strip(), params


def label(name: str, params: dict) -> str:
    """A row label: the name with its parameters."""
    return name + ("" if not params else "(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")")


def build_index(spec: str, keys: np.ndarray):
    """``(label, index, build_seconds)`` for one spec; ``SpecError`` for unknown names/params."""
    from learnedidx.baselines import INDEXES
    name, params = parse_spec(spec)
    cls = INDEXES.get(name)
    if cls is None:
        raise SpecError(f"unknown index {name!r}; choose one of: {', '.join(sorted(INDEXES))}")
    t0 = time.perf_counter()
    try:
        idx = cls(keys, **params)
    except TypeError as exc:
        if "unexpected keyword" in str(exc) or "positional argument" in str(exc):
            raise SpecError(f"{name}: {exc}") from None
        raise
    return label(name, params), idx, time.perf_counter() - t0


def _check(name: str, got, expected: np.ndarray) -> None:
    got = np.asarray(got)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        bad = int(np.flatnonzero(got != expected)[0]) if got.shape == expected.shape else -1
        raise MismatchError(f"{name} returned a wrong answer (first mismatch at query {bad})")


def run(dataset: str, n: int, specs=DEFAULT_INDEXES, queries: int = 1_000_000, scalar_queries: int = 200_000,
        repeats: int = 5, seed: int = 42, modes=("batch", "scalar"), keys: np.ndarray | None = None,
        log=print) -> list[dict]:
    """Benchmark ``specs`` on one dataset; one row (dict) per index and mode.

    Specs whose package is missing or that cannot hold the dataset's dtype are
    reported (``log``) and left out.
    """
    if keys is None:
        keys = datasets.generate(dataset, n, seed)
    n = keys.size
    rng = np.random.default_rng(seed + 1)
    q = keys[rng.integers(0, n, queries)]
    expected = np.searchsorted(keys, q)
    qs = q[:scalar_queries].tolist()
    exp_s = expected[:scalar_queries]
    log(f"{dataset}: n={n:,} {keys.dtype}, {queries:,} batch / {len(qs):,} scalar queries, {repeats} repeats")
    rows = []
    for spec in specs:
        try:
            name, idx, build_s = build_index(spec, keys)
        except (ImportError, TypeError, ValueError) as exc:
            if isinstance(exc, SpecError):
                raise
            log(f"  {spec}: skipped ({exc})")
            continue
        if hasattr(idx, "_check"):
            idx._check()
        stats = idx.stats() if hasattr(idx, "stats") else {}
        base = {"dataset": dataset, "n": n, "dtype": keys.dtype.name, "index": name, "build_s": build_s,
                "bytes": int(idx.nbytes), "bytes_per_key": idx.nbytes / n, "checked": True}
        for key in ("avg_log2_window", "max_error", "leaves", "height", "fanout", "page_keys"):
            if key in stats:
                base[key] = stats[key]
        for mode in modes:
            if mode == "batch" and parse_spec(spec)[0] in SCALAR_ONLY:
                continue
            if mode == "batch":
                times, got = time_runs(lambda: idx.searchsorted(q), repeats)
                _check(name, got, expected)
                count = queries
            else:
                fn = idx.scalar_fn
                times, got = time_runs(lambda: [fn(x) for x in qs], repeats)
                _check(name, got, exp_s)
                count = len(qs)
            row = dict(base, mode=mode, queries=count, ns=summary_ns(times, count))
            rows.append(row)
            log(f"  {name:<44} {mode:<6} {row['ns']['median']:8.1f} ns/lookup  {row['bytes_per_key']:.3f} B/key")
        del idx
    return rows


def median(rows, index_prefix: str, mode: str, dataset: str) -> float | None:
    """Smallest median among rows whose index label starts with ``index_prefix``."""
    vals = [r["ns"]["median"] for r in rows
            if r["dataset"] == dataset and r["mode"] == mode and r["index"].split("(")[0] == index_prefix]
    return min(vals) if vals else None


def _best(rows, prefix, mode, ds):
    cands = [r for r in rows if r["dataset"] == ds and r["mode"] == mode and r["index"].split("(")[0] == prefix]
    return min(cands, key=lambda r: r["ns"]["median"]) if cands else None


def target_ratios(rows: list[dict]) -> list[str]:
    """The targets of the kernel and baseline issues as ratios of one run's medians.

    The RMI row is the fastest RMI configuration in the run; the B-tree row the fastest
    B-tree configuration.
    """
    lines = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        def ratio(a, b, limit, what):
            if a is None or b is None:
                return
            val = a["ns"]["median"] / b["ns"]["median"]
            lines.append(f"{ds}: {what} = {val:.2f} (target <= {limit}) [{a['index']} vs {b['index']}]")
        rmi_b, rmi_s = _best(rows, "RMI", "batch", ds), _best(rows, "RMI", "scalar", ds)
        bt_b = _best(rows, "BTree", "batch", ds)
        ratio(rmi_b, _best(rows, "SortedBinarySearch", "batch", ds), 0.8, "RMI batch / argsort+searchsorted+scatter")
        ratio(rmi_s, _best(rows, "BinarySearch", "scalar", ds), 0.4, "RMI scalar / numpy scalar")
        ratio(rmi_s, _best(rows, "PyGM", "scalar", ds), 0.6, "RMI scalar / PyGM bisect_left")
        ratio(rmi_s, _best(rows, "BTrees", "scalar", ds), 1.0, "RMI scalar / BTrees minKey")
        ratio(rmi_b, bt_b, 0.6, "RMI batch / best B-tree batch")
        ratio(rmi_b, _best(rows, "InterleavedBinarySearch", "batch", ds), 0.8, "RMI batch / InterleavedBinarySearch")
        ratio(bt_b, _best(rows, "InterleavedBinarySearch", "batch", ds), 1.0, "best B-tree batch / InterleavedBinarySearch")
        if rmi_b and bt_b and bt_b["bytes"]:
            lines.append(f"{ds}: RMI model bytes / best B-tree inner bytes = {rmi_b['bytes'] / bt_b['bytes']:.3f} "
                         f"(target <= 0.1) [{rmi_b['bytes']:,} vs {bt_b['bytes']:,}]")
    return lines


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (median with min-max)."""
    out = ["| dataset | n | index | mode | ns/lookup median (min-max) | build s | index bytes | bytes/key | avg log2 window |",
           "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ns = r["ns"]
        w = f"{r['avg_log2_window']:.2f}" if "avg_log2_window" in r else ""
        out.append(f"| {r['dataset']} | {r['n']:,} | {r['index']} | {r['mode']} | {ns['median']:.1f} "
                   f"({ns['min']:.1f}-{ns['max']:.1f}) | {r['build_s']:.2f} | {r['bytes']:,} | "
                   f"{r['bytes_per_key']:.3f} | {w} |")
    return "\n".join(out)


def machine() -> dict:
    """Facts about the machine and versions, for the JSON report."""
    import os

    import learnedidx
    return {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor(), "cpus": os.cpu_count(), "learnedidx": learnedidx.__version__}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m learnedidx.bench.runner", description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", choices=sorted(datasets.SYNTHETIC))
    ap.add_argument("--index", action="append", metavar="NAME[:param=value,...]",
                    help=f"repeatable; default: {' '.join(DEFAULT_INDEXES)}")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--scalar-queries", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", choices=("batch", "scalar", "both"), default="both")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    modes = ("batch", "scalar") if args.mode == "both" else (args.mode,)
    rows = []
    for ds in args.dataset or ["uniform", "lognormal"]:
        rows += run(ds, args.n, args.index or DEFAULT_INDEXES, args.queries,
                    min(args.scalar_queries, args.queries), args.repeats, args.seed, modes)
    print()
    print(markdown_table(rows))
    print()
    print("\n".join(target_ratios(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "seed": args.seed, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
