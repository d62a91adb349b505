"""Fence leaves (``RMI(keys, leaf_model="fences")``): exact answers, kernel windows equal
to the numpy reference's, bounded windows, files, and forged tables.

A fence leaf has no model to fit: its 22 quantised fences split the leaf's span into
runs of ``step`` keys, and a lookup searches the run its target's quantised offset
falls in (wider only where fences share a quantised value).
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import KEY_DTYPES, ROOTS, dtype_id, key_queries, sorted_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from index_impls import assert_matches_numpy
from learnedidx import RMI, tune
from learnedidx.rmi import FENCE_LEAF_BYTES, LEAF_FENCES, fence_leaf_dtype

from test_kernels import _assert_same_windows, _keys, _queries
from test_rmi_exact import grid_data


def test_record_layout():
    for dtype in KEY_DTYPES:
        dt = fence_leaf_dtype(dtype)
        assert dt.itemsize == FENCE_LEAF_BYTES == 64
        assert dt.fields["fences"][1] == 20 and dt["fences"].shape == (LEAF_FENCES,)
    idx = RMI(np.arange(10_000, dtype=np.uint64), root="linear", leaves=100, leaf_model="fences")
    assert idx.nbytes == 100 * 64 + 16
    assert idx._leaves.ctypes.data % 64 == 0        # one record, one cache line


@pytest.mark.parametrize("stages", [2, 3])
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_fence_leaves_grid(backend, dtype, root, stages):
    """Adversarial keys (steps, gaps, clusters, extremes, duplicates), few and many leaves."""
    keys, queries = grid_data(dtype)
    for leaves in (1, 7, 300):
        idx = RMI(keys, root=root, stages=stages, leaves=leaves, leaf_model="fences", backend=backend)
        idx._check()
        assert_matches_numpy(idx, keys, queries, n_scalar=40)
        loaded = RMI._from_state(*idx._state(), backend=backend)
        loaded._check()
        assert loaded.leaf_model == "fences"
        np.testing.assert_array_equal(loaded.searchsorted(queries), idx.searchsorted(queries))


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_fence_leaves_match_numpy(backend, dtype, data):
    keys = data.draw(sorted_keys(dtype), label="keys")
    root = data.draw(st.sampled_from(ROOTS), label="root")
    leaves = data.draw(st.sampled_from([1, 2, 5, 64, 1000]), label="leaves")
    stages = data.draw(st.sampled_from([2, 3]), label="stages")
    idx = RMI(keys, root=root, leaves=leaves, stages=stages, leaf_model="fences", backend=backend)
    idx._check()
    assert_matches_numpy(idx, keys, data.draw(key_queries(keys), label="queries"))
    # every key lies in its own window: a present key never needs the repair
    if keys.size:
        before = idx.stats()["fallbacks"]
        np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
        for k in keys[:20]:
            assert idx.searchsorted(k) == np.searchsorted(keys, k)
        assert idx.stats()["fallbacks"] == before


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([d.name for d in KEY_DTYPES]), root=st.sampled_from(ROOTS),
       n=st.integers(1, 3000), leaves=st.integers(1, 600), seed=st.integers(0, 2 ** 31))
def test_kernel_fence_windows_match_reference(dtype, root, n, leaves, seed):
    """The compiled kernels count the same fences as the numpy reference (SSE2 compare
    masks there, sums here), so routing and windows agree bit for bit."""
    keys = _keys(dtype, n, seed)
    kw = dict(root=root, leaves=leaves, leaf_model="fences")
    ref, comp = RMI(keys, backend="numpy", **kw), RMI(keys, backend="compiled", **kw)
    _assert_same_windows(ref, comp, _queries(keys, seed), n_scalar=60)


def test_windows_are_about_a_step_wide():
    """Distinct keys whose fences never collide: a window is one step (the span / 23),
    two for a target in a fence's own quantum (it may lie on either side of the fence)."""
    keys = np.arange(0, 3 * 230_000, 3, dtype=np.uint64)
    idx = RMI(keys, root="linear", leaves=100, leaf_model="fences")
    _, lo, hi = idx._windows(keys)
    assert int((hi - lo).max()) <= 2 * 100 + 2 and idx.stats()["max_window"] == int((hi - lo).max())
    assert np.mean(hi - lo) < 1.1 * 100
    linear = RMI(keys[::7] ** 2 // 1000, root="linear", leaves=100, leaf_model="fences")
    assert linear.stats()["avg_log2_window"] < 5.0


def test_empty_leaves_answer_at_their_boundary(backend):
    keys = np.concatenate([np.arange(100), np.arange(10 ** 9, 10 ** 9 + 100)]).astype(np.int64)
    idx = RMI(keys, root="linear", leaves=64, leaf_model="fences", backend=backend)
    assert idx.stats()["empty_leaves"] > 0
    q = np.array([150, 5 * 10 ** 8, 10 ** 9 - 1, 10 ** 9 + 50], dtype=np.int64)
    np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))
    assert idx.stats()["fallbacks"] == 0


def test_bad_arguments_name_the_fix():
    keys = np.arange(100, dtype=np.uint64)
    with pytest.raises(ValueError, match="leaf_model must be 'linear' or 'fences'"):
        RMI(keys, leaf_model="spline")
    with pytest.raises(ValueError, match="max_error=None with leaf_model='fences'"):
        RMI(keys, leaf_model="fences", max_error=8)


def _forged(mutate):
    keys = np.arange(0, 50_000, 5, dtype=np.uint64)
    meta, arrays = RMI(keys, leaves=20, leaf_model="fences")._state()
    arrays = dict(arrays, leaves=arrays["leaves"].copy())
    mutate(meta, arrays)
    return meta, arrays


@pytest.mark.parametrize("forge,message", [
    (lambda m, a: a["leaves"]["fences"].__setitem__((3, 0), 60_000), "not sorted"),
    (lambda m, a: a["leaves"]["step"].__setitem__(2, 0), "step below 1"),
    (lambda m, a: a["leaves"]["start"].__setitem__(2, 2 ** 32 - 1), "start beyond the keys"),
    (lambda m, a: a["leaves"]["scale"].__setitem__(1, np.nan), "scale"),
    (lambda m, a: m.__setitem__("max_error", 8), "max_error"),
    (lambda m, a: m.__setitem__("leaf_model", "cubic"), "leaf model"),
    (lambda m, a: m.pop("leaf_model"), "leaf records"),       # 64-byte records read as linear leaves
])
def test_forged_fence_tables_are_refused(forge, message):
    with pytest.raises(ValueError, match=message):
        RMI._from_state(*_forged(forge))


def test_forged_windows_stay_exact(backend):
    """Fences that are sorted but wrong (a valid file from other keys) only cost speed."""
    keys = np.arange(0, 50_000, 5, dtype=np.uint64)
    meta, arrays = _forged(lambda m, a: a["leaves"]["fences"].__setitem__(slice(None), 7))
    idx = RMI._from_state(meta, arrays, backend=backend)
    q = np.arange(-3, 50_010, 3).astype(np.uint64)
    np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(keys, q))


def test_tuner_offers_fence_leaves_under_a_budget():
    rng = np.random.default_rng(5)
    keys = np.sort(np.concatenate([rng.normal(c, 1e3, 20_000) for c in rng.uniform(0, 1e12, 40)])
                   .astype(np.uint64))
    r = tune(keys, max_bytes=40_000, calibrate=False, roots=[("radix", {"bits": 8})], stages=(2,))
    kinds = {c.config.get("leaf_model", "linear") for c in r.candidates}
    assert kinds == {"linear", "fences"}
    assert all(c.nbytes <= 40_000 for c in r.front)
    fence = [c for c in r.candidates if c.config.get("leaf_model") == "fences"]
    assert all("max_error" not in c.config for c in fence) and "fence leaves" in fence[0].label()
    idx = RMI(keys, **r.best)
    assert idx.nbytes <= 40_000
    only = tune(keys, max_bytes=40_000, calibrate=False, roots=[("radix", {"bits": 8})], stages=(2,),
                leaf_models=("linear",))
    assert all(c.config.get("leaf_model", "linear") == "linear" for c in only.candidates)
    with pytest.raises(ValueError, match="leaf_models"):
        tune(keys, calibrate=False, leaf_models=("cubic",))


@pytest.mark.parametrize("case", ["offsets overflow to inf", "subnormal spacing"])
def test_extreme_float_leaves_keep_q_monotone(case):
    """Fences from -DBL_MAX to DBL_MAX (their offsets overflow to inf, so the scale
    would be 0 and inf * 0 a NaN) and fences a few subnormals apart (the scale would
    overflow float32): the scale is clipped to float32's normal range, q stays
    monotone, and the kernel's windows equal the reference's, NaN and inf included."""
    f32, big = np.finfo(np.float32), np.finfo(np.float64).max
    if case == "offsets overflow to inf":
        keys = np.concatenate([[-big] * 30, np.linspace(-1.0, 1.0, 500), [big] * 30])
        scale = np.float32(f32.tiny)
    else:
        keys = np.concatenate([np.arange(200) * 5e-324, [1.0]])     # every fence among the subnormals
        scale = np.float32(f32.max)
    ref = RMI(keys, root="linear", leaves=1, leaf_model="fences", backend="numpy")
    comp = RMI(keys, root="linear", leaves=1, leaf_model="fences", backend="compiled")
    assert ref._leaves["scale"][0] == scale
    ref._check()
    comp._check()
    q = np.concatenate([keys, keys + 0.25, keys - 1e-300,
                        [-np.inf, np.inf, np.nan, 0.0, -0.0, big, -big, 5e-324, -5e-324]])
    _assert_same_windows(ref, comp, q, n_scalar=q.size)
    for idx in (ref, comp):
        assert_matches_numpy(idx, keys, q, n_scalar=40)
        before = idx.stats()["fallbacks"]
        np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
        assert idx.stats()["fallbacks"] == before


def test_outliers_at_a_leafs_ends_cost_no_resolution():
    """Only the fences' own range is quantised: one far key before the first fence and
    one after the last leave the windows of the keys between them one step wide."""
    keys = np.concatenate([[0], np.arange(10 ** 12, 10 ** 12 + 23_000), [2 ** 63]]).astype(np.uint64)
    idx = RMI(keys, root="linear", leaves=1, leaf_model="fences")
    step = int(idx._leaves["step"][0])
    _, lo, hi = idx._windows(keys[1:-1])
    assert step == 1001 and int((hi - lo).max()) <= 2 * step
    assert idx.stats()["avg_log2_window"] < np.log2(step + 1) + 0.05


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_stats_bound_and_estimate_the_measured_windows(dtype):
    """``stats()``: its ``max_window`` (from the fences alone) bounds every window a
    target gets, and its averages are those of the keys' own windows, also where
    clustered keys and duplicates make fences share quantised values."""
    keys, queries = grid_data(dtype)
    for leaves in (3, 40):
        for backend in ("numpy", "compiled"):
            idx = RMI(keys, root="radix", leaves=leaves, leaf_model="fences", backend=backend)
            s = idx.stats()
            finite = queries[~np.isnan(queries)] if keys.dtype.kind == "f" else queries
            _, lo, hi = idx._windows(np.concatenate([keys, finite]))
            assert s["max_window"] >= int((hi - lo).max()) and s["max_error"] == (s["max_window"] + 1) // 2
            _, lo, hi = idx._windows(keys)
            assert s["avg_log2_window"] == pytest.approx(float(np.mean(np.log2(hi - lo + 1.0))), rel=1e-12)
            assert s["mean_window"] == pytest.approx(float(np.mean(hi - lo)), rel=1e-12)
            assert idx.stats() == s                   # kept, not recomputed


def test_tuner_with_fence_leaves_only():
    keys = np.sort(np.random.default_rng(8).lognormal(0, 2, 30_000)).astype(np.float32)
    r = tune(keys, max_bytes=20_000, calibrate=False, roots=[("radix", {"bits": 8})], stages=(2,),
             leaf_models=("fences",))
    assert all(c.config["leaf_model"] == "fences" for c in r.candidates)
    idx = RMI(keys, **r.best)
    assert idx.leaf_model == "fences" and idx.nbytes <= 20_000
    np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
