"""A/B of two versions of the compiled kernels, timed in one process (for kernel changes).

Timings of separate processes move by 10-30% on a shared machine (page placement, other
tenants), more than most kernel changes; alternating two builds in one process on the
same key array, queries and index layout removes that noise.  Each side is the kernel
sources (``lookup.pxd``/``.pyx``, ``rmi_kernel.pyx``, the B-tree's ``_btree_kernel.pyx``)
at a git revision, or the working tree, compiled into a package of its own name: two
builds of one module name loaded together share Cython's cached types, and then the
"other" build silently runs the first one's code.

Indexes are built once by the installed package; each side binds its own kernel to the
same arrays, and every timed call is checked against ``numpy.searchsorted``.

Run: ``python -m learnedidx.bench.kernel_ab [--base HEAD~1] [--head WORKTREE]
[--dataset uniform --dataset lognormal] [--n 10000000] [--index RMI:leaves=16384 ...]
[--mode scalar --queries 200000]``
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile

import numpy as np

#: Kernel sources: repository path -> path inside the side's package.
SOURCES = {
    "learnedidx/_kernels/lookup.pxd": "_kernels/lookup.pxd",
    "learnedidx/_kernels/lookup.pyx": "_kernels/lookup.pyx",
    "learnedidx/_kernels/rmi_kernel.pyx": "_kernels/rmi_kernel.pyx",
    "baselines/_btree_kernel.pyx": "baselines/_btree_kernel.pyx",
}
#: The flags of the project's setup.py (the kernels' float semantics depend on them).
COMPILE_ARGS = ["-O3", "-ffp-contract=off", "-fno-fast-math"]
WORKTREE = "WORKTREE"

_BUILD = """
import sys
from Cython.Build import cythonize
from setuptools import Extension, setup
pkg, args = sys.argv[1], {args!r}
mods = [(pkg + "._kernels.lookup", pkg + "/_kernels/lookup.pyx"),
        (pkg + "._kernels.rmi_kernel", pkg + "/_kernels/rmi_kernel.pyx"),
        (pkg + ".baselines._btree_kernel", pkg + "/baselines/_btree_kernel.pyx")]
sys.argv[1:] = ["-q", "build_ext", "--inplace"]
setup(ext_modules=cythonize([Extension(m, [s], extra_compile_args=args) for m, s in mods],
                            language_level=3, include_path=["."], quiet=True))
"""


def _source(repo: str, rev: str, path: str) -> str:
    if rev == WORKTREE:
        with open(os.path.join(repo, path)) as f:
            return f.read()
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def build_side(repo: str, rev: str, pkg: str, root: str) -> None:
    """Compile the kernel sources at ``rev`` as package ``pkg`` under ``root``."""
    for path, dest in SOURCES.items():
        text = _source(repo, rev, path).replace("learnedidx._kernels", f"{pkg}._kernels")
        out = os.path.join(root, pkg, dest)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
    for sub in ("", "_kernels", "baselines"):
        open(os.path.join(root, pkg, sub, "__init__.py"), "a").close()
    subprocess.run([sys.executable, "-c", _BUILD.format(args=COMPILE_ARGS), pkg], cwd=root, check=True,
                   capture_output=True)


def _kernel(idx, pkg: str):
    """A kernel of package ``pkg`` bound to a built RMI's or B-tree's arrays."""
    from learnedidx import RMI
    from learnedidx.baselines import BTree
    if isinstance(idx, RMI):
        import learnedidx.rmi as rmi_module
        module = importlib.import_module(f"{pkg}._kernels.rmi_kernel")
        original = rmi_module.compiled_module
        rmi_module.compiled_module = lambda name: module
        try:
            return idx._make_kernel("compiled")
        finally:
            rmi_module.compiled_module = original
    if isinstance(idx, BTree):
        module = importlib.import_module(f"{pkg}.baselines._btree_kernel")
        return module.BTreeKernel(idx._keys, idx._inner, idx._offsets, idx.fanout, idx.page_keys)
    raise TypeError(f"no kernel to compare for {type(idx).__name__}")


def compare(keys: np.ndarray, specs, sides, queries: int, repeats: int, seed: int, scalar: bool = False):
    """``(spec, {side: median ns})`` rows; the sides' calls alternate, every answer checked.

    Batch: one ``lower_bound_batch`` call over all queries.  ``scalar``: a Python loop of
    ``searchsorted`` calls, one Python int or float per call (latency, not throughput);
    its time includes the loop and storing the results, the same on both sides.
    """
    from .runner import _check, build_index
    from .timing import summary_ns, time_runs
    q = keys[np.random.default_rng(seed).integers(0, keys.size, queries)]
    expected = np.searchsorted(keys, q)
    out = np.empty(q.size, dtype=np.int64)
    items = q.tolist() if scalar else None

    def run(k):
        if scalar:
            search = k.searchsorted
            out[:] = [search(x) for x in items]
        else:
            k.lower_bound_batch(q, out)

    for spec in specs:
        idx = build_index(spec, keys)[1]
        kernels = {name: _kernel(idx, pkg) for name, pkg in sides}
        times = {name: [] for name in kernels}
        for _ in range(repeats):
            for name, k in kernels.items():
                out[:] = -1
                times[name] += time_runs(lambda: run(k), 1)[0]
                _check(f"{spec}: the {name} kernels", out, expected)
        yield spec, {name: summary_ns(t, q.size)["median"] for name, t in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="HEAD~1", help="git revision of side A (default HEAD~1)")
    ap.add_argument("--head", default=WORKTREE, help=f"git revision of side B (default: the {WORKTREE})")
    ap.add_argument("--dataset", action="append", help="dataset (repeatable; default uniform, lognormal)")
    ap.add_argument("--n", type=int, default=10_000_000, help="keys of synthetic datasets (real ones: all)")
    ap.add_argument("--index", action="append", metavar="SPEC", help="RMI or BTree spec (repeatable)")
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", choices=("batch", "scalar"), default="batch",
                    help="batch: one array call; scalar: one Python number per call (use fewer --queries)")
    args = ap.parse_args(argv)
    from . import datasets
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(repo, ".git")):
        ap.error(f"needs a git checkout of the project (an editable install); {repo} is not one")
    specs = args.index or ["RMI:leaves=16384", "BTree:node_bytes=64,page_keys=16"]
    with tempfile.TemporaryDirectory() as root:
        sides = [(f"A={args.base}", "lidx_ab_a"), (f"B={args.head}", "lidx_ab_b")]
        for (label, pkg), rev in zip(sides, (args.base, args.head)):
            print(f"building {label} ...", file=sys.stderr, flush=True)
            build_side(repo, rev, pkg, root)
        sys.path.insert(0, root)
        print("| dataset | index | A ns | B ns | B / A |")
        print("|---|---|---:|---:|---:|")
        for name in args.dataset or ["uniform", "lognormal"]:
            keys, info = datasets.load(name, n=args.n if name in datasets.SYNTHETIC else None, seed=args.seed)
            for spec, ns in compare(keys, specs, sides, args.queries, args.repeats, args.seed + 1,
                                    args.mode == "scalar"):
                a, b = (ns[label] for label, _ in sides)
                print(f"| {name} | {spec} | {a:.1f} | {b:.1f} | {b / a:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
