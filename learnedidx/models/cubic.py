"""Cubic polynomial model ``y = c0 + c1 x + c2 x^2 + c3 x^3``, least squares on ``[0, 1]``."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import KIND_CUBIC, as_float64
from .linear import fit_linear


def fit_cubic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients ``[c0, c1, c2, c3]``; falls back to a line on < 4 points.

    The fit may be non-monotone: an index using it as a stage must (and ours does)
    verify every answer.

    Runtime complexity: ``O(n)``.

    >>> np.round(fit_cubic(np.linspace(0, 1, 9), np.linspace(0, 1, 9) ** 3), 6) + 0.0
    array([0., 0., 0., 1.])
    """
    x, y = as_float64(x), as_float64(y)
    if np.unique(x[: min(x.size, 1 << 20)]).size < 4:
        a, b = fit_linear(x, y)
        return np.array([a, b, 0.0, 0.0])
    vander = np.stack([np.ones_like(x), x, x * x, x * x * x], axis=1)
    coef, *_ = np.linalg.lstsq(vander, y, rcond=None)
    if not np.all(np.isfinite(coef)):
        a, b = fit_linear(x, y)
        return np.array([a, b, 0.0, 0.0])
    return coef.astype(np.float64)


class Cubic:
    """Cubic polynomial evaluated by Horner's rule: 32 bytes, three multiply-adds.

    >>> m = Cubic.fit(np.linspace(0, 1, 50), np.linspace(0, 1, 50) ** 2)
    >>> round(m.predict_scalar(0.5), 9)
    0.25
    """

    name: ClassVar[str] = "cubic"
    kind: ClassVar[int] = KIND_CUBIC

    def __init__(self, coef):
        self.coef = as_float64(coef).copy()
        self.c0, self.c1, self.c2, self.c3 = (float(c) for c in self.coef)

    @classmethod
    def fit(cls, x, y) -> "Cubic":
        return cls(fit_cubic(x, y))

    @classmethod
    def from_params(cls, params) -> "Cubic":
        return cls(params["coef"])

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = as_float64(x)
        return ((self.c3 * x + self.c2) * x + self.c1) * x + self.c0

    def predict_scalar(self, x: float) -> float:
        return ((self.c3 * x + self.c2) * x + self.c1) * x + self.c0

    def params(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef.copy()}

    def kernel_params(self) -> tuple[np.ndarray, int]:
        return self.coef.copy(), 0

    @property
    def nbytes(self) -> int:
        return self.param_bytes()

    @classmethod
    def param_bytes(cls) -> int:
        return 32

    def __repr__(self) -> str:
        return f"Cubic(coef={self.coef.tolist()!r})"
