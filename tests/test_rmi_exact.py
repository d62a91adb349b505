"""RMI answers must equal numpy.searchsorted exactly, for queries of the key dtype.

Covers all six key dtypes x both sides x batch and scalar paths x every root model x
two and three stages x leaf counts (1, 2, 7, 64, 1024, more leaves than keys), plus
lookup / contains / ``in`` / range, ``_check()`` after every build and seeded
large-array tests.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import (
    KEY_DTYPES,
    LEAF_COUNTS,
    MORE_THAN_KEYS,
    ROOTS,
    _pattern_values,
    adversarial_keys,
    dtype_id,
    grid_queries,
    key_queries,
    neighbours,
    oracle_lookup,
    resolve_leaves,
    sorted_keys,
    special_array,
    tiny_cases,
)
from hypothesis import given
from hypothesis import strategies as st

from index_impls import assert_matches_numpy, assert_signed_zeros
from learnedidx import RMI
from learnedidx import rmi as rmi_module
from learnedidx.interface import compiled_module
from learnedidx.models import Radix
from learnedidx.rmi import LEAF_BYTES, leaf_dtype

N_SCALAR = 12
#: Hybrid-leaf bounds drawn by the property tests (None: plain linear leaves only).
MAX_ERRORS = st.sampled_from([None, None, 1, 2, 16])


def leaf_kwargs(data) -> dict:
    """``max_error`` or fence leaves (they exclude each other), drawn."""
    if data.draw(st.sampled_from([False, False, True]), label="fence leaves"):
        return {"leaf_model": "fences"}
    return {"max_error": data.draw(MAX_ERRORS, label="max_error")}


# ------------------------------------------------------------------------------ helpers

def build(keys, backend, **kw) -> RMI:
    """Build an index, then verify its invariants and its basic properties."""
    idx = RMI(keys, backend=backend, **kw)
    idx._check()
    assert len(idx) == keys.size
    assert idx.keys.dtype == keys.dtype
    np.testing.assert_array_equal(idx.keys, keys)
    s = idx.stats()
    assert s["leaves"] == idx.n_leaves
    if "leaves" in kw:
        assert s["leaves"] == kw["leaves"]
    for name in ("leaves", "max_window", "avg_log2_window", "fallbacks"):
        assert name in s
    assert s["max_window"] >= 0 and s["avg_log2_window"] >= 0.0
    assert s["fallbacks"] == 0
    assert isinstance(idx.nbytes, int) and idx.nbytes > 0
    return idx


def assert_searchsorted(idx: RMI, keys: np.ndarray, queries: np.ndarray, n_scalar: int = N_SCALAR):
    """Batch and scalar searchsorted, lookup, contains, ``in`` and range against numpy."""
    assert_matches_numpy(idx, keys, queries, n_scalar=n_scalar)


def root_params_strategy(root: str):
    if root == "radix":
        return st.sampled_from([{}, {"bits": 0}, {"bits": 1}, {"bits": 4}, {"bits": 16}])
    if root == "spline":
        return st.sampled_from([{}, {"knots": 2}, {"knots": 3}, {"knots": 7}, {"knots": 200}])
    return st.just({})


# ------------------------------------------------------------------------ hypothesis

@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_searchsorted_matches_numpy(backend, dtype, root, data):
    """Hypothesis over adversarial keys; stages and leaf counts are drawn (the
    deterministic ``test_grid`` below covers every combination explicitly)."""
    keys = data.draw(sorted_keys(dtype), label="keys")
    stages = data.draw(st.sampled_from([2, 3]), label="stages")
    leaves = resolve_leaves(data.draw(st.sampled_from(LEAF_COUNTS), label="leaves"), keys.size)
    kw = {"root": root, "leaves": leaves, "stages": stages,
          "root_params": data.draw(root_params_strategy(root), label="root_params"),
          **leaf_kwargs(data)}
    if stages == 3:
        middle = data.draw(st.sampled_from([None, 1, 2, 5, 64]), label="middle")
        if middle is not None:
            kw["middle"] = middle
    idx = build(keys, backend, **kw)
    queries = data.draw(key_queries(keys), label="queries")
    assert_searchsorted(idx, keys, queries)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_default_parameters(backend, dtype, data):
    keys = data.draw(sorted_keys(dtype, max_size=2000), label="keys")
    idx = build(keys, backend)
    assert_searchsorted(idx, keys, data.draw(key_queries(keys), label="queries"))


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_every_key_is_found_without_fallback(backend, dtype, data):
    """Each key lies in its own window, on the batch and on the scalar path alike.

    A query equal to a key must never need the exponential-search repair: a fallback
    there means the scalar path routes differently from the build (the answer would
    still be right, so this counter is the only way to see it).
    """
    keys = data.draw(sorted_keys(dtype, max_size=500), label="keys")
    root = data.draw(st.sampled_from(ROOTS), label="root")
    stages = data.draw(st.sampled_from([2, 3]), label="stages")
    leaves = resolve_leaves(data.draw(st.sampled_from(LEAF_COUNTS), label="leaves"), keys.size)
    idx = build(keys, backend, root=root, leaves=leaves, stages=stages, **leaf_kwargs(data))
    np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
    np.testing.assert_array_equal(idx.lookup(keys), np.searchsorted(keys, keys))
    assert idx.stats()["fallbacks"] == 0
    for k in keys[:60]:
        assert idx.searchsorted(k) == np.searchsorted(keys, k)
        assert idx.searchsorted(k.item()) == np.searchsorted(keys, k)
    assert idx.stats()["fallbacks"] == 0, "scalar path routed a key outside its window"


# --------------------------------------------------------------- deterministic grid

_GRID_CACHE: dict = {}


def grid_data(dtype):
    if dtype not in _GRID_CACHE:
        keys = adversarial_keys(dtype)
        _GRID_CACHE[dtype] = (keys, grid_queries(keys))
    return _GRID_CACHE[dtype]


@pytest.mark.parametrize("leaves", LEAF_COUNTS, ids=str)
@pytest.mark.parametrize("stages", [2, 3])
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_grid(backend, dtype, root, stages, leaves):
    keys, queries = grid_data(dtype)
    idx = build(keys, backend, root=root, stages=stages, leaves=resolve_leaves(leaves, keys.size))
    assert_searchsorted(idx, keys, queries, n_scalar=60)


@pytest.mark.parametrize("max_error", [1, 3, 40])
@pytest.mark.parametrize("stages", [2, 3])
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_hybrid_leaves_grid(backend, dtype, root, stages, max_error):
    """Few leaves over adversarial keys: most become hybrid; windows obey the bound."""
    keys, queries = grid_data(dtype)
    idx = build(keys, backend, root=root, stages=stages, leaves=7, max_error=max_error)
    s = idx.stats()
    assert s["max_window"] <= max_error and s["hybrid_leaves"] >= 1
    _, lo, hi = idx._windows(queries[~np.isnan(queries)] if dtype.kind == "f" else queries)
    assert int((hi - lo).max()) <= max_error
    assert_searchsorted(idx, keys, queries, n_scalar=60)
    loaded = RMI._from_state(*idx._state(), backend=backend)
    loaded._check()
    np.testing.assert_array_equal(loaded.searchsorted(queries), idx.searchsorted(queries))


@pytest.mark.parametrize("leaf_model", ["linear", "fences"])
@pytest.mark.parametrize("leaves", [1, 7, MORE_THAN_KEYS], ids=str)
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_tiny_arrays(backend, dtype, root, leaves, leaf_model):
    """Empty, one-key and all-equal arrays, with every query the dtype finds interesting."""
    cases, queries = tiny_cases(dtype)
    for keys in cases:
        for stages in (2, 3):
            idx = build(keys, backend, root=root, stages=stages,
                        leaves=resolve_leaves(leaves, keys.size), leaf_model=leaf_model)
            assert_searchsorted(idx, keys, queries, n_scalar=30)


def test_empty_index(backend):
    for dtype in KEY_DTYPES:
        idx = build(np.zeros(0, dtype=dtype), backend)
        assert len(idx) == 0
        assert idx.searchsorted(5) == 0 and idx.searchsorted(5, side="right") == 0
        assert idx.searchsorted(-(2 ** 70)) == 0 and idx.searchsorted(2 ** 70) == 0
        assert idx.searchsorted(math.nan) == 0
        got = idx.searchsorted(np.arange(6, dtype=dtype).reshape(2, 3))
        assert got.shape == (2, 3) and got.dtype == np.int64 and not got.any()
        assert idx.lookup(3) == -1 and 3 not in idx
        np.testing.assert_array_equal(idx.lookup(np.arange(3, dtype=dtype)), [-1, -1, -1])
        assert idx.range(0, 10) == (0, 0)
        s = idx.stats()
        assert s["n"] == 0 and s["fallbacks"] == 0


# ------------------------------------------------------------ seeded large arrays

def _large(name: str) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    # the five distributions of the spec at 200k keys, the extra ones at 50k
    n = 200_000 if name in LARGE[:5] else 50_000
    if name == "uniform_u64_full":
        k = rng.integers(0, 2 ** 64 - 1, n, dtype=np.uint64, endpoint=True)
    elif name == "lognormal_u64":
        x = rng.lognormal(0.0, 2.0, n)
        k = (x / x.max() * (2.0 ** 64 - 2.0 ** 12)).astype(np.uint64)
    elif name == "normal_f64":
        k = rng.normal(0.0, 1e6, n)
    elif name == "dense_i32_dups":
        k = rng.integers(-5000, 5000, n, dtype=np.int32)
    elif name == "cluster_near_u64_max":
        # consecutive keys closer together than float64 resolution (ulp 2048 near 2**64)
        gaps = rng.integers(0, 700, n, dtype=np.uint64)
        k = np.uint64(2 ** 64 - 1) - np.cumsum(gaps, dtype=np.uint64)
    elif name == "i64_full_signed":
        k = rng.integers(-(2 ** 63), 2 ** 63 - 1, n, dtype=np.int64, endpoint=True)
    elif name == "f32_steps":
        k = np.repeat(rng.normal(0, 100, 400).astype(np.float32), rng.integers(1, 1000, 400))
    elif name == "f64_mixed_extremes":
        k = np.concatenate([rng.normal(0, 1, n // 2), rng.uniform(-1e300, 1e300, n // 4),
                            np.arange(n // 8) * 5e-324, np.repeat([np.inf, -np.inf, -0.0, 0.0], n // 32)])
    elif name == "u32_sequential_gap":
        k = np.concatenate([np.arange(n // 2, dtype=np.uint32),
                            np.uint32(2 ** 32 - 1) - np.arange(n // 2, dtype=np.uint32)])
    else:
        raise AssertionError(name)
    return np.sort(k)


LARGE = ("uniform_u64_full", "lognormal_u64", "normal_f64", "dense_i32_dups", "cluster_near_u64_max",
         "i64_full_signed", "f32_steps", "f64_mixed_extremes", "u32_sequential_gap")
_LARGE_CACHE: dict = {}


def large_data(name):
    if name not in _LARGE_CACHE:
        keys = _large(name)
        rng = np.random.default_rng(7)
        dtype = keys.dtype
        picked = keys[rng.integers(0, keys.size, 12_000)]
        with np.errstate(all="ignore"):
            parts = [picked, np.array(neighbours(dtype, picked[:4000].tolist()), dtype=dtype),
                     _pattern_values("uniform", dtype, 6000, rng), _pattern_values("bits", dtype, 3000, rng),
                     special_array(dtype)]
            if dtype.kind in "iu":
                # values in the gaps between neighbouring keys
                i = rng.integers(0, keys.size - 1, 4000)
                a, b = keys[i].astype(object), keys[i + 1].astype(object)
                parts.append(np.array([(x + y) // 2 for x, y in zip(a, b)], dtype=dtype))
            else:
                i = rng.integers(0, keys.size - 1, 4000)
                parts.append((keys[i] / 2 + keys[i + 1] / 2).astype(dtype))
                parts.append(np.array([np.nan], dtype=dtype))
        q = np.concatenate(parts).astype(dtype)
        rng.shuffle(q)
        _LARGE_CACHE[name] = (keys, q)
    return _LARGE_CACHE[name]


LARGE_CONFIGS = [("radix", 2), ("linear", 2), ("spline", 2), ("cubic", 2), ("loglinear", 2),
                 ("radix", 3), ("cubic", 3)]


@pytest.mark.slow
@pytest.mark.parametrize("root,stages", LARGE_CONFIGS, ids=[f"{r}-{s}" for r, s in LARGE_CONFIGS])
@pytest.mark.parametrize("name", LARGE)
def test_large_seeded(backend, name, root, stages):
    keys, queries = large_data(name)
    idx = build(keys, backend, root=root, stages=stages)
    assert_searchsorted(idx, keys, queries, n_scalar=200)
    # every key is found in its first window (no repair needed), batch and scalar
    before = idx.stats()["fallbacks"]
    np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
    assert idx.stats()["fallbacks"] == before
    for k in keys[:: keys.size // 300]:
        assert idx.searchsorted(k) == np.searchsorted(keys, k)
    assert idx.stats()["fallbacks"] == before


@pytest.mark.slow
@pytest.mark.parametrize("leaves", [1, 7, 1024, 300_000])
@pytest.mark.parametrize("name", ["uniform_u64_full", "cluster_near_u64_max", "f64_mixed_extremes"])
def test_large_leaf_counts(backend, name, leaves):
    keys, queries = large_data(name)
    idx = build(keys, backend, root="radix", leaves=leaves)
    assert_searchsorted(idx, keys, queries[:10_000], n_scalar=100)


def test_stats_and_nbytes(backend):
    keys = np.arange(100_000, dtype=np.int64) * 3
    idx = build(keys, backend, root="linear", leaves=64)
    s = idx.stats()
    assert s["leaves"] == 64 and s["n"] == keys.size and s["stages"] == 2
    assert s["max_window"] <= 2, s          # perfectly linear keys: windows of one key
    assert s["fallbacks"] == 0
    assert idx.nbytes == 64 * LEAF_BYTES + 16     # the leaf records and a linear root's two floats
    idx.searchsorted(keys + 1)
    assert idx.stats()["fallbacks"] >= 0
    idx3 = build(keys, backend, root="radix", leaves=256, stages=3, middle=8)
    s3 = idx3.stats()
    assert s3["stages"] == 3 and s3["middle"] == 8 and s3["leaves"] == 256
    assert repr(idx3).startswith("RMI(")


def test_backend_attribute(backend):
    idx = RMI(np.arange(10, dtype=np.uint64), backend=backend)
    idx._check()
    assert idx.backend == backend
    assert RMI(np.arange(10, dtype=np.uint64), backend="auto").backend in ("numpy", "compiled")


def test_keys_unchanged_by_queries(backend):
    keys = np.sort(np.random.default_rng(3).integers(0, 1000, 5000)).astype(np.uint64)
    before = keys.copy()
    idx = build(keys, backend)
    q = np.arange(-5, 1005)
    idx.searchsorted(q)
    idx.lookup(q)
    idx.searchsorted(q, side="right")
    np.testing.assert_array_equal(keys, before)
    idx._check()


@pytest.mark.slow
def test_threads_give_the_same_answers(backend):
    """``threads=`` splits a large batch; the answers must not depend on it."""
    keys, queries = large_data("uniform_u64_full")
    idx = build(keys, backend)
    q = np.concatenate([queries] * 6)                    # > 2 * 65536 queries: really split
    expected = np.searchsorted(keys, q, "left")
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(idx.searchsorted(q, threads=threads), expected)
        np.testing.assert_array_equal(idx.lookup(q, threads=threads), oracle_lookup(keys, q))
        np.testing.assert_array_equal(idx.contains(q, threads=threads), oracle_lookup(keys, q) >= 0)
    np.testing.assert_array_equal(idx.searchsorted(q, side="right", threads=2), np.searchsorted(keys, q, "right"))


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_nan_queries_answer_len(backend, dtype):
    keys = adversarial_keys(dtype, size=20)
    idx = build(keys, backend)
    n = keys.size
    for q in (math.nan, -math.nan, np.float32("nan"), np.float64("nan"), np.float16("nan"), np.array(math.nan)):
        for side in ("left", "right"):
            assert idx.searchsorted(q, side=side) == n
        assert idx.lookup(q) == -1 and q not in idx
    for qdt in (np.float16, np.float32, np.float64):
        arr = np.array([np.nan, 1.0, np.nan], dtype=qdt)
        for side in ("left", "right"):
            got = idx.searchsorted(arr, side=side)
            assert got[0] == n and got[2] == n
        assert idx.lookup(arr)[0] == -1
    assert idx.range(0, math.nan) == (int(np.searchsorted(keys, keys.dtype.type(0))), n)
    assert idx.range(math.nan, 0)[0] == n


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_signed_zeros(backend, dtype):
    """-0.0 and 0.0 are equal keys (in any order); both queries find the whole run."""
    keys = np.array([-1.0, 0.0, -0.0, 0.0, -0.0, 2.0], dtype=dtype)
    for root in ROOTS:
        assert_signed_zeros(build(keys, backend, root=root, leaves=3), dtype)


@pytest.mark.parametrize("forge", ["wrapping counts", "zero count"])
def test_hybrid_tables_whose_counts_wrap_are_rejected(forge):
    """A loaded hybrid table must hold >= 1 separator per row: the kernels read one.  With
    ``max_error`` near 2**63 the count formula ``(span + B - 1) // B`` wraps in int64, so
    counts of -2 could pass a check written that way; both are refused, not searched."""
    rng = np.random.default_rng(5)
    keys = np.sort(rng.integers(0, 2 ** 40, 4_000, dtype=np.uint64))
    idx = RMI(keys, root="linear", leaves=5, max_error=2)
    meta, arrays = idx._state()
    h = arrays["hybrid"].copy()
    assert h.size >= 5
    if forge == "wrapping counts":
        meta = dict(meta, max_error=2 ** 63 - 1)
        span = np.ones(h.size, dtype=np.int64)
        span[2] = 2                                           # (2 + B - 1) // B wraps to -2
        count = np.ones(h.size, dtype=np.int64)
        count[2] = -2
    else:
        span = h["end"] - h["start"]
        count = h["count"].copy()
        count[1], count[2] = 0, count[2] + count[1]
    h["end"] = h["start"] + span
    h["count"] = count
    h["off"] = np.concatenate(([0], np.cumsum(count)[:-1]))
    arrays = dict(arrays, hybrid=h, seps=arrays["seps"][: int(count.sum())])
    with pytest.raises(ValueError, match="max_error too large|separator count"):
        RMI._from_state(meta, arrays)


# ----------------------------------------------------------------- compact leaf records

def test_leaf_records_are_24_bytes():
    for dtype in (np.uint32, np.uint64, np.int32, np.int64, np.float32, np.float64):
        assert leaf_dtype(np.dtype(dtype)).itemsize == LEAF_BYTES == 24
    idx = RMI(np.arange(10_000, dtype=np.uint64) * 7, root="radix", root_params={"bits": 6}, leaves=32)
    assert idx.root.table.dtype == np.float32
    assert idx.nbytes == 32 * LEAF_BYTES + 4 * (2 ** 6 + 1)


def test_scaled_intercepts_stay_exact(backend, monkeypatch):
    """Above 2**30 keys a leaf's int32 ``icept`` counts ``icept_unit(n)`` positions.  That
    many keys do not fit here, so the unit is forced: the rounding then widens windows by
    up to a unit, and both paths still answer exactly."""
    monkeypatch.setattr(rmi_module, "icept_unit", lambda n: 8.0)
    rng = np.random.default_rng(11)
    keys = np.sort(rng.lognormal(0, 2, 50_000) * 1e12).astype(np.uint64)
    idx = build(keys, backend, leaves=300)
    assert int(idx._leaves["icept"].max()) * 8 <= keys.size + 8      # intercepts count units of 8
    queries = np.concatenate([keys[::13], rng.integers(0, 2 ** 64 - 1, 2_000, dtype=np.uint64)])
    assert_searchsorted(idx, keys, queries, n_scalar=200)


@pytest.mark.parametrize("keys", [np.arange(2_000) * 1e-300, np.arange(2_000) * 5e-324,
                                  np.linspace(1.0, 1.0 + 2 ** -40, 3_000)], ids=["tiny", "subnormal", "narrow"])
def test_slopes_beyond_float32_stay_exact(backend, keys):
    """Float keys packed into a tiny range need slopes past float32's range: they are
    clamped to it (never inf, whose products would be NaN, the hybrid mark), and the
    windows cover what the clamped line misses."""
    idx = build(np.asarray(keys, dtype=np.float64), backend, root="linear", leaves=4)
    assert np.all(np.isfinite(idx._leaves["slope"]))
    assert_searchsorted(idx, idx.keys, np.concatenate([idx.keys[::7], idx.keys[:50] * 0.5]), n_scalar=100)


def test_version_1_state_is_refused_with_the_fix():
    meta, arrays = RMI(np.arange(100, dtype=np.int64))._state()
    with pytest.raises(ValueError, match="rebuild the index from its keys"):
        RMI._from_state(dict(meta, version=1), arrays)


def test_radix_table_of_another_dtype_is_refused_on_load():
    meta, arrays = RMI(np.arange(100, dtype=np.int64), root="radix")._state()
    table = arrays["root.table"].astype(np.float64)
    table.flags.writeable = False                    # as a loaded file's section
    with pytest.raises(ValueError, match="float32"):
        RMI._from_state(meta, dict(arrays, **{"root.table": table}))


def test_empty_leaves_keep_their_boundary_with_scaled_intercepts(backend, monkeypatch):
    """An empty leaf's window is the empty one at its boundary; with a rounded intercept
    its bounds carry the rounding, so queries routed there never need the fallback."""
    monkeypatch.setattr(rmi_module, "icept_unit", lambda n: 8.0)
    keys = np.concatenate([np.arange(1_003, dtype=np.int64), 10 ** 9 + np.arange(1_000, dtype=np.int64)])
    idx = build(keys, backend, root="linear", leaves=64)
    empty = np.flatnonzero(idx._key_leaf_counts == 0)
    assert empty.size > 10
    queries = np.linspace(10 ** 8, 9 * 10 ** 8, 5_000).astype(np.int64)       # mid-gap: empty leaves
    assert np.isin(idx._route(queries), empty).all()
    assert_searchsorted(idx, keys, queries)
    assert idx.stats()["fallbacks"] == 0


def test_compiled_radix_evaluation_matches_the_model():
    module = compiled_module("learnedidx._kernels.rmi_kernel")
    if module is None:
        pytest.skip("kernels not built")
    rng = np.random.default_rng(3)
    model = Radix.fit(np.sort(rng.random(5_000)), np.arange(5_000) / 7.0, bits=9)
    t = np.concatenate([rng.random(10_000), np.arange(513) / 512, [-1.0, 2.0, -np.inf, np.inf, np.nan, 1e-300]])
    vec, size = model.kernel_params()
    out = np.empty(t.size)
    module.predict_many(model.kind, vec, int(size), t, out)
    np.testing.assert_array_equal(out.view(np.uint64), model.predict(t).view(np.uint64))
    assert [model.predict_scalar(v) for v in t[:600].tolist()] == out[:600].tolist()


@pytest.mark.parametrize("cfg", [dict(root="linear", leaves=40), dict(root="radix", leaves=40),
                                 dict(root="cubic", leaves=40, max_error=4), dict(root="linear", leaves=3, max_error=2),
                                 dict(root="radix", leaves=64, stages=3, middle=4)],
                         ids=["linear", "radix", "cubic-hybrid", "linear-hybrid", "3-stages"])
def test_batch_lengths_around_the_group_size(backend, cfg):
    """The compiled batch path works on groups of 64 queries, each searched one round
    after it is routed: lengths around multiples of 64 cover its first, last and partial
    rounds, for searchsorted, lookup and with a companion array prefetched."""
    rng = np.random.default_rng(21)
    keys = np.sort(rng.lognormal(0, 2, 3_000) * 1e6).astype(np.int64)
    idx = build(keys, backend, **cfg)
    values = np.arange(keys.size, dtype=np.float64)
    for companion in (None, values):
        if idx._kernel is not None:
            idx._kernel.prefetch_with(companion)
        for m in (1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 1_000):
            q = np.concatenate([keys[rng.integers(0, keys.size, m - m // 3)], rng.integers(-5, 2 * 10 ** 9, m // 3)])
            np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))
            np.testing.assert_array_equal(idx.searchsorted(q, side="right"), np.searchsorted(keys, q, side="right"))
            first = np.searchsorted(keys, q)
            hit = (first < keys.size) & (keys[np.minimum(first, keys.size - 1)] == q)
            np.testing.assert_array_equal(idx.lookup(q), np.where(hit, first, -1))


def _outlier_keys(dtype, n=70_000, seed=3):
    """Keys a radix table over their range routes badly: a skewed body and a few keys far
    above it (SOSD's fb ends so), or two clusters far apart."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    body = rng.lognormal(0, 2, n) * (1e3 if dt.itemsize == 4 else 1e9)
    if dt.kind == "f":
        # (not near the dtype's maximum: the body's keys would normalise to one double)
        keys = np.concatenate([body, -body[:100], body.max() * np.array([1e6, 1e7])])
    else:
        far = np.array([np.iinfo(dt).max - 5, np.iinfo(dt).max], dtype=dt)
        keys = np.concatenate([body.astype(dt), far, np.full(3, np.iinfo(dt).min, dtype=dt)])
    return np.sort(keys.astype(dt))


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_default_root_takes_a_spline_where_a_radix_table_fails(backend, dtype):
    keys = _outlier_keys(dtype)
    idx = build(keys, backend)
    radix = RMI(keys, root="radix", backend=backend)
    assert idx.root_name == "spline" and idx.root_params["knots"] >= 16
    assert idx.stats()["avg_log2_window"] < radix.stats()["avg_log2_window"] - 4
    queries = np.concatenate([keys, keys[::7] + (1 if keys.dtype.kind in "iu" else 0.5)]).astype(keys.dtype)
    assert_matches_numpy(idx, keys, queries)
    meta, arrays = idx._state()
    again = RMI._from_state(meta, arrays, backend=backend)
    assert again.root_name == "spline"
    np.testing.assert_array_equal(again.searchsorted(queries), np.searchsorted(keys, queries))


@pytest.mark.parametrize("name", ["uniform", "lognormal", "normal"])
def test_default_root_stays_radix_where_it_works(name):
    rng = np.random.default_rng(5)
    draw = {"uniform": lambda: rng.integers(0, 2 ** 62, 100_000), "lognormal": lambda: rng.lognormal(0, 2, 100_000) * 1e9,
            "normal": lambda: rng.standard_normal(100_000)}[name]
    keys = np.sort(draw())
    assert RMI(keys).root_name == "radix"
    assert RMI(keys, root_params={"bits": 8}).root_name == "radix"        # root_params without root: radix
    assert RMI(_outlier_keys(np.uint64), root="radix").root_name == "radix"   # asked for: kept


# ----------------------------------------------------------- builds in slices of keys

def _build_state(keys, **kw) -> list[np.ndarray]:
    idx = RMI(keys, backend="numpy", **kw)
    idx._check()                           # every key in its window, whatever the slices
    if (not idx._monotone or (keys.size and idx._key_leaf_counts.max() > rmi_module.FIT_CHUNK)
            or (idx.stages == 3 and keys.size > rmi_module.FIT_CHUNK)):
        return []                          # sums accumulated over slices: rounding may differ
    return [idx._leaves, idx._hybrid, idx._seps, idx._key_leaf_counts]


@given(st.data())
def test_build_in_slices_equals_build_at_once(data):
    """A build routes and fits ``FIT_CHUNK`` keys at a time; with monotone routing and no
    leaf larger than a slice (whole leaves per slice) any slice size gives the same leaf
    table as one slice of all keys, and otherwise (per-leaf sums accumulated over slices)
    a valid one."""
    dtype = data.draw(st.sampled_from(KEY_DTYPES), label="dtype")
    keys = data.draw(sorted_keys(dtype, max_size=400), label="keys")
    kw = dict(root=data.draw(st.sampled_from(ROOTS + (None,)), label="root"),
              leaves=data.draw(st.sampled_from([1, 3, 16, 97]), label="leaves"),
              max_error=data.draw(MAX_ERRORS, label="max_error"))
    if data.draw(st.booleans(), label="three stages"):
        kw.update(stages=3, middle_model=data.draw(st.sampled_from(["linear", "mlp"]), label="middle"))
    chunk = data.draw(st.sampled_from([1, 2, 5, 64, 512]), label="chunk")
    saved = rmi_module.FIT_CHUNK
    try:
        rmi_module.FIT_CHUNK = 1 << 40
        whole = _build_state(keys, **kw)
        rmi_module.FIT_CHUNK = chunk
        sliced = _build_state(keys, **kw)
    finally:
        rmi_module.FIT_CHUNK = saved
    for a, b in zip(whole, sliced):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_build_in_slices_large_duplicate_runs():
    """Runs of equal keys longer than a slice stay in one leaf, and so in one slice."""
    keys = np.repeat(np.arange(50, dtype=np.int64) * 1000, 997)     # one run per leaf
    saved = rmi_module.FIT_CHUNK
    try:
        rmi_module.FIT_CHUNK = 1 << 40
        whole = _build_state(keys, root="linear", leaves=50)
        rmi_module.FIT_CHUNK = 1000
        sliced = _build_state(keys, root="linear", leaves=50)
    finally:
        rmi_module.FIT_CHUNK = saved
    assert sliced
    for a, b in zip(whole, sliced):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.uint64, np.float32])
def test_leaf_larger_than_a_slice(dtype):
    """A leaf of more keys than a slice (one leaf for all keys, or a crowded one) sums its
    keys slice by slice: every key in its window, answers exact, windows as narrow as a
    fit over all its keys at once gives, give or take rounding."""
    rng = np.random.default_rng(11)
    keys = np.sort(np.concatenate([rng.lognormal(0, 1, 4000) * 100, np.full(300, 7.0)])).astype(dtype)
    saved = rmi_module.FIT_CHUNK
    try:
        for leaves in (1, 3):
            rmi_module.FIT_CHUNK = 1 << 40
            whole = RMI(keys, root="linear", leaves=leaves, backend="numpy")
            rmi_module.FIT_CHUNK = 50
            idx = RMI(keys, root="linear", leaves=leaves, backend="numpy")
            assert idx._monotone and idx._key_leaf_counts.max() > 50
            idx._check()
            q = np.concatenate([keys, np.nextafter(keys, np.inf).astype(dtype)])
            np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))
            w_whole = whole._leaves["ehi"].astype(np.int64) - whole._leaves["elo"]
            w_sliced = idx._leaves["ehi"].astype(np.int64) - idx._leaves["elo"]
            assert np.all(np.abs(w_sliced - w_whole) <= 2 + w_whole // 1000)
    finally:
        rmi_module.FIT_CHUNK = saved


@pytest.mark.parametrize("dtype", [np.uint64, np.float64, np.int32])
def test_scattered_build_in_slices(dtype):
    """Non-monotone routing (a cubic root on lognormal keys) fitted over many slices,
    some stretched by a run of equal keys: every key in its window, answers exact."""
    rng = np.random.default_rng(5)
    keys = np.sort(np.concatenate([rng.lognormal(0, 2, 6000) * 1000, np.full(700, 500.0)])).astype(dtype)
    saved = rmi_module.FIT_CHUNK
    try:
        rmi_module.FIT_CHUNK = 128
        for max_error in (None, 8):
            idx = RMI(keys, root="cubic", leaves=40, max_error=max_error, backend="numpy")
            assert not idx._monotone
            idx._check()
            q = np.concatenate([keys, keys + 1]).astype(dtype)
            np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))
        for middle_model in ("linear", "mlp"):     # three stages: middle groups over many slices
            idx = RMI(keys, root="cubic", stages=3, middle=3, leaves=60, middle_model=middle_model)
            idx._check()
            np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))
    finally:
        rmi_module.FIT_CHUNK = saved
