"""Query workloads with their expected answers, precomputed from a seed.

Each workload is a :class:`Workload`: the queries (and, for range queries, the upper
bounds) plus the answers ``numpy.searchsorted`` gives, so that every timed run of every
index can be checked against them.

* ``present``: keys drawn from the set; ``absent``: values strictly between keys (or
  just outside the range), never equal to one; ``mixed``: half of each;
* ``range``: count the keys in ``[lo, lo + w)``, with ``lo`` a key and ``w`` the width
  that holds ``range_keys`` keys on average;
* ``order``: ``random`` or ``sorted`` (sorted queries favour the caches).

>>> keys = np.arange(0, 100, 2, dtype=np.uint64)
>>> w = make(keys, "absent", 5, seed=1)
>>> bool(np.all(np.isin(w.queries, keys, invert=True)))
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("present", "absent", "mixed", "range")
ORDERS = ("random", "sorted")


@dataclass
class Workload:
    """Queries and the answers they must get."""

    kind: str
    order: str
    queries: np.ndarray
    expected: np.ndarray                  # lower bounds, or for ``range`` the counts
    upper: np.ndarray | None = None       # range upper bounds (exclusive)

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.order}"


def _absent(keys: np.ndarray, m: int, rng) -> np.ndarray:
    """``m`` values of the key dtype equal to no key (midpoints of gaps, or just outside)."""
    n = keys.size
    if keys.dtype.kind == "f":
        i = rng.integers(0, n + 1, m)
        lo = np.where(i > 0, keys[np.maximum(i - 1, 0)], keys[0] - 1.0)
        hi = np.where(i < n, keys[np.minimum(i, n - 1)], keys[-1] + 1.0)
        q = (lo + (hi - lo) / 2).astype(keys.dtype)
        return q[np.isin(q, keys, invert=True)]
    info = np.iinfo(keys.dtype)
    gaps = np.flatnonzero(np.diff(keys.astype(np.uint64) if keys.dtype.kind == "u" else keys) > 1)
    cands = []
    if keys[0] > info.min:
        cands.append(np.array([keys[0] - 1], dtype=keys.dtype))
    if keys[-1] < info.max:
        cands.append(np.array([keys[-1] + 1], dtype=keys.dtype))
    if gaps.size:
        g = gaps[rng.integers(0, gaps.size, m)]
        a, b = keys[g], keys[g + 1]
        cands.append((a + (b - a) // 2).astype(keys.dtype))
    if not cands:
        return np.zeros(0, dtype=keys.dtype)
    q = np.concatenate(cands)
    return q[rng.integers(0, q.size, m)]


def make(keys: np.ndarray, kind: str = "present", m: int = 1_000_000, seed: int = 42,
         order: str = "random", range_keys: int = 100) -> Workload:
    """The workload ``kind`` of ``m`` queries over ``keys`` (``ValueError`` names the choices)."""
    if kind not in KINDS:
        raise ValueError(f"unknown workload {kind!r}; choose one of: {', '.join(KINDS)}")
    if order not in ORDERS:
        raise ValueError(f"unknown query order {order!r}; choose one of: {', '.join(ORDERS)}")
    if keys.size == 0:
        raise ValueError("a workload needs at least one key")
    rng = np.random.default_rng(seed)
    present = lambda k: keys[rng.integers(0, keys.size, k)]   # noqa: E731
    upper = None
    if kind == "present":
        q = present(m)
    elif kind == "absent":
        q = _absent(keys, m, rng)
        if q.size == 0:
            raise ValueError("every value of the key range is a key: there are no absent queries")
    elif kind == "mixed":
        a = _absent(keys, m - m // 2, rng)
        q = np.concatenate([present(m - a.size), a])
        rng.shuffle(q)
    else:
        q = present(m)
        span = float(keys[-1]) - float(keys[0])
        width = span / max(1, keys.size) * range_keys
        if keys.dtype.kind == "f":
            upper = (q + width).astype(keys.dtype)
        else:
            top = np.iinfo(keys.dtype).max
            w = max(1, int(width))
            upper = np.where(q > top - w, top, q + np.array(w, dtype=keys.dtype)).astype(keys.dtype)
    if order == "sorted":
        idx = np.argsort(q, kind="stable")
        q = q[idx]
        if upper is not None:
            upper = upper[idx]
    expected = np.searchsorted(keys, q).astype(np.int64)
    if upper is not None:
        expected = np.maximum(np.searchsorted(keys, upper).astype(np.int64) - expected, 0)
    return Workload(kind, order, np.ascontiguousarray(q), expected, upper)
