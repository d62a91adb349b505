"""Log-linear model ``y = a + b * log2(1 + S x)`` for heavily skewed key distributions.

``log2`` is the piecewise-linear approximation read off the float's exponent and
mantissa (``frexp``): exact, monotone, identical in numpy, Python and C, and cheap.
The scale ``S`` is chosen at fit time from a small grid by least-squares error.
"""
from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .base import KIND_LOGLINEAR, as_float64
from .linear import fit_linear

#: Candidate scales for ``S``; the fit keeps the one with the smallest squared error.
SCALES = tuple(float(2.0 ** k) for k in (0, 4, 8, 16, 24, 32, 48, 64))


def log2_approx(w: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``log2`` for ``w >= 1``: ``e - 2 + 2 m`` where ``w = m 2^e``.

    >>> log2_approx(np.array([1.0, 2.0, 3.0, 8.0]))
    array([0. , 1. , 1.5, 3. ])
    """
    m, e = np.frexp(as_float64(w))
    return (e.astype(np.float64) - 2.0) + 2.0 * m


def log2_approx_scalar(w: float) -> float:
    """Scalar :func:`log2_approx`, same float operations."""
    m, e = math.frexp(w)
    return (float(e) - 2.0) + 2.0 * m


def fit_loglinear(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(a, b, S)`` minimising the squared error of ``a + b log2(1 + S x)`` over the grid.

    Runtime complexity: ``O(n * len(SCALES))``.

    >>> x = np.linspace(0, 1, 100)
    >>> fit_loglinear(x, np.log2(1 + 255 * x))[2]
    256.0
    """
    x, y = as_float64(x), as_float64(y)
    best = None
    for s in SCALES:
        u = log2_approx(1.0 + x * s)
        a, b = fit_linear(u, y)
        err = float(np.sum((a + b * u - y) ** 2))
        if best is None or err < best[0]:
            best = (err, a, b, s)
    return best[1], best[2], best[3]


class LogLinear:
    """``y = a + b log2(1 + S x)``: 24 bytes, a ``frexp`` and two multiply-adds.

    >>> m = LogLinear.fit(np.linspace(0, 1, 100), np.log2(1 + 255 * np.linspace(0, 1, 100)))
    >>> m.scale
    256.0
    """

    name: ClassVar[str] = "loglinear"
    kind: ClassVar[int] = KIND_LOGLINEAR

    def __init__(self, a: float, b: float, scale: float):
        self.a, self.b, self.scale = float(a), float(b), float(scale)

    @classmethod
    def fit(cls, x, y) -> "LogLinear":
        return cls(*fit_loglinear(x, y))

    @classmethod
    def from_params(cls, params) -> "LogLinear":
        return cls(*as_float64(params["coef"]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.a + self.b * log2_approx(1.0 + as_float64(x) * self.scale)

    def predict_scalar(self, x: float) -> float:
        return self.a + self.b * log2_approx_scalar(1.0 + x * self.scale)

    def params(self) -> dict[str, np.ndarray]:
        return {"coef": np.array([self.a, self.b, self.scale])}

    def kernel_params(self) -> tuple[np.ndarray, int]:
        return np.array([self.a, self.b, self.scale]), 0

    @property
    def nbytes(self) -> int:
        return self.param_bytes()

    @classmethod
    def param_bytes(cls) -> int:
        return 24

    def __repr__(self) -> str:
        return f"LogLinear(a={self.a!r}, b={self.b!r}, scale={self.scale!r})"
