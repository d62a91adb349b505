"""Linear model: ``y = a + b * x``, fitted by least squares."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import KIND_LINEAR, as_float64


def fit_linear(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of ``y ~ a + b x``, computed on centred data for precision.

    A constant ``x`` gives slope 0 and the mean of ``y``; an empty input gives ``(0, 0)``.

    Runtime complexity: ``O(n)``.

    >>> fit_linear(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    (1.0, 2.0)
    """
    x, y = as_float64(x), as_float64(y)
    if x.size == 0:
        return 0.0, 0.0
    mx, my = float(x.mean()), float(y.mean())
    dx = x - mx
    sxx = float(np.dot(dx, dx))
    b = float(np.dot(dx, y - my)) / sxx if sxx > 0 else 0.0
    if not np.isfinite(b):
        b = 0.0
    return my - b * mx, b


class Linear:
    """``y = a + b * x``: 16 bytes, one multiply-add per prediction.

    >>> m = Linear.fit(np.array([0.0, 0.5, 1.0]), np.array([0.0, 5.0, 10.0]))
    >>> m.predict_scalar(0.25), m.nbytes
    (2.5, 16)
    """

    name: ClassVar[str] = "linear"
    kind: ClassVar[int] = KIND_LINEAR

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)

    @classmethod
    def fit(cls, x, y) -> "Linear":
        return cls(*fit_linear(x, y))

    @classmethod
    def from_params(cls, params) -> "Linear":
        a, b = as_float64(params["coef"])
        return cls(a, b)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.a + self.b * as_float64(x)

    def predict_scalar(self, x: float) -> float:
        return self.a + self.b * x

    def params(self) -> dict[str, np.ndarray]:
        return {"coef": np.array([self.a, self.b])}

    def kernel_params(self) -> tuple[np.ndarray, int]:
        return np.array([self.a, self.b]), 0

    @property
    def nbytes(self) -> int:
        return self.param_bytes()

    @classmethod
    def param_bytes(cls) -> int:
        return 16

    def __repr__(self) -> str:
        return f"Linear(a={self.a!r}, b={self.b!r})"
