"""The protocol every model family implements, and the codes the compiled kernels use.

A model maps a normalised key ``t`` in ``[0, 1]`` to a predicted position (in whatever
unit its caller fitted it on).  It knows nothing of indexes or searches: ``fit`` is
training, ``predict`` is vectorised inference, ``predict_scalar`` is the same float
operations on one Python float (so batch and scalar paths route identically), and
``params`` exposes the parameters as plain arrays (for saving and for the kernels).
"""
from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

#: Kernel codes: how the compiled lookup evaluates a root or middle model.
KIND_LINEAR, KIND_CUBIC, KIND_LOGLINEAR, KIND_RADIX, KIND_SPLINE, KIND_MLP = range(6)


@runtime_checkable
class Model(Protocol):
    """A fitted model of (normalised key -> position)."""

    name: ClassVar[str]
    kind: ClassVar[int]

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, **params) -> "Model":
        """Fit on float64 inputs ``x`` (in ``[0, 1]``) and targets ``y``."""

    @classmethod
    def from_params(cls, params: dict[str, np.ndarray]) -> "Model":
        """Rebuild a fitted model from :meth:`params` (no training)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Vectorised prediction on a float64 array."""

    def predict_scalar(self, x: float) -> float:
        """Prediction for one Python float, bit-identical to :meth:`predict`."""

    def params(self) -> dict[str, np.ndarray]:
        """The parameters as float64 arrays (a radix table: float32)."""

    def kernel_params(self) -> tuple[np.ndarray, int]:
        """``(vector, size)``: the flat layout the compiled kernels evaluate (float64; a
        radix table float32)."""

    @property
    def nbytes(self) -> int:
        """Bytes of parameters a lookup reads."""

    @classmethod
    def param_bytes(cls, **params) -> int:
        """``nbytes`` of a model fitted with ``params``, known before fitting (the tuner
        sizes configurations with it); a bound where the fit may keep fewer (a spline
        on fewer distinct keys than knots)."""


def as_float64(a) -> np.ndarray:
    """``a`` as a float64 array, without copying one that already is."""
    return np.asarray(a, dtype=np.float64)


def read_only(*arrays) -> bool:
    """Whether every one of ``arrays`` is a read-only numpy array (such as a loaded
    file's section), which a model may keep in place instead of copying."""
    return all(isinstance(a, np.ndarray) and not a.flags.writeable for a in arrays)
