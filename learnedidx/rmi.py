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
routed -> per-leaf least squares from ``np.bincount`` sums (no loop over leaves) ->
per-leaf signed errors of the exact lookup path itself, so every key lies in its window.

This module is the plain numpy reference; the compiled kernels are tested against it.
"""
from __future__ import annotations

import math

import numpy as np

from . import search
from ._memory import aligned_zeros
from ._validate import as_sorted_keys
from .interface import IndexBase, check_backend, compiled_module, require_compiled
from .models import get_model

#: Leaf record: one 32-byte struct, so a leaf costs half a cache line.
def leaf_dtype(key_dtype: np.dtype) -> np.dtype:
    """The structured dtype of one leaf for keys of ``key_dtype`` (32 bytes)."""
    base = {"u": np.uint64, "i": np.int64, "f": np.float64}[key_dtype.kind]
    return np.dtype([("base", base), ("slope", np.float64), ("icept", np.float64),
                     ("elo", np.int32), ("ehi", np.int32)])


_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def default_leaves(n: int) -> int:
    """Default leaf count: a power of two near ``n / 256`` (0.125 model bytes per key).

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


def _per_group_linear(group: np.ndarray, x: np.ndarray, y: np.ndarray, size: int, contiguous: bool = False):
    """Least-squares ``(intercept, slope, count)`` per group, with no loop over groups.

    Sums come from ``np.bincount``, or, when ``contiguous`` (``group`` non-decreasing,
    as monotone routing gives), from ``np.add.reduceat`` over the runs, which avoids
    the scatter.  Two passes (means, then centred sums) keep precision for large offsets.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _per_group_linear_sums(group, x, y, size, contiguous)


def _group_sums(group, size, contiguous, cnt):
    """``sums(values)`` per group, and ``spread(per_group)`` back to every element."""
    if not contiguous:
        return (lambda v: np.bincount(group, weights=v, minlength=size)), (lambda g: g[group])
    ids = np.flatnonzero(cnt)
    runs = cnt[ids].astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(runs)[:-1]))

    def sums(v):
        out = np.zeros(size)
        if ids.size:
            out[ids] = np.add.reduceat(v, starts)
        return out
    return sums, (lambda g: np.repeat(g[ids], runs))


def _per_group_linear_sums(group, x, y, size, contiguous):
    cnt = np.bincount(group, minlength=size).astype(np.float64)
    sums, spread = _group_sums(group, size, contiguous, cnt)
    safe = np.where(cnt > 0, cnt, 1.0)
    mx = sums(x) / safe
    my = sums(y) / safe
    dx = x - spread(mx)
    sxx = sums(dx * dx)
    sxy = sums(dx * (y - spread(my)))
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    slope[~np.isfinite(slope)] = 0.0
    icept = my - slope * mx
    # Offsets that overflow (float keys spanning +-DBL_MAX) leave no finite line: predict
    # the group's mean position instead; the error bounds still cover every key.
    bad = ~np.isfinite(icept)
    icept[bad] = my[bad]
    slope[bad] = 0.0
    return icept, slope, cnt


class RMI(IndexBase):
    """A recursive-model index over a sorted array of numeric keys; every answer is exact.

    ``keys`` is a sorted 1-D array (or sequence) of uint32, uint64, int32, int64,
    float32 or float64 numbers; duplicates are allowed.  A C-contiguous array of a
    supported dtype is **not copied**: the index keeps a read-only view of it, so do not
    modify the array afterwards (pass ``copy=True`` for a private copy).

    Parameters: ``root`` is the root model family (``"linear"``, ``"spline"``,
    ``"cubic"``, ``"radix"``, ``"loglinear"``) with ``root_params`` passed to its fit;
    ``leaves`` the number of linear leaf models (default :func:`default_leaves`);
    ``stages`` 2 or 3 (three adds ``middle`` linear models between root and leaves).
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

    def __init__(self, keys, root: str = "radix", leaves: int | None = None, stages: int = 2, *,
                 middle: int | None = None, root_params: dict | None = None, copy: bool = False,
                 backend: str = "auto"):
        check_backend(backend)
        self._keys = as_sorted_keys(keys, copy=copy)
        n = self._keys.size
        self._n = n
        self.dtype = self._keys.dtype
        if not isinstance(stages, (int, np.integer)) or isinstance(stages, bool) or stages not in (2, 3):
            raise ValueError(f"stages must be 2 or 3, got {stages!r}")
        model_cls = get_model(root)
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
            if middle is not None:
                raise ValueError("middle is only used with stages=3")
            self.n_middle = 0
        self.root_name = root
        self.root_params = dict(root_params or {})
        self._fallbacks = 0
        self._fit(model_cls)
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
        if self.stages == 3:
            mid = np.empty(2 * self.n_middle)
            mid[0::2], mid[1::2] = self._mid_a, self._mid_b
        else:
            mid = np.zeros(0)
        return module.RMIKernel(self._keys, self._leaves, self.root.kind, np.ascontiguousarray(root_vec, dtype=np.float64),
                          int(root_size), mid, self.n_middle, self.stages,
                          self._xlo, self._xhi, self._xlo_half, self._inv)

    def _set_input_range(self):
        keys = self._keys
        if self.dtype.kind == "f":
            finite = keys[np.isfinite(keys)]
            lo, hi = (float(finite[0]), float(finite[-1])) if finite.size else (0.0, 0.0)
        elif keys.size:
            lo, hi = float(keys[0]), float(keys[-1])
        else:
            lo = hi = 0.0
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
        self._set_input_range()
        first_stage = self.n_middle if self.stages == 3 else L
        t = self._normalise(keys)
        stride = max(1, n // (1 << 20))
        sample = np.arange(0, n, stride)
        if n and sample[-1] != n - 1:
            sample = np.append(sample, n - 1)
        scale = first_stage / n if n else 0.0
        params = dict(self.root_params)
        if self.root_name == "radix" and "bits" not in params:
            # the largest table up to 2**12 entries costing <= 0.1 byte per key (measured:
            # fewer bits widen the windows of skewed keys sharply, more buy little)
            params["bits"] = min(12, max(4, int(math.log2(max(n, 1) / 80)) if n >= 1280 else 4))
        self.root = model_cls.fit(t[sample], sample * scale, **params)
        group = _clamp_index(self.root.predict(t), first_stage)
        if self.stages == 3:
            a, b, _ = _per_group_linear(group, t, np.arange(n) * (L / n if n else 0.0), self.n_middle)
            self._mid_a, self._mid_b = a, b
            self._mid_a_list, self._mid_b_list = a.tolist(), b.tolist()
            leaf = _clamp_index(a[group] + b[group] * t, L)
        else:
            leaf = group
        del t, group
        self._fit_leaves(leaf)

    def _fit_leaves(self, leaf: np.ndarray):
        keys, n, L = self._keys, self._n, self.n_leaves
        rec = aligned_zeros(L, leaf_dtype(self.dtype))
        self._monotone = bool(n < 2 or np.all(leaf[1:] >= leaf[:-1]))
        counts = np.bincount(leaf, minlength=L)
        # Position where each leaf's keys would start if routing is monotone; empty
        # leaves predict exactly that boundary with slope 0.
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        nonempty = np.flatnonzero(counts)
        if n:
            if self._monotone:
                first = starts[nonempty]
            else:                              # (np.unique would sort all n leaf ids)
                first_all = np.full(L, n, dtype=np.int64)
                np.minimum.at(first_all, leaf, np.arange(n, dtype=np.int64))
                first = first_all[nonempty]
            base = rec["base"]
            if self.dtype.kind == "f":
                base[nonempty] = self._clip_float(keys[first].astype(np.float64))
            else:
                base[nonempty] = keys[first]
            d = self._offsets(keys, rec["base"][leaf])
            y = np.arange(n, dtype=np.float64)
            icept, slope, _ = _per_group_linear(leaf, d, y, L, contiguous=self._monotone)
            del y
            rec["slope"] = slope
            rec["icept"] = icept
        empty = counts == 0
        rec["icept"][empty] = starts[empty]
        rec["slope"][empty] = 0.0
        self._leaves = rec
        self._leaf_lists = None
        if n:
            p = self._positions_from_offsets(d, leaf)   # the lookup's own arithmetic
            del d
            lb, ub = self._equal_ranges()
            lo_err = lb - p
            hi_err = ub - p
            if self._monotone:
                elo = np.minimum.reduceat(lo_err, starts[nonempty])
                ehi = np.maximum.reduceat(hi_err, starts[nonempty])
            else:
                elo_all = np.zeros(L, dtype=np.int64)
                ehi_all = np.zeros(L, dtype=np.int64)
                elo_all[nonempty] = np.iinfo(np.int64).max
                ehi_all[nonempty] = np.iinfo(np.int64).min
                np.minimum.at(elo_all, leaf, lo_err)
                np.maximum.at(ehi_all, leaf, hi_err)
                elo, ehi = elo_all[nonempty], ehi_all[nonempty]
            # Errors beyond int32 are clamped: the window then misses and the verified
            # fallback answers exactly (only possible with more than 2**31 keys).
            rec["elo"][nonempty] = np.clip(elo, _INT32_MIN, _INT32_MAX)
            rec["ehi"][nonempty] = np.clip(ehi, _INT32_MIN, _INT32_MAX)
        self._key_leaf_counts = counts

    def _clip_float(self, x: np.ndarray) -> np.ndarray:
        """``x`` clamped to the keys' finite range (the model input; +-inf included)."""
        x = np.where(x > self._xlo, x, self._xlo)
        return np.where(x < self._xhi, x, self._xhi)

    def _clip_float_scalar(self, x: float) -> float:
        """Scalar twin of :meth:`_clip_float`, same comparisons."""
        x = x if x > self._xlo else self._xlo
        return x if x < self._xhi else self._xhi

    def _equal_ranges(self):
        """For every key position ``i``: ``[lb_i, ub_i)`` is the run of keys equal to it."""
        keys, n = self._keys, self._n
        idx = np.arange(n, dtype=np.int64)
        if n < 2 or not np.any(keys[1:] == keys[:-1]):
            return idx, idx + 1
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        lb = np.maximum.accumulate(np.where(new, idx, 0))
        end = np.empty(n, dtype=bool)
        end[-1] = True
        end[:-1] = new[1:]
        ub = np.minimum.accumulate(np.where(end, idx + 1, n)[::-1])[::-1]
        return lb, ub

    # ------------------------------------------------------------ model arithmetic

    def _offsets(self, targets: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Signed float64 offset of each target from its leaf's first key, exact before rounding."""
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
            return _clamp_index(self._mid_a[m] + self._mid_b[m] * t, self.n_leaves)
        return _clamp_index(self.root.predict(t), self.n_leaves)

    def _route_scalar(self, target) -> int:
        t = self._normalise_scalar(target)
        if self.stages == 3:
            m = _clamp_index_scalar(self.root.predict_scalar(t), self.n_middle)
            return _clamp_index_scalar(self._mid_a_list[m] + self._mid_b_list[m] * t, self.n_leaves)
        return _clamp_index_scalar(self.root.predict_scalar(t), self.n_leaves)

    def _predict_positions(self, targets: np.ndarray, leaf: np.ndarray) -> np.ndarray:
        return self._positions_from_offsets(self._offsets(targets, self._leaves["base"][leaf]), leaf)

    def _positions_from_offsets(self, d: np.ndarray, leaf: np.ndarray) -> np.ndarray:
        """Leaf model prediction from offsets, clamped to ``[0, n]`` (NaN -> 0)."""
        rec = self._leaves
        with np.errstate(over="ignore", invalid="ignore"):   # inf, or inf * 0 = NaN: clamped below
            pred = rec["icept"][leaf] + rec["slope"][leaf] * d
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
        clamped prediction and ``[lo, hi)`` the window the lookup searches first.

        >>> idx = RMI(np.arange(0, 1000, 10), leaves=4)
        >>> leaf, pos, lo, hi = idx.predict(np.array([500]))
        >>> bool(lo[0] <= 50 <= hi[0])
        True
        """
        targets = np.ascontiguousarray(np.asarray(v, dtype=self.dtype)).reshape(-1)
        leaf = self._route(targets)
        pos = self._predict_positions(targets, leaf)
        rec = self._leaves
        lo = np.clip(pos + rec["elo"][leaf], 0, self._n)
        hi = np.clip(pos + rec["ehi"][leaf], 0, self._n)
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
        base, slope, icept, elo, ehi = self._leaf_scalar(leaf)
        pred = icept + slope * self._offset_scalar(target, base)
        c = pred if pred > 0.0 else 0.0
        fn = float(self._n)
        c = c if c < fn else fn
        p = int(c)
        n = self._n
        lo = min(max(p + elo, 0), n)
        hi = min(max(p + ehi, 0), n)
        return leaf, lo, hi

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
        mid = 16 * self.n_middle if self.stages == 3 else 0
        return int(self.root.nbytes + mid + self._leaves.nbytes)

    def stats(self) -> dict:
        """Model configuration, per-leaf error statistics and the fallback counter.

        ``avg_log2_window`` averages ``log2(window + 1)`` over keys (the expected search
        depth); ``fallbacks`` counts lookups since the build whose window missed.

        >>> s = RMI(np.arange(1000, dtype=np.int64), leaves=4).stats()
        >>> s["leaves"], s["max_window"], s["fallbacks"]
        (4, 1, 0)
        """
        rec, counts = self._leaves, self._key_leaf_counts
        width = (rec["ehi"].astype(np.int64) - rec["elo"]).astype(np.float64)
        nonempty = counts > 0
        max_err = np.maximum(np.abs(rec["elo"].astype(np.int64)), np.abs(rec["ehi"].astype(np.int64)))
        w = width[nonempty]
        return {
            "n": self._n,
            "dtype": self.dtype.name,
            "root": self.root_name,
            "stages": self.stages,
            "leaves": self.n_leaves,
            "middle": self.n_middle,
            "empty_leaves": int((~nonempty).sum()),
            "model_bytes": self.nbytes,
            "bytes_per_key": self.nbytes / self._n if self._n else 0.0,
            "mean_window": float(np.average(w, weights=counts[nonempty])) if self._n else 0.0,
            "max_window": int(w.max()) if w.size else 0,
            "max_error": int(max_err[nonempty].max()) if w.size else 0,
            "avg_log2_window": float(np.average(np.log2(w + 1), weights=counts[nonempty])) if self._n else 0.0,
            "monotone_routing": self._monotone,
            "fallbacks": self._fallbacks + (self._kernel.fallbacks if self._kernel is not None else 0),
            "backend": self.backend,
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
        assert self._leaves.size == self.n_leaves, "leaf table size mismatch"
        assert np.all(self._leaves["ehi"].astype(np.int64) >= self._leaves["elo"]), "a leaf has ehi < elo"
        assert int(self._key_leaf_counts.sum()) == n, "leaf counts do not add up to n"
        if n == 0:
            return
        leaf, lo, hi = self._windows(keys)
        lb, ub = self._equal_ranges()
        bad = np.flatnonzero((lb < lo) | (ub > hi))
        assert bad.size == 0, (
            f"key at position {bad[0] if bad.size else -1} lies outside its window "
            f"(leaf {leaf[bad[0]] if bad.size else -1})")
        assert np.array_equal(np.bincount(leaf, minlength=self.n_leaves), self._key_leaf_counts), \
            "routing of the keys changed since the build"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={self._n}, dtype={self.dtype.name}, root={self.root_name!r}, "
                f"leaves={self.n_leaves}, stages={self.stages})")


