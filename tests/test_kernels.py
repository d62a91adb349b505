"""The compiled kernels against the numpy reference: same leaf, same window, bit for bit.

Exactness alone cannot show a routing difference (a window that misses is repaired by
the fallback), so these tests compare the model arithmetic itself: for every query the
compiled kernel must route to the same leaf and compute the same window ``[lo, hi)`` as
the numpy reference, in the batch kernel and in the scalar kernel.  (They need the
compiled extension: a build without it fails here, as it should.)
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learnedidx import RMI

DTYPES = ["uint32", "uint64", "int32", "int64", "float32", "float64"]
ROOTS = ["linear", "spline", "cubic", "radix", "loglinear"]


def _keys(dtype: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        k = rng.lognormal(0, 3, n) * rng.choice([-1, 1], n)
        k[: n // 10] = 0.0
        return np.sort(k.astype(dt))
    info = np.iinfo(dt)
    k = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    k[: n // 10] = k[0]                                      # a run of duplicates
    return np.sort(k)


def _queries(keys: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = keys.dtype
    if dt.kind == "f":
        extra = np.array([np.inf, -np.inf, 0.0, -0.0, np.finfo(dt).max, -np.finfo(dt).max, np.finfo(dt).tiny], dt)
        near = (keys[rng.integers(0, keys.size, 500)] * (1 + rng.normal(0, 1e-3, 500))).astype(dt)
    else:
        info = np.iinfo(dt)
        extra = np.array([info.min, info.max, 0, info.min + 1, info.max - 1], dtype=dt)
        near = keys[rng.integers(0, keys.size, 500)] + np.array(1, dtype=dt)
    return np.concatenate([keys[::3], near, extra]).astype(dt)


def _assert_same_windows(ref: RMI, comp: RMI, queries: np.ndarray, n_scalar: int = 300) -> None:
    leaf_r, lo_r, hi_r = ref._windows(queries)
    m = queries.size
    leaf_c, lo_c, hi_c = (np.empty(m, np.int64) for _ in range(3))
    comp._kernel.windows_batch(np.ascontiguousarray(queries), leaf_c, lo_c, hi_c)
    np.testing.assert_array_equal(leaf_c, leaf_r, err_msg="batch kernel routed to another leaf")
    np.testing.assert_array_equal(lo_c, lo_r, err_msg="batch kernel computed another window start")
    np.testing.assert_array_equal(hi_c, hi_r, err_msg="batch kernel computed another window end")
    for i, q in enumerate(queries[:n_scalar].tolist()):
        expected = (int(leaf_r[i]), int(lo_r[i]), int(hi_r[i]))
        assert ref._window_scalar(q) == expected, ("reference scalar path", q)
        assert comp._kernel.window(q) == expected, ("compiled scalar kernel", q)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("stages", [2, 3])
def test_kernel_model_arithmetic_matches_reference(dtype, root, stages):
    keys = _keys(dtype, 20_000, seed=hash((dtype, root, stages)) % 1000)
    kw = dict(root=root, stages=stages, leaves=257)
    ref, comp = RMI(keys, backend="numpy", **kw), RMI(keys, backend="compiled", **kw)
    assert comp.backend == "compiled" and ref.backend == "numpy"
    _assert_same_windows(ref, comp, _queries(keys, 1), n_scalar=100)


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(DTYPES), root=st.sampled_from(ROOTS), n=st.integers(1, 3000),
       leaves=st.integers(1, 600), seed=st.integers(0, 2 ** 31),
       max_error=st.sampled_from([None, 1, 2, 7, 100]))
def test_kernel_model_arithmetic_random_configs(dtype, root, n, leaves, seed, max_error):
    keys = _keys(dtype, n, seed)
    kw = dict(root=root, leaves=leaves, max_error=max_error)
    ref, comp = RMI(keys, backend="numpy", **kw), RMI(keys, backend="compiled", **kw)
    _assert_same_windows(ref, comp, _queries(keys, seed + 1), n_scalar=30)


@pytest.mark.parametrize("centre", [2 ** 53, 2 ** 63, 2 ** 64 - 2 ** 20])
@pytest.mark.parametrize("root", ["linear", "radix"])
def test_uint64_conversions_round_like_numpy(centre, root):
    """The kernels convert uint64 keys to doubles without a branch (two exact halves,
    one rounding); keys packed around 2**53 and 2**63, where odd values round to even
    neighbours and the sign bit flips, must route and window exactly as the reference."""
    rng = np.random.default_rng(centre % 1000)
    offsets = rng.integers(-(2 ** 19), 2 ** 19, 20_000)
    keys = np.unique((np.uint64(centre) + offsets.astype(np.uint64)).astype(np.uint64))
    ref, comp = RMI(keys, backend="numpy", root=root, leaves=64), RMI(keys, backend="compiled", root=root, leaves=64)
    q = np.concatenate([keys, keys + np.uint64(1), np.array([0, 2 ** 64 - 1, centre, centre - 1], dtype=np.uint64)])
    _assert_same_windows(ref, comp, q, n_scalar=200)


@pytest.mark.parametrize("dtype", ["uint64", "int64"])
def test_gaps_wider_than_int64_window_like_the_reference(dtype):
    """A leaf's prediction takes the query's gap to the leaf's first key; it is one
    int64 conversion unless the gap overflows int64, which only keys or queries spread
    over more than half the 64-bit range reach: both forms must give the reference's
    windows, fallbacks and answers."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(11)
    keys = np.unique(np.concatenate([
        rng.integers(info.min, info.max, 5_000, dtype=dtype, endpoint=True),
        np.array([info.min, info.min + 1, info.max - 1, info.max], dtype=dtype)]))
    q = np.concatenate([keys, rng.integers(info.min, info.max, 5_000, dtype=dtype, endpoint=True),
                        np.array([info.min, info.max, 0, 1], dtype=dtype)])
    for leaves in (1, 2, 64):
        ref = RMI(keys, backend="numpy", root="linear", leaves=leaves)
        comp = RMI(keys, backend="compiled", root="linear", leaves=leaves)
        _assert_same_windows(ref, comp, q, n_scalar=200)
        np.testing.assert_array_equal(comp.searchsorted(q), np.searchsorted(keys, q))
        np.testing.assert_array_equal(ref.searchsorted(q), np.searchsorted(keys, q))
        assert ref.stats()["fallbacks"] == comp.stats()["fallbacks"]


def test_kernel_counts_fallbacks_like_the_reference():
    keys = _keys("uint64", 50_000, 3)
    q = np.sort(np.random.default_rng(4).integers(0, 2 ** 64 - 1, 20_000, dtype=np.uint64))   # mostly absent
    ref, comp = RMI(keys, root="cubic", backend="numpy"), RMI(keys, root="cubic", backend="compiled")
    np.testing.assert_array_equal(ref.searchsorted(q), comp.searchsorted(q))
    assert ref.stats()["fallbacks"] == comp.stats()["fallbacks"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_lookup_batch_matches_the_reference(dtype):
    keys = np.repeat(_keys(dtype, 3_000, 5), 2)               # duplicates: the first equal key
    rng = np.random.default_rng(6)
    q = np.concatenate([keys[rng.integers(0, keys.size, 2_000)], _keys(dtype, 1_000, 7)])
    ref, comp = RMI(keys, backend="numpy"), RMI(keys, backend="compiled")
    out = np.empty(q.size, dtype=np.int64)
    comp._kernel.lookup_batch(q, out)
    np.testing.assert_array_equal(out, ref.lookup(q))


@pytest.mark.parametrize("values", [np.arange(4_000, dtype=np.float32),
                                    np.array([str(i) for i in range(4_000)], dtype=object),
                                    np.zeros(4_000, dtype=[("a", "i8"), ("b", "f4")])], ids=["f4", "object", "record"])
def test_prefetching_a_companion_array_never_changes_answers(values):
    keys = _keys("int64", 4_000, 8)
    idx = RMI(keys)
    q = np.concatenate([keys[::7], _keys("int64", 500, 9)])
    expected = idx.searchsorted(q), idx.lookup(q), [idx.lookup(int(x)) for x in q[:200]]
    idx._kernel.prefetch_with(values)
    got = idx.searchsorted(q), idx.lookup(q), [idx.lookup(int(x)) for x in q[:200]]
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    idx._kernel.prefetch_with(None)
    np.testing.assert_array_equal(idx.searchsorted(q), expected[0])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((4_000, 2)), np.zeros(8_000)[::2]], ids=["short", "2-d", "strided"])
def test_a_companion_array_of_the_wrong_shape_is_refused(bad):
    idx = RMI(_keys("int64", 4_000, 8))
    with pytest.raises(ValueError, match="one record per key"):
        idx._kernel.prefetch_with(bad)


def _fallbacks(idx: RMI) -> int:
    return idx._fallbacks + (idx._kernel.fallbacks if idx._kernel is not None else 0)


def _around_ends(keys: np.ndarray) -> np.ndarray:
    """The first and last keys and their neighbours in the dtype (where they exist)."""
    ends = keys[[0, -1]]
    if keys.dtype.kind == "f":
        return np.concatenate([ends, np.nextafter(ends, -np.inf), np.nextafter(ends, np.inf)]).astype(keys.dtype)
    info = np.iinfo(keys.dtype)
    out = [ends]
    if keys[0] > info.min:
        out.append(np.array([keys[0] - 1], keys.dtype))
    if keys[-1] < info.max:
        out.append(np.array([keys[-1] + 1], keys.dtype))
    return np.concatenate(out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 17, 33, 6_000])
def test_line_first_search_at_every_alignment_and_with_wrong_windows(dtype, n):
    """The compiled searches start at the cache line of the predicted key, located from
    the key array's address: at every offset of the array within a 64-byte line, at the
    array's ends and with leaf error bounds as built, too narrow, empty or shifted off
    the prediction (so windows miss and the search's ranges empty), answers and
    fallbacks must be the reference's, and no key outside the array may be read (the
    slots around it hold values that would change an answer)."""
    keys = _keys(dtype, n, 12)
    q = np.concatenate([_queries(keys, 13), _around_ends(keys)])
    scalar_q = np.concatenate([q[:: max(1, q.size // 300)], _around_ends(keys)])
    per_line = 64 // keys.itemsize
    big, small = (np.finfo(dtype).max, np.finfo(dtype).min) if keys.dtype.kind == "f" else \
        (np.iinfo(dtype).max, np.iinfo(dtype).min)
    buf = np.empty(keys.size + 2 * per_line, dtype=keys.dtype)
    expected, expected_scalar = np.searchsorted(keys, q), np.searchsorted(keys, scalar_q).tolist()
    leaves = min(32, n)
    for skew in range(per_line):
        buf[:skew + per_line] = big                          # out of order on both sides
        buf[skew + per_line + n:] = small
        view = buf[skew + per_line: skew + per_line + n]
        view[:] = keys
        ref = RMI(view, leaves=leaves, backend="numpy")
        comp = RMI(view, leaves=leaves, backend="compiled")
        assert np.shares_memory(comp._keys, buf)             # searched in place, at this offset
        elo, ehi = ref._leaves["elo"].copy(), ref._leaves["ehi"].copy()
        narrow = -(-elo // 4)
        bounds = {"as built": (elo, ehi), "too narrow": (narrow, np.maximum(ehi // 4, narrow + 1)),
                  "one key": (elo, elo + 1), "empty": (elo, elo), "shifted right": (elo + 40, ehi + 40),
                  "shifted left": (elo - 40, ehi - 40)}
        for name, (lo, hi) in bounds.items():
            for idx in (ref, comp):                          # ehi >= elo: what loading accepts
                idx._leaves["elo"], idx._leaves["ehi"] = lo, hi
                idx._leaf_lists = None                       # the reference's scalar cache of them
            before = _fallbacks(ref), _fallbacks(comp)
            np.testing.assert_array_equal(comp.searchsorted(q), expected, err_msg=f"{name}, skew {skew}")
            np.testing.assert_array_equal(ref.searchsorted(q), expected)
            assert [comp.searchsorted(x) for x in scalar_q.tolist()] == expected_scalar, (name, skew)
            assert [ref.searchsorted(x) for x in scalar_q.tolist()] == expected_scalar
            after = _fallbacks(ref), _fallbacks(comp)
            _, lo_r, hi_r = ref._windows(np.concatenate([q, scalar_q]))
            if np.all(hi_r > lo_r):  # (the kernels widen an empty window to its one key, which may
                assert after[0] - before[0] == after[1] - before[1], (name, skew)   # spare a fallback)
        hybrid = RMI(view, leaves=leaves, max_error=4, backend="compiled")   # windows from separators
        assert n < 100 or np.isnan(hybrid._leaves["slope"]).any()           # (and groups mix both kinds)
        np.testing.assert_array_equal(hybrid.searchsorted(q), expected, err_msg=f"hybrid, skew {skew}")
        assert [hybrid.searchsorted(x) for x in scalar_q.tolist()] == expected_scalar
        assert hybrid.stats()["fallbacks"] == 0 or n < 3
