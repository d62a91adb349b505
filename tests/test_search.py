"""Model-free searches (``learnedidx.search``) against numpy.searchsorted.

Windows are arbitrary: containing the answer, entirely left or right of it, empty, and
at the array edges.  ``search_window`` must repair every wrong window exactly.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import KEY_DTYPES, dtype_id, key_queries, sorted_keys
from hypothesis import given
from hypothesis import strategies as st

from learnedidx import search


def lb_in_range(keys, target, lo, hi) -> int:
    """Oracle: first position in [lo, hi) whose key is >= target, else hi."""
    return lo + int(np.searchsorted(keys[lo:hi], target, "left"))


def global_lb(keys, target) -> int:
    return int(np.searchsorted(keys, target, "left"))


def windows_for(n: int, answer: int, rng) -> list[tuple[int, int]]:
    """Windows around, left of, right of, at the edges of and empty near ``answer``."""
    wins = {(0, n), (0, 0), (n, n), (0, min(n, 1)), (max(0, n - 1), n), (answer, answer),
            (max(0, answer - 1), min(n, answer + 1)), (answer, min(n, answer + 3)),
            (max(0, answer - 3), answer)}
    if answer > 0:                                    # entirely left of the answer
        wins |= {(0, answer - 1), (max(0, answer - 5), answer - 1), (answer - 1, answer - 1)}
    if answer < n:                                    # entirely right of the answer
        wins |= {(answer + 1, n), (answer + 1, min(n, answer + 6)), (answer + 1, answer + 1), (n - 1, n)}
    for _ in range(4):
        a, b = sorted(rng.integers(0, n + 1, 2).tolist())
        wins.add((a, b))
    return sorted(w for w in wins if 0 <= w[0] <= w[1] <= n)


# ------------------------------------------------------------------------- scalar

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_scalar_searches(dtype, data):
    keys = data.draw(sorted_keys(dtype, max_size=120), label="keys")
    queries = data.draw(key_queries(keys, max_size=40), label="queries")
    queries = queries[~np.isnan(queries)] if dtype.kind == "f" else queries
    n = keys.size
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    for q in queries[:30]:
        t = q.item()                                  # a Python target of the key dtype
        g = global_lb(keys, q)
        assert search.lower_bound(keys, t) == g
        assert search.lower_bound(keys, t, 0, n) == g
        for lo, hi in windows_for(n, g, rng):
            exp = lb_in_range(keys, q, lo, hi)
            assert search.lower_bound(keys, t, lo, hi) == exp, (t, lo, hi)
            assert search.linear_scan(keys, t, lo, hi) == exp, (t, lo, hi)
            pos, fell_back = search.search_window(keys, t, lo, hi)
            assert pos == g, (t, lo, hi, pos, g)
            assert fell_back == (not lo <= g <= hi), (t, lo, hi, g, fell_back)
        # exponential search from any valid start
        for start in {0, n, g, min(g + 1, n), n // 2, max(g - 1, 0)}:
            if start == n or keys[start] >= q:
                assert search.exponential_search(keys, t, start, -1) == g, (t, start)
        for start in {0, max(g - 1, 0), g // 2}:
            if start < n and keys[start] < q:
                assert search.exponential_search(keys, t, start, +1) == g, (t, start)


def test_scalar_search_doc_examples():
    keys = np.array([10, 20, 30, 40, 50])
    assert search.search_window(keys, 30, 1, 4) == (2, False)
    assert search.search_window(keys, 45, 0, 2) == (4, True)
    assert search.search_window(keys, 5, 3, 5) == (0, True)
    assert search.search_window(keys, 55, 0, 0) == (5, True)
    assert search.search_window(keys, 50, 5, 5) == (4, True)
    assert search.search_window(keys, 51, 5, 5) == (5, False)
    assert search.search_window(keys, 10, 0, 0) == (0, False)
    assert search.exponential_search(np.arange(100), 3, 90, -1) == 3
    assert search.exponential_search(np.arange(100), 97, 10, +1) == 97
    assert search.lower_bound(np.array([1, 3, 3, 3, 9]), 3) == 1
    assert search.linear_scan(np.array([1, 3, 5, 7]), 4, 0, 4) == 2
    assert search.linear_scan(np.array([1, 3, 5, 7]), 4, 3, 3) == 3


def test_empty_keys_scalar():
    keys = np.zeros(0, dtype=np.uint64)
    assert search.lower_bound(keys, 5) == 0
    assert search.linear_scan(keys, 5, 0, 0) == 0
    assert search.search_window(keys, 5, 0, 0) == (0, False)
    assert search.exponential_search(keys, 5, 0, -1) == 0


@pytest.mark.parametrize("n", [1, 2, 9, 17, 100, 1000])
def test_long_runs_of_duplicates(n):
    """Every window over an array that is mostly one repeated key."""
    keys = np.concatenate([np.zeros(1, np.int64), np.full(n, 7, np.int64), np.full(3, 9, np.int64)])
    m = keys.size
    for t in (-1, 0, 1, 7, 8, 9, 10):
        g = global_lb(keys, t)
        for lo in range(0, m + 1, max(1, m // 12)):
            for hi in range(lo, m + 1, max(1, m // 12)):
                pos, fb = search.search_window(keys, t, lo, hi)
                assert pos == g and fb == (not lo <= g <= hi), (t, lo, hi)
                assert search.lower_bound(keys, t, lo, hi) == lb_in_range(keys, t, lo, hi)


# -------------------------------------------------------------------------- batch

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_batch_searches(dtype, data):
    keys = data.draw(sorted_keys(dtype, max_size=200), label="keys")
    targets = data.draw(key_queries(keys, max_size=100), label="targets")
    targets = targets[~np.isnan(targets)] if dtype.kind == "f" else targets
    n = keys.size
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    g = np.searchsorted(keys, targets, "left").astype(np.int64)
    m = targets.size
    # window kinds: exact, containing, left of, right of, empty, whole array, random
    kind = rng.integers(0, 7, m)
    a = rng.integers(0, n + 1, m)
    b = rng.integers(0, n + 1, m)
    lo = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
                   [g, np.maximum(g - 3, 0), np.maximum(g - 6, 0), np.minimum(g + 1, n), a, np.zeros_like(g)],
                   np.minimum(a, b))
    hi = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
                   [g, np.minimum(g + 3, n), np.maximum(g - 1, 0), np.minimum(g + 6, n), a, np.full_like(g, n)],
                   np.maximum(a, b))
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    hi = np.maximum(lo, hi)
    exp_range = np.array([lb_in_range(keys, t, l, h) for t, l, h in zip(targets, lo.tolist(), hi.tolist())],
                         dtype=np.int64)
    got = search.lower_bound_batch(keys, targets, lo, hi)
    np.testing.assert_array_equal(got, exp_range)
    pos, fallbacks = search.search_window_batch(keys, targets, lo, hi)
    np.testing.assert_array_equal(pos, g)
    missed = (g < lo) | (g > hi)
    assert fallbacks == int(missed.sum())
    assert isinstance(fallbacks, int)
    # the inputs are not modified
    np.testing.assert_array_equal(search.lower_bound_batch(keys, targets, lo, hi), exp_range)
    # batch and scalar agree query by query
    for i in range(min(m, 20)):
        assert search.search_window(keys, targets[i].item(), int(lo[i]), int(hi[i])) == (int(g[i]), bool(missed[i]))


def test_batch_edge_cases():
    keys = np.array([10, 20, 20, 30, 40], dtype=np.int64)
    t = np.array([5, 10, 20, 25, 40, 45], dtype=np.int64)
    g = np.searchsorted(keys, t)
    for lo_v, hi_v in [(0, 0), (5, 5), (0, 5), (2, 2), (4, 5), (0, 1)]:
        lo = np.full(t.size, lo_v, np.int64)
        hi = np.full(t.size, hi_v, np.int64)
        pos, fb = search.search_window_batch(keys, t, lo, hi)
        np.testing.assert_array_equal(pos, g)
        assert fb == int(((g < lo) | (g > hi)).sum())
    # empty batch, empty keys
    e = np.zeros(0, np.int64)
    assert search.lower_bound_batch(keys, e, e, e).shape == (0,)
    pos, fb = search.search_window_batch(keys, e, e, e)
    assert pos.shape == (0,) and fb == 0
    ek = np.zeros(0, np.int64)
    z = np.zeros(3, np.int64)
    np.testing.assert_array_equal(search.lower_bound_batch(ek, t[:3], z, z), z)
    pos, fb = search.search_window_batch(ek, t[:3], z, z)
    np.testing.assert_array_equal(pos, z)
    assert fb == 0


def test_batch_doc_examples():
    np.testing.assert_array_equal(
        search.lower_bound_batch(np.array([1, 3, 5, 7]), np.array([0, 4, 8]),
                                 np.zeros(3, np.int64), np.full(3, 4, np.int64)), [0, 2, 4])
    pos, fb = search.search_window_batch(np.array([10, 20, 30, 40, 50]), np.array([30, 45]),
                                         np.array([1, 0]), np.array([4, 2]))
    np.testing.assert_array_equal(pos, [2, 4])
    assert fb == 1


def test_large_distances():
    """Windows far away from the answer on a large array (gallop many steps)."""
    keys = np.sort(np.random.default_rng(0).integers(0, 2 ** 64 - 1, 100_000, dtype=np.uint64, endpoint=True))
    targets = np.concatenate([keys[::997], np.array([0, 2 ** 64 - 1], dtype=np.uint64)])
    g = np.searchsorted(keys, targets)
    n = keys.size
    for lo_v, hi_v in [(0, 1), (n - 1, n), (n, n), (0, 0), (n // 2, n // 2 + 10)]:
        lo = np.full(targets.size, lo_v, np.int64)
        hi = np.full(targets.size, hi_v, np.int64)
        pos, _ = search.search_window_batch(keys, targets, lo, hi)
        np.testing.assert_array_equal(pos, g)
        for i in range(0, targets.size, 10):
            assert search.search_window(keys, targets[i].item(), lo_v, hi_v)[0] == g[i]
