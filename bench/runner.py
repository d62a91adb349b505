"""Lookup benchmark: a loop over index implementations, every answer checked.

Method (SOSD-style): keys come from a seeded generator (``bench.datasets``); queries
are drawn uniformly from the keys with the next seed; the expected answers are
precomputed with ``numpy.searchsorted`` and **every timed run of every index is
checked** against them (a mismatch raises :class:`MismatchError`: a bug, not a figure).
Each figure is min/median/max over ``repeats`` runs; ratios compare medians of the same
run.  All indexes of a key set are built first (build time is measured around the
constructor), then timed in alternation: each repeat runs every index once, so the
machine's slow spells fall on all of them alike.

- *batch* rows time one ``idx.searchsorted(queries)`` call on the whole array;
- *scalar* rows time a Python loop of ``idx.scalar_fn(x)`` over Python ints, i.e. the
  fastest single-key call each tool offers (numpy: ``keys.searchsorted(np.uint64(x))``,
  PyGM/sortedcontainers: ``bisect_left``, BTrees: ``minKey`` then the position); the
  loop itself (~40 ns) is in every row alike.

Run: ``python -m learnedidx.bench.runner --n 10000000 --dataset uniform --dataset lognormal``
"""
from __future__ import annotations

import platform
import sys
import time

import numpy as np

from . import workloads
from .timing import summary_ns, time_runs
from .workloads import Workload

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

    A dotted name sets one entry of a ``*_params`` dict parameter (``root_params.bits=14``).

    >>> parse_spec("RMI:root=cubic,leaves=4096")
    ('RMI', {'root': 'cubic', 'leaves': 4096})
    >>> parse_spec("RMI:root_params.bits=14,leaves=13500")
    ('RMI', {'root_params': {'bits': 14}, 'leaves': 13500})
    """
    name, _, rest = spec.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        outer, dot, inner = (part.strip() for part in key.partition("."))
        if not eq or not outer or (dot and (not inner or "." in inner)):
            raise SpecError(f"bad index parameter {item!r} in {spec!r}; write NAME:param=value,... "
                            "(or params_name.key=value for an entry of a *_params dict)")
        if dot and not outer.endswith("_params"):
            raise SpecError(f"{outer!r} in {spec!r} takes a value, not dict entries (only *_params do)")
        if outer in params and not (dot and isinstance(params[outer], dict)):   # only entries add up
            raise SpecError(f"{outer!r} given twice in {spec!r}")
        if dot:
            entry = params.setdefault(outer, {})
            if inner in entry:
                raise SpecError(f"{outer}.{inner} given twice in {spec!r}")
            entry[inner] = _parse_value(value.strip())
        else:
            params[outer] = _parse_value(value.strip())
    return name.strip(), params


def label(name: str, params: dict) -> str:
    """A row label: the name with its parameters, written as a spec's would be.

    >>> label("RMI", {"root_params": {"bits": 14}, "leaves": 13500})
    'RMI(root_params.bits=14,leaves=13500)'
    """
    items = []
    for k, v in params.items():
        items += [f"{k}.{ik}={iv}" for ik, iv in v.items()] if isinstance(v, dict) else [f"{k}={v}"]
    return name + ("" if not items else "(" + ",".join(items) + ")")


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


def _timed_call(idx, wl: Workload, qs, exp_s, up_s, mode):
    """``(fn, expected, count)``: the call a row of ``mode`` times, and its answers."""
    if mode == "batch":
        if wl.upper is None:
            return (lambda: idx.searchsorted(wl.queries)), wl.expected, wl.queries.size

        def fn():
            start, stop = idx.range(wl.queries, wl.upper)
            return stop - start
        return fn, wl.expected, wl.queries.size
    f = idx.scalar_fn
    if up_s is None:
        return (lambda: [f(x) for x in qs]), exp_s, len(qs)
    return (lambda: [max(0, f(h) - f(lo)) for lo, h in zip(qs, up_s)]), exp_s, len(qs)


def _timed_rows_alternating(entries, wl: Workload, qs, exp_s, up_s, modes, repeats, tick):
    """Time built indexes in every requested mode, alternating between them; check every run.

    ``entries`` are ``(idx, name, base_row, batch_ok)``.  Repeat ``r`` runs each index
    once before repeat ``r + 1`` starts, so a slow spell of a shared machine (they last
    seconds here and move one row by 30% or more) falls on every index alike instead of
    on whichever was being timed; the medians' ratios are what the targets compare.
    Rows come out per index, in ``modes`` order.
    """
    times = {}
    for mode in modes:
        jobs = [(k, name, *_timed_call(idx, wl, qs, exp_s, up_s, mode))
                for k, (idx, name, _, batch_ok) in enumerate(entries) if mode != "batch" or batch_ok]
        for _ in range(repeats):
            for k, name, fn, expected, count in jobs:
                t, got = time_runs(fn, 1)
                _check(name, got, expected)
                times.setdefault((k, mode), ([], count))[0].extend(t)
                tick()
    return [dict(base, mode=mode, queries=times[k, mode][1], ns=summary_ns(*times[k, mode]))
            for k, (_, _, base, _) in enumerate(entries) for mode in modes if (k, mode) in times]


def run(keys: np.ndarray, info: dict, specs=DEFAULT_INDEXES, workload: Workload | None = None,
        scalar_queries: int = 200_000, repeats: int = 5, modes=("batch", "scalar"), progress=None,
        log=print) -> list[dict]:
    """Benchmark ``specs`` on one key set and workload; one row (dict) per index and mode.

    ``info`` describes the dataset (``datasets.load``).  Specs whose package is missing
    or that cannot hold the keys are reported through ``log`` and left out; an unknown
    index or parameter raises :class:`SpecError`.  ``progress`` (a ``rich`` Progress or
    None) shows builds and timed runs.
    """
    wl = workload or workloads.make(keys, "present", 1_000_000, info.get("seed", 42) + 1)
    qs = wl.queries[:scalar_queries].tolist()
    up_s = None if wl.upper is None else wl.upper[:scalar_queries].tolist()
    exp_s = wl.expected[:scalar_queries]
    parsed = [parse_spec(s) for s in specs]
    from learnedidx.baselines import INDEXES
    for name, _ in parsed:
        if name not in INDEXES:
            raise SpecError(f"unknown index {name!r}; choose one of: {', '.join(sorted(INDEXES))}")
    steps = sum(repeats * sum(1 for m in modes if m == "scalar" or n not in SCALAR_ONLY) + 1 for n, _ in parsed)
    task = progress.add_task(f"{info['dataset']} {wl.name}", total=steps) if progress else None
    tick = (lambda: progress.advance(task)) if progress else (lambda: None)
    entries = []
    for spec, (name, _) in zip(specs, parsed):
        try:
            label_, idx, build_s = build_index(spec, keys)
        except (ImportError, TypeError, ValueError) as exc:
            if isinstance(exc, SpecError):
                raise
            log(f"{spec}: skipped ({exc})")
            tick()
            continue
        tick()
        if hasattr(idx, "_check"):
            idx._check()
        stats = idx.stats() if hasattr(idx, "stats") else {}
        base = {"dataset": info["dataset"], "n": int(keys.size), "dtype": keys.dtype.name, "workload": wl.name,
                "index": label_, "build_s": build_s, "bytes": int(idx.nbytes),
                "bytes_per_key": idx.nbytes / max(1, keys.size), "checked": True}
        for key in ("avg_log2_window", "max_window", "max_error", "leaves", "height", "fanout", "page_keys"):
            if key in stats:
                base[key] = stats[key]
        entries.append((idx, label_, base, name not in SCALAR_ONLY))
    return _timed_rows_alternating(entries, wl, qs, exp_s, up_s, modes, repeats, tick)


def _rows(rows, prefix, mode, ds):
    """The present/random rows of dataset ``ds`` in ``mode`` for indexes named ``prefix``."""
    return [r for r in rows if r["dataset"] == ds and r["mode"] == mode and r["index"].split("(")[0] == prefix
            and r.get("workload", "present/random") == "present/random"]


def _best(rows, prefix, mode, ds):
    cands = _rows(rows, prefix, mode, ds)
    return min(cands, key=lambda r: r["ns"]["median"]) if cands else None


def target_ratios(rows: list[dict]) -> list[str]:
    """The targets of the kernel and baseline issues as ratios of one run's medians.

    The RMI row is the fastest RMI configuration in the run; the B-tree row the fastest
    B-tree configuration, whose inner-node bytes set the budget of the "1/10 of the
    bytes" line (when no RMI row is inside it, a line says so).

    >>> row = lambda index, ns, nbytes: {"dataset": "d", "mode": "batch", "index": index,
    ...                                  "ns": {"median": ns}, "bytes": nbytes}
    >>> for line in target_ratios([row("RMI(leaves=8)", 30.0, 500), row("BTree(node_bytes=64)", 60.0, 4_000)]):
    ...     print(line)
    d: RMI batch / best B-tree batch = 0.50 (target <= 0.6) [RMI(leaves=8) vs BTree(node_bytes=64)]
    d: no RMI batch row has <= 1/10 of the best B-tree's bytes (400; the smallest has 500) [BTree(node_bytes=64)]
    d: RMI model bytes / best B-tree inner bytes = 0.125 (target <= 0.1) [500 vs 4,000]
    """
    lines = []
    for ds in dict.fromkeys(r["dataset"] for r in rows if r.get("workload", "present/random") == "present/random"):
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
        if bt_b:
            rmis = _rows(rows, "RMI", "batch", ds)
            small = [r for r in rmis if r["bytes"] <= 0.1 * bt_b["bytes"]]
            if small:
                ratio(min(small, key=lambda r: r["ns"]["median"]), bt_b, 0.6,
                      "RMI with <= 1/10 of the B-tree's bytes, batch / best B-tree batch")
            elif rmis:            # say so: which B-tree is fastest (so the budget) can change between runs
                lines.append(f"{ds}: no RMI batch row has <= 1/10 of the best B-tree's bytes "
                             f"({bt_b['bytes'] // 10:,}; the smallest has {min(r['bytes'] for r in rmis):,}) "
                             f"[{bt_b['index']}]")
        ratio(rmi_b, _best(rows, "InterleavedBinarySearch", "batch", ds), 0.8, "RMI batch / InterleavedBinarySearch")
        ratio(bt_b, _best(rows, "InterleavedBinarySearch", "batch", ds), 1.0, "best B-tree batch / InterleavedBinarySearch")
        if rmi_b and bt_b and bt_b["bytes"]:
            lines.append(f"{ds}: RMI model bytes / best B-tree inner bytes = {rmi_b['bytes'] / bt_b['bytes']:.3f} "
                         f"(target <= 0.1) [{rmi_b['bytes']:,} vs {bt_b['bytes']:,}]")
    return lines


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (median with min-max)."""
    out = ["| dataset | n | workload | index | mode | ns/query median (min-max) | build s | index bytes | bytes/key "
           "| avg log2 window |", "|---|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ns = r["ns"]
        w = f"{r['avg_log2_window']:.2f}" if "avg_log2_window" in r else ""
        out.append(f"| {r['dataset']} | {r['n']:,} | {r['workload']} | {r['index']} | {r['mode']} | {ns['median']:.1f} "
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
    """``python -m learnedidx.bench.runner ...`` is ``learnedidx bench ...``."""
    from learnedidx.cli import main as cli_main
    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
