"""Linear spline model: knots at evenly spaced quantiles of the fitted data.

A piecewise-linear interpolation of the empirical CDF through ``knots`` points; the
prediction finds its segment by binary search over the knots (a handful of compares
on one cache line or two) and interpolates.  Monotone by construction.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import KIND_SPLINE, as_float64, read_only


def fit_spline(x: np.ndarray, y: np.ndarray, knots: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Knot positions ``xs`` (strictly increasing) and values ``ys`` of the spline.

    Knots sit on the data points at evenly spaced ranks, always including the first
    and the last, so the spline interpolates the empirical CDF there.

    Runtime complexity: ``O(n log n)`` if ``x`` is unsorted, else ``O(n)``.

    >>> xs, ys = fit_spline(np.linspace(0, 1, 11), np.arange(11.0), knots=3)
    >>> xs.tolist(), ys.tolist()
    ([0.0, 0.5, 1.0], [0.0, 5.0, 10.0])
    """
    if knots < 2:
        raise ValueError(f"a spline needs at least 2 knots, got {knots}")
    x, y = as_float64(x), as_float64(y)
    if x.size == 0:
        return np.array([0.0, 1.0]), np.zeros(2)
    if np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    ranks = np.unique(np.round(np.linspace(0, x.size - 1, knots)).astype(np.int64))
    xs, first = np.unique(x[ranks], return_index=True)
    ys = y[ranks][first]
    if xs.size == 1:
        xs = np.array([xs[0], xs[0] + 1.0])
        ys = np.array([ys[0], ys[0]])
    return xs, ys


class Spline:
    """Linear spline through ``k`` knots: ``24 k`` bytes (knots, values, slopes).

    >>> m = Spline.fit(np.linspace(0, 1, 101), np.linspace(0, 1, 101) ** 2, knots=11)
    >>> round(m.predict_scalar(0.5), 12)
    0.25
    """

    name: ClassVar[str] = "spline"
    kind: ClassVar[int] = KIND_SPLINE

    def __init__(self, xs, ys, copy: bool = True):
        # copy=False uses the arrays in place (from_params does so for read-only ones)
        self.xs = as_float64(xs).copy() if copy else as_float64(xs)
        self.ys = as_float64(ys).copy() if copy else as_float64(ys)
        if self.xs.size < 2 or self.xs.size != self.ys.size or np.any(np.diff(self.xs) <= 0):
            raise ValueError("spline knots must be >= 2 strictly increasing positions with one value each")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            self.slopes = np.diff(self.ys) / np.diff(self.xs)   # subnormal gaps overflow: 0 below
        self.slopes[~np.isfinite(self.slopes)] = 0.0
        self._lists = None        # Python floats for the scalar path, made on first use

    @classmethod
    def fit(cls, x, y, knots: int = 32) -> "Spline":
        return cls(*fit_spline(x, y, knots))

    @classmethod
    def from_params(cls, params) -> "Spline":
        xs, ys = params["knots"], params["values"]
        # read-only arrays (a loaded file's sections) are used in place: no copy at open
        return cls(xs, ys, copy=not read_only(xs, ys))

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = as_float64(x)
        j = np.searchsorted(self.xs, x, side="right") - 1
        j = np.clip(j, 0, self.xs.size - 2)
        return self.ys[j] + (x - self.xs[j]) * self.slopes[j]

    def predict_scalar(self, x: float) -> float:
        if self._lists is None:
            self._lists = (self.xs.tolist(), self.ys.tolist(), self.slopes.tolist())
        xs, ys, sl = self._lists
        lo, hi = 0, len(xs) - 1          # find the last knot <= x, clamped to a segment
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if xs[mid] <= x:
                lo = mid
            else:
                hi = mid
        return ys[lo] + (x - xs[lo]) * sl[lo]

    def params(self) -> dict[str, np.ndarray]:
        return {"knots": self.xs.copy(), "values": self.ys.copy()}

    def kernel_params(self) -> tuple[np.ndarray, int]:
        # knots, values, then the segment slopes the scalar and numpy paths use
        return np.concatenate([self.xs, self.ys, self.slopes]), self.xs.size

    @property
    def nbytes(self) -> int:
        return 3 * self.xs.nbytes

    @classmethod
    def param_bytes(cls, knots: int = 32) -> int:
        return 24 * knots          # knots, values and slopes (float64); fewer distinct keys keep fewer

    def __repr__(self) -> str:
        return f"Spline(knots={self.xs.size})"
