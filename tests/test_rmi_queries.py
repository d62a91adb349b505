"""Queries of other types than the keys: answers are mathematically exact.

numpy's own mixed-type comparisons round (a uint64 array against a Python int compares
in float64), so the oracle here is exact Python arithmetic (``exact_searchsorted``):
Python int / float / Fraction / Decimal comparisons are exact; NaN answers ``len(keys)``.
"""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from conftest import (
    FOREIGN_FLOATS,
    FOREIGN_INTS,
    KEY_DTYPES,
    QUERY_DTYPES,
    ROOTS,
    adversarial_keys,
    dtype_id,
    exact_lookup,
    exact_searchsorted,
    foreign_numpy_scalars,
    key_relative_foreign,
    sorted_keys,
    special_values,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from index_impls import check_array, check_queries, check_scalar, foreign_query, typed_queries
from learnedidx import RMI
from learnedidx import _queries as Q

SIDES = ("left", "right")

_CACHE: dict = {}


def keyset(dtype, backend, root="radix", stages=2):
    """An adversarial index per dtype (built once per configuration)."""
    key = (np.dtype(dtype), backend, root, stages)
    if key not in _CACHE:
        keys = adversarial_keys(dtype, size=40)
        idx = RMI(keys, root=root, stages=stages, leaves=16, backend=backend)
        idx._check()
        _CACHE[key] = (keys, keys.tolist(), idx)
    return _CACHE[key]


# ------------------------------------------------------------------- fixed scalars

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_python_int_queries(backend, dtype):
    """-1 / 2**64 / 2**70 / -2**70 vs unsigned keys, 2**53+1 / 2**1024 vs float keys ..."""
    _keys, key_list, idx = keyset(dtype, backend)
    for q in FOREIGN_INTS:
        check_scalar(idx, key_list, q)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_python_float_queries(backend, dtype):
    """2.5 / -0.5 / 1e30 / inf / -inf / nan vs integer keys, and float edge cases."""
    _keys, key_list, idx = keyset(dtype, backend)
    for q in FOREIGN_FLOATS:
        check_scalar(idx, key_list, q)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_numpy_scalars_of_other_dtypes(backend, dtype):
    _keys, key_list, idx = keyset(dtype, backend)
    for q in foreign_numpy_scalars():
        check_scalar(idx, key_list, q)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_bool_queries(backend, dtype):
    _keys, key_list, idx = keyset(dtype, backend)
    for q in (True, False, np.bool_(True), np.bool_(False)):
        check_scalar(idx, key_list, q)
    check_array(idx, key_list, np.array([True, False, True]))
    check_array(idx, key_list, [True, False])


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_queries_next_to_keys(backend, dtype):
    keys, key_list, idx = keyset(dtype, backend)
    qs = key_relative_foreign(keys, limit=200)
    for q in qs:
        check_scalar(idx, key_list, q)
    check_array(idx, key_list, np.array(qs, dtype=object))


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_object_array_of_all_foreign_queries(backend, dtype, root):
    """Every foreign query at once, through the object-array path, for every root model."""
    keys, key_list, idx = keyset(dtype, backend, root=root, stages=3 if root == "cubic" else 2)
    qs = list(FOREIGN_INTS) + list(FOREIGN_FLOATS) + foreign_numpy_scalars() + key_relative_foreign(keys)
    check_array(idx, key_list, np.array(qs, dtype=object))
    check_array(idx, key_list, np.array(qs, dtype=object).reshape(-1, 1)[: (len(qs) // 2) * 2].reshape(2, -1))


# ------------------------------------------------------------- typed query arrays

@pytest.mark.parametrize("qdtype", QUERY_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_typed_arrays_of_every_dtype(backend, dtype, qdtype):
    """Query arrays of each numeric dtype against keys of each dtype (the vectorised paths)."""
    keys, key_list, idx = keyset(dtype, backend)
    rng = np.random.default_rng(dtype.num * 100 + qdtype.num)
    arr = typed_queries(qdtype, keys, rng, count=200)
    check_array(idx, key_list, arr)
    # the scalar path of the same values, as numpy scalars
    for q in arr[:: max(1, arr.size // 80)]:
        check_scalar(idx, key_list, q)
    # 2-D, non-contiguous and read-only variants of the same array
    m = (arr.size // 2) * 2
    check_array(idx, key_list, arr[:m].reshape(2, -1))
    check_array(idx, key_list, arr[::3])
    ro = arr.copy()
    ro.flags.writeable = False
    check_array(idx, key_list, ro)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_byteswapped_query_array(backend, dtype):
    keys, key_list, idx = keyset(dtype, backend)
    q = keys[::7].astype(keys.dtype.newbyteorder(">"))
    check_array(idx, key_list, q)


# -------------------------------------------------------------- shapes and lists

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_zero_d_arrays(backend, dtype):
    keys, key_list, idx = keyset(dtype, backend)
    for q in [keys[3], keys[-1], 2 ** 70, -1, 2.5, math.nan, np.uint64(2 ** 64 - 1), np.int8(-3)]:
        a = np.array(q, dtype=object) if isinstance(q, int) and abs(q) >= 2 ** 64 else np.array(q)
        assert a.ndim == 0
        for side in SIDES:
            got = idx.searchsorted(a, side=side)
            assert type(got) is int and got == exact_searchsorted(key_list, a.item(), side), (q, side)
        assert idx.lookup(a) == exact_lookup(key_list, a.item())
        assert (a in idx) is (exact_lookup(key_list, a.item()) >= 0)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_two_d_and_empty_query_arrays(backend, dtype):
    keys, key_list, idx = keyset(dtype, backend)
    q = keys[:12].reshape(3, 4)
    for side in SIDES:
        got = idx.searchsorted(q, side=side)
        assert got.shape == (3, 4) and got.dtype == np.int64
        np.testing.assert_array_equal(got, np.searchsorted(keys, q, side))
    assert idx.lookup(q).shape == (3, 4) and idx.contains(q).shape == (3, 4)
    q3 = np.broadcast_to(keys[:6], (2, 2, 6))          # non-contiguous, 3-D
    np.testing.assert_array_equal(idx.searchsorted(q3), np.searchsorted(keys, q3))
    for shape in [(0,), (0, 3), (2, 0)]:
        for qdt in (keys.dtype, np.float64, np.int64, object):
            e = np.zeros(shape, dtype=qdt)
            for side in SIDES:
                got = idx.searchsorted(e, side=side)
                assert got.shape == shape and got.dtype == np.int64
            assert idx.lookup(e).shape == shape and idx.contains(e).shape == shape
    for empty in ([], ()):
        got = idx.searchsorted(empty)
        assert got.shape == (0,) and got.dtype == np.int64
        assert idx.lookup(empty).shape == (0,)
    # nested lists keep their shape too
    check_array(idx, key_list, [[-1, 2 ** 70], [2.5, math.nan]])


def test_list_mixing_negative_ints_and_uint64_max(backend):
    """numpy turns [-1, 2**64 - 1] into float64 (rounding the second); we must not."""
    keys = np.array([0, 5, 2 ** 64 - 2049, 2 ** 64 - 2, 2 ** 64 - 1, 2 ** 64 - 1], dtype=np.uint64)
    idx = RMI(keys, backend=backend)
    idx._check()
    kl = keys.tolist()
    for qs in ([-1, 2 ** 64 - 1], [2 ** 64 - 2, -5, 3], [-1, 2 ** 64 - 2049, 2 ** 64 - 2048, 2 ** 64],
               [2 ** 64 - 1, 2.5], [[-1], [2 ** 64 - 2]]):
        check_array(idx, kl, qs)
    assert idx.searchsorted([-1, 2 ** 64 - 1]).tolist() == [0, 4]
    assert idx.searchsorted([-1, 2 ** 64 - 1], side="right").tolist() == [0, 6]
    assert idx.searchsorted([-1, 2 ** 64 - 2], side="right").tolist() == [0, 4]
    assert idx.lookup([-1, 2 ** 64 - 2, 2 ** 64 - 1]).tolist() == [-1, 3, 4]


def test_uint64_keys_int64_query_array_at_int64_max(backend):
    """uint64 keys, an int64 query array holding 2**63 - 1, side="right".

    Regression (library bug found by this suite): ``_queries._int_targets`` marked an
    int64 query equal to int64 max as above *every* uint64 key when ``right=True``
    (``at_max`` compared against ``min(info.max, int64 max)``), although uint64 keys
    above 2**63 - 1 exist; the answer was 4 instead of 2.
    """
    keys = np.array([0, 5, 2 ** 63, 2 ** 64 - 1], dtype=np.uint64)
    idx = RMI(keys, backend=backend)
    idx._check()
    q = np.array([2 ** 63 - 1], dtype=np.int64)
    assert idx.searchsorted(q, side="right").tolist() == [2]        # keys <= 2**63-1: 0 and 5
    assert idx.searchsorted(np.int64(2 ** 63 - 1), side="right") == 2


def test_float_keys_with_infinities_and_ints_beyond_float_range(backend):
    """Python ints beyond float64's range against float keys holding +-inf.

    Regression (library bug found by this suite): ``scalar_target`` answered
    ``ABOVE``/``BELOW`` (len(keys) / 0) when ``float(q)`` overflows, but
    ``-inf < -2**1024 < 2**1024 < inf``: infinite keys are not beyond such a query
    (the answers were 3 and 0 instead of 2 and 1).
    """
    keys = np.array([-np.inf, 0.0, np.inf])
    idx = RMI(keys, backend=backend)
    idx._check()
    assert idx.searchsorted(2 ** 1024) == 2             # keys < 2**1024: -inf and 0.0
    assert idx.searchsorted(2 ** 1024, side="right") == 2
    assert idx.searchsorted(-(2 ** 1024)) == 1          # keys < -2**1024: -inf
    assert idx.searchsorted(-(2 ** 1024), side="right") == 1
    assert idx.searchsorted([2 ** 1024, -(2 ** 1024)]).tolist() == [2, 1]
    k32 = np.array([-np.inf, 0.0, np.inf], dtype=np.float32)
    idx32 = RMI(k32, backend=backend)
    idx32._check()
    assert idx32.searchsorted(10 ** 400) == 2
    assert idx32.searchsorted(-(10 ** 400)) == 1


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant,
                    reason="long double is float64 on this platform")
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_longdouble_queries(backend, dtype):
    """np.longdouble queries (more precise than float64) must not be rounded to float64.

    Regression (library bug found by this suite):
    ``RMI(np.array([1.0, 2.0])).searchsorted(np.longdouble(1) + eps)`` answered 0 (the
    query was rounded to 1.0 by ``float(q)``); the exact answer is 1.
    """
    _keys, key_list, idx = keyset(dtype, backend)
    one = np.longdouble(1)
    eps = np.finfo(np.longdouble).eps
    qs = [one + eps, one - eps / 2, np.longdouble(2 ** 53) + 1, np.longdouble(2 ** 63) + 1,
          np.longdouble(2 ** 64) - 1, np.longdouble(2 ** 64) - 2]
    qs += [np.longdouble(k) + np.longdouble(0.25) for k in key_list[:: max(1, len(key_list) // 30)]
           if math.isfinite(k) and abs(k) < 2 ** 60]
    for q in qs:
        check_scalar(idx, key_list, q)
    check_array(idx, key_list, np.array(qs, dtype=np.longdouble))


# ---------------------------------------------------------------------- hypothesis

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_foreign_queries_hypothesis(backend, dtype, data):
    keys = data.draw(sorted_keys(dtype, max_size=150), label="keys")
    root = data.draw(st.sampled_from(ROOTS), label="root")
    idx = RMI(keys, root=root, leaves=data.draw(st.sampled_from([1, 3, 64]), label="leaves"), backend=backend)
    idx._check()
    key_list = keys.tolist()
    qs = data.draw(st.lists(foreign_query(dtype), max_size=25), label="queries")
    qs += data.draw(st.lists(st.sampled_from(key_relative_foreign(keys, 30) or [0]), max_size=10), label="near")
    check_queries(idx, key_list, qs)


def _decimals_near(key_list: list, count: int) -> list:
    """Decimals equal to some keys and just beside them (exact, no float rounding)."""
    out = []
    for k in key_list[:: max(1, len(key_list) // count)]:
        if math.isfinite(k):
            d = Decimal(k)                              # exact for every int and float
            out += [d, d + Decimal("1e-30"), d - Decimal("1e-30"), d.next_plus(), d.next_minus()]
    return out


@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float64)], ids=dtype_id)
def test_exact_queries_just_beyond_float64_range(backend, dtype):
    """A rational query just above DBL_MAX (or below -DBL_MAX) is no float64: its left and
    right answers coincide, between the finite keys and +-inf."""
    from fractions import Fraction
    big = Fraction(np.finfo(np.float64).max)
    keys = np.array([-np.inf, -np.finfo(dtype).max, 0.0, np.finfo(dtype).max, np.inf, np.inf], dtype=dtype)
    idx = RMI(keys, leaves=1, backend=backend)
    tiny = Fraction(1, 10 ** 700)
    qs = [big + tiny, -big - tiny, big + 1, -big - 1, big * 3, -big * 3,
          Decimal(float(big)).fma(1, Decimal((0, (1,), -700))),       # DBL_MAX + 1e-700, exactly
          np.longdouble(np.finfo(np.float64).max) * 2, -np.longdouble(np.finfo(np.float64).max) * 2]
    check_queries(idx, keys.tolist(), qs)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_decimal_queries_hypothesis(backend, dtype, data):
    """Decimal queries compare exactly, as Python compares them with ints and floats
    (``Decimal("0.1") < 0.1``), NaN answers ``len(keys)``, and magnitudes far beyond
    every key (``1E+1000000``) answer without building huge integers."""
    keys = data.draw(sorted_keys(dtype, max_size=150), label="keys")
    idx = RMI(keys, leaves=data.draw(st.sampled_from([1, 3, 64]), label="leaves"), backend=backend)
    key_list = keys.tolist()
    qs = data.draw(st.lists(st.decimals(allow_nan=True, allow_infinity=True), max_size=20), label="queries")
    qs += [Decimal("0.1"), Decimal("-0"), Decimal("sNaN"), Decimal("1E+1000000"), Decimal("-1E+1000000"),
           Decimal("1E-1000000"), Decimal("-1E-1000000"), Decimal(2 ** 64), Decimal(-(2 ** 63)) - 1]
    # coefficients longer than any key's digits: compared through a short proxy, exactly
    for k in key_list[:5]:
        if math.isfinite(k):
            sign, digits, exp = Decimal(k).as_tuple()      # k exactly, then k with 900 more digits:
            qs += [Decimal((sign, digits + (0,) * 900, exp - 900)),            # equal to k
                   Decimal((sign, digits + (0,) * 899 + (1,), exp - 900))]     # just beyond it
    qs += data.draw(st.lists(st.sampled_from(_decimals_near(key_list, 30) or [Decimal(0)]), max_size=10),
                    label="near")
    check_queries(idx, key_list, qs)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_typed_array_hypothesis(backend, dtype, data):
    keys = data.draw(sorted_keys(dtype, max_size=150), label="keys")
    idx = RMI(keys, leaves=data.draw(st.sampled_from([1, 5, 64]), label="leaves"), backend=backend)
    idx._check()
    qdt = data.draw(st.sampled_from(QUERY_DTYPES), label="qdtype")
    arr = data.draw(hnp.arrays(qdt, st.integers(0, 30)), label="queries")
    check_array(idx, keys.tolist(), arr)


# ---------------------------------------- scalar_target / array_targets agreement

def _as_array(q) -> np.ndarray:
    """A 1-element array of ``q`` the way a user would build it (numpy's own dtype)."""
    if isinstance(q, np.generic):
        return np.array([q])
    if isinstance(q, bool):
        return np.array([q])
    if isinstance(q, int):
        if -(2 ** 63) <= q < 2 ** 63:
            return np.array([q], dtype=np.int64)
        if 0 <= q < 2 ** 64:
            return np.array([q], dtype=np.uint64)
        return np.array([q], dtype=object)
    return np.array([q], dtype=np.float64)


def _canonical(dtype, code, target, exact):
    """``(code, target, exact)`` with equivalent reductions spelled one way.

    A non-exact target equal to the dtype's minimum (or -inf) answers 0 like ``BELOW``:
    e.g. ``q = -1`` against uint64 keys with ``side="right"`` may be reduced to either.
    """
    dtype = np.dtype(dtype)
    if code == Q.TARGET and not exact:
        lowest = int(np.iinfo(dtype).min) if dtype.kind in "iu" else -math.inf
        if target == lowest:
            return Q.BELOW, None, False
    return code, (target if code == Q.TARGET else None), bool(exact)


def _array_result(dtype, res, i=0):
    t, below, above, exact = res
    b = False if below is None else bool(np.ravel(below)[i])
    a = False if above is None else bool(np.ravel(above)[i])
    e = True if exact is None else bool(np.ravel(exact)[i])
    code = Q.BELOW if b else Q.ABOVE if a else Q.TARGET
    return _canonical(dtype, code, np.ravel(t)[i].item(), e)


def assert_targets_agree(dtype, q, right):
    scalar = Q.scalar_target(dtype, q, right)
    code, target, _ = scalar
    if code == Q.TARGET:
        assert not (isinstance(target, float) and math.isnan(target)), f"NaN target for {q!r}"
        assert np.dtype(dtype).type(target) == target, f"target {target!r} is not exact in {dtype}"
    expected = _canonical(dtype, *scalar)
    for arr in (_as_array(q), np.array([q], dtype=object)):
        res = Q.array_targets(dtype, arr, right)
        assert np.asarray(res[0]).dtype == dtype, (q, arr.dtype)
        got = _array_result(dtype, res)
        ctx = f"dtype={dtype}, q={q!r} ({type(q).__name__}), array {arr.dtype}, right={right}"
        assert got == expected, f"{ctx}: array_targets gives {got}, scalar_target {scalar}"


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_scalar_and_array_targets_agree(dtype, data):
    qs = data.draw(st.lists(foreign_query(dtype), min_size=1, max_size=20), label="queries")
    for q in qs:
        for right in (False, True):
            assert_targets_agree(dtype, q, right)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_scalar_and_array_targets_agree_fixed(dtype):
    qs = list(FOREIGN_INTS) + list(FOREIGN_FLOATS) + foreign_numpy_scalars() + special_values(dtype)
    for q in qs:
        for right in (False, True):
            assert_targets_agree(dtype, q, right)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_targets_reduce_searchsorted(dtype, data):
    """searchsorted(keys, q, side) == searchsorted(keys, target, "left") (BELOW -> 0, ABOVE -> n)."""
    keys = data.draw(sorted_keys(dtype, max_size=60), label="keys")
    key_list = keys.tolist()
    qs = data.draw(st.lists(foreign_query(dtype), min_size=1, max_size=20), label="queries")
    for q in qs:
        for side in SIDES:
            code, target, _ = Q.scalar_target(dtype, q, side == "right")
            if code == Q.BELOW:
                got = 0
            elif code == Q.ABOVE:
                got = keys.size
            else:
                got = int(np.searchsorted(keys, np.array(target, dtype=dtype), "left"))
            assert got == exact_searchsorted(key_list, q, side), (q, side, code, target)


# ------------------------------------------------------------------------- range

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_range_mixed_types(backend, dtype):
    _keys, key_list, idx = keyset(dtype, backend)
    bounds = [-(2 ** 70), -1, 0, 2.5, 2 ** 53 + 1, 2 ** 64, math.inf, math.nan] + key_list[::25]
    for lo in bounds:
        for hi in bounds:
            s = exact_searchsorted(key_list, lo, "left")
            e = max(s, exact_searchsorted(key_list, hi, "left"))
            assert idx.range(lo, hi) == (s, e), (lo, hi)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_range_vectorised_broadcasts(backend, dtype):
    """range(array, array), range(scalar, array) and range(array, scalar) all broadcast.

    Regression (library bug found by this suite):
    ``RMI(np.arange(10)).range(np.array([1, 2]), 5)`` raised "The truth value of an
    array ... is ambiguous" (``range`` called the builtin ``max`` whenever ``stop`` was
    a Python int, even if ``start`` was an array).
    """
    keys, _, idx = keyset(dtype, backend)
    lo = keys[::9]
    hi = keys[::-9][: lo.size]
    s_exp = np.searchsorted(keys, lo, "left")
    start, stop = idx.range(lo, hi)
    np.testing.assert_array_equal(start, s_exp)
    np.testing.assert_array_equal(stop, np.maximum(s_exp, np.searchsorted(keys, hi, "left")))
    mid = keys[keys.size // 2]
    m = int(np.searchsorted(keys, mid, "left"))
    start, stop = idx.range(mid, hi)
    assert start == m
    np.testing.assert_array_equal(stop, np.maximum(m, np.searchsorted(keys, hi, "left")))
    start, stop = idx.range(lo, mid)
    np.testing.assert_array_equal(start, s_exp)
    np.testing.assert_array_equal(stop, np.maximum(s_exp, m))
