"""The recursive-model index (RMI): staged models, per-leaf error bounds, exact search.

How a lookup travels (batch and scalar paths run the same float operations):

1. the query is reduced to a lower-bound target in the key dtype (``_queries``);
2. ``x = float64(target)`` clipped to the keys' finite range, then normalised to
   ``t = (x/2 - lo/2) * inv`` in ``[0, 1]`` (halving first cannot overflow);
3. the root model (and, with three stages, a linear middle model) predicts a leaf;
4. the leaf's linear model predicts a position from the target's offset to the leaf's
   first key (computed in integer arithmetic for integer keys, so uint64 keys above
   2**53 keep their precision), and its signed error bounds give a window ``[lo, hi)``;
5. ``search.search_window`` finds the exact lower bound in the window, verifies it with
   one key read and repairs a missed window by exponential search: never a wrong answer.

How a build travels: validation -> root fitted on an evenly spaced sample -> every key
routed -> per-leaf least squares from ``np.add.reduceat`` / ``np.bincount`` sums (no loop
over leaves) -> per-leaf signed errors of the exact lookup path itself, so every key lies
in its window.  Routing and fitting go through the keys in slices of ``FIT_CHUNK``, so
the float64 temporaries never span the whole key array.

This module is the plain numpy reference; the compiled kernels are tested against it.
"""
from __future__ import annotations

import bisect
import math
import time

import numpy as np

from . import search
from ._memory import aligned_zeros
from ._validate import as_sorted_keys
from .interface import IndexBase, check_backend, compiled_module, require_compiled
from .models import MLP, Linear, get_model

def leaf_dtype(key_dtype: np.dtype) -> np.dtype:
    """The structured dtype of one leaf for keys of ``key_dtype`` (24 bytes).

    A linear leaf holds ``(base, slope, icept, elo, ehi)``: its first key (8 bytes, so
    offsets from it are exact before rounding), its model ``icept * unit + slope *
    (key - base)`` (``unit`` is :func:`icept_unit` of the key count) and its signed error
    bounds.  The slope is float32 and the intercept an integer: a leaf spans few
    positions, so a float32 slope is off by less than 2**-24 of them, and the error
    bounds are measured with the stored, rounded values, so every window still holds
    its answer.  24 bytes instead of 32 (float64 slope and intercept) buy a third more
    leaves under a byte budget (bench/RESULTS.md, "Compact leaves").  Float keys at the
    edges of float32's range lose on speed, not exactness: a slope beyond 3.4e38 (keys
    packed into a tiny range) is clamped to it, and one below 1.4e-45 (float keys spread
    over ~1e50) rounds to zero; the windows then cover the whole leaf.

    A *hybrid* leaf (see :class:`RMI`'s ``max_error``) is marked by a NaN ``slope`` and
    holds in ``elo`` the row of its separator table in ``RMI._hybrid`` (so a lookup reads
    one record either way, and no extra array).

    >>> leaf_dtype(np.dtype(np.uint32)).itemsize
    24
    """
    base = {"u": np.uint64, "i": np.int64, "f": np.float64}[key_dtype.kind]
    return np.dtype([("base", base), ("slope", np.float32), ("icept", np.int32),
                     ("elo", np.int32), ("ehi", np.int32)])


#: Bytes of one leaf record, whatever the key dtype.
LEAF_BYTES = leaf_dtype(np.dtype(np.uint64)).itemsize

#: The leaf kinds (``RMI``'s ``leaf_model``): a line and error bounds, or fences.
LEAF_MODELS = ("linear", "fences")
#: Fences in one fence leaf record; an unused lane's value (above every quantised key).
LEAF_FENCES = 22
FENCE_UNUSED = 65535
#: The largest quantised key, and the value the last fence's offset is scaled to.
FENCE_TOP = 65534
FENCE_SCALE_TO = 65532


def fence_leaf_dtype(key_dtype: np.dtype) -> np.dtype:
    """The structured dtype of one *fence leaf* for keys of ``key_dtype`` (64 bytes).

    ``(base, start, step, scale, fences)``: the leaf's first position ``start`` and the
    key count ``step`` between fences, and 22 fences, the keys at positions ``start + j *
    step`` (``j = 1..22``, those inside the leaf's span), quantised as ``q(key) = 1 +
    floor((key - base) * scale)`` capped at 65534, where ``base`` is the first fence's
    key (``q`` is 0 below it) and ``scale`` maps the last fence's offset to 65532, so
    only the fences' own range is quantised (keys far beyond the first or the last
    fence, such as a leaf's outliers, cost it no resolution); the scale is kept within
    float32's normal range, so float offsets that overflow to inf stay monotone (a
    leaf whose fences span more than about 5e42, or less than about 1e-34, then
    quantises coarsely: wider windows, same answers).  Unused lanes hold 65535,
    above every ``q``.  ``q`` is non-decreasing in the key, so the fences are too, and a
    target ``x`` with ``a`` fences below ``q(x)`` and ``b`` at most ``q(x)`` has its lower
    bound in ``[start + a * step + (a > 0), start + (b + 1) * step]`` (see :class:`RMI`'s
    ``leaf_model``).  Keys clustered far apart inside one leaf share quantised values,
    and their windows widen (never their answers).  A table aligned to 64 bytes puts
    each record in one cache line: the line a lookup reads for its leaf anyway.

    >>> fence_leaf_dtype(np.dtype(np.float32)).itemsize
    64
    """
    base = {"u": np.uint64, "i": np.int64, "f": np.float64}[key_dtype.kind]
    return np.dtype([("base", base), ("start", np.uint32), ("step", np.uint32), ("scale", np.float32),
                     ("fences", np.uint16, (LEAF_FENCES,))])


#: Bytes of one fence leaf record.
FENCE_LEAF_BYTES = fence_leaf_dtype(np.dtype(np.uint64)).itemsize
#: The most keys fence leaves index (their positions are uint32).
FENCE_MAX_KEYS = 2 ** 32 - 1


def icept_unit(n: int) -> float:
    """Positions counted by one unit of a leaf's int32 ``icept``: 1 below 2**30 keys,
    else the power of two that keeps every position within int32 (the rounding then
    widens windows by at most that many keys, and the bounds include it).

    >>> icept_unit(10**7), icept_unit(3 * 2**30)
    (1.0, 4.0)
    """
    return float(2 ** max(0, int(n).bit_length() - 30))


_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1

#: One row per hybrid leaf: its separators are ``seps[off:off + count]``, the keys at
#: positions ``start, start + B, start + 2B, ...`` of the span ``[start, end)`` holding
#: every key routed to the leaf.
HYBRID_DTYPE = np.dtype([("off", np.int64), ("count", np.int64), ("start", np.int64), ("end", np.int64)])

#: Keys per slice of a build's routing, middle models and leaf fitting: the build's
#: temporaries, about 50 bytes per key, then exist for one slice (13 MB, in cache)
#: instead of for all keys (a leaf or middle group of more keys is summed slice by
#: slice).  Measured against whole-array builds: 10M keys 0.8-0.9 -> 0.4-0.6 s and a
#: peak of 49-51 -> 6-9 bytes per key; 200M keys 24.8 -> 10.6 s (bench/RESULTS.md,
#: "Builds in slices").
FIT_CHUNK = 1 << 18
#: Root evaluations of at least this many values use the compiled kernel in a build.
_COMPILED_ROUTING_MIN = 4096

#: Version of the layout :meth:`RMI._state` describes (2: 24-byte leaves, float32 radix
#: tables; version 1 files must be rebuilt and saved again).
STATE_VERSION = 2


def default_leaves(n: int) -> int:
    """Default leaf count: a power of two near ``n / 256`` (0.094 model bytes per key).

    >>> default_leaves(10_000_000)
    32768
    >>> default_leaves(10)
    1
    """
    if n <= 512:
        return 1
    return 1 << max(0, round(math.log2(n / 256)))


def _clamp_index(v: np.ndarray, size: int) -> np.ndarray:
    """``trunc(v)`` clamped to ``[0, size - 1]``; NaN maps to 0 (same as the scalar path)."""
    c = np.where(v > 0.0, v, 0.0)
    top = float(size - 1)
    c = np.where(c < top, c, top)
    return c.astype(np.int64)


def _clamp_index_scalar(v: float, size: int) -> int:
    c = v if v > 0.0 else 0.0
    top = float(size - 1)
    c = c if c < top else top
    return int(c)


#: The default root's fallback (``RMI(keys)`` without ``root``): a spline of up to this
#: many knots (one per 1,024 keys, at least 16), taken when routing through it leaves
#: keys in leaves at least ``DEFAULT_SPLINE_MARGIN`` bits less crowded than a radix
#: table does.  (On 10M lognormal keys with 30 outliers near 2**64: 32 knots 96.9 ns per
#: batch lookup, 64 89.2, 128 84.9, 256 80.6, 1,024 86.5; windows 2^4.84 -> 2^4.41.)
DEFAULT_SPLINE_KNOTS = 256
DEFAULT_SPLINE_MARGIN = 2.0
#: Below this many keys the default root is always the radix table: the comparison costs
#: about 1 ms, half a build at 20K keys (containers rebuild at every merge), while a bad
#: table there costs a search of at most that many keys, in cache.
DEFAULT_CHOICE_MIN_KEYS = 1 << 16


def _crowding_bits(pred: np.ndarray, size: int) -> float:
    """Average over the keys of ``log2`` of how many keys share their group, when a root
    predicting ``pred`` routes them to ``size`` groups: ``log2(n / size)`` for an even
    routing, more the more it piles keys together (a leaf's window grows with its keys).

    >>> _crowding_bits(np.array([0.5, 1.5, 2.5, 3.5]), 4), _crowding_bits(np.zeros(4), 4)
    (0.0, 2.0)
    """
    group = _clamp_index(pred, size)
    counts = np.bincount(group, minlength=size)
    return float(np.mean(np.log2(counts[group])))


def _group_order(group: np.ndarray, size: int):
    """``(order, bounds)``: ``order[bounds[g]:bounds[g + 1]]`` are the positions of the
    elements of group ``g``, in their original order (one stable argsort)."""
    order = np.argsort(group, kind="stable")
    return order, np.concatenate(([0], np.cumsum(np.bincount(group, minlength=size))))


def _runs_linear(counts: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Least-squares ``(intercept, slope)`` per group, with no loop over groups, for values
    in runs: group ``g`` is the next ``counts[g]`` elements of ``x`` and ``y`` (as monotone
    routing lays out a leaf's keys).  Sums come from ``np.add.reduceat`` over the runs, no
    scatter; two passes (means, then centred sums) keep precision for large offsets."""
    size = counts.size
    ids = np.flatnonzero(counts)
    runs = counts[ids]
    starts = np.concatenate(([0], np.cumsum(runs)[:-1]))

    def sums(v):
        out = np.zeros(size)
        if ids.size:
            out[ids] = np.add.reduceat(v, starts)
        return out

    def spread(per_group):
        return np.repeat(per_group[ids], runs)

    with np.errstate(over="ignore", invalid="ignore"):
        safe = np.where(counts > 0, counts, 1).astype(np.float64)
        mx = sums(x) / safe
        my = sums(y) / safe
        dx = x - spread(mx)
        sxx = sums(dx * dx)
        sxy = sums(dx * (y - spread(my)))
        return _line_from_sums(mx, my, sxx, sxy)


def _line_from_sums(mx, my, sxx, sxy):
    """``(intercept, slope)`` per group from its means and centred sums (least squares)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    slope[~np.isfinite(slope)] = 0.0
    icept = my - slope * mx
    # Offsets that overflow (float keys spanning +-DBL_MAX) leave no finite line: predict
    # the group's mean position instead; the error bounds still cover every key.
    bad = ~np.isfinite(icept)
    icept[bad] = my[bad]
    slope[bad] = 0.0
    return icept, slope


def _sliced_linear(ids_of, size: int, slices, x_of, y_of):
    """Least-squares ``(intercept, slope)`` per group of ``size`` groups, from sums
    accumulated over position ``slices``; ``ids_of(a, b)``, ``x_of(a, b)`` and ``y_of(a,
    b)`` give positions ``[a, b)``'s group ids and values.  Two passes (means, then centred
    sums) as :func:`_runs_linear`; a group inside one slice gets the same sums as
    one pass over all values gives it.  Memory: ``O(size)`` plus one slice's values."""
    cnt, sx, sy, sxx, sxy = (np.zeros(size) for _ in range(5))
    with np.errstate(over="ignore", invalid="ignore"):
        for a, b in slices:
            g = ids_of(a, b)
            cnt += np.bincount(g, minlength=size)
            sx += np.bincount(g, weights=x_of(a, b), minlength=size)
            sy += np.bincount(g, weights=y_of(a, b), minlength=size)
        safe = np.where(cnt > 0, cnt, 1.0)
        mx, my = sx / safe, sy / safe
        for a, b in slices:
            g = ids_of(a, b)
            dx = x_of(a, b) - mx[g]
            sxx += np.bincount(g, weights=dx * dx, minlength=size)
            sxy += np.bincount(g, weights=dx * (y_of(a, b) - my[g]), minlength=size)
        return _line_from_sums(mx, my, sxx, sxy)


def _non_decreasing(a: np.ndarray) -> bool:
    """Whether ``a`` is sorted, compared ``FIT_CHUNK`` values at a time (no ``n``-sized
    temporary)."""
    for k0 in range(0, max(0, a.size - 1), FIT_CHUNK):
        part = a[k0:k0 + FIT_CHUNK + 1]
        if not np.all(part[1:] >= part[:-1]):
            return False
    return True


def _equal_ranges(keys: np.ndarray, start: int = 0):
    """For every position ``i`` of sorted ``keys``: ``[lb_i, ub_i)`` is the run of keys
    equal to ``keys[i]`` (int64 arrays), counted from ``start`` (the position of
    ``keys[0]`` when ``keys`` is a slice of a whole array).

    >>> [v.tolist() for v in _equal_ranges(np.array([1, 2, 2, 3]))]
    [[0, 1, 1, 3], [1, 3, 3, 4]]
    """
    n = keys.size
    idx = np.arange(start, start + n, dtype=np.int64)
    if n < 2 or not np.any(keys[1:] == keys[:-1]):
        return idx, idx + 1
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    lb = np.maximum.accumulate(np.where(new, idx, start))
    end = np.empty(n, dtype=bool)
    end[-1] = True
    end[:-1] = new[1:]
    ub = np.minimum.accumulate(np.where(end, idx + 1, start + n)[::-1])[::-1]
    return lb, ub


class RMI(IndexBase):
    """A recursive-model index over a sorted array of numeric keys; every answer is exact.

    ``keys`` is a sorted 1-D array (or sequence) of uint32, uint64, int32, int64,
    float32 or float64 numbers; duplicates are allowed.  A C-contiguous array of a
    supported dtype is **not copied**: the index keeps a read-only view of it, so do not
    modify the array afterwards (pass ``copy=True`` for a private copy).

    Parameters: ``root`` is the root model family (``"linear"``, ``"spline"``,
    ``"cubic"``, ``"radix"``, ``"loglinear"``, ``"mlp"``) with ``root_params`` passed to
    its fit (``{"hidden": [16], "seed": 0}`` for a small ReLU network trained with
    torch, see :class:`learnedidx.models.MLP`).  The default (``None``) is a radix
    table, or a spline of up to ``DEFAULT_SPLINE_KNOTS`` knots at the keys' quantiles when the
    keys defeat a table over their range (a few outliers far above the rest, clusters
    far apart: the table then sends most keys to a few leaves; :meth:`_default_root`);
    with ``root_params`` and no ``root``, a radix table. ``leaves`` the number of linear leaf
    models (default :func:`default_leaves`); ``stages`` 2 or 3 (three adds ``middle``
    linear models between root and leaves); ``max_error``: leaves whose window would be
    wider than this many keys become *hybrid* leaves (a separator array, see
    :meth:`_make_hybrid`), so no lookup searches a wider window (None: no bound).
    ``leaf_model``: ``"linear"`` (a line and error bounds per leaf) or ``"fences"``
    (:func:`fence_leaf_dtype`: 22 of the leaf's keys, quantised to 16 bits, in one
    64-byte record; a lookup counts those below its target with a few vector compares
    and searches the ``1/23`` of the leaf's span between two of them, or more where
    fences share a quantised value).  Fence leaves fit no model and need no error
    bounds; on clustered keys, where lines fit badly, they give narrower windows in the
    same bytes (GSHHG, 594 KB: average log2 window 6.48 against 8.44, bench/RESULTS.md,
    "Fence leaves"), on smooth keys lines win.  They exclude ``max_error`` and hold
    32-bit positions (fewer than 2**32 keys).
    ``backend`` picks the lookup path: ``"compiled"`` (the Cython kernels),
    ``"numpy"`` (the plain reference) or ``"auto"`` (compiled when built).

    Build: ``O(n)`` vectorised numpy.  Lookup: ``O(1)`` model evaluation plus
    ``O(log w)`` for a window of ``w`` keys; a window that misses (absent keys past a
    leaf edge, non-monotone roots) is repaired by exponential search.

    >>> import numpy as np
    >>> keys = np.array([2, 3, 5, 7, 11, 13, 17, 19, 23, 29], dtype=np.uint64)
    >>> idx = RMI(keys)
    >>> idx.searchsorted(12), idx.searchsorted(13, side="right"), idx.lookup(17)
    (5, 6, 6)
    >>> idx.searchsorted(np.array([0, 29, 30]))
    array([ 0,  9, 10])
    >>> 7 in idx, idx.contains([4, 5]).tolist(), idx.range(5, 18)
    (True, [False, True], (2, 7))
    """

    name = "RMI"

    def __init__(self, keys, root: str | None = None, leaves: int | None = None, stages: int = 2, *,
                 middle: int | None = None, root_params: dict | None = None, max_error: int | None = None,
                 middle_model: str = "linear", middle_params: dict | None = None,
                 leaf_model: str = "linear", copy: bool = False, backend: str = "auto"):
        check_backend(backend)
        self._keys = as_sorted_keys(keys, copy=copy)
        n = self._keys.size
        self._n = n
        self.dtype = self._keys.dtype
        if not isinstance(stages, (int, np.integer)) or isinstance(stages, bool) or stages not in (2, 3):
            raise ValueError(f"stages must be 2 or 3, got {stages!r}")
        if root is None and root_params:
            root = "radix"
        model_cls = get_model(root) if root is not None else None
        if leaves is None:
            leaves = default_leaves(n)
        if not isinstance(leaves, (int, np.integer)) or isinstance(leaves, bool) or leaves < 1:
            raise ValueError(f"leaves must be a positive int, got {leaves!r}")
        self.n_leaves = int(leaves)
        self.stages = int(stages)
        if stages == 3:
            middle = middle if middle is not None else max(1, 1 << round(math.log2(self.n_leaves) / 2))
            if not isinstance(middle, (int, np.integer)) or isinstance(middle, bool) or middle < 1:
                raise ValueError(f"middle must be a positive int, got {middle!r}")
            self.n_middle = int(middle)
        else:
            if middle is not None or middle_model != "linear" or middle_params:
                raise ValueError("middle, middle_model and middle_params are only used with stages=3")
            self.n_middle = 0
        if middle_model not in ("linear", "mlp"):
            raise ValueError(f"middle_model must be 'linear' or 'mlp', got {middle_model!r}")
        self.middle_model, self.middle_params = middle_model, dict(middle_params or {})
        if max_error is not None and (not isinstance(max_error, (int, np.integer)) or isinstance(max_error, bool)
                                      or max_error < 1):
            raise ValueError(f"max_error must be a positive int (window width in keys) or None, got {max_error!r}")
        self.max_error = None if max_error is None else int(max_error)
        if leaf_model not in LEAF_MODELS:
            raise ValueError(f"leaf_model must be 'linear' or 'fences', got {leaf_model!r}")
        if leaf_model == "fences":
            if max_error is not None:
                raise ValueError("max_error bounds linear leaves' windows; fence leaves bound theirs by "
                                 "their fence step, so pass max_error=None with leaf_model='fences'")
            if n > FENCE_MAX_KEYS:
                raise ValueError(f"fence leaves store 32-bit positions: {n} keys is too many; "
                                 "use leaf_model='linear'")
        self.leaf_model = leaf_model
        self.root_name = root
        self.root_params = dict(root_params or {})
        self._backend_req = backend
        start = time.perf_counter()
        self._fit(model_cls)
        self.build_seconds = time.perf_counter() - start
        self._finish(backend)

    def _finish(self, backend: str) -> None:
        """Attach the lookup path (after a fit or a load)."""
        self._fallbacks = 0
        self._fence_stats = None
        self._leaf_lists = None
        self._seps_list = None
        self._kernel = self._make_kernel(backend)
        if self._kernel is not None:
            self._attach_kernel(self._kernel)
        self.backend = "numpy" if self._kernel is None else "compiled"

    # ------------------------------------------------------------------ fitting

    def _make_kernel(self, backend: str):
        """The compiled lookup state, or None for the numpy reference path."""
        module = require_compiled(compiled_module("learnedidx._kernels.rmi_kernel"), backend)
        if module is None:
            return None
        root_vec, root_size = self.root.kernel_params()
        mid = self._mid_vec if self.stages == 3 else np.zeros(0)
        # (fence leaves only pass their flag, so a kernel build older than them still
        # serves linear leaves: bench/kernel_ab.py times one against the other)
        fences = (True,) if self.leaf_model == "fences" else ()
        return module.RMIKernel(self._keys, self._leaves, self.root.kind, np.ascontiguousarray(root_vec),
                          int(root_size), mid, self.n_middle, self._mid_kind, self._mid_size, self.stages,
                          self._xlo, self._xhi, self._xlo_half, self._inv,
                          self._hybrid.view(np.int64).reshape(-1), self._seps, self.max_error or 0,
                          self._icept_unit, *fences)

    def _set_input_range(self):
        keys = self._keys
        if self.dtype.kind == "f":
            finite = keys[np.isfinite(keys)]
            lo, hi = (float(finite[0]), float(finite[-1])) if finite.size else (0.0, 0.0)
        elif keys.size:
            lo, hi = float(keys[0]), float(keys[-1])
        else:
            lo = hi = 0.0
        self._set_range(lo, hi)

    def _set_range(self, lo: float, hi: float) -> None:
        """Model input range ``[lo, hi]`` and the normalisation constants derived from it."""
        self._xlo, self._xhi = lo, hi
        self._xlo_half = lo * 0.5
        half_range = hi * 0.5 - lo * 0.5
        inv = 1.0 / half_range if half_range > 0 else 0.0
        # A subnormal range overflows 1/half_range: route everything to leaf 0 instead
        # (slow but exact; the window search and its verification still hold).
        self._inv = inv if math.isfinite(inv) else 0.0

    def _normalise(self, targets: np.ndarray) -> np.ndarray:
        x = self._clip_float(targets.astype(np.float64))
        return (x * 0.5 - self._xlo_half) * self._inv

    def _normalise_scalar(self, target) -> float:
        x = self._clip_float_scalar(float(target))
        return (x * 0.5 - self._xlo_half) * self._inv

    def _fit(self, model_cls):
        keys, n, L = self._keys, self._n, self.n_leaves
        self._icept_unit = icept_unit(n)
        self._set_input_range()
        self._mid_kind, self._mid_size, self._mid_lists = Linear.kind, 0, None
        first_stage = self.n_middle if self.stages == 3 else L
        stride = max(1, n // (1 << 20))
        sample = np.arange(0, n, stride)
        if n and sample[-1] != n - 1:
            sample = np.append(sample, n - 1)
        t_sample = self._normalise(keys[sample])
        scale = first_stage / n if n else 0.0
        if self.root_name is None:
            self.root = self._default_root(t_sample, sample * scale, first_stage)
        else:
            params = dict(self.root_params)
            if self.root_name == "radix" and "bits" not in params:
                params["bits"] = _default_radix_bits(n)
            self.root = model_cls.fit(t_sample, sample * scale, **params)
        del t_sample
        group = self._route_keys(first_stage)
        if self.stages == 3:
            self._fit_middle(group)
            group = self._route_middle(group)
        if self.leaf_model == "fences":
            self._fit_fence_leaves(group)
        else:
            self._fit_leaves(group)

    def _route_keys(self, size: int) -> np.ndarray:
        """Root output of every key, clamped to ``[0, size)`` (a leaf, or a middle model
        with three stages), routed ``FIT_CHUNK`` keys at a time (:meth:`_ids_in_slices`)."""
        compiled = self._n >= _COMPILED_ROUTING_MIN    # one evaluation path for every slice
        return self._ids_in_slices(size, lambda part, t: self._root_predict(t, compiled))

    def _route_middle(self, group: np.ndarray) -> np.ndarray:
        """Leaf of every key of a three-stage build, given its middle model ``group``,
        ``FIT_CHUNK`` keys at a time."""
        return self._ids_in_slices(self.n_leaves, lambda part, t: self._middle_predict(group[part], t))

    def _ids_in_slices(self, size: int, predict) -> np.ndarray:
        """``predict(part, t)`` (a stage's output for the keys at positions ``part``, a
        slice, normalised to ``t``) clamped to ``[0, size)``, for every key, ``FIT_CHUNK``
        keys at a time, so the normalised keys and the outputs exist for one slice at a
        time, not for all.

        Runtime complexity: ``O(n)``; memory: ``n`` int32 ids plus ``O(FIT_CHUNK)``.
        """
        keys, n = self._keys, self._n
        ids = np.empty(n, dtype=np.int32 if size <= _INT32_MAX else np.int64)   # half the bytes
        for k0 in range(0, n, FIT_CHUNK):
            part = slice(k0, min(n, k0 + FIT_CHUNK))
            ids[part] = _clamp_index(predict(part, self._normalise(keys[part])), size)
        return ids

    def _fit_middle(self, group: np.ndarray) -> None:
        """Fit the middle models of a three-stage build, each on the keys the root sends
        it (``group``), to predict a key's leaf (its position scaled to the leaf count)."""
        n, M = self._n, self.n_middle
        scale = self.n_leaves / n if n else 0.0
        if self.middle_model == "mlp":
            self._fit_mlp_middle(group, scale)
            return
        a, b = _sliced_linear(lambda k0, k1: group[k0:k1], M, self._group_slices(group, M),
                              lambda k0, k1: self._normalise(self._keys[k0:k1]),
                              lambda k0, k1: np.arange(k0, k1) * scale)
        vec = np.empty(2 * M)
        vec[0::2], vec[1::2] = a, b
        self._set_middle(vec, Linear.kind, 0)

    def _group_slices(self, group: np.ndarray, size: int) -> list[tuple[int, int]]:
        """Position slices for per-group sums over ``group`` (ids in ``[0, size)``): for
        sorted ids, whole groups of up to ``FIT_CHUNK`` keys per slice (so each group's
        sums are those of one pass over all keys) and a bigger group in pieces of
        ``FIT_CHUNK``; otherwise :meth:`_scattered_slices`."""
        n = group.size
        if not _non_decreasing(group):
            return self._scattered_slices(0, n, size)
        ends = np.searchsorted(group, np.arange(1, size + 1, dtype=group.dtype))
        out, k0 = [], 0
        while k0 < n:
            j = int(np.searchsorted(ends, k0 + FIT_CHUNK, side="right")) - 1
            k1 = int(ends[j]) if j >= 0 else k0            # the last whole group that fits
            if k1 <= k0:                       # the group at k0 alone is longer than a slice
                k1 = min(n, k0 + FIT_CHUNK)
            out.append((k0, k1))
            k0 = k1
        return out

    def _default_root(self, t: np.ndarray, y: np.ndarray, size: int):
        """The default root, fitted on the sample ``(t, y)`` routing to ``size`` groups: a
        radix table, unless a spline of up to ``DEFAULT_SPLINE_KNOTS`` knots at the sample's
        quantiles crowds its keys ``DEFAULT_SPLINE_MARGIN`` bits less (:func:`_crowding_bits`);
        sets ``root_name`` and ``root_params`` to the one taken.

        The table interpolates the CDF at evenly spaced points of the keys' *range*, so a
        few keys far from the rest (SOSD's ``fb`` ends in a handful of ids near 2**64) put
        nearly all keys into its first bucket and a straight line through it: on the
        ``lognormal_outliers`` benchmark set (10M keys, 33 of them above 2**63) the
        windows averaged 2^22.8 keys and a batch lookup took 182 ns, against 2^4.4 and
        50 ns with the spline (the B-tree: 67).  On keys a table suits, the spline's knot
        search costs instructions for little gain (crowding, radix vs spline: lognormal
        5.2 vs 4.0 bits, GSHHG 4.3 vs 4.6, uniform 4.0 vs 4.0; those outliers: 14.0 vs
        4.0), hence the margin (bench/RESULTS.md, "The default root on keys with far
        outliers").  The comparison adds about 1 ms to a build.
        """
        radix = get_model("radix").fit(t, y, bits=_default_radix_bits(self._n))
        self.root_name, self.root_params = "radix", {}
        if self._n < DEFAULT_CHOICE_MIN_KEYS:
            return radix
        # compared on <= 2**14 of the sample's keys, in groups of ~16 of them (about 1 ms;
        # a table that fails, fails at every scale); the spline taken is then fitted on
        # the whole sample
        step = -(-t.size // (1 << 14))
        ts, ys = t[::step], y[::step]
        groups = max(1, min(size, ts.size // 16))
        shrink = groups / size
        knots = min(DEFAULT_SPLINE_KNOTS, max(16, self._n >> 10))
        trial = get_model("spline").fit(ts, ys, knots=knots)
        if (_crowding_bits(radix.predict(ts) * shrink, groups) - _crowding_bits(trial.predict(ts) * shrink, groups)
                >= DEFAULT_SPLINE_MARGIN):
            self.root_name, self.root_params = "spline", {"knots": knots}
            return get_model("spline").fit(t, y, knots=knots)
        return radix

    def _fit_mlp_middle(self, group: np.ndarray, scale: float) -> None:
        """One small network per middle model, fitted on the keys the root sends it
        (``group``) to predict their positions times ``scale``.

        Middle networks default to the closed-form fit (``epochs=0``: hinge features at
        the group's quantiles, least-squares output), which needs no torch and costs
        ``O(group size)`` each; ``middle_params={"epochs": ...}`` trains them too.
        """
        params = {"hidden": [8], "epochs": 0, **self.middle_params}
        M = self.n_middle
        if _non_decreasing(group):             # each group a run of positions: no argsort
            order = None
            bounds = np.concatenate(([0], np.searchsorted(group, np.arange(1, M + 1, dtype=group.dtype))))
        else:
            order, bounds = _group_order(group, M)

        def member(m):                         # positions of group m's keys
            return np.arange(bounds[m], bounds[m + 1]) if order is None else order[bounds[m]:bounds[m + 1]]
        models = []
        for m in range(M):
            sel = member(m)
            models.append(MLP.fit(self._normalise(self._keys[sel]), sel * scale, **params) if sel.size else None)
        shape = next((mod for mod in models if mod is not None), None)
        if shape is None:                                   # no keys at all
            shape = MLP.fit(np.linspace(0, 1, 4), np.zeros(4), **params)
        for m in range(M):
            if models[m] is None:     # no key routes here: a constant, the next leaf's start
                first = bounds[m] if order is None or bounds[m] >= self._n else order[bounds[m]]
                start = float(first * scale) if bounds[m] < self._n else float(self.n_leaves - 1)
                models[m] = MLP([(np.zeros_like(W), np.zeros_like(b)) for W, b in shape.layers[:-1]]
                                + [(np.zeros_like(shape.layers[-1][0]), np.array([start]))])
        size = shape.kernel_params()[1]
        vec = np.concatenate([_same_width(mod, shape).kernel_params()[0] for mod in models])
        self._set_middle(vec, MLP.kind, size)

    def _set_middle(self, vec: np.ndarray, kind: int, size: int) -> None:
        """Install the middle stage from its flat parameter vector (``n_middle`` models of
        equal length, the kernels' layout): linear ``(a, b)`` pairs or MLPs."""
        M = self.n_middle
        if vec.ndim != 1 or vec.dtype != np.float64 or M < 1 or vec.size % M:
            raise ValueError("middle stage parameters do not split into one vector per model")
        stride = vec.size // M
        if kind == Linear.kind:
            if stride != 2 or size != 0:
                raise ValueError("linear middle models take 2 parameters each")
            self._mid_a, self._mid_b = vec[0::2], vec[1::2]
        elif kind != MLP.kind:
            raise ValueError(f"unknown middle model kind {kind}")
        self._mid_vec, self._mid_kind, self._mid_size = np.ascontiguousarray(vec), int(kind), int(size)
        # Python-level forms of the middle stage (per-model lists or network objects) are
        # made on first use by the reference path: opening a saved index allocates no more
        # than its file, and the compiled kernels never need them.
        self._mid_lists = None

    def _middle_lists(self):
        """``(a, b)`` Python lists of a linear middle stage, or a list of ``MLP`` models."""
        if self._mid_lists is None:
            vec, M = self._mid_vec, self.n_middle
            if self._mid_kind == MLP.kind:
                stride = vec.size // M
                self._mid_lists = [MLP.from_kernel_params(vec[m * stride:(m + 1) * stride], self._mid_size)
                                   for m in range(M)]
            else:
                self._mid_lists = (self._mid_a.tolist(), self._mid_b.tolist())
        return self._mid_lists

    def _middle_predict(self, m: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Middle model ``m[i]``'s prediction at ``t[i]`` for every ``i`` (vectorised)."""
        if self._mid_kind != MLP.kind:
            return self._mid_a[m] + self._mid_b[m] * t
        models = self._middle_lists()
        out = np.empty(t.size)
        order, bounds = _group_order(m, self.n_middle)
        for g in np.flatnonzero(np.diff(bounds)):
            sel = order[bounds[g]:bounds[g + 1]]
            out[sel] = models[g].predict(t[sel])
        return out

    def _root_predict(self, t: np.ndarray, compiled: bool | None = None) -> np.ndarray:
        """Root predictions for the build: the compiled evaluation when this index uses
        the kernels (bit-identical to the reference, and much faster for an MLP), for
        ``t`` of at least ``_COMPILED_ROUTING_MIN`` values unless ``compiled`` says."""
        module = None if self._backend_req == "numpy" else compiled_module("learnedidx._kernels.rmi_kernel")
        if compiled is None:
            compiled = t.size >= _COMPILED_ROUTING_MIN
        if module is None or not compiled:
            return self.root.predict(t)
        vec, size = self.root.kernel_params()
        out = np.empty(t.size)
        module.predict_many(self.root.kind, np.ascontiguousarray(vec), int(size), t, out)
        return out

    def _fit_leaves(self, leaf: np.ndarray):
        """Fit every leaf's model and error bounds to the keys routed to it (``leaf``).

        Slices of about ``FIT_CHUNK`` keys at a time, so the float64 temporaries exist for
        one slice, not for all keys.  With monotone routing each leaf's keys are one run
        of the key array and a slice holds whole leaves (the same sums, so the same
        models, as all at once); otherwise, and for a leaf of more keys than a slice,
        per-leaf sums accumulate over the slices (:meth:`_fit_leaves_scattered`).

        Runtime complexity: ``O(n + L log n)``.
        """
        L = self.n_leaves
        self._leaves = aligned_zeros(L, leaf_dtype(self.dtype))
        self._leaf_lists = None
        # starts: where each leaf's keys would start if routing is monotone; empty
        # leaves predict exactly that boundary with slope 0.
        counts, starts = self._leaf_counts(leaf)
        if not self._monotone:
            self._fit_leaves_scattered(0, L, 0, leaf.size, leaf, counts, starts)
        else:
            ends = starts + counts
            l0 = 0
            while l0 < L:
                l1 = max(l0 + 1, int(np.searchsorted(ends, starts[l0] + FIT_CHUNK, side="right")))
                k0, k1 = int(starts[l0]), int(ends[l1 - 1])
                ids = leaf[k0:k1] - l0 if l0 else leaf[k0:k1]
                # (more keys than a slice: one leaf, whose sums then accumulate over slices)
                fit = self._fit_leaves_scattered if k1 - k0 > FIT_CHUNK else self._fit_leaf_run
                fit(l0, l1, k0, k1, ids, counts[l0:l1], starts[l0:l1])
                l0 = l1
        self._key_leaf_counts = counts
        self._make_hybrid(leaf, starts, counts)

    def _fit_leaf_run(self, l0: int, l1: int, k0: int, k1: int, leaf: np.ndarray, counts: np.ndarray,
                      starts: np.ndarray) -> None:
        """Fit leaves ``[l0, l1)`` of monotone routing on their keys, positions ``[k0, k1)``
        (``leaf``: each key's leaf id minus ``l0``; ``counts``, ``starts``: those leaves'
        key counts and start positions in the whole array)."""
        keys = self._keys[k0:k1]
        rec = self._leaves[l0:l1]
        nonempty = np.flatnonzero(counts)
        if keys.size:
            self._set_bases(rec, nonempty, keys[starts[nonempty] - k0])
            d = self._offsets(keys, rec["base"][leaf])
            y = np.arange(k0, k1, dtype=np.float64)
            icept, slope = _runs_linear(counts, d, y)
            del y
            self._set_lines(rec, icept, slope)
        self._set_empty(rec, counts, starts)
        if keys.size:
            p = self._positions_from_offsets(d, leaf, rec)   # the lookup's own arithmetic
            del d
            lb, ub = _equal_ranges(keys, k0)
            first = starts[nonempty] - k0
            self._set_bounds(rec, nonempty, np.minimum.reduceat(lb - p, first), np.maximum.reduceat(ub - p, first))

    def _fit_leaves_scattered(self, l0: int, l1: int, k0: int, k1: int, leaf: np.ndarray, counts: np.ndarray,
                              starts: np.ndarray) -> None:
        """Fit leaves ``[l0, l1)`` whose keys lie anywhere in positions ``[k0, k1)``
        (arguments as :meth:`_fit_leaf_run`'s), with per-leaf first keys and sums
        accumulated over slices (first keys, then :func:`_sliced_linear`, then error
        bounds): for non-monotone routing (an MLP or cubic root may send keys back to an
        earlier leaf) and for a single leaf of more keys than a slice."""
        keys, n = self._keys, self._n
        rec = self._leaves[l0:l1]
        size = l1 - l0
        nonempty = np.flatnonzero(counts)
        slices = self._scattered_slices(k0, k1, size)
        first = np.full(size, n, dtype=np.int64)
        for a, b in slices:
            np.minimum.at(first, leaf[a - k0:b - k0], np.arange(a, b, dtype=np.int64))
        if k1 > k0:
            self._set_bases(rec, nonempty, keys[first[nonempty]])
        base = rec["base"]

        def offsets(a, b):
            return self._offsets(keys[a:b], base[leaf[a - k0:b - k0]])

        icept, slope = _sliced_linear(lambda a, b: leaf[a - k0:b - k0], size, slices, offsets,
                                      lambda a, b: np.arange(a, b, dtype=np.float64))
        self._set_lines(rec, icept, slope)
        self._set_empty(rec, counts, starts)
        elo = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
        ehi = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
        for a, b in slices:
            part = leaf[a - k0:b - k0]
            p = self._positions_from_offsets(offsets(a, b), part, rec)
            lb, ub = _equal_ranges(keys[a:b], a)
            np.minimum.at(elo, part, lb - p)
            np.maximum.at(ehi, part, ub - p)
        self._set_bounds(rec, nonempty, elo[nonempty], ehi[nonempty])

    def _scattered_slices(self, k0: int, k1: int, size: int) -> list[tuple[int, int]]:
        """``(a, b)`` slices of positions ``[k0, k1)`` for :meth:`_fit_leaves_scattered`,
        of at least ``FIT_CHUNK`` and at least ``size`` keys (the leaves fitted: each
        slice's per-leaf sums cost ``O(size)``) but the last, never splitting a run of
        equal keys (their bounds are the run's)."""
        keys = self._keys
        step = max(FIT_CHUNK, size)
        out, a = [], k0
        while a < k1:
            b = min(k1, a + step)
            if b < k1:                         # extend to the end of a run of equal keys
                b = min(k1, int(np.searchsorted(keys, keys[b - 1], side="right")))
            out.append((a, b))
            a = b
        return out

    def _leaf_counts(self, leaf: np.ndarray):
        """``(counts, starts)``: the keys routed to each leaf (``leaf``: every key's leaf
        id) and where each leaf's keys start if routing is monotone; sets ``_monotone``.

        Runtime complexity: ``O(L log n)`` for monotone routing, else ``O(n)`` in slices.
        """
        L = self.n_leaves
        self._monotone = _non_decreasing(leaf)
        if self._monotone:                     # (bincount would copy the ids to int64)
            counts = np.diff(np.searchsorted(leaf, np.arange(L + 1, dtype=leaf.dtype)))
        else:
            counts = np.zeros(L, dtype=np.int64)
            for k0, k1 in self._scattered_slices(0, leaf.size, L):
                counts += np.bincount(leaf[k0:k1], minlength=L)
        return counts, np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)

    def _leaf_spans(self, leaf: np.ndarray, ids: np.ndarray, starts: np.ndarray, counts: np.ndarray):
        """``(start, end)``: the span of positions from the first to past the last key routed
        to each leaf of ``ids`` (non-empty leaves).  Contiguous runs for monotone routing;
        otherwise the span also holds other leaves' keys, and is found in slices."""
        if self._monotone:
            return starts[ids], starts[ids] + counts[ids]
        first = np.full(self.n_leaves, self._n, dtype=np.int64)
        last = np.zeros(self.n_leaves, dtype=np.int64)
        for k0, k1 in self._scattered_slices(0, self._n, self.n_leaves):
            pos = np.arange(k0, k1, dtype=np.int64)
            np.minimum.at(first, leaf[k0:k1], pos)
            np.maximum.at(last, leaf[k0:k1], pos)
        return first[ids], last[ids] + 1

    def _fit_fence_leaves(self, leaf: np.ndarray) -> None:
        """Build a fence leaf (:func:`fence_leaf_dtype`) for every leaf: no model to fit,
        only the keys at every ``step``-th position of the leaf's span, quantised.

        ``step`` is ``ceil(span / 23)``, so the leaf's first key and its fences (22, or
        fewer in a short span) cut the span into runs of ``step`` keys (the last one
        shorter).  A leaf with no fence (empty, or one key) searches ``[start, start +
        1)``; an empty leaf's ``start`` is its boundary, where its targets' answers lie.

        Runtime complexity: ``O(n + L log n)`` (``O(n)`` more for non-monotone routing,
        in slices of ``FIT_CHUNK`` keys); memory: ``64 L`` bytes beyond the leaf ids.
        """
        L, keys = self.n_leaves, self._keys
        counts, starts = self._leaf_counts(leaf)
        rec = aligned_zeros(L, fence_leaf_dtype(self.dtype))
        rec["start"], rec["step"], rec["fences"] = starts, 1, FENCE_UNUSED
        ids = np.flatnonzero(counts)
        start, end = self._leaf_spans(leaf, ids, starts, counts)
        span = end - start
        step = np.maximum(1, -(-span // (LEAF_FENCES + 1)))
        rec["start"][ids], rec["step"][ids] = start, step
        used = np.minimum((span - 1) // step, LEAF_FENCES)     # fences inside each span
        fenced = used > 0
        ids, start, step, used = ids[fenced], start[fenced], step[fenced], used[fenced]
        if ids.size:
            self._set_bases(rec, ids, keys[start + step])             # the first fence's key
            last = self._offsets(keys[start + used * step], rec["base"][ids])
            with np.errstate(divide="ignore", over="ignore"):       # (a subnormal offset: clipped below)
                scale = np.where(last > 0, FENCE_SCALE_TO / np.where(last > 0, last, 1.0), 1.0)
            # Within float32's normal range: a scale of 0 (float keys whose offsets
            # overflow to inf) or inf would make inf * 0 a NaN, and q non-monotone.
            f32 = np.finfo(np.float32)
            rec["scale"][ids] = np.clip(scale, float(f32.tiny), float(f32.max)).astype(np.float32)
            for j in range(1, LEAF_FENCES + 1):
                inside = np.flatnonzero(used >= j)
                if inside.size == 0:
                    break
                rows = ids[inside]
                rec["fences"][rows, j - 1] = self._fence_levels(keys[start[inside] + j * step[inside]], rows, rec)
        self._leaves = rec
        self._leaf_lists = None
        self._key_leaf_counts = counts
        self._hybrid = np.zeros(0, dtype=HYBRID_DTYPE)
        self._seps = np.zeros(0, dtype=self.dtype)

    def _fence_levels(self, targets: np.ndarray, leaf: np.ndarray, rec: np.ndarray | None = None) -> np.ndarray:
        """``q(target)`` of each target in its fence leaf (int64 in ``[0, 65534]``), the
        kernel's arithmetic: the float64 offset from ``base`` times the float32 scale,
        0 below ``base`` (and for NaN), else one more, capped, truncated."""
        rec = self._leaves if rec is None else rec
        d = self._offsets(targets, rec["base"][leaf])
        with np.errstate(over="ignore", invalid="ignore"):
            qd = d * rec["scale"][leaf].astype(np.float64)
            qd = np.where(qd >= 0.0, qd + 1.0, 0.0)
        return np.where(qd < float(FENCE_TOP), qd, float(FENCE_TOP)).astype(np.int64)

    def _fence_windows(self, targets: np.ndarray, leaf: np.ndarray):
        """``(lo, hi)`` windows of targets in their fence leaves (``leaf``), in slices of
        ``FIT_CHUNK`` targets (a slice compares ``22 * FIT_CHUNK`` fences)."""
        rec, n = self._leaves, self._n
        lo = np.empty(targets.size, dtype=np.int64)
        hi = np.empty(targets.size, dtype=np.int64)
        for k0 in range(0, targets.size, FIT_CHUNK):
            part = slice(k0, k0 + FIT_CHUNK)
            lf = leaf[part]
            q = self._fence_levels(targets[part], lf)[:, None]
            f = rec["fences"][lf]
            lt = (f < q).sum(axis=1, dtype=np.int64)
            le = (f <= q).sum(axis=1, dtype=np.int64)
            start, step = rec["start"][lf].astype(np.int64), rec["step"][lf].astype(np.int64)
            a = np.minimum(start + lt * step + (lt > 0), n)
            lo[part] = a
            hi[part] = np.maximum(np.minimum(start + (le + 1) * step, n), a)
        return lo, hi

    def _fence_window_scalar(self, target, leaf: int):
        """Scalar twin of :meth:`_fence_windows` (pure Python)."""
        if self._leaf_lists is None:
            rec = self._leaves
            self._leaf_lists = (rec["base"].tolist(), rec["start"].tolist(), rec["step"].tolist(),
                                rec["scale"].astype(np.float64).tolist(), rec["fences"].tolist())
        base, start, step, scale, fences = (col[leaf] for col in self._leaf_lists)
        qd = self._offset_scalar(target, base) * scale
        qd = qd + 1.0 if qd >= 0.0 else 0.0
        q = int(qd if qd < float(FENCE_TOP) else float(FENCE_TOP))
        lt, le = bisect.bisect_left(fences, q), bisect.bisect_right(fences, q)
        a = min(start + lt * step + (lt > 0), self._n)
        return a, max(min(start + (le + 1) * step, self._n), a)

    def _set_bases(self, rec: np.ndarray, nonempty: np.ndarray, first_keys: np.ndarray) -> None:
        """The leaves ``nonempty``'s ``base``: ``first_keys`` (a linear leaf's first key, a
        fence leaf's first fence), clipped to the finite range for floats."""
        if self.dtype.kind == "f":
            rec["base"][nonempty] = self._clip_float(first_keys.astype(np.float64))
        else:
            rec["base"][nonempty] = first_keys

    def _set_lines(self, rec: np.ndarray, icept: np.ndarray, slope: np.ndarray) -> None:
        """Store fitted lines as the leaf's float32 slope and quantised intercept."""
        rec["slope"] = _to_float32(slope)
        rec["icept"] = self._quantize_icepts(icept)

    def _set_empty(self, rec: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> None:
        """Empty leaves predict their boundary ``starts`` with slope 0 (their window is the
        empty one there; with a rounded intercept its bounds carry the rounding)."""
        empty = counts == 0
        rec["icept"][empty] = self._quantize_icepts(starts[empty])
        rec["slope"][empty] = 0.0
        if empty.any() and self._icept_unit > 1.0:    # (below 2**30 keys the bounds are 0)
            p = self._positions_from_offsets(np.zeros(int(empty.sum())), np.flatnonzero(empty), rec)
            rec["elo"][empty] = rec["ehi"][empty] = starts[empty] - p

    @staticmethod
    def _set_bounds(rec: np.ndarray, nonempty: np.ndarray, elo: np.ndarray, ehi: np.ndarray) -> None:
        """Store the non-empty leaves' signed error bounds (int32)."""
        # Errors beyond int32 are clamped: the window then misses and the verified
        # fallback answers exactly (only possible with more than 2**31 keys).
        rec["elo"][nonempty] = np.clip(elo, _INT32_MIN, _INT32_MAX)
        rec["ehi"][nonempty] = np.clip(ehi, _INT32_MIN, _INT32_MAX)

    def _quantize_icepts(self, positions: np.ndarray) -> np.ndarray:
        """Fitted intercepts (positions) as the int32 count of ``_icept_unit`` a leaf stores (rounded)."""
        units = np.rint(np.asarray(positions, dtype=np.float64) / self._icept_unit)
        return np.clip(units, _INT32_MIN, _INT32_MAX).astype(np.int32)

    def _make_hybrid(self, leaf: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> None:
        """Replace every leaf whose window is wider than ``max_error`` by a separator array.

        The leaf's keys lie in the span ``[start, end)`` of the key array (its first and
        last routed key; contiguous for monotone routing, and still a bound when routing
        is not).  Every ``B``-th key of the span (``B = max_error``) becomes a separator;
        a lookup counts the separators below its target (a binary search over a few cache
        lines) and searches the ``B`` keys between two of them, so no window is wider
        than ``max_error`` whatever the CDF inside the leaf.

        Runtime complexity: ``O(L + n / B)`` (``O(n)`` more for non-monotone routing, in
        slices of ``FIT_CHUNK`` keys).
        """
        rec, B = self._leaves, self.max_error
        self._hybrid = np.zeros(0, dtype=HYBRID_DTYPE)
        self._seps = np.zeros(0, dtype=self.dtype)
        if B is None or self._n == 0:
            return
        width = rec["ehi"].astype(np.int64) - rec["elo"]
        ids = np.flatnonzero((width > B) & (counts > 0))
        if ids.size == 0:
            return
        start, end = self._leaf_spans(leaf, ids, starts, counts)
        count = (end - start + B - 1) // B
        off = np.concatenate(([0], np.cumsum(count)[:-1]))
        hyb = np.zeros(ids.size, dtype=HYBRID_DTYPE)
        hyb["off"], hyb["count"], hyb["start"], hyb["end"] = off, count, start, end
        row = np.repeat(np.arange(ids.size), count)
        sep_pos = start[row] + (np.arange(int(count.sum())) - off[row]) * B
        self._hybrid = hyb
        self._seps = np.ascontiguousarray(self._keys[sep_pos])
        rec["slope"][ids] = np.nan
        rec["icept"][ids] = 0
        rec["elo"][ids] = np.arange(ids.size)
        rec["ehi"][ids] = 0

    def _hybrid_windows(self, targets: np.ndarray, rows: np.ndarray):
        """``(lo, hi)`` windows of targets routed to hybrid leaves (their table ``rows``)."""
        h = self._hybrid[rows]
        off, count, start, end = h["off"], h["count"], h["start"], h["end"]
        c = search.lower_bound_batch(self._seps, targets, off, off + count) - off
        return self._hybrid_window_from(c, start, end)

    def _hybrid_window_from(self, c, start, end):
        """Window of a target with ``c`` separators below it (vector or scalar ints)."""
        B = self.max_error
        lo = start + np.maximum(c - 1, 0) * B + (c > 0)
        hi = np.minimum(start + c * B + 1, end)
        return lo, hi

    def _clip_float(self, x: np.ndarray) -> np.ndarray:
        """``x`` clamped to the keys' finite range (the model input; +-inf included)."""
        x = np.where(x > self._xlo, x, self._xlo)
        return np.where(x < self._xhi, x, self._xhi)

    def _clip_float_scalar(self, x: float) -> float:
        """Scalar twin of :meth:`_clip_float`, same comparisons."""
        x = x if x > self._xlo else self._xlo
        return x if x < self._xhi else self._xhi

    # ------------------------------------------------------------ model arithmetic

    def _offsets(self, targets: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Signed float64 offset of each target from ``base`` (its leaf's: the first key, or
        a fence leaf's first fence), exact before rounding."""
        kind = self.dtype.kind
        if kind == "f":
            with np.errstate(over="ignore"):      # +-inf offsets are clamped downstream
                return self._clip_float(targets.astype(np.float64)) - base
        if kind == "u":
            q, b = targets.astype(np.uint64, copy=False), base
            ge = q >= b
        else:
            signed = targets.astype(np.int64, copy=False)
            ge = signed >= base
            q, b = signed.view(np.uint64), base.view(np.uint64)
        # uint64 subtraction wraps; the branch taken is the exact, non-negative difference.
        return np.where(ge, (q - b).astype(np.float64), -((b - q).astype(np.float64)))

    def _offset_scalar(self, target, base) -> float:
        if self.dtype.kind == "f":
            return self._clip_float_scalar(float(target)) - base
        return float(target - base)

    def _route(self, targets: np.ndarray) -> np.ndarray:
        """Leaf id of every target (vectorised)."""
        t = self._normalise(targets)
        if self.stages == 3:
            m = _clamp_index(self.root.predict(t), self.n_middle)
            return _clamp_index(self._middle_predict(m, t), self.n_leaves)
        return _clamp_index(self.root.predict(t), self.n_leaves)

    def _route_scalar(self, target) -> int:
        t = self._normalise_scalar(target)
        if self.stages == 3:
            m = _clamp_index_scalar(self.root.predict_scalar(t), self.n_middle)
            mid = self._middle_lists()
            if self._mid_kind == MLP.kind:
                return _clamp_index_scalar(mid[m].predict_scalar(t), self.n_leaves)
            return _clamp_index_scalar(mid[0][m] + mid[1][m] * t, self.n_leaves)
        return _clamp_index_scalar(self.root.predict_scalar(t), self.n_leaves)

    def _predict_positions(self, targets: np.ndarray, leaf: np.ndarray) -> np.ndarray:
        return self._positions_from_offsets(self._offsets(targets, self._leaves["base"][leaf]), leaf)

    def _positions_from_offsets(self, d: np.ndarray, leaf: np.ndarray, rec: np.ndarray | None = None) -> np.ndarray:
        """Leaf model prediction from offsets, clamped to ``[0, n]`` (NaN -> 0); ``leaf``
        indexes ``rec``, the leaf table or a slice of it (default: the whole table)."""
        rec = self._leaves if rec is None else rec
        with np.errstate(over="ignore", invalid="ignore"):   # inf, or inf * 0 = NaN: clamped below
            pred = rec["icept"][leaf] * self._icept_unit + rec["slope"][leaf] * d      # float32 * float64: in float64
        c = np.where(pred > 0.0, pred, 0.0)
        fn = float(self._n)
        c = np.where(c < fn, c, fn)
        return c.astype(np.int64)

    def _windows(self, targets: np.ndarray):
        """``(leaf, lo, hi)`` arrays: the routed leaf and the search window of each target."""
        leaf, _, lo, hi = self.predict(targets)
        return leaf, lo, hi

    def predict(self, v):
        """Model output for diagnostics: ``(leaf, position, lo, hi)`` arrays for ``v``.

        ``v`` is an array of values of the key dtype; ``position`` is the leaf model's
        clamped prediction (a hybrid leaf's: the start of its window; a fence leaf's: its
        window's middle, where the search starts) and ``[lo, hi)`` the window the lookup
        searches first.

        >>> idx = RMI(np.arange(0, 1000, 10), leaves=4)
        >>> leaf, pos, lo, hi = idx.predict(np.array([500]))
        >>> bool(lo[0] <= 50 <= hi[0])
        True
        """
        targets = np.ascontiguousarray(np.asarray(v, dtype=self.dtype)).reshape(-1)
        leaf = self._route(targets)
        if self.leaf_model == "fences":
            lo, hi = self._fence_windows(targets, leaf)
            return leaf, (lo + hi) >> 1, lo, hi
        pos = self._predict_positions(targets, leaf)
        rec = self._leaves
        lo = np.clip(pos + rec["elo"][leaf], 0, self._n)
        hi = np.clip(pos + rec["ehi"][leaf], 0, self._n)
        if self._hybrid.size:
            hyb = np.flatnonzero(np.isnan(rec["slope"][leaf]))
            if hyb.size:
                lo[hyb], hi[hyb] = self._hybrid_windows(targets[hyb], rec["elo"][leaf[hyb]])
                pos[hyb] = lo[hyb]
        return leaf, pos, lo, hi

    def _leaf_scalar(self, i: int):
        if self._leaf_lists is None:
            rec = self._leaves
            self._leaf_lists = (rec["base"].tolist(), rec["slope"].tolist(), rec["icept"].tolist(),
                                rec["elo"].tolist(), rec["ehi"].tolist())
        b, s, c, lo, hi = self._leaf_lists
        return b[i], s[i], c[i], lo[i], hi[i]

    def _window_scalar(self, target):
        """Scalar twin of :meth:`_windows`: ``(leaf, lo, hi)`` as Python ints."""
        leaf = self._route_scalar(target)
        if self.leaf_model == "fences":
            return (leaf, *self._fence_window_scalar(target, leaf))
        base, slope, icept, elo, ehi = self._leaf_scalar(leaf)
        if slope != slope:                      # NaN marks a hybrid leaf
            return (leaf, *self._hybrid_window_scalar(target, elo))
        pred = icept * self._icept_unit + slope * self._offset_scalar(target, base)
        c = pred if pred > 0.0 else 0.0
        fn = float(self._n)
        c = c if c < fn else fn
        p = int(c)
        n = self._n
        lo = min(max(p + elo, 0), n)
        hi = min(max(p + ehi, 0), n)
        return leaf, lo, hi

    def _hybrid_window_scalar(self, target, row: int):
        """Scalar twin of :meth:`_hybrid_windows` for one target (pure Python)."""
        if self._seps_list is None:
            self._seps_list = (self._seps.tolist(), self._hybrid.tolist())
        seps, table = self._seps_list
        off, count, start, end = table[row]
        c = bisect.bisect_left(seps, target, off, off + count) - off
        lo, hi = self._hybrid_window_from(c, start, end)
        return int(lo), int(hi)

    # ------------------------------------------------------------------ lookups

    def _reference_lower_bound(self, targets: np.ndarray) -> np.ndarray:
        """Exact lower bound of each target (1-D, key dtype): the numpy reference path."""
        _, lo, hi = self._windows(targets)
        pos, fell_back = search.search_window_batch(self._keys, targets, lo, hi)
        self._fallbacks += fell_back
        return pos

    def _reference_lower_bound_scalar(self, target) -> int:
        """Exact lower bound of one target: the pure-Python reference path."""
        _, lo, hi = self._window_scalar(target)
        pos, fell_back = search.search_window(self._keys, target, lo, hi)
        self._fallbacks += fell_back
        return pos

    @property
    def nbytes(self) -> int:
        """Model bytes a lookup may read: root, middle and leaf records, not the keys."""
        mid = self._mid_vec.nbytes if self.stages == 3 else 0
        return int(self.root.nbytes + mid + self._leaves.nbytes + self._hybrid.nbytes + self._seps.nbytes)

    def stats(self) -> dict:
        """Model configuration, per-leaf error statistics and the fallback counter.

        ``avg_log2_window`` averages ``log2(window + 1)`` over keys (the expected search
        depth); ``fallbacks`` counts lookups since the build whose window missed.
        ``O(L)``, except for fence leaves: their averages read every key once
        (:meth:`_fence_key_windows`), later calls reuse them.

        >>> s = RMI(np.arange(1000, dtype=np.int64), leaves=4).stats()
        >>> s["leaves"], s["max_window"], s["fallbacks"]
        (4, 1, 0)
        """
        counts = self._key_leaf_counts
        if self.leaf_model == "fences":
            window = self._fence_key_windows()
        else:
            window = self._linear_key_windows()
        return {
            "n": self._n,
            "dtype": self.dtype.name,
            "root": self.root_name,
            "stages": self.stages,
            "leaves": self.n_leaves,
            "leaf_model": self.leaf_model,
            "middle": self.n_middle,
            "middle_model": self.middle_model if self.stages == 3 else None,
            "empty_leaves": int((counts == 0).sum()),
            "model_bytes": self.nbytes,
            "bytes_per_key": self.nbytes / self._n if self._n else 0.0,
            **window,
            "monotone_routing": self._monotone,
            "max_error_bound": self.max_error,
            "hybrid_leaves": int(self._hybrid.size),
            "separators": int(self._seps.size),
            "fallbacks": self._fallbacks + (self._kernel.fallbacks if self._kernel is not None else 0),
            "backend": self.backend,
            "build_seconds": self.build_seconds,
            "root_training": dict(getattr(self.root, "train_info", {})),
        }

    def _fence_key_windows(self) -> dict:
        """:meth:`stats`' window figures for fence leaves.

        A fence leaf has no single width: its keys search ``step`` keys, or ``(r + 1) *
        step`` where a run of ``r`` fences shares their quantised value.  So the averages
        are those of every key's own window, computed once (``O(n)``, in slices of
        ``FIT_CHUNK`` keys, with the compiled kernels when built) and kept; ``max_window``
        is the widest window any target can get, from the fences alone (``O(22 L)``).
        """
        if self._fence_stats is None:
            n, total, total_log = self._n, 0.0, 0.0
            for k0 in range(0, n, FIT_CHUNK):
                part = self._keys[k0:k0 + FIT_CHUNK]
                if self._kernel is not None:
                    leaf, lo, hi = (np.empty(part.size, dtype=np.int64) for _ in range(3))
                    self._kernel.windows_batch(part, leaf, lo, hi)
                else:
                    _, lo, hi = self._windows(part)
                w = (hi - lo).astype(np.float64)
                total += float(w.sum())
                total_log += float(np.log2(w + 1.0).sum())
            f, step = self._leaves["fences"], self._leaves["step"].astype(np.int64)
            used = f != FENCE_UNUSED
            longest = np.zeros(self.n_leaves, dtype=np.int64)   # longest run of equal used fences
            run = used.astype(np.int64)
            for j in range(LEAF_FENCES):
                if j:
                    run[:, j] = np.where(used[:, j] & (f[:, j] == f[:, j - 1]), run[:, j - 1] + 1, run[:, j])
                longest = np.maximum(longest, run[:, j])
            widest = int(np.minimum((longest + 1) * step, n).max(initial=0)) if n else 0
            self._fence_stats = {
                "mean_window": total / n if n else 0.0,
                "max_window": widest,
                "max_error": (widest + 1) // 2,          # from the window's middle, where the search starts
                "avg_log2_window": total_log / n if n else 0.0,
            }
        return dict(self._fence_stats)

    def _linear_key_windows(self) -> dict:
        """:meth:`stats`' window figures for linear (and hybrid) leaves, from each leaf's
        error bounds weighted by its key count."""
        rec, counts = self._leaves, self._key_leaf_counts
        width = (rec["ehi"].astype(np.int64) - rec["elo"]).astype(np.float64)
        max_err = np.maximum(np.abs(rec["elo"].astype(np.int64)), np.abs(rec["ehi"].astype(np.int64)))
        hybrid = np.isnan(rec["slope"])
        if self._hybrid.size:
            # a hybrid leaf's windows are at most B wide (narrower when its span is)
            span = self._hybrid["end"] - self._hybrid["start"]
            rows = rec["elo"][hybrid]
            width[hybrid] = np.minimum(span[rows], self.max_error)
            max_err[hybrid] = width[hybrid]
        nonempty = counts > 0
        w = width[nonempty]
        return {
            "mean_window": float(np.average(w, weights=counts[nonempty])) if self._n else 0.0,
            "max_window": int(w.max()) if w.size else 0,
            "max_error": int(max_err[nonempty].max()) if w.size else 0,
            "avg_log2_window": float(np.average(np.log2(w + 1), weights=counts[nonempty])) if self._n else 0.0,
        }

    def _check(self) -> None:
        """Verify the invariants; raise ``AssertionError`` naming the first violation.

        Keys sorted and NaN-free; one leaf record per leaf; every key's lower and upper
        bound inside the window its own lookup computes.

        Runtime complexity: ``O(n)`` vectorised.
        """
        keys, n = self._keys, self._n
        assert keys.ndim == 1 and keys.size == n, "key array changed size"
        assert n < 2 or not np.any(keys[1:] < keys[:-1]), "keys are no longer sorted (modified after build?)"
        if keys.dtype.kind == "f":
            assert not np.isnan(keys).any(), "keys contain NaN"
        rec = self._leaves
        assert rec.size == self.n_leaves, "leaf table size mismatch"
        assert int(self._key_leaf_counts.sum()) == n, "leaf counts do not add up to n"
        if self.leaf_model == "fences":
            problem = self._fence_problem()
            assert problem is None, problem
            hybrid = np.ones(self.n_leaves, dtype=bool)   # (their windows hold lower bounds only)
        else:
            hybrid = np.isnan(rec["slope"])
            assert np.all(rec["ehi"][~hybrid].astype(np.int64) >= rec["elo"][~hybrid]), "a leaf has ehi < elo"
            self._check_hybrid(hybrid)
        if n == 0:
            return
        leaf, lo, hi = self._windows(keys)
        lb, ub = _equal_ranges(self._keys)
        # a hybrid or fence window holds the lower bound (its width is its own, not the run of equals)
        in_hybrid = hybrid[leaf]
        bad = np.flatnonzero((lb < lo) | np.where(in_hybrid, lb > hi, ub > hi))
        assert bad.size == 0, (
            f"key at position {bad[0] if bad.size else -1} lies outside its window "
            f"(leaf {leaf[bad[0]] if bad.size else -1})")
        assert np.array_equal(np.bincount(leaf, minlength=self.n_leaves), self._key_leaf_counts), \
            "routing of the keys changed since the build"

    def _fence_problem(self) -> str | None:
        """What is inconsistent in a fence leaf table, or None: every position a lookup
        computes must be in ``[0, n]`` after its clamps, and the fences must be sorted
        (the kernel counts them as a prefix).  Also validates loaded files."""
        rec = self._leaves
        if self._hybrid.size or self._seps.size or self.max_error is not None:
            return "fence leaves with hybrid leaves or max_error"
        if not np.all(rec["start"].astype(np.int64) <= self._n):
            return "fence leaf start beyond the keys"
        if not np.all(rec["step"] >= 1):
            return "fence leaf step below 1"
        if not np.all(np.diff(rec["fences"].astype(np.int32), axis=1) >= 0):
            return "fence leaf fences are not sorted"
        if not np.all(np.isfinite(rec["scale"]) & (rec["scale"] >= 0)):
            return "fence leaf scale is not finite and non-negative"
        return None

    def _check_hybrid(self, hybrid: np.ndarray) -> None:
        problem = self._hybrid_problem(hybrid)
        assert problem is None, problem

    def _hybrid_problem(self, hybrid: np.ndarray) -> str | None:
        """What is inconsistent in the hybrid leaves' tables (every index a lookup reads
        must be in bounds), or None.  Also validates loaded files, so no ``assert``."""
        rows = self._leaves["elo"][hybrid].astype(np.int64)
        h = self._hybrid
        if rows.size != h.size or not np.array_equal(np.sort(rows), np.arange(h.size)):
            return "hybrid leaves and separator table disagree"
        if not h.size:
            return None if self._seps.size == 0 else "separators without hybrid leaves"
        if self.max_error is None or self.max_error < 1:
            return "hybrid leaves without max_error"
        B = self.max_error
        if B > 2 * self._n + 1:        # a hybrid leaf's window (> B) is at most 2n + 1 keys wide
            return "max_error too large for hybrid leaves"
        if not np.all((h["start"] >= 0) & (h["start"] < h["end"]) & (h["end"] <= self._n)):
            return "hybrid span out of range"
        # written so that no sum can overflow; with start < end above, it also makes every
        # count >= 1 (the kernels read at least one separator of a row)
        if not np.array_equal(h["count"], (h["end"] - h["start"] - 1) // B + 1):
            return "hybrid separator count does not match its span"
        if not np.array_equal(h["off"], np.concatenate(([0], np.cumsum(h["count"])[:-1]))):
            return "hybrid separator offsets are not consecutive"
        if int(h["count"].sum()) != self._seps.size:
            return "separator array size does not match the hybrid table"
        return None

    # ------------------------------------------------------------------ persistence

    def _state(self) -> tuple[dict, dict]:
        """``(meta, arrays)`` describing this index for :mod:`learnedidx.storage`.

        ``meta`` is JSON-serialisable (configuration and the model input range); ``arrays``
        holds the keys (by reference, not copied), the leaf records, the per-leaf key
        counts, the hybrid tables, the middle stage and the root's parameters.

        >>> meta, arrays = RMI(np.arange(10, dtype=np.int64), leaves=2)._state()
        >>> meta["root"], sorted(arrays)[:3]
        ('radix', ['hybrid', 'keys', 'leaf_counts'])
        """
        meta = {
            "version": STATE_VERSION, "n": self._n, "dtype": self.dtype.name, "root": self.root_name,
            "root_params": _json_params(self.root_params), "stages": self.stages, "leaves": self.n_leaves,
            "middle": self.n_middle, "max_error": self.max_error, "monotone": self._monotone,
            "middle_model": self.middle_model, "middle_params": _json_params(self.middle_params),
            "middle_kind": self._mid_kind if self.stages == 3 else 0,
            "middle_size": self._mid_size if self.stages == 3 else 0,
            "xlo": self._xlo, "xhi": self._xhi,
        }
        if self.leaf_model != "linear":        # (files of linear leaves stay as they were)
            meta["leaf_model"] = self.leaf_model
        arrays = {"keys": self._keys, "leaves": self._leaves,
                  "leaf_counts": np.ascontiguousarray(self._key_leaf_counts, dtype=np.int64),
                  "hybrid": self._hybrid, "seps": self._seps}
        if self.stages == 3:
            arrays["middle"] = self._mid_vec
        for name, value in self.root.params().items():
            arrays["root." + name] = np.ascontiguousarray(value)
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict, backend: str = "auto") -> "RMI":
        """Rebuild an index from :meth:`_state` output without refitting or copying.

        Arrays may be read-only memory maps.  Everything a lookup indexes with is
        validated (sizes, dtypes, hybrid tables, model parameters), so inconsistent input
        raises ``ValueError`` instead of reading out of bounds.  The keys' order is not
        re-checked (that costs ``O(n)``; :meth:`_check` does it).

        Runtime complexity: ``O(model size)``; the keys are not read.

        >>> idx = RMI(np.array([1.5, 2.5, 4.0]), max_error=1)
        >>> RMI._from_state(*idx._state()).searchsorted(2.5)
        1
        """
        check_backend(backend)
        try:
            self = cls.__new__(cls)
            self._load_state(meta, arrays)
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            raise ValueError(f"inconsistent RMI state: {type(e).__name__}: {e}") from None
        self.build_seconds = 0.0
        self._finish(backend)
        return self

    def _load_state(self, meta: dict, arrays: dict) -> None:
        def need(ok: bool, what: str):
            if not ok:
                raise ValueError(f"inconsistent RMI state: {what}")

        def integer(name, lo=0):
            v = meta[name]
            need(isinstance(v, int) and not isinstance(v, bool) and v >= lo, f"{name} must be an int >= {lo}")
            return v

        if meta.get("version") == 1:
            raise ValueError("inconsistent RMI state: version 1 (32-byte leaves, float64 radix tables) is no "
                             "longer read; rebuild the index from its keys and save it again")
        need(meta.get("version") == STATE_VERSION, f"unknown RMI state version {meta.get('version')!r}")
        keys = arrays["keys"]
        self.dtype = np.dtype(meta["dtype"])
        need(keys.dtype == self.dtype and keys.ndim == 1 and keys.flags.c_contiguous, "keys array dtype/shape")
        as_sorted_keys(keys[:2])                      # a supported dtype
        self._keys, self._n = keys, integer("n")
        self._icept_unit = icept_unit(self._n)
        need(keys.size == self._n, "key count")
        self.stages, self.n_leaves, self.n_middle = integer("stages", 2), integer("leaves", 1), integer("middle")
        need(self.stages in (2, 3) and (self.n_middle >= 1) == (self.stages == 3), "stages/middle")
        self.root_name, self.root_params = meta["root"], dict(meta["root_params"])
        self.root = get_model(self.root_name).from_params(
            {k[5:]: v for k, v in arrays.items() if k.startswith("root.")})
        self.leaf_model = meta.get("leaf_model", "linear")
        need(self.leaf_model in LEAF_MODELS, "leaf model")
        fences = self.leaf_model == "fences"
        rec = arrays["leaves"]
        need(rec.dtype == (fence_leaf_dtype if fences else leaf_dtype)(self.dtype) and rec.shape == (self.n_leaves,),
             "leaf records")
        need(not fences or self._n <= FENCE_MAX_KEYS, "fence leaves over more than 2**32 - 1 keys")
        counts = arrays["leaf_counts"]
        need(counts.dtype == np.int64 and counts.shape == (self.n_leaves,), "leaf counts")
        # counts in [0, n] whose running total never passes n and ends at n: an int64 sum of
        # forged counts cannot wrap around to n
        total = np.cumsum(counts)
        need(bool(np.all((counts >= 0) & (counts <= self._n))) and int(total.max(initial=0)) <= self._n
             and (int(total[-1]) if total.size else 0) == self._n, "leaf counts must add up to n")
        self._leaves, self._key_leaf_counts = rec, counts
        self._mid_kind, self._mid_size, self._mid_lists = Linear.kind, 0, None
        self.middle_model, self.middle_params = meta["middle_model"], dict(meta["middle_params"])
        need(self.middle_model in ("linear", "mlp"), "middle model")
        if self.stages == 3:
            kind, size = integer("middle_kind"), integer("middle_size")
            need(kind == (MLP.kind if self.middle_model == "mlp" else Linear.kind), "middle model kind")
            self._set_middle(np.ascontiguousarray(arrays["middle"], dtype=np.float64), kind, size)
        me = meta["max_error"]
        need(me is None or (isinstance(me, int) and not isinstance(me, bool) and me >= 1), "max_error")
        self.max_error = me
        self._hybrid, self._seps = arrays["hybrid"], arrays["seps"]
        need(self._hybrid.dtype == HYBRID_DTYPE and self._hybrid.ndim == 1, "hybrid table dtype")
        need(self._seps.dtype == self.dtype and self._seps.ndim == 1, "separator dtype")
        if fences:
            problem = self._fence_problem()
            need(problem is None, str(problem))
        else:
            hybrid = np.isnan(rec["slope"])
            problem = self._hybrid_problem(hybrid)
            need(problem is None, str(problem))
            # an empty-or-inverted window would make the window search trust a wrong position
            need(bool(np.all(rec["ehi"][~hybrid].astype(np.int64) >= rec["elo"][~hybrid])), "a leaf has ehi < elo")
        self._monotone = bool(meta["monotone"])
        xlo, xhi = meta["xlo"], meta["xhi"]
        need(all(isinstance(v, (int, float)) and math.isfinite(v) for v in (xlo, xhi)) and xlo <= xhi,
             "model input range")
        self._set_range(float(xlo), float(xhi))

    def __repr__(self) -> str:
        extra = "" if self.max_error is None else f", max_error={self.max_error}"
        extra += "" if self.leaf_model == "linear" else f", leaf_model={self.leaf_model!r}"
        return (f"{type(self).__name__}(n={self._n}, dtype={self.dtype.name}, root={self.root_name!r}, "
                f"leaves={self.n_leaves}, stages={self.stages}{extra})")

    @classmethod
    def auto(cls, keys, max_bytes: int | None = None, *, backend: str = "auto", **tune_kwargs) -> "RMI":
        """An RMI of the configuration :func:`learnedidx.tuning.tune` picks for ``keys``.

        ``max_bytes`` bounds the model bytes; ``tune_kwargs`` go to ``tune`` (``target``,
        ``calibrate``, ...).  The tuning result is kept as ``.tuning``.

        >>> idx = RMI.auto(np.arange(0, 3000, 3), max_bytes=4096, calibrate=False, roots=[("linear", {})])
        >>> idx.searchsorted(300), idx.nbytes <= 4096, idx.tuning.best["root"]
        (100, True, 'linear')
        """
        from .tuning import tune          # the tuner imports this module
        keys = as_sorted_keys(keys)
        result = tune(keys, max_bytes=max_bytes, **tune_kwargs)
        idx = cls(keys, backend=backend, **result.best)
        idx.tuning = result
        return idx


def _default_radix_bits(n: int) -> int:
    """Bits of a radix root when ``root_params`` names none: the largest table up to 2**12
    entries costing <= 0.05 byte per key (measured: fewer bits widen the windows of skewed
    keys sharply, more buy little).

    >>> _default_radix_bits(10**7), _default_radix_bits(1000)
    (12, 4)
    """
    return min(12, max(4, int(math.log2(max(n, 1) / 80)) if n >= 1280 else 4))


def _to_float32(v: np.ndarray) -> np.ndarray:
    """Finite float64 values as float32, clamped to its range (a slope beyond it, from
    float keys packed into a tiny range, then predicts worse, never NaN or inf: a NaN
    slope marks a hybrid leaf)."""
    big = float(np.finfo(np.float32).max)
    return np.clip(v, -big, big).astype(np.float32)


def _json_params(params: dict) -> dict:
    """``params`` with numpy scalars and tuples turned into JSON types (else ``TypeError``)."""
    def plain(v):
        if isinstance(v, (bool, str)) or v is None:
            return v
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v)
        if isinstance(v, (list, tuple, np.ndarray)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        raise TypeError(f"model parameter {v!r} cannot be saved (use ints, floats, strings, lists)")
    return {str(k): plain(v) for k, v in params.items()}


def _same_width(model, first):
    """``model`` if its widths equal ``first``'s (the kernels need one stride), else an error."""
    if model.hidden != first.hidden:
        raise ValueError("middle networks must share their widths")
    return model
