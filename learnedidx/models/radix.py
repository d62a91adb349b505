"""Radix model: a prefix table over the top ``bits`` bits of the normalised key.

``t`` in ``[0, 1]`` falls in bucket ``j = floor(t 2^bits)``; the table holds the fitted
position at every bucket boundary and the prediction interpolates linearly inside the
bucket.  Monotone by construction, with cost independent of the table size.

The table is float32: a root predicts a leaf (or middle-model) number, and routing only
takes its integer part; float32 holds those to a quarter or finer up to 2**22 leaves (the
tuner's largest count) and exactly as integers up to 2**24.  Beyond that routing gets
coarser, never wrong: the leaves' error bounds are measured on the routing as it is.
Half the bytes of a float64 table leave room for more leaves under the same budget
(measured on 10M lognormal keys: bench/RESULTS.md, "Compact leaves").  Interpolation
runs in float64 on the float32 entries, in the kernels too, so routing agrees.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import KIND_RADIX, as_float64, read_only

#: dtype of the stored table (see the module docstring).
TABLE_DTYPE = np.dtype(np.float32)


def fit_radix(x: np.ndarray, y: np.ndarray, bits: int = 12) -> np.ndarray:
    """Table of ``2**bits + 1`` positions at the bucket boundaries ``j / 2**bits`` (float64;
    :class:`Radix` stores it as float32).

    Each entry is the empirical CDF ``y(x)`` interpolated at the boundary.

    Runtime complexity: ``O(n log n)`` if ``x`` is unsorted, else ``O(n + 2**bits)``.

    >>> fit_radix(np.array([0.0, 0.5, 1.0]), np.array([0.0, 10.0, 20.0]), bits=1)
    array([ 0., 10., 20.])
    """
    if not 0 <= bits <= 26:
        raise ValueError(f"radix bits must be in [0, 26], got {bits}")
    x, y = as_float64(x), as_float64(y)
    nb = 1 << bits
    if x.size == 0:
        return np.zeros(nb + 1)
    if np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    bounds = np.arange(nb + 1, dtype=np.float64) / nb
    return np.interp(bounds, x, y)


class Radix:
    """Radix prefix table with linear interpolation: ``4 (2^bits + 1)`` bytes (float32).

    ``table`` is converted to float32 (always a copy, unless ``copy=False``, which uses a
    float32 array in place).

    >>> m = Radix.fit(np.linspace(0, 1, 101), np.arange(101.0), bits=4)
    >>> m.predict_scalar(0.5), m.nbytes
    (50.0, 68)
    """

    name: ClassVar[str] = "radix"
    kind: ClassVar[int] = KIND_RADIX

    def __init__(self, table, copy: bool = True):
        # copy=False uses the array in place (from_params does so for read-only ones)
        table = np.asarray(table)
        if not copy and table.dtype != TABLE_DTYPE:
            raise ValueError(f"a radix table is stored as float32, got {table.dtype}")
        self.table = table.astype(TABLE_DTYPE) if copy else table
        if self.table.ndim != 1:
            raise ValueError(f"a radix table is 1-D, got shape {self.table.shape}")
        nb = self.table.size - 1
        if nb < 1 or nb & (nb - 1):
            raise ValueError(f"radix table must hold 2**bits + 1 entries, got {self.table.size}")
        self.bits = nb.bit_length() - 1
        self._nb = float(nb)
        self._last = float(nb - 1)
        self._list = None          # Python floats for the scalar path, made on first use: a
                                   # loaded file must not cost 4x its table at open

    @classmethod
    def fit(cls, x, y, bits: int = 12) -> "Radix":
        return cls(fit_radix(x, y, bits))

    @classmethod
    def from_params(cls, params) -> "Radix":
        # saved parameters must be float32 (another dtype is refused, not converted: the
        # leaves were fitted on the float32 routing); a read-only table (a loaded file's
        # section) is used in place, so opening a file copies nothing
        table = params["table"]
        if not isinstance(table, np.ndarray) or table.dtype != TABLE_DTYPE:
            raise ValueError(f"a radix table is stored as float32, got {getattr(table, 'dtype', type(table))}")
        return cls(table, copy=not read_only(table))

    def predict(self, x: np.ndarray) -> np.ndarray:
        s = as_float64(x) * self._nb
        c = np.where(s > 0.0, s, 0.0)
        c = np.where(c < self._last, c, self._last)
        j = c.astype(np.int64)
        y0 = self.table[j].astype(np.float64)
        return y0 + (self.table[j + 1].astype(np.float64) - y0) * (s - j.astype(np.float64))

    def predict_scalar(self, x: float) -> float:
        s = x * self._nb
        c = s if s > 0.0 else 0.0
        c = c if c < self._last else self._last
        j = int(c)
        table = self._list
        if table is None:
            table = self._list = self.table.tolist()      # float32 -> exact Python floats
        y0 = table[j]
        return y0 + (table[j + 1] - y0) * (s - float(j))

    def params(self) -> dict[str, np.ndarray]:
        return {"table": self.table.copy()}

    def kernel_params(self) -> tuple[np.ndarray, int]:
        return self.table, self.table.size - 1

    @property
    def nbytes(self) -> int:
        return self.table.nbytes

    @classmethod
    def param_bytes(cls, bits: int = 12) -> int:
        return TABLE_DTYPE.itemsize * (2 ** bits + 1)

    def __repr__(self) -> str:
        return f"Radix(bits={self.bits})"
