"""Tuned RMI vs fixed RMI configurations vs the best B-tree, for one model byte budget.

For each dataset (default: lognormal at 10M keys, GSHHG and timezone keys at full size)
and a model budget (default 1,000,000 bytes):

- **tuned**: ``learnedidx.tune(keys, max_bytes=budget)`` (calibrated cost model unless
  ``--no-calibrate``), built with ``RMI(keys, **result.best)``; its estimated ns/lookup
  is printed next to the measured one;
- **linear root** and **MLP root** (when torch is installed): a 2-stage RMI with as
  many linear leaves as the budget holds (``LEAF_BYTES`` each, after 2 KiB for the root), so
  the two roots are compared at equal bytes;
- **default**: ``RMI(keys)`` whatever its bytes (the reference the tuner should beat);
- **best B-tree**: ``learnedidx.baselines.BTree`` over the ``node_bytes`` x
  ``page_keys`` grid, the fastest batch configuration reported (its bytes are its
  inner nodes; its "window" is a page).

Method: the runner's timed loop (``bench.runner``): random present keys drawn with the
seed, answers precomputed with ``numpy.searchsorted``, every timed run checked (a wrong
answer stops the benchmark); ns/lookup is the median of ``--repeats`` runs of one batch
call on ``--queries`` keys, and of a Python loop of scalar calls on ``--scalar-queries``.
All rows of a dataset are built first and timed in alternation, and so is the B-tree
grid that picks the best B-tree.

Run: ``python -m learnedidx.bench.tune_bench [--dataset lognormal --dataset gshhg_s2 ...]
[--max-bytes 1000000] [--json out.json]`` (a few minutes: 10M-key builds and tuning).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from learnedidx import RMI, tune
from learnedidx.rmi import LEAF_BYTES
from learnedidx.tuning import _features_supported

from . import datasets, runner, workloads

DEFAULT_DATASETS = ("lognormal", "gshhg_s2", "timezones_s2")
BTREE_GRID = [(nb, pk) for nb in (64, 128, 256) for pk in (16, 32, 64, 128)]


def _budget_leaves(budget: int, root_bytes: int = 2048) -> int:
    """Linear leaves (``LEAF_BYTES`` each) that fit in ``budget`` after ``root_bytes``.

    >>> _budget_leaves(1_000_000)
    41581
    """
    return max(1, (budget - root_bytes) // LEAF_BYTES)


def _entry(idx, name, info, keys, build_s, extra=None):
    """One index to time (``runner._timed_rows_alternating``), with its window figures."""
    stats = idx.stats() if hasattr(idx, "stats") else {}
    base = {"dataset": info["dataset"], "n": int(keys.size), "index": name, "bytes": int(idx.nbytes),
            "build_s": build_s, "avg_log2_window": stats.get("avg_log2_window"),
            "max_window": stats.get("max_window"), **(extra or {})}
    return idx, name, base, True


def _timed(entries, wl, qs, exp_s, modes, repeats) -> list[dict]:
    """One result per entry, its modes timed in alternation with the other entries."""
    rows = {}
    for r in runner._timed_rows_alternating(entries, wl, qs, exp_s, None, modes, repeats, lambda: None):
        rows.setdefault(r["index"], {k: v for k, v in r.items() if k not in ("mode", "ns", "queries")})[r["mode"]] = r["ns"]
    return list(rows.values())


def _timed_build(fn):
    t0 = time.perf_counter()
    idx = fn()
    return idx, time.perf_counter() - t0


def run_dataset(name: str, n, budget: int, args, log) -> list[dict]:
    """All rows of one dataset: every index is built first, then all are timed in
    alternation (``bench.runner``), so the machine's slow spells fall on all alike."""
    keys, info = datasets.load(name, n, args.seed)
    log(f"{name}: {keys.size:,} keys")
    wl = workloads.make(keys, "present", args.queries, args.seed + 1)
    qs = wl.queries[:args.scalar_queries].tolist()
    exp_s = wl.expected[:args.scalar_queries]
    entries = []

    result = tune(keys, max_bytes=budget, calibrate=not args.no_calibrate, seed=args.seed, log=log)
    idx, build_s = _timed_build(lambda: RMI(keys, **result.best))
    idx._check()
    c = result.best_candidate
    entries.append(_entry(idx, f"tuned RMI: {c.label()}", info, keys, build_s,
                          {"est_ns": c.est_ns, "est_avg_log2_window": c.avg_log2_window, "tune_s": result.seconds,
                           "config": result.best}))
    log(f"{name}: tuned in {result.seconds:.1f} s: {c.label()}")

    leaves = _budget_leaves(budget)
    fixed = [("linear root", dict(root="linear", leaves=leaves))]
    if _features_supported()[0]:
        fixed.append(("MLP root", dict(root="mlp", leaves=leaves, root_params={"hidden": list(args.mlp_hidden),
                                                                                "seed": args.seed})))
    fixed.append(("default RMI(keys)", {}))
    for label, cfg in fixed:
        idx, build_s = _timed_build(lambda: RMI(keys, **cfg))
        idx._check()
        extra = {"config": cfg}
        if getattr(idx.root, "train_info", None):
            extra["train_info"] = {k: v for k, v in idx.root.train_info.items() if k != "losses"}
        entries.append(_entry(idx, f"{label}: {idx!r}", info, keys, build_s, extra))
        log(f"{name}: {label} done")

    from learnedidx.baselines import BTree
    grid = []
    for nb, pk in BTREE_GRID:
        tree, build_s = _timed_build(lambda: BTree(keys, node_bytes=nb, page_keys=pk))
        grid.append(_entry(tree, f"best B-tree: BTree(node_bytes={nb}, page_keys={pk})", info, keys, build_s,
                           {"page_keys": pk}))
    best = min(_timed(grid, wl, qs, exp_s, ("batch",), args.repeats), key=lambda r: r["batch"]["median"])
    entries += [e for e in grid if e[1] == best["index"]]
    del grid
    return _timed(entries, wl, qs, exp_s, ("batch", "scalar"), args.repeats)


def markdown(rows: list[dict], budget: int) -> str:
    """The rows as a Markdown table plus the ratios the issue sets targets for."""
    out = [f"Model budget {budget:,} bytes; ns/lookup median (min-max) of the runs, every answer checked.", "",
           "| dataset | n | index | bytes | avg log2 window | max window | batch ns | scalar ns | est ns | build s |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]

    def ns(r, mode):
        s = r[mode]
        return f"{s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"
    for r in rows:
        w = "" if r["avg_log2_window"] is None else f"{r['avg_log2_window']:.2f}"
        if "est_avg_log2_window" in r:
            w += f" (est. {r['est_avg_log2_window']:.2f})"
        mw = f"{r['max_window']:,}" if r.get("max_window") is not None else f"page {r.get('page_keys', '')}"
        est = f"{r['est_ns']:.0f}" if "est_ns" in r else ""
        out.append(f"| {r['dataset']} | {r['n']:,} | {r['index']} | {r['bytes']:,} | {w} | {mw} | {ns(r, 'batch')} "
                   f"| {ns(r, 'scalar')} | {est} | {r['build_s']:.1f} |")
    out.append("")
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == ds]
        tuned = next(r for r in rs if r["index"].startswith("tuned"))
        bt = next(r for r in rs if r["index"].startswith("best B-tree"))
        out.append(f"- {ds}: tuned / best B-tree batch = {tuned['batch']['median'] / bt['batch']['median']:.2f}, "
                   f"bytes = {tuned['bytes'] / max(bt['bytes'], 1):.3f} (target: < 1 at <= 0.1 on GSHHG); "
                   f"scalar = {tuned['scalar']['median'] / bt['scalar']['median']:.2f}")
        lin = next((r for r in rs if r["index"].startswith("linear root")), None)
        mlp = next((r for r in rs if r["index"].startswith("MLP root")), None)
        if lin and mlp:
            out.append(f"- {ds}: MLP root vs linear root at equal leaves: avg log2 window "
                       f"{mlp['avg_log2_window']:.2f} vs {lin['avg_log2_window']:.2f}, batch "
                       f"{mlp['batch']['median']:.0f} vs {lin['batch']['median']:.0f} ns")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", help=f"dataset (repeatable; default: {', '.join(DEFAULT_DATASETS)})")
    ap.add_argument("--n", type=int, default=10_000_000, help="keys of synthetic datasets (real ones: all)")
    ap.add_argument("--max-bytes", type=int, default=1_000_000, help="model byte budget (default 1,000,000)")
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--scalar-queries", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mlp-hidden", type=int, nargs="+", default=[32], help="hidden widths of the MLP root")
    ap.add_argument("--no-calibrate", action="store_true", help="tune with the default cost coefficients")
    ap.add_argument("--json", metavar="FILE", help="write every row (and the machine) as JSON")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows = []
    for name in args.dataset or DEFAULT_DATASETS:
        rows += run_dataset(name, args.n if name in datasets.SYNTHETIC else None, args.max_bytes, args, log)
    print(markdown(rows, args.max_bytes))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": runner.machine(), "max_bytes": args.max_bytes, "rows": rows}, f, indent=1,
                      default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
