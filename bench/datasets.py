"""Seeded synthetic key sets (sorted numpy arrays) for benchmarks and tests.

Every generator takes ``n`` and ``seed`` and returns a sorted array; the same
arguments always give the same keys.

>>> uniform_sparse(5, seed=1).dtype
dtype('uint64')
"""
from __future__ import annotations

import numpy as np


def uniform_sparse(n: int, seed: int = 42) -> np.ndarray:
    """``n`` uint64 keys drawn uniformly from ``[0, 2**64)``."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True))


def uniform_dense(n: int, seed: int = 42) -> np.ndarray:
    """``n`` uint64 keys: a random start plus ``0 .. n-1`` with 10% of them skipped."""
    rng = np.random.default_rng(seed)
    keys = np.sort(rng.choice(int(n * 1.1) + 1, n, replace=False).astype(np.uint64))
    return keys + np.uint64(rng.integers(0, 2 ** 40))


def lognormal(n: int, seed: int = 42) -> np.ndarray:
    """lognormal(0, 2) samples scaled by 1e9 to uint64 (as SOSD and Kraska et al.)."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 2.0, n) * 1e9
    x = np.minimum(x, float(np.iinfo(np.uint64).max) / 2)
    return np.sort(x.astype(np.uint64))


def normal(n: int, seed: int = 42) -> np.ndarray:
    """Standard normal float64 samples."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.standard_normal(n))


#: Generators by name.
SYNTHETIC = {"uniform": uniform_sparse, "uniform_dense": uniform_dense, "lognormal": lognormal, "normal": normal}


def generate(name: str, n: int, seed: int = 42) -> np.ndarray:
    """Keys of the synthetic dataset ``name``; ``ValueError`` lists the names."""
    try:
        gen = SYNTHETIC[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(SYNTHETIC)}") from None
    return gen(n, seed)
