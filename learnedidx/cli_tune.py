"""The ``tune`` subcommand of the ``learnedidx`` command.

``learnedidx tune DATASET [--max-bytes N] [--plot DIR] [--n N]`` runs
:func:`learnedidx.tuning.tune` on a dataset (a name from ``learnedidx datasets``, an
SOSD file or a ``.npy`` file), prints the Pareto front of (model bytes, estimated ns
per lookup) as a table with the chosen configuration marked, and plots it.  With
``--check`` it also builds the chosen configuration on all keys and compares its real
window statistics with the estimates (every answer of a query batch checked).
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from .cli import UserError


def add_parser(sub) -> None:
    """Register ``tune`` on an ``argparse`` subparsers object."""
    t = sub.add_parser("tune", help="search RMI configurations for a dataset (Pareto front of size and speed)",
                       description="Search RMI configurations on samples of the keys and print the Pareto front "
                                   "of model bytes and estimated ns/lookup, the chosen configuration marked.")
    t.add_argument("dataset", metavar="DATASET", help="dataset name (see `learnedidx datasets`), SOSD file or .npy")
    t.add_argument("--max-bytes", type=int, metavar="N", help="model byte budget (default: none)")
    t.add_argument("--target", choices=("latency", "size"), default="latency",
                   help="pick the fastest within the budget, or the smallest within 10%% of it")
    t.add_argument("--n", type=int, help="number of keys (default: 1,000,000 synthetic, all of a file)")
    t.add_argument("--dtype", choices=("uint32", "uint64"), help="key width of SOSD files without a suffix")
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--plot", metavar="DIR", help="write the front (bytes vs est ns/lookup) as a PNG here")
    t.add_argument("--json", metavar="FILE", help="write the front and the chosen configuration as JSON")
    t.add_argument("--no-calibrate", action="store_true",
                   help="use the documented default cost coefficients instead of timing this machine")
    t.add_argument("--check", action="store_true",
                   help="build the chosen configuration on all keys and compare with the estimates")
    t.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _candidate_json(c) -> dict:
    return {"config": c.config, "label": c.label(), "nbytes": c.nbytes, "avg_log2_window": c.avg_log2_window,
            "max_window": c.max_window, "est_ns": c.est_ns, "sample_keys": c.sample_keys}


def _check(keys: np.ndarray, result, seed: int, log) -> None:
    """Build the chosen configuration on all keys; print its real figures next to the estimates."""
    from learnedidx import RMI
    t0 = time.perf_counter()
    idx = RMI(keys, **result.best)
    build_s = time.perf_counter() - t0
    idx._check()
    st = idx.stats()
    q = keys[np.random.default_rng(seed + 1).integers(0, keys.size, min(keys.size, 1_000_000))]
    expected = np.searchsorted(keys, q)
    t0 = time.perf_counter()
    got = idx.searchsorted(q)
    ns = (time.perf_counter() - t0) * 1e9 / max(q.size, 1)
    if not np.array_equal(got, expected):
        raise AssertionError("the tuned RMI returned a wrong answer")
    c = result.best_candidate
    print(f"\nchecked on all {keys.size:,} keys (built in {build_s:.1f} s, {q.size:,} lookups checked): "
          f"model bytes {idx.nbytes:,} (est. {c.nbytes:,}), avg log2 window {st['avg_log2_window']:.2f} "
          f"(est. {c.avg_log2_window:.2f}), max window {st['max_window']:,} (est. {c.max_window:,}), "
          f"{ns:.0f} ns/lookup batch, one run (est. {c.est_ns:.0f})")


def run(args) -> int:
    """``learnedidx tune``: tune, print the front, optionally plot, save and check."""
    from learnedidx import tuning
    from learnedidx.bench import datasets
    for flag in ("n", "max_bytes"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {v}")
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        keys, info = datasets.load(args.dataset, args.n, args.seed, args.dtype)
    except (ValueError, ImportError, OSError) as exc:
        raise UserError(str(exc)) from None
    if keys.size == 0:
        raise UserError(f"{args.dataset} holds no keys: nothing to tune")
    try:
        result = tuning.tune(keys, max_bytes=args.max_bytes, target=args.target,
                             calibrate=not args.no_calibrate, seed=args.seed, log=log)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    cm = result.cost_model
    print(f"learnedidx tune: {info['dataset']}, n={keys.size:,} {keys.dtype}, "
          f"budget {'none' if args.max_bytes is None else f'{args.max_bytes:,} bytes'}, target {args.target}; "
          f"{len(result.candidates)} measurements in {result.seconds:.1f} s; cost model ({cm.source}): "
          + ", ".join(f"{k}={v:g}" for k, v in cm.coef.items()))
    print(result.table())
    print(f"\nchosen: RMI(keys, **{json.dumps(result.best)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"dataset": info, "max_bytes": args.max_bytes, "target": args.target, "best": result.best,
                       "front": [_candidate_json(c) for c in result.front], "cost_model": cm.coef,
                       "cost_model_source": cm.source, "seconds": result.seconds}, f, indent=1)
    if args.plot:
        from learnedidx.bench import plots
        os.makedirs(args.plot, exist_ok=True)
        safe = os.path.basename(str(info["dataset"])).replace(".", "_")
        try:
            path = plots.tune_plot(result, os.path.join(args.plot, f"{safe}_tune.png"), title=str(info["dataset"]))
        except ImportError as exc:
            raise UserError(str(exc)) from None
        log(f"plot: {path}")
    if args.check:
        _check(keys, result, args.seed, log)
    return 0


COMMANDS = {"tune": run}
