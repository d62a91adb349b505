"""Auto-tuning of the RMI: a Pareto search over configurations, ranked by a cost model.

:func:`tune` explores root model families (``linear``, ``cubic``, ``loglinear``,
``radix`` with 2**8/2**12/2**14/2**16 buckets, ``spline`` with 32/256 knots, and
``mlp`` with one hidden layer of 8/16/32 when that model is registered), leaf counts
2**6 to 2**22 (at most ``n``) plus, under a byte budget, the most leaves each root
leaves room for, two or three stages, hybrid leaves' ``max_error`` (when
:class:`~learnedidx.rmi.RMI` accepts it) and, with two stages, fence leaves
(``leaf_model="fences"``, 64 bytes a leaf).  It returns the configurations on the Pareto
front of (model bytes, estimated ns per lookup) and the one it picks.

How a candidate is measured without building it on all ``n`` keys
------------------------------------------------------------------
An RMI with the candidate's configuration is built on an evenly spaced sample of ``m``
keys (every ``s``-th key, ``s = (n - 1) / (m - 1)``; first and last keys included, so
the normalisation range is that of the full keys).  The sample keeps the *same* leaf
count, so each sample leaf covers the key range of the full leaf, with ``s`` times
fewer keys.  The full CDF at a sampled key is exactly ``s`` times its sample position,
so a leaf's error measured on the sample, times ``s``, is its error on the full keys
up to the keys between two samples.  Integer windows quantise that: a sample window
``w_s`` brackets the full window in ``[s (w_s - 1) + 1, s w_s]``, and the estimate is
the middle, ``w = s (w_s - 1) + 1 + (s - 1) / 2`` (exact when ``s = 1``); the average
of ``log2(w + 1)`` over the sample keys estimates ``avg_log2_window``, and ``s`` times
the widest sample window estimates ``max_window``.  Model bytes do not depend on ``n``
(root and leaf tables are sized by the configuration), so they are exact.

Quantisation dominates when the sample windows are only a few keys wide, so the search
runs in two phases: a coarse grid (leaf counts 4x apart) on ``sample`` keys ranks the
candidates; the coarse front, the best few within the budget with their 2x leaf
neighbours and their root's budget-filling leaf count, and the unresolved ones within
10% of the best, are re-measured on samples
grown 4x at a time (up to ``max_sample``) until the average sample window is at least
8 keys (2**3) or the sample is all keys.  Only resolved, re-measured or exact
(``m = n``) measurements enter the returned front.  Measured
against full builds on lognormal (10M), GSHHG (10.4M) and timezone (4.1M) keys, the
refined estimates of ``avg_log2_window`` were within 0.1 (radix/linear/cubic roots,
2**10 to 2**20 leaves) when the sample windows were resolved.  Hybrid leaves are not
built on the sample: the leaf ids and windows of the plain build give every leaf's
estimated window and span (``s`` times its sample keys), and a leaf wider than
``max_error`` becomes a separator array of ``ceil(span / max_error)`` keys (so its
bytes and its separator search are estimated from the same arrays; on a sample, the
budget test adds 10% to the estimated hybrid tables, whose estimates were within 2%).
A fence leaf's window is a share of its leaf's keys (a 23rd of its span), so it is
estimated as ``s (w_s + 1) - 1`` (``w_s + 1`` keys from one fence to the next); on GSHHG's keys (radix14 x 8,257 fence leaves, 594 KB) the
refined estimate of ``avg_log2_window`` was 6.42 against 6.48 built on all keys.

The cost model (ns per batch lookup)
------------------------------------
``est_ns = a + b (W + S) + bk (V Kk + S Ks) + bd (V Dk + S Ds) + c Km + d R + e T + f F`` where
``W`` is the average log2 window of the final search and ``V`` its bits beyond one
cache line's keys (:func:`beyond_line`: a lookup reads its predicted key's line first, so
only the halvings that leave that line read more of the key array), ``S`` the average
log2 of the separators a hybrid leaf searches first (0 without hybrid leaves), ``Kk``,
``Ks``, ``Km`` are ``log2(1 + bytes / L2)`` of the key array, the separator arrays and
the model (how far each outgrows the per-core L2 cache), ``Dk`` and ``Ds`` the same
beyond the L3 cache (where a probe goes to DRAM), ``R`` the root's cost in multiply-add
units (:func:`root_units`), ``T`` 1 for three stages and ``F`` 1 for fence leaves (counting
fences, and a search that starts at the window's middle, not at a predicted key that is
often the answer's line).  So every window bit costs
``b`` of instructions, a bit beyond the first line ``bk`` per doubling of the keys
beyond L2 and ``bd`` per doubling beyond L3, and the model's size ``c`` per doubling
beyond L2.

The coefficients are fitted by non-negative least squares to the fastest-of-rounds batch
lookup time of the compiled RMI on 35 configurations over synthetic lognormal keys of
2**16, 2**20, 2**22 and 2**24 keys (the last, 128 MB, beyond the L3 cache), three of
them with hybrid leaves and four with fence leaves (:func:`calibrate`; 14-16 s), cached per process and in
``~/.cache/learnedidx/cost_model.json`` (``$LEARNEDIDX_CACHE`` overrides the directory)
under the CPU model, core count, L2 and L3 sizes, kernel backend and calibration points.
``calibrate=False`` uses :data:`DEFAULT_COEFFICIENTS`, the medians of three calibrations
on the development machine (AMD EPYC, 2 cores shared with other jobs, 512 KiB L2, 32 MiB
L3, compiled kernels, kernel revision 11, 2026-11-24)::

    a = 21.4 ns, b = 0.89 ns/bit, bk = 0.33 ns/bit/doubling, bd = 1.96 ns/bit/doubling,
    c = 4.85 ns/doubling, d = 2.12 ns/unit, e = 8.71 ns, f = 7.64 ns   (rms residual: 7.3-8.4 ns)

The three runs ranged a 21.1-21.8, b 0.81-0.98, bk 0.11-0.49, bd 1.42-3.16, f 7.5-7.9 (that
afternoon the machine's memory was busy: an earlier calibration, kernel revision 10, gave
a = 18.3, bd = 1.96, c = 2.71).  So over 10M uint64 keys (80 MB) a window bit beyond the
first line costs ~6.9 ns, one inside it ~0.9 ns, and fence leaves pay for themselves once
they narrow the windows by more than about a bit.  Checked against full builds timed
with kernel revision 10 (``bench/tune_bench.py``,
bench/RESULTS.md): 10M lognormal keys, radix14 x 38,935, est. 36 ns, measured 31-32;
GSHHG's 10.4M S2 cell ids, radix14 x 22,019 and radix16 x 30,743, est. 56 and 53, measured
52-63 and 51-54 (GSHHG's times move by up to 15% with the shared machine's memory load).
With kernel revision 7 the GSHHG estimates were 12-15% low: there the windows are
heavy-tailed (up to 40 times the average), and a lock step of 64 searches takes as many
steps as its widest, which the model does not see.  Hybrid leaves are still
underestimated on clustered keys: timezone keys (4.1M), radix14 x 8,192 with hybrid
max_error=64, est. 44 ns, measured 55.  The calibration's hybrid points send 77-96% of
their lookups through hybrid leaves too, but on lognormal keys, whose leaves hold
similar numbers of separators; on the timezone keys a lock step's longest separator
search takes 2.4 more halvings than the average one (6.7 vs 4.4 bits).

Estimates are for random present keys in one batch call; a scalar lookup adds the
Python call overhead (about the same for every configuration) on top.

>>> import numpy as np
>>> keys = np.sort(np.random.default_rng(1).lognormal(0, 2, 20_000))
>>> r = tune(keys, max_bytes=8_192, calibrate=False, roots=[("linear", {}), ("radix", {"bits": 8})])
>>> all(c.nbytes <= 8_192 for c in r.front), r.best == r.best_candidate.config
(True, True)
>>> RMI(keys, **r.best).nbytes <= 8_192
True
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import models
from ._validate import as_sorted_keys
from .interface import compiled_module
from .rmi import FENCE_LEAF_BYTES, FENCE_MAX_KEYS, HYBRID_DTYPE, LEAF_BYTES, LEAF_MODELS, RMI

#: Cost model coefficients fitted on the development machine (see the module docstring).
DEFAULT_COEFFICIENTS = {"a": 21.38, "b": 0.89, "bk": 0.33, "bd": 1.96, "c": 4.85, "d": 2.12, "e": 8.71, "f": 7.64}

#: The coefficient names in the order of :meth:`CostModel.features`.
COEFFICIENT_NAMES = ("a", "b", "bk", "bd", "c", "d", "e", "f")

#: Leaf counts explored: powers of two from 2**6 to 2**22 (capped at ``n``).
MIN_LEAF_BITS, MAX_LEAF_BITS = 6, 22

#: Candidate roots without the MLP: ``(family, root_params)``.
BASE_ROOTS = (("radix", {"bits": 8}), ("radix", {"bits": 12}), ("radix", {"bits": 14}), ("radix", {"bits": 16}),
              ("linear", {}),
              ("cubic", {}), ("loglinear", {}), ("spline", {"knots": 32}), ("spline", {"knots": 256}))

#: Hidden layer sizes tried for an MLP root (when ``"mlp"`` is a registered model).
MLP_HIDDEN = ((32,),)

#: Roots also tried with three stages (a linear middle stage of ~sqrt(leaves) models).
THREE_STAGE_ROOTS = (("linear", {}), ("cubic", {}))

#: ``max_error`` values tried for hybrid leaves (when the RMI supports them).
MAX_ERRORS = (64, 256, 1024, 4096)

#: A sample resolves windows when its average log2 window (sample units) reaches this.
RESOLVED_LOG2_WINDOW = 3.0

_TARGETS = ("latency", "size")
_PROCESS_CACHE: dict[str, "CostModel"] = {}


# --------------------------------------------------------------------------- cost model

def _cache_bytes(level: int, default: int) -> int:
    """Size in bytes of the CPU's cache of ``level`` (sysfs on Linux), or ``default``."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for d in sorted(base.glob("index*")):
            if (d / "level").read_text().strip() == str(level):
                text = (d / "size").read_text().strip().upper()
                mult = {"K": 1024, "M": 1024 ** 2}.get(text[-1:], 1)
                return int(text.rstrip("KM")) * mult
    except (OSError, ValueError):
        pass
    return default


def l2_cache_bytes() -> int:
    """Per-core L2 cache size in bytes (from sysfs on Linux; 1 MiB when unknown).

    >>> l2_cache_bytes() >= 64 * 1024
    True
    """
    return _cache_bytes(2, 1 << 20)


def l3_cache_bytes() -> int:
    """Last-level (L3) cache size in bytes (from sysfs on Linux; 16 MiB when unknown, or
    when there is no L3: then the L2 is the last level and this its size).

    >>> l3_cache_bytes() >= l2_cache_bytes()
    True
    """
    return max(_cache_bytes(3, 16 << 20), l2_cache_bytes())


def root_units(root: str, params: dict | None = None) -> float:
    """Evaluation cost of a root model in multiply-add units (a coarse, documented guess).

    linear and radix 1 (radix's table read is counted in the model bytes), cubic 2,
    loglinear 4 (a ``log2`` call), spline ``1 + log2(knots)`` (a search over knots),
    mlp a quarter of its multiply-adds.

    >>> root_units("linear"), root_units("spline", {"knots": 256}), root_units("mlp", {"hidden": [16]})
    (1.0, 9.0, 8.0)
    """
    params = params or {}
    if root == "cubic":
        return 2.0
    if root == "loglinear":
        return 4.0
    if root == "spline":
        return 1.0 + math.log2(params.get("knots", 32))
    if root == "mlp":
        sizes = [1, *params.get("hidden", [16]), 1]
        return sum(a * b for a, b in zip(sizes, sizes[1:])) / 4.0
    return 1.0


@dataclass(frozen=True)
class CostModel:
    """Linear cost model of one batch lookup in ns (see the module docstring).

    >>> m = CostModel(dict(DEFAULT_COEFFICIENTS))
    >>> m.estimate(window=4.0, key_bytes=1 << 20, model_bytes=1 << 16) > m.coef["a"]
    True
    """

    coef: dict
    cache_bytes: int = field(default_factory=l2_cache_bytes)
    source: str = "default"
    info: dict = field(default_factory=dict)
    llc_bytes: int = field(default_factory=l3_cache_bytes)

    def features(self, window: float, key_bytes: int, model_bytes: int, units: float = 1.0, stages: int = 2,
                 sep_window: float = 0.0, sep_bytes: int = 0, window_lines: float | None = None,
                 fences: bool = False) -> np.ndarray:
        """The feature vector in the order of :data:`COEFFICIENT_NAMES`.

        ``window_lines`` is the average of ``max(0, log2(w + 1) - log2(keys per line))``
        over the lookups (:func:`beyond_line`): the halvings of a window that leave its
        first cache line, which are what the key array's size makes expensive; when not
        given, ``max(0, window - 3)`` (8-byte keys, every window alike).  ``fences``: fence
        leaves (their count of fences instead of a line's multiply-add).
        """
        def doublings(b, cache=self.cache_bytes):
            return math.log2(1.0 + b / cache)
        kk, ks = doublings(key_bytes), doublings(sep_bytes)
        dk, ds = doublings(key_bytes, self.llc_bytes), doublings(sep_bytes, self.llc_bytes)
        wl = max(0.0, window - 3.0) if window_lines is None else window_lines
        return np.array([1.0, window + sep_window, wl * kk + sep_window * ks, wl * dk + sep_window * ds,
                         doublings(model_bytes), units, 1.0 if stages == 3 else 0.0, 1.0 if fences else 0.0])

    def estimate(self, **features) -> float:
        """Estimated ns per batch lookup for the given :meth:`features` arguments."""
        x = self.features(**features)
        return float(x @ np.array([self.coef[k] for k in COEFFICIENT_NAMES]))


def beyond_line(windows: np.ndarray, itemsize: int) -> float:
    """Average over lookups of the log2 window bits beyond one cache line's keys:
    ``mean(max(0, log2(w + 1) - log2(64 / itemsize)))`` for windows of ``w`` keys.

    A lookup reads its predicted key's line first, so a window that fits in about a
    line costs no further line; each halving beyond it may read one more.

    >>> beyond_line(np.array([7.0, 63.0]), 8)        # 3 and 6 bits: 0 and 3 beyond a line
    1.5
    """
    if windows.size == 0:
        return 0.0
    line_bits = math.log2(64 / itemsize)
    return float(np.mean(np.maximum(np.log2(windows + 1.0) - line_bits, 0.0)))


def _nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with non-negative coefficients (the intercept too), by dropping
    the most negative coefficient and refitting: tiny problems, so no solver needed."""
    active = list(range(x.shape[1]))
    while True:
        sol = np.zeros(x.shape[1])
        sol[active] = np.linalg.lstsq(x[:, active], y, rcond=None)[0]
        worst = min(active, key=lambda j: sol[j])
        if sol[worst] >= 0 or len(active) == 1:
            return np.maximum(sol, 0.0)
        active.remove(worst)


def _cpu_key(backend: str) -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    kernel = compiled_module("learnedidx._kernels.rmi_kernel") if backend == "compiled" else None
    group = (f"|group {getattr(kernel, 'BATCH_GROUP', '?')}|kernel r{getattr(kernel, 'KERNEL_REVISION', 0)}"
             if kernel is not None else "")
    points = hashlib.sha1(repr(CALIBRATION_POINTS).encode()).hexdigest()[:8]    # new points: recalibrate
    return (f"{model}|{os.cpu_count()} cpus|L2 {l2_cache_bytes()}|L3 {l3_cache_bytes()}|{backend}{group}"
            f"|points {points}")


def _cost_cache_file() -> Path:
    # same directory as the bench dataset cache (bench.real_datasets.default_cache_dir)
    env = os.environ.get("LEARNEDIDX_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "learnedidx") / "cost_model.json"


#: Calibration configurations: ``(log2 n, root, root_params, leaves, stages[, extra RMI arguments])``.
CALIBRATION_POINTS = (
    (16, "radix", {"bits": 12}, 1 << 6, 2), (16, "radix", {"bits": 12}, 1 << 12, 2), (16, "linear", {}, 1 << 8, 2),
    (16, "cubic", {}, 1 << 10, 2), (16, "loglinear", {}, 1 << 10, 2), (16, "radix", {"bits": 12}, 1 << 14, 2),
    (16, "radix", {"bits": 16}, 1 << 17, 2), (16, "linear", {}, 1 << 12, 3), (16, "spline", {"knots": 32}, 1 << 10, 2),
    (16, "spline", {"knots": 4096}, 1 << 10, 2), (16, "cubic", {}, 1 << 12, 3), (20, "spline", {"knots": 4096}, 1 << 14, 2),
    (20, "radix", {"bits": 12}, 1 << 8, 2), (20, "radix", {"bits": 12}, 1 << 14, 2), (20, "linear", {}, 1 << 12, 2),
    (20, "cubic", {}, 1 << 16, 2), (20, "radix", {"bits": 16}, 1 << 18, 2), (20, "linear", {}, 1 << 14, 3),
    (20, "spline", {"knots": 256}, 1 << 12, 2), (20, "linear", {}, 1 << 20, 2),
    (22, "radix", {"bits": 12}, 1 << 10, 2), (22, "linear", {}, 1 << 16, 2), (22, "radix", {"bits": 12}, 1 << 20, 2),
    # keys beyond the L3 cache (128 MB): each window bit is then a DRAM line
    (24, "radix", {"bits": 12}, 1 << 8, 2), (24, "linear", {}, 1 << 12, 2), (24, "radix", {"bits": 14}, 1 << 14, 2),
    (24, "cubic", {}, 1 << 16, 2), (24, "radix", {"bits": 12}, 1 << 18, 2),
    # hybrid leaves, so the separator search has a price too
    (20, "radix", {"bits": 12}, 1 << 8, 2, {"max_error": 64}), (24, "radix", {"bits": 12}, 1 << 8, 2, {"max_error": 256}),
    (24, "radix", {"bits": 12}, 1 << 10, 2, {"max_error": 64}),
    # fence leaves, so counting fences has a price too
    (16, "radix", {"bits": 12}, 1 << 10, 2, {"leaf_model": "fences"}),
    (20, "radix", {"bits": 12}, 1 << 12, 2, {"leaf_model": "fences"}),
    (22, "radix", {"bits": 14}, 1 << 14, 2, {"leaf_model": "fences"}),
    (24, "radix", {"bits": 14}, 1 << 13, 2, {"leaf_model": "fences"}),
)


def _calibration_keys(bits: int, seed: int) -> np.ndarray:
    """Synthetic lognormal(0, 2) x 1e9 uint64 keys (skewed: windows vary with the root)."""
    x = np.random.default_rng(seed).lognormal(0.0, 2.0, 1 << bits) * 1e9
    return np.sort(np.minimum(x, 2.0 ** 62).astype(np.uint64))


def _time_batches(indexes: list, queries: np.ndarray, expected: np.ndarray, repeats: int) -> list:
    """Fastest ns per lookup of ``idx.searchsorted(queries)`` for each index, over
    ``repeats`` rounds that visit every index once (so a burst of load from other
    processes hits one round, not one index); every answer is checked."""
    best = [math.inf] * len(indexes)
    for _ in range(repeats):
        for i, idx in enumerate(indexes):
            t0 = time.perf_counter()
            got = idx.searchsorted(queries)
            best[i] = min(best[i], time.perf_counter() - t0)
            if not np.array_equal(got, expected):
                raise AssertionError(f"{idx!r} returned a wrong answer during calibration")
    return [t * 1e9 / queries.size for t in best]


def _separator_log2(idx: RMI, leaf: np.ndarray) -> float:
    """Average over lookups routed to ``leaf`` (their leaf ids, as ``RMI.predict`` gives
    them) of ``log2(separators + 1)`` of a hybrid leaf (0 for a linear leaf): the ``S``
    of the cost model, as the estimator computes it from a leaf's span."""
    if not idx._hybrid.size or not leaf.size:
        return 0.0
    hyb = np.isnan(idx._leaves["slope"][leaf])
    out = np.zeros(leaf.size)
    out[hyb] = np.log2(idx._hybrid["count"][idx._leaves["elo"][leaf[hyb]]] + 1.0)
    return float(out.mean())


def calibrate(*, seed: int = 0, queries: int = 1 << 18, repeats: int = 5, cache: bool = True,
              refresh: bool = False, log=None) -> CostModel:
    """Fit the cost model on this machine by timing :data:`CALIBRATION_POINTS` for real.

    Each configuration is built with the default backend on synthetic keys and timed on
    ``queries`` random present keys (fastest of ``repeats`` rounds, every answer checked);
    the coefficients come from non-negative least squares.  The result is cached in
    this process and, with ``cache``, in a JSON file keyed by CPU model (``refresh``
    re-measures).  Takes 14-16 s and 128 MB of keys at its largest.

    Runtime complexity: ``O(sum of the configurations' n)``, i.e. ~160M keys built.
    """
    probe = RMI(np.arange(2, dtype=np.uint64))
    key = _cpu_key(probe.backend)
    if not refresh and key in _PROCESS_CACHE:
        return _PROCESS_CACHE[key]
    path = _cost_cache_file()
    if cache and not refresh:
        try:
            stored = json.loads(path.read_text()).get(key)
            if stored and set(stored["coef"]) == set(COEFFICIENT_NAMES):
                model = CostModel(stored["coef"], source="cached", info=stored.get("info", {}))
                _PROCESS_CACHE[key] = model
                return model
        except (OSError, ValueError):
            pass
    t_start = time.perf_counter()
    proto = CostModel(dict(DEFAULT_COEFFICIENTS))
    rng = np.random.default_rng(seed)
    rows, ys, points = [], [], []
    for bits in sorted({p[0] for p in CALIBRATION_POINTS}):
        keys = _calibration_keys(bits, seed)
        q = keys[rng.integers(0, keys.size, queries)]
        expected = np.searchsorted(keys, q)
        configs = [(*p[1:5], p[5] if len(p) > 5 else {}) for p in CALIBRATION_POINTS if p[0] == bits]
        indexes = [RMI(keys, root=root, leaves=leaves, stages=st, root_params=params, **extra)
                   for root, params, leaves, st, extra in configs]
        for (root, params, leaves, st, extra), idx, ns in zip(configs, indexes,
                                                              _time_batches(indexes, q, expected, repeats)):
            me, fences = extra.get("max_error"), extra.get("leaf_model") == "fences"
            w = idx.stats()["avg_log2_window"]
            leaf, _, lo, hi = idx.predict(q[:1 << 16])
            lines = beyond_line((hi - lo).astype(np.float64), keys.dtype.itemsize)
            sep = _separator_log2(idx, leaf)
            rows.append(proto.features(window=w, key_bytes=keys.nbytes, model_bytes=idx.nbytes,
                                       units=root_units(root, params), stages=st, window_lines=lines,
                                       sep_window=sep, sep_bytes=int(idx._seps.nbytes), fences=fences))
            ys.append(ns)
            points.append({"n": int(keys.size), "root": root, "root_params": params, "leaves": leaves,
                           "stages": st, "max_error": me, "fences": fences, "avg_log2_window": round(w, 3),
                           "separator_log2": round(sep, 3), "model_bytes": idx.nbytes, "ns": round(ns, 1)})
            if log:
                log(f"calibrate: n=2^{bits} {root}{params or ''} leaves={leaves} stages={st}"
                    f"{f' max_error={me}' if me else ''}{' fences' if fences else ''}: window {w:.2f}, {ns:.0f} ns")
        del indexes, keys
    x, y = np.array(rows), np.array(ys)
    sol = _nnls(x, y)
    resid = y - x @ sol
    coef = {k: round(float(v), 2) for k, v in zip(COEFFICIENT_NAMES, sol)}
    info = {"points": points, "rms_residual_ns": round(float(np.sqrt(np.mean(resid ** 2))), 1),
            "seconds": round(time.perf_counter() - t_start, 1), "machine": key,
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    model = CostModel(coef, source="calibrated", info=info)
    _PROCESS_CACHE[key] = model
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError):
                stored = {}
            stored[key] = {"coef": coef, "info": info}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored, indent=1))
            os.replace(tmp, path)
        except OSError:               # a read-only home is no reason to fail a tuning run
            pass
    return model


# --------------------------------------------------------------------------- candidates

@dataclass
class Candidate:
    """One configuration with its estimated figures on the full keys.

    ``config`` is a dict for ``RMI(keys, **config)``; ``sample_keys`` the size of the
    sample its windows were measured on (``n``: exact); ``refined`` whether that
    measurement counts for the front (refined or exact).
    """

    config: dict
    nbytes: int
    avg_log2_window: float
    max_window: int
    est_ns: float
    sample_keys: int
    refined: bool
    hybrid_leaves: int = 0
    sep_log2: float = 0.0
    margin: int = 0               # bytes added for the budget test: 10% of sampled hybrid tables

    def fits(self, budget: float) -> bool:
        """Whether the configuration's model bytes (with the margin) stay within ``budget``."""
        return self.nbytes + self.margin <= budget

    def label(self) -> str:
        """A short description such as ``radix(bits=12) x 4096, 2 stages``.

        >>> Candidate({"root": "linear", "leaves": 64, "stages": 2}, 1, 1.0, 1, 1.0, 1, True).label()
        'linear x 64'
        """
        c = self.config
        params = ",".join(f"{k}={'x'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                          for k, v in c.get("root_params", {}).items() if k != "seed")
        out = f"{c['root']}{f'({params})' if params else ''} x {c['leaves']}"
        if c.get("stages", 2) == 3:
            out += f", 3 stages ({c['middle']} middle)"
        if c.get("max_error"):
            out += f", hybrid max_error={c['max_error']}"
        if c.get("leaf_model") == "fences":
            out += ", fence leaves"
        return out


@dataclass
class TuneResult:
    """What :func:`tune` found: the front, the chosen configuration and how it was measured."""

    front: list
    best: dict
    best_candidate: Candidate
    candidates: list
    cost_model: CostModel
    n: int
    max_bytes: int | None
    target: str
    seconds: float

    def table(self) -> str:
        """The front as a Markdown table, the chosen row marked with ``*``."""
        out = ["| | configuration | model bytes | avg log2 window | max window | est ns/lookup | sample keys |",
               "|---|---|---:|---:|---:|---:|---:|"]
        for c in self.front:
            mark = "*" if c is self.best_candidate else ""
            out.append(f"| {mark} | {c.label()} | {c.nbytes:,} | {c.avg_log2_window:.2f} | {c.max_window:,} "
                       f"| {c.est_ns:.1f} | {c.sample_keys:,} |")
        return "\n".join(out)


def pareto_front(cands: list) -> list:
    """The candidates no other is at least as small and as fast as (strictly better in one),
    sorted by bytes; ties in both keep the smaller window.

    Runtime complexity: ``O(k log k)`` for ``k`` candidates.

    >>> a, b, c = (Candidate({}, nb, 1.0, 1, ns, 1, True) for nb, ns in ((10, 5.0), (20, 6.0), (30, 2.0)))
    >>> [x.nbytes for x in pareto_front([a, b, c])]
    [10, 30]
    """
    out, best_ns = [], math.inf
    for c in sorted(cands, key=lambda c: (c.nbytes, c.est_ns, c.avg_log2_window)):
        if c.est_ns < best_ns * (1 - 1e-3):        # (0.1%: estimates are not finer than that)
            out.append(c)
            best_ns = c.est_ns
    return out


def _features_supported():
    """``(mlp, hybrid)``: whether MLP roots can be trained here (the model is registered
    and torch is installed) and whether the RMI has hybrid leaves (``max_error``)."""
    mlp = "mlp" in models.MODELS and importlib.util.find_spec("torch") is not None
    return mlp, "max_error" in inspect.signature(RMI).parameters


def _config(root: str, params: dict, leaves: int, stages: int, leaf_model: str = "linear") -> dict:
    cfg = {"root": root, "leaves": int(leaves), "stages": stages, "root_params": dict(params)}
    if stages == 3:
        cfg["middle"] = max(1, 1 << round(math.log2(leaves) / 2))
    if leaf_model != "linear":
        cfg["leaf_model"] = leaf_model
    return cfg


def _key(cfg: dict) -> str:
    return json.dumps(cfg, sort_keys=True)


def _table_bytes(cfg: dict) -> int:
    """Model bytes of a configuration without hybrid leaves: its leaf and middle tables
    and its root's parameters (``RMI(keys, **cfg).nbytes``, or a bound on it).

    >>> [_table_bytes(_config(root, params, 100, 2)) for root, params in
    ...  [("radix", {"bits": 8}), ("spline", {"knots": 32}), ("mlp", {"hidden": [16], "seed": 0})]]
    [3428, 3168, 2792]
    """
    middle = models.get_model(cfg.get("middle_model", "linear")).param_bytes(**cfg.get("middle_params", {}))
    leaf = FENCE_LEAF_BYTES if cfg.get("leaf_model") == "fences" else LEAF_BYTES
    return (leaf * cfg["leaves"] + middle * cfg.get("middle", 0)
            + models.get_model(cfg["root"]).param_bytes(**cfg["root_params"]))


class _Estimator:
    """Builds candidates on evenly spaced samples of the keys and scales their windows."""

    def __init__(self, keys: np.ndarray, cost: CostModel):
        self.keys, self.n, self.cost = keys, keys.size, cost
        self._samples: dict[int, tuple[np.ndarray, float]] = {}
        self.builds = 0

    def sample(self, m: int) -> tuple[np.ndarray, float]:
        """``(sample, s)``: ``m`` evenly spaced keys (first and last included) and the step."""
        m = min(m, self.n)
        if m not in self._samples:
            if m == self.n:
                self._samples[m] = (self.keys, 1.0)
            else:
                pos = np.linspace(0, self.n - 1, max(m, 2)).round().astype(np.int64)
                # sorted and, with a spacing of at least 1, distinct; repeats are dropped in
                # one pass as a safeguard against linspace's rounding (np.unique would sort)
                pos = pos[np.concatenate(([True], pos[1:] != pos[:-1]))]
                self._samples[m] = (np.ascontiguousarray(self.keys[pos]), (self.n - 1) / (pos.size - 1))
        return self._samples[m]

    def measure(self, cfg: dict, m: int, grow_to: int | None = None):
        """Per-key ``(leaf, window)`` on a sample (grown 4x up to ``grow_to`` until resolved),
        plus ``(root and table bytes, sample size, step)``."""
        while True:
            sample, s = self.sample(m)
            idx = RMI(sample, backend="numpy", **cfg)
            self.builds += 1
            leaf, _, lo, hi = idx.predict(sample)
            w = (hi - lo).astype(np.float64)
            resolved = float(np.mean(np.log2(w + 1))) >= RESOLVED_LOG2_WINDOW if w.size else True
            if resolved or grow_to is None or sample.size >= min(grow_to, self.n):
                return leaf, w, int(idx.nbytes), sample.size, s, resolved
            m = min(4 * sample.size, grow_to, self.n)

    def candidates(self, cfg: dict, m: int, max_errors=(), grow_to=None) -> list:
        """The plain candidate and its hybrid variants, all estimated from one sample build."""
        leaf, w, nbytes, size, s, resolved = self.measure(cfg, m, grow_to)
        refined = resolved or grow_to is not None or size == self.n
        if cfg.get("leaf_model") == "fences":
            est = s * (w + 1) - 1     # a fence window is a share of its leaf's keys: it scales with them
        else:
            est = s * (w - 1) + 1 + (s - 1) / 2 if s > 1 else w
        itemsize = self.keys.dtype.itemsize
        out = [self._candidate(cfg, nbytes, float(np.mean(np.log2(est + 1))) if est.size else 0.0,
                               int(math.ceil(s * w.max())) if w.size else 0, size, refined,
                               lines=beyond_line(est, itemsize))]
        if not max_errors or not w.size or cfg.get("leaf_model") == "fences":   # (no hybrid fence leaves)
            return out
        L = cfg["leaves"]
        count = np.bincount(leaf, minlength=L).astype(np.float64)
        width = np.zeros(L)
        width[leaf] = est            # one window per leaf (keys near the ends may be clipped)
        span = count * s
        for B in max_errors:
            hyb = (width > B) & (count > 0)
            if not hyb.any():
                continue
            seps = np.ceil(span / B)
            key_win = np.where(hyb, np.minimum(span, B), width)[leaf]
            sep_log2 = np.where(hyb, np.log2(seps + 1), 0.0)[leaf]
            extra = int(HYBRID_DTYPE.itemsize * hyb.sum() + itemsize * seps[hyb].sum())   # rows, separators
            leaf_win = np.where(hyb, np.minimum(span, B), width)[count > 0]
            c = self._candidate(dict(cfg, max_error=int(B)), nbytes + extra, float(np.mean(np.log2(key_win + 1))),
                                int(math.ceil(leaf_win.max())), size, refined, hybrid=int(hyb.sum()),
                                sep_log2=float(np.mean(sep_log2)), sep_bytes=int(itemsize * seps[hyb].sum()),
                                lines=beyond_line(key_win, itemsize))
            if size < self.n:         # spans are estimated: keep a margin on the budget
                c.margin = int(math.ceil(0.1 * extra))
            out.append(c)
        return out

    def _candidate(self, cfg, nbytes, window, max_window, size, refined, hybrid=0, sep_log2=0.0, sep_bytes=0,
                   lines=None):
        ns = self.cost.estimate(window=window, key_bytes=self.keys.nbytes, model_bytes=nbytes,
                                units=root_units(cfg["root"], cfg["root_params"]), stages=cfg["stages"],
                                sep_window=sep_log2, sep_bytes=sep_bytes, window_lines=lines,
                                fences=cfg.get("leaf_model") == "fences")
        return Candidate(cfg, nbytes, window, max_window, ns, size, refined, hybrid, sep_log2)


def _leaf_grid(n: int, step: int) -> list:
    top = min(MAX_LEAF_BITS, max(0, int(math.floor(math.log2(n)))) if n else 0)
    bits = list(range(MIN_LEAF_BITS, top + 1, step))
    if not bits:
        return [1 << top]
    if bits[-1] != top:
        bits.append(top)
    return [1 << b for b in bits]


def _most_leaves(root: str, params: dict, stages: int, budget: float, n: int, leaf_model: str = "linear") -> int | None:
    """The most leaves (at least 1, at most ``n`` and ``2**MAX_LEAF_BITS``) whose tables fit
    ``budget`` with this root, or None when even one leaf does not or there is no budget.
    Below ``2**MIN_LEAF_BITS`` leaves it is the only count tried, so a small budget still
    gets the best configuration that fits it.

    The leaf counts of the grid are powers of two, so under a budget the best fitting
    one may leave up to half of it unused: on 10M lognormal keys a 14-bit radix root
    took 131 KB, and with ~570 KB the grid's 8,192 leaves used 393 KB where 13,700 fit
    (32-byte leaves then; measured 37.6 vs 35.7 ns; bench/RESULTS.md).

    >>> _most_leaves("radix", {"bits": 8}, 2, 1028 + LEAF_BYTES * 100, 10**6)
    100
    >>> _most_leaves("linear", {}, 2, 16 + LEAF_BYTES * 3, 10**6)
    3
    """
    lo, hi = 1, max(1, min(n, 1 << MAX_LEAF_BITS))
    if not math.isfinite(budget) or _table_bytes(_config(root, params, lo, stages, leaf_model)) > budget:
        return None
    while lo < hi:                          # the tables grow with the leaf count
        mid = (lo + hi + 1) // 2
        if _table_bytes(_config(root, params, mid, stages, leaf_model)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _check_args(max_bytes, target, slack):
    if max_bytes is not None and (not isinstance(max_bytes, (int, np.integer)) or isinstance(max_bytes, bool)):
        raise TypeError(f"max_bytes must be a positive int (model bytes) or None, got {max_bytes!r}")
    if max_bytes is not None and max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int (model bytes) or None, got {max_bytes!r}")
    if target not in _TARGETS:
        raise ValueError(f"target must be one of {', '.join(_TARGETS)}, got {target!r}")
    if not isinstance(slack, (int, float)) or not 0 <= slack:
        raise ValueError(f"slack must be a non-negative number (a fraction of the fastest est_ns), got {slack!r}")


def _cost_model(calibrate_arg, log) -> CostModel:
    if isinstance(calibrate_arg, CostModel):
        return calibrate_arg
    if calibrate_arg is True:
        return calibrate(log=log)
    if calibrate_arg is False or calibrate_arg is None:
        return CostModel(dict(DEFAULT_COEFFICIENTS))
    raise TypeError(f"calibrate must be True, False or a CostModel, got {calibrate_arg!r}")


def tune(keys, max_bytes: int | None = None, target: str = "latency", *, roots=None, stages=(2, 3),
         max_errors=None, leaf_models=LEAF_MODELS, sample: int = 1 << 17, max_sample: int = 1 << 21,
         refine: int = 4, slack: float = 0.1, calibrate=True, seed: int = 0, log=None) -> TuneResult:
    """Search RMI configurations for ``keys``; return the Pareto front and the chosen one.

    ``max_bytes`` bounds the model bytes (root, middle and leaf tables, hybrid tables;
    not the keys).  ``target="latency"`` picks the lowest estimated ns/lookup within the
    budget; ``target="size"`` the smallest configuration whose estimate is within
    ``slack`` (a fraction) of that.  ``roots`` overrides the ``(family, root_params)``
    list (default :data:`BASE_ROOTS` plus the MLP sizes when available); ``stages``
    the stage counts tried; ``max_errors`` the hybrid bounds (default
    :data:`MAX_ERRORS` when supported, ``()`` for none); ``leaf_models`` the leaf kinds
    tried with two stages (:data:`learnedidx.rmi.LEAF_MODELS`; fence leaves only below 2**32 keys;
    three-stage candidates always have linear leaves).  ``sample`` and
    ``max_sample`` are the first and the largest sample sizes (see the module
    docstring); ``refine`` how many of the best coarse candidates are re-measured
    besides the coarse front.  ``calibrate``: True (measure or reuse the machine's
    fitted cost model), False (:data:`DEFAULT_COEFFICIENTS`) or a :class:`CostModel`.
    ``seed`` seeds the MLP's training.  ``log`` receives progress lines.

    Runtime complexity: ``O(k * sample + r * max_sample)`` for ``k`` coarse and ``r``
    refined candidates; 5-55 s on 4-10M keys on a loaded 2-core machine, plus 15-16 s
    for a first calibration.

    >>> import numpy as np
    >>> keys = np.arange(0, 30_000, 3, dtype=np.int64)
    >>> r = tune(keys, calibrate=False, roots=[("linear", {}), ("cubic", {})])
    >>> r.best_candidate.avg_log2_window      # evenly spaced keys: every window is one key
    1.0
    >>> idx = RMI(keys, **r.best); idx.searchsorted(2999)
    1000
    """
    t_start = time.perf_counter()
    keys = as_sorted_keys(keys)
    _check_args(max_bytes, target, slack)
    n = keys.size
    log = log or (lambda msg: None)
    cost = _cost_model(calibrate, log)
    has_mlp, has_hybrid = _features_supported()
    if max_errors is None:
        max_errors = MAX_ERRORS if has_hybrid else ()
    elif max_errors and not has_hybrid:
        raise ValueError("this RMI has no hybrid leaves (no max_error parameter); pass max_errors=()")
    base_roots = list(BASE_ROOTS if roots is None else roots)
    if not base_roots:
        raise ValueError("roots is empty: pass at least one (family, root_params) pair, or None for the default list")
    if not stages or any(st not in (2, 3) for st in stages):
        raise ValueError(f"stages must list 2 and/or 3, got {stages!r}")
    mlp_roots = [("mlp", {"hidden": list(h), "seed": seed}) for h in MLP_HIDDEN] if has_mlp and roots is None else []
    leaf_models = tuple(leaf_models)
    if not leaf_models or any(lm not in LEAF_MODELS for lm in leaf_models):
        raise ValueError(f"leaf_models must list some of {', '.join(LEAF_MODELS)}, got {leaf_models!r}")
    if n > FENCE_MAX_KEYS:
        leaf_models = tuple(lm for lm in leaf_models if lm != "fences")
        if not leaf_models:
            raise ValueError(f"fence leaves hold fewer than 2**32 keys, not {n:,}: pass leaf_models=('linear',)")
    budget = math.inf if max_bytes is None else max_bytes

    def kinds(st):
        """The leaf kinds tried with ``st`` stages (three stages: linear leaves only)."""
        return leaf_models if st == 2 else ("linear",)
    est = _Estimator(keys, cost)

    def fits(cfg):
        return _table_bytes(cfg) <= budget

    # phase 1: coarse grid, leaf counts 4x apart, and each root's budget-filling count
    grid = []
    for st in stages:
        for root, params in (base_roots if st == 2 else [r for r in base_roots if r in THREE_STAGE_ROOTS]):
            for lm in kinds(st):
                counts = set(_leaf_grid(n, 2))
                filling = _most_leaves(root, params, st, budget, n, lm)
                if filling is not None:
                    counts.add(filling)
                for L in sorted(counts):
                    cfg = _config(root, params, L, st, lm)
                    if (st == 2 or L >= 1 << 8) and fits(cfg):
                        grid.append(cfg)
    if not grid:
        smallest = min(_table_bytes(_config(root, params, 1 if st == 2 else 1 << 8, st, lm))
                       for st in stages for root, params in base_roots
                       for lm in kinds(st))
        raise ValueError(f"max_bytes={max_bytes:,} is below the smallest configuration the roots and "
                         f"stages allow ({smallest:,} bytes); raise max_bytes")
    coarse = []
    for cfg in grid:
        coarse += est.candidates(cfg, sample, max_errors)
    log(f"tune: {len(grid)} coarse configurations on {min(sample, n):,} keys "
        f"({time.perf_counter() - t_start:.1f} s)")
    within = [c for c in coarse if c.fits(budget)]
    if not within:
        raise ValueError(f"max_bytes={max_bytes:,} is below every configuration "
                         f"(smallest: {min(c.nbytes for c in coarse):,} bytes); raise max_bytes")

    # phase 2: re-measure, on samples grown until their windows are resolved, the coarse
    # front and the best few, and measure the best few's 2x leaf neighbours and their
    # root's budget-filling leaf count (coarse samples rank it poorly: few keys per leaf)
    measured = {_key(c.config): c for c in coarse if "max_error" not in c.config}
    def plain(cfg):
        return {k: v for k, v in cfg.items() if k != "max_error"}

    def start(c):
        """Sample size whose windows should be resolved, from the coarse estimate ``c``."""
        want = n * 2.0 ** RESOLVED_LOG2_WINDOW / max(2.0 ** c.avg_log2_window - 1, 1.0)
        return int(min(max_sample, max(sample, 1 << max(0, math.ceil(math.log2(want))))))

    todo = {}
    for c in pareto_front(within):
        if not c.refined:
            todo[_key(plain(c.config))] = (plain(c.config), start(measured[_key(plain(c.config))]))
    for c in sorted(within, key=lambda c: c.est_ns)[:refine]:
        base = measured[_key(plain(c.config))]
        if not base.refined:
            todo[_key(base.config)] = (base.config, start(base))
        bc = base.config
        lm = bc.get("leaf_model", "linear")
        for L in (bc["leaves"] // 2, bc["leaves"] * 2, _most_leaves(bc["root"], bc["root_params"], bc["stages"],
                                                                       budget, n, lm) or 0):
            cfg = _config(bc["root"], bc["root_params"], L, bc["stages"], lm)
            if 1 <= L <= n and fits(cfg) and not (_key(cfg) in measured and measured[_key(cfg)].refined):
                todo.setdefault(_key(cfg), (cfg, start(base)))
    # unresolved coarse windows all sit near the quantisation floor, so their ranking is
    # loose: re-measure every unresolved one within 10% of the best (at most 2 * refine)
    fastest = min(c.est_ns for c in within)
    close = [c for c in sorted(within, key=lambda c: c.est_ns) if not c.refined and c.est_ns <= 1.1 * fastest]
    for c in close[:2 * refine]:
        todo.setdefault(_key(plain(c.config)), (plain(c.config), start(measured[_key(plain(c.config))])))
    final = [c for c in coarse if c.refined]
    for cfg, m in todo.values():
        final += est.candidates(cfg, m, max_errors, grow_to=max_sample)
    log(f"tune: {len(todo)} configurations re-measured ({time.perf_counter() - t_start:.1f} s)")

    # MLP roots at the leaf count (and on the sample size) of the fastest so far
    if mlp_roots and 2 in stages:
        ok = [c for c in final if c.fits(budget)] or within
        top = min(ok, key=lambda c: c.est_ns)
        for root, params in mlp_roots:
            cfg = _config(root, params, top.config["leaves"], 2, top.config.get("leaf_model", "linear"))
            if fits(cfg):
                final += est.candidates(cfg, top.sample_keys, max_errors, grow_to=max_sample)
        log(f"tune: MLP roots at {top.config['leaves']} leaves ({time.perf_counter() - t_start:.1f} s)")

    # one measurement per configuration: the one on the largest sample
    latest = {}
    for c in final:
        k = _key(c.config)
        if k not in latest or c.sample_keys >= latest[k].sample_keys:
            latest[k] = c
    final = list(latest.values())
    eligible = [c for c in final if c.fits(budget)]
    if not eligible:
        eligible = within
    front = pareto_front(eligible)
    fastest = min(front, key=lambda c: c.est_ns)
    if target == "latency":
        best = fastest
    else:
        best = min((c for c in front if c.est_ns <= fastest.est_ns * (1 + slack)), key=lambda c: c.nbytes)
    return TuneResult(front, dict(best.config), best, coarse + final, cost, n, max_bytes, target,
                      time.perf_counter() - t_start)
