"""Memory layout helpers shared by the indexes."""
from __future__ import annotations

import numpy as np


def aligned_zeros(size: int, dtype: np.dtype, align: int = 64) -> np.ndarray:
    """Zeroed 1-D array whose first byte sits on an ``align``-byte boundary.

    Aligned, a 64-byte B-tree node lies within a single cache line, and three of every
    four 24-byte RMI leaf records do.

    >>> aligned_zeros(3, np.uint64).ctypes.data % 64
    0
    """
    dtype = np.dtype(dtype)
    raw = np.zeros(size * dtype.itemsize + align, dtype=np.uint8)
    skip = (-raw.ctypes.data) % align
    return raw[skip:skip + size * dtype.itemsize].view(dtype)
