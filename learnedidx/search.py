"""Model-free searches over a sorted key array: bounded binary, linear, exponential.

Every function here computes ``lower_bound``: the first position whose key is not less
than the target (numpy's ``searchsorted(side="left")``).  Targets are already in the key
dtype (see ``learnedidx._queries``), so every comparison is exact.

The index composition is "window, then search": a model proposes ``[lo, hi)``, and
:func:`search_window` / :func:`search_window_batch` find the exact answer inside it,
*verify* it with at most one more key read, and repair a wrong window with an
exponential search that starts at the window's edge.  The answer is therefore exact for
any window, even one that does not contain it; a good window only makes it fast.

Scalar functions take one Python target and return a Python int; batch functions take
arrays and run each step over the whole array at once (no Python loop per query).
"""
from __future__ import annotations

import numpy as np

#: Windows at most this long are scanned linearly in the scalar path.
LINEAR_SCAN_MAX = 8


# --------------------------------------------------------------------------- scalar

def linear_scan(keys: np.ndarray, target, lo: int, hi: int) -> int:
    """First position in ``[lo, hi)`` whose key is >= ``target``, else ``hi``.

    Runtime complexity: ``O(hi - lo)``.

    >>> linear_scan(np.array([1, 3, 5, 7]), 4, 0, 4)
    2
    """
    item = keys.item
    while lo < hi and item(lo) < target:
        lo += 1
    return lo


def lower_bound(keys: np.ndarray, target, lo: int = 0, hi: int | None = None) -> int:
    """Bounded binary search: first position in ``[lo, hi)`` with key >= ``target``.

    Returns ``hi`` when every key in the range is smaller.  The answer is exact for the
    range; whether it is the global answer is for :func:`search_window` to verify.

    Runtime complexity: ``O(log(hi - lo))``.

    >>> lower_bound(np.array([1, 3, 3, 3, 9]), 3)
    1
    >>> lower_bound(np.array([1, 3, 3, 3, 9]), 10)
    5
    """
    if hi is None:
        hi = len(keys)
    item = keys.item
    while hi - lo > LINEAR_SCAN_MAX:
        mid = (lo + hi) >> 1
        if item(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    return linear_scan(keys, target, lo, hi)


def exponential_search(keys: np.ndarray, target, start: int, direction: int) -> int:
    """Global lower bound found by galloping from ``start`` in ``direction`` (-1 or +1).

    For ``direction=-1`` the caller knows ``keys[start] >= target`` (or ``start == n``);
    for ``direction=+1`` it knows ``keys[start] < target``.  The cost grows with the
    distance to the answer, not with ``n``.

    Runtime complexity: ``O(log d)`` for an answer ``d`` positions away.

    >>> exponential_search(np.arange(100), 3, 90, -1)
    3
    >>> exponential_search(np.arange(100), 97, 10, +1)
    97
    """
    n = len(keys)
    item = keys.item
    step = 1
    if direction < 0:
        hi = start
        while True:
            probe = hi - step
            if probe < 0:
                return lower_bound(keys, target, 0, hi)
            if item(probe) < target:
                return lower_bound(keys, target, probe + 1, hi)
            hi = probe
            step <<= 1
    lo = start + 1
    while True:
        probe = lo + step - 1
        if probe >= n:
            return lower_bound(keys, target, lo, n)
        if item(probe) >= target:
            return lower_bound(keys, target, lo, probe)
        lo = probe + 1
        step <<= 1


def search_window(keys: np.ndarray, target, lo: int, hi: int) -> tuple[int, bool]:
    """Exact global lower bound of ``target``, searching the window ``[lo, hi)`` first.

    Returns ``(position, fell_back)``; ``fell_back`` is True when the window did not
    hold the answer and an exponential search from its edge repaired it.

    Runtime complexity: ``O(log(hi - lo))`` when the window holds the answer.

    >>> keys = np.array([10, 20, 30, 40, 50])
    >>> search_window(keys, 30, 1, 4)
    (2, False)
    >>> search_window(keys, 45, 0, 2)      # window too far left: repaired
    (4, True)
    """
    n = len(keys)
    r = lower_bound(keys, target, lo, hi)
    if r == lo and lo > 0 and keys.item(lo - 1) >= target:
        return exponential_search(keys, target, lo - 1, -1), True
    if r == hi and hi < n and keys.item(hi) < target:
        return exponential_search(keys, target, hi, +1), True
    return r, False


# ---------------------------------------------------------------------------- batch

def lower_bound_batch(keys: np.ndarray, targets: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Vectorised :func:`lower_bound`: one bounded binary search per query.

    ``lo``/``hi`` are int64 arrays of the same shape as ``targets``.  The loop runs
    ``ceil(log2(max window + 1))`` times over the whole array.

    Runtime complexity: ``O(m log w)`` for ``m`` queries and widest window ``w``.

    >>> lower_bound_batch(np.array([1, 3, 5, 7]), np.array([0, 4, 8]),
    ...                   np.zeros(3, np.int64), np.full(3, 4, np.int64))
    array([0, 2, 4])
    """
    base = np.asarray(lo, dtype=np.int64).copy()
    length = np.asarray(hi, dtype=np.int64) - base
    if base.size == 0 or keys.size == 0:
        return base
    last = keys.size - 1
    while True:
        active = length > 0
        if not active.any():
            return base
        half = length >> 1
        probe = base + half
        go = (keys[np.minimum(probe, last)] < targets) & active
        base = np.where(go, probe + 1, base)
        length = np.where(go, length - half - 1, half)


def _gallop_left(keys, targets, start):
    """Batch exponential search leftwards; ``keys[start] >= target`` is known."""
    hi = start.copy()
    lo = np.zeros_like(hi)
    step = np.ones_like(hi)
    todo = np.ones(hi.shape, dtype=bool)
    while todo.any():
        probe = hi - step
        past = probe < 0
        safe = np.where(past, 0, probe)
        below = keys[safe] < targets
        stop = todo & (past | below)
        lo = np.where(stop & ~past, probe + 1, lo)
        move = todo & ~stop
        hi = np.where(move, probe, hi)
        step = np.where(move, step << 1, step)
        todo = move
    return lower_bound_batch(keys, targets, lo, hi)


def _gallop_right(keys, targets, start):
    """Batch exponential search rightwards; ``keys[start] < target`` is known."""
    n = keys.size
    lo = start + 1
    hi = np.full_like(lo, n)
    step = np.ones_like(lo)
    todo = np.ones(lo.shape, dtype=bool)
    while todo.any():
        probe = lo + step - 1
        past = probe >= n
        safe = np.where(past, n - 1, probe)
        above = keys[safe] >= targets
        stop = todo & (past | above)
        hi = np.where(stop & ~past, probe, hi)
        move = todo & ~stop
        lo = np.where(move, probe + 1, lo)
        step = np.where(move, step << 1, step)
        todo = move
    return lower_bound_batch(keys, targets, lo, hi)


def search_window_batch(keys: np.ndarray, targets: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, int]:
    """Vectorised :func:`search_window`: ``(positions, number of fallbacks)``.

    Runtime complexity: ``O(m log w)``, plus ``O(log d)`` per query whose window missed.

    >>> keys = np.array([10, 20, 30, 40, 50])
    >>> search_window_batch(keys, np.array([30, 45]), np.array([1, 0]), np.array([4, 2]))
    (array([2, 4]), 1)
    """
    n = keys.size
    r = lower_bound_batch(keys, targets, lo, hi)
    if n == 0:
        return r, 0
    left = (r == lo) & (lo > 0)
    left[left] = keys[lo[left] - 1] >= targets[left]
    right = (r == hi) & (hi < n)
    right[right] = keys[hi[right]] < targets[right]
    fallbacks = int(left.sum() + right.sum())
    if fallbacks:
        if left.any():
            r[left] = _gallop_left(keys, targets[left], lo[left] - 1)
        if right.any():
            r[right] = _gallop_right(keys, targets[right], hi[right])
    return r, fallbacks
