"""Every index of ``learnedidx.baselines.INDEXES`` answers exactly like the RMI must.

The core property tests of the RMI suite (``test_rmi_exact.py``, ``test_rmi_queries.py``),
parametrised over every implementation (:data:`index_impls.IMPLS`: the RMI, the B-tree and
the interleaved binary search on both backends, the numpy idioms and the peers):

* queries of the key dtype equal ``numpy.searchsorted`` (both sides, batch and scalar,
  numpy and Python scalars), and lookup / contains / ``in`` / range agree with it;
* queries of every other numeric type (Python ints beyond the dtype, floats against
  integer keys, NaN, numpy scalars and arrays of every dtype) are mathematically exact;
* all six key dtypes, duplicates, empty and one-key arrays, dtype extremes, adversarial
  CDFs, +-inf / -0.0 / subnormals for floats;
* where a key set hits a documented limit (``BTreesIndex`` and float keys; ``PyGMIndex``
  and signed keys spanning more than the dtype's maximum or float keys holding +-inf)
  the documented exception is asserted instead, and the accepted part of the key set is
  tested as usual.

The slow peers (sortedcontainers, BTrees, PyGM answer batches through a Python loop)
only ever see key sets of at most 2000 keys.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import (
    FOREIGN_FLOATS,
    FOREIGN_INTS,
    KEY_DTYPES,
    QUERY_DTYPES,
    adversarial_keys,
    dtype_id,
    exact_searchsorted,
    foreign_numpy_scalars,
    grid_queries,
    key_queries,
    key_relative_foreign,
    neighbours,
    sorted_keys,
    tiny_cases,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from index_impls import (
    IMPL_IDS,
    IMPLS,
    SLOW_MAX_KEYS,
    assert_matches_numpy,
    build_or_refuse,
    build_tested,
    check_array,
    check_scalar,
    foreign_query,
    guarded,
    keys_under_test,
    known_bug_mask,
    params_strategy,
    run_isolated,
    assert_signed_zeros,
    check_queries,
    typed_queries,
)
from learnedidx.baselines import INDEXES, BTreesIndex, PyGMIndex

SIDES = ("left", "right")

impl_param = pytest.mark.parametrize("impl", IMPLS, ids=IMPL_IDS)
dtype_param = pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)


def test_every_index_is_parametrised():
    """Nothing of INDEXES is forgotten (a peer is left out only if its package is missing)."""
    import importlib.util

    from index_impls import OPTIONAL_PACKAGES
    tested = {i.cls for i in IMPLS}
    for cls in INDEXES.values():
        pkg = OPTIONAL_PACKAGES.get(cls)
        if pkg is None or importlib.util.find_spec(pkg) is not None:
            assert cls in tested, cls


# ------------------------------------------------------------------------ hypothesis
#
# Data are drawn in the test process, then checked by a module-level function through
# ``guarded`` (PyGM runs in a forked child: see index_impls).

def check_key_queries(impl, keys, params, queries, n_scalar=12, all_keys=False):
    idx, keys = build_tested(impl, keys, **params)
    if idx is None:
        return
    assert_matches_numpy(idx, keys, queries, n_scalar=n_scalar)
    if all_keys:            # every key finds its first occurrence
        np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))


def check_foreign(impl, keys, qs, arrays=()):
    idx, keys = build_tested(impl, keys)
    if idx is None:
        return
    key_list = keys.tolist()
    check_queries(idx, key_list, qs)
    for arr in arrays:
        check_array(idx, key_list, arr)


@impl_param
@dtype_param
@given(data=st.data())
def test_searchsorted_matches_numpy(impl, dtype, data):
    keys = data.draw(sorted_keys(dtype), label="keys")
    params = data.draw(params_strategy(impl, keys.size), label="params")
    queries = data.draw(key_queries(keys_under_test(impl.cls, keys)), label="queries")
    guarded(impl, check_key_queries, impl, keys, params, queries)


@impl_param
@given(data=st.data())
def test_larger_key_sets(impl, data):
    """Up to ~2000 keys (the slow peers' limit), default parameters; dtype drawn."""
    dtype = data.draw(st.sampled_from(KEY_DTYPES), label="dtype")
    keys = data.draw(sorted_keys(dtype, max_size=SLOW_MAX_KEYS - 10), label="keys")
    assert keys.size <= SLOW_MAX_KEYS
    queries = data.draw(key_queries(keys_under_test(impl.cls, keys), max_size=300), label="queries")
    guarded(impl, check_key_queries, impl, keys, {}, queries, n_scalar=20, all_keys=True)


@impl_param
@given(data=st.data())
def test_foreign_queries_hypothesis(impl, data):
    """Scalars of any type (Python ints far beyond the dtype, floats, NaN, numpy scalars)."""
    dtype = data.draw(st.sampled_from(KEY_DTYPES), label="dtype")
    keys = data.draw(sorted_keys(dtype, max_size=150), label="keys")
    near = key_relative_foreign(keys_under_test(impl.cls, keys), 30) or [0]
    qs = data.draw(st.lists(foreign_query(dtype), max_size=25), label="queries")
    qs += data.draw(st.lists(st.sampled_from(near), max_size=10), label="near")
    guarded(impl, check_foreign, impl, keys, qs)


@impl_param
@given(data=st.data())
def test_typed_array_hypothesis(impl, data):
    dtype = data.draw(st.sampled_from(KEY_DTYPES), label="dtype")
    keys = data.draw(sorted_keys(dtype, max_size=150), label="keys")
    qdt = data.draw(st.sampled_from(QUERY_DTYPES), label="qdtype")
    arr = data.draw(hnp.arrays(qdt, st.integers(0, 30)), label="queries")
    guarded(impl, check_foreign, impl, keys, [], arrays=[arr])


# --------------------------------------------------------------- deterministic data

@impl_param
@dtype_param
def test_adversarial_keys(impl, dtype):
    """Every adversarial pattern at once plus the dtype's special values (and neighbours)."""
    keys = adversarial_keys(dtype, size=60)
    assert keys.size <= SLOW_MAX_KEYS
    guarded(impl, check_key_queries, impl, keys, {}, grid_queries(keys_under_test(impl.cls, keys)), n_scalar=60,
            all_keys=True)


def _tiny(impl, dtype):
    cases, queries = tiny_cases(dtype)
    for keys in cases:
        check_key_queries(impl, keys, {}, queries, n_scalar=30, all_keys=True)


@impl_param
@dtype_param
def test_tiny_arrays(impl, dtype):
    """Empty, one-key and all-equal arrays, with every query the dtype finds interesting."""
    guarded(impl, _tiny, impl, dtype)


def _empty(impl):
    for dtype in KEY_DTYPES:
        keys = np.zeros(0, dtype=dtype)
        idx = build_or_refuse(impl, keys)
        if idx is None:
            continue
        assert len(idx) == 0
        assert idx.searchsorted(5) == 0 and idx.searchsorted(5, side="right") == 0
        assert idx.searchsorted(-(2 ** 70)) == 0 and idx.searchsorted(2 ** 70) == 0
        assert idx.searchsorted(math.nan) == 0
        got = idx.searchsorted(np.arange(6, dtype=dtype).reshape(2, 3))
        assert got.shape == (2, 3) and got.dtype == np.int64 and not got.any()
        assert idx.lookup(3) == -1 and 3 not in idx and not idx.contains(3)
        np.testing.assert_array_equal(idx.lookup(np.arange(3, dtype=dtype)), [-1, -1, -1])
        assert idx.range(0, 10) == (0, 0)


@impl_param
def test_empty_index(impl):
    guarded(impl, _empty, impl)


def _nan_queries(impl, dtype):
    idx, keys = build_tested(impl, adversarial_keys(dtype, size=20))
    if idx is None:
        return
    n = keys.size
    for q in (math.nan, -math.nan, np.float32("nan"), np.float64("nan"), np.float16("nan"), np.array(math.nan)):
        for side in SIDES:
            assert idx.searchsorted(q, side=side) == n
        assert idx.lookup(q) == -1 and q not in idx
    for qdt in (np.float16, np.float32, np.float64):
        arr = np.array([np.nan, 1.0, np.nan], dtype=qdt)
        for side in SIDES:
            got = idx.searchsorted(arr, side=side)
            assert got[0] == n and got[2] == n
        assert idx.lookup(arr)[0] == -1
    if n:
        assert idx.range(math.nan, 0)[0] == n


@impl_param
@dtype_param
def test_nan_queries_answer_len(impl, dtype):
    guarded(impl, _nan_queries, impl, dtype)


def _signed_zeros(impl, dtype):
    keys = np.array([-1.0, 0.0, -0.0, 0.0, -0.0, 2.0], dtype=dtype)
    idx, keys = build_tested(impl, keys)
    if idx is None:
        return
    assert_signed_zeros(idx, dtype)


@impl_param
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_signed_zeros(impl, dtype):
    """-0.0 and 0.0 are equal keys (in any order); both queries find the whole run."""
    guarded(impl, _signed_zeros, impl, dtype)


# ----------------------------------------------------------------- mixed-type queries

def foreign_keys(dtype):
    return adversarial_keys(dtype, size=30)


def _foreign_scalars(impl, dtype):
    idx, keys = build_tested(impl, foreign_keys(dtype))
    if idx is None:
        return
    key_list = keys.tolist()
    qs = list(FOREIGN_INTS) + list(FOREIGN_FLOATS) + foreign_numpy_scalars() + key_relative_foreign(keys)
    qs += [True, False, np.bool_(True)]
    for q in qs:
        check_scalar(idx, key_list, q)
    obj = np.empty(len(qs), dtype=object)
    obj[:] = qs
    check_array(idx, key_list, obj)
    check_array(idx, key_list, obj[: (len(qs) // 2) * 2].reshape(2, -1))


@impl_param
@dtype_param
def test_foreign_scalars(impl, dtype):
    """Python ints beyond the dtype, floats vs int keys, NaN, numpy scalars of every dtype."""
    guarded(impl, _foreign_scalars, impl, dtype)


def _typed_arrays(impl, dtype):
    idx, keys = build_tested(impl, foreign_keys(dtype))
    if idx is None:
        return
    key_list = keys.tolist()
    for qdt in QUERY_DTYPES:
        rng = np.random.default_rng(np.dtype(dtype).num * 100 + qdt.num)
        arr = typed_queries(qdt, keys, rng)
        check_array(idx, key_list, arr)
        m = (arr.size // 2) * 2
        check_array(idx, key_list, arr[:m].reshape(2, -1))
        check_array(idx, key_list, arr[::3])
        ro = arr.copy()
        ro.flags.writeable = False
        check_array(idx, key_list, ro)
        for q in arr[:: max(1, arr.size // 10)]:
            check_scalar(idx, key_list, q)
            check_scalar(idx, key_list, q, as_query=np.array(q))    # 0-d array
    check_array(idx, key_list, keys[::5].astype(keys.dtype.newbyteorder(">")))


@impl_param
@dtype_param
def test_typed_arrays_of_every_dtype(impl, dtype):
    """Query arrays of each numeric dtype (2-D, strided, read-only, byte-swapped), 0-d arrays."""
    guarded(impl, _typed_arrays, impl, dtype)


def _mixed_lists(impl):
    keys = np.array([0, 5, 2 ** 64 - 2049, 2 ** 64 - 2, 2 ** 64 - 1, 2 ** 64 - 1], dtype=np.uint64)
    idx, keys = build_tested(impl, keys)
    kl = keys.tolist()
    for qs in ([-1, 2 ** 64 - 1], [2 ** 64 - 2, -5, 3], [-1, 2 ** 64 - 2049, 2 ** 64 - 2048, 2 ** 64],
               [2 ** 64 - 1, 2.5], [[-1], [2 ** 64 - 2]], [[-1, 2 ** 70], [2.5, math.nan]], [], ()):
        check_array(idx, kl, qs)
    assert idx.lookup([-1, 5, 4]).tolist() == [-1, 1, -1]


@impl_param
def test_mixed_python_lists(impl):
    """numpy turns [-1, 2**64 - 1] into float64 (rounding the second); no index may."""
    guarded(impl, _mixed_lists, impl)


def _int64_max_vs_uint64(impl):
    keys = np.array([0, 5, 2 ** 63, 2 ** 64 - 1], dtype=np.uint64)
    idx, keys = build_tested(impl, keys)
    q = np.array([2 ** 63 - 1], dtype=np.int64)
    assert idx.searchsorted(q, side="right").tolist() == [2]
    assert idx.searchsorted(np.int64(2 ** 63 - 1), side="right") == 2
    assert idx.searchsorted(2 ** 63 - 1, side="right") == 2


@impl_param
def test_int64_max_query_against_uint64_keys(impl):
    guarded(impl, _int64_max_vs_uint64, impl)


def _beyond_float_range(impl):
    idx, keys = build_tested(impl, np.array([-np.inf, 0.0, np.inf]))
    if idx is None or keys.size < 3:
        return
    assert idx.searchsorted(2 ** 1024) == 2 and idx.searchsorted(2 ** 1024, side="right") == 2
    assert idx.searchsorted(-(2 ** 1024)) == 1 and idx.searchsorted(-(2 ** 1024), side="right") == 1
    assert idx.searchsorted([2 ** 1024, -(2 ** 1024)]).tolist() == [2, 1]


@impl_param
def test_ints_beyond_float_range_against_infinite_keys(impl):
    guarded(impl, _beyond_float_range, impl)


def _range_mixed(impl, dtype):
    idx, keys = build_tested(impl, foreign_keys(dtype))
    if idx is None:
        return
    key_list = keys.tolist()
    bounds = [-(2 ** 70), -1, 0, 2.5, 2 ** 53 + 1, 2 ** 64, math.inf, math.nan] + key_list[::40]
    for lo in bounds:
        for hi in bounds:
            if any(known_bug_mask(idx, key_list, [lo, hi])):
                continue
            s = exact_searchsorted(key_list, lo, "left")
            e = max(s, exact_searchsorted(key_list, hi, "left"))
            assert idx.range(lo, hi) == (s, e), (lo, hi)
    if keys.size:
        lo, hi = keys[::9], keys[::-9][: keys[::9].size]
        s_exp = np.searchsorted(keys, lo, "left")
        start, stop = idx.range(lo, hi)
        np.testing.assert_array_equal(start, s_exp)
        np.testing.assert_array_equal(stop, np.maximum(s_exp, np.searchsorted(keys, hi, "left")))


@impl_param
@dtype_param
def test_range_mixed_types(impl, dtype):
    guarded(impl, _range_mixed, impl, dtype)


# ------------------------------------------------------------------ documented limits

TESTED = {i.cls for i in IMPLS}


def needs(cls):
    """Define the test only when ``cls``'s optional package is installed (left out, not skipped)."""
    return lambda fn: fn if cls in TESTED else None


@needs(BTreesIndex)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_btrees_refuses_float_keys(dtype):
    for keys in (np.array([1.0, 2.0], dtype=dtype), np.zeros(0, dtype=dtype), [1.5, 2.5]):
        with pytest.raises(TypeError, match=r"BTreesIndex cannot hold float(32|64) keys.*integer"):
            BTreesIndex(keys if not isinstance(keys, list) else np.array(keys, dtype=dtype))


def _pygm_spans(dtype):
    dt = np.dtype(dtype)
    top = int(np.iinfo(dt).max)
    bad = [[-2, top - 1], [int(np.iinfo(dt).min), 0], [int(np.iinfo(dt).min), top - 1], [-3, 0, top - 1]]
    for keys in bad:
        with pytest.raises(ValueError, match=rf"PyGM answers wrongly when {dtype} keys span more than "
                                             rf"2\*\*{dt.itemsize * 8 - 1} - 1"):
            PyGMIndex(np.array(keys, dtype=dt))
    # a span of exactly the maximum is accepted, and answered exactly
    for keys in ([0, top - 1], [-1, top - 2], [int(np.iinfo(dt).min), -1], [-5, -5, 3, top - 5]):
        keys = np.array(keys, dtype=dt)
        idx = PyGMIndex(keys)
        with np.errstate(all="ignore"):
            q = np.array(neighbours(dt, keys.tolist()) + keys.tolist(), dtype=dt)
        assert_matches_numpy(idx, keys, q)


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_pygm_refuses_signed_spans_beyond_the_dtype_max(dtype):
    guarded(PyGMIndex, _pygm_spans, dtype)


def _pygm_inf(dtype):
    for keys in ([-np.inf, 0.0], [0.0, np.inf], [-np.inf, np.inf], [np.inf], [-np.inf, -np.inf]):
        with pytest.raises(ValueError, match="PyGM cannot index infinite keys"):
            PyGMIndex(np.array(keys, dtype=dtype))
    m = float(np.finfo(dtype).max)
    idx = PyGMIndex(np.array([-m, 0.0, 1.0], dtype=dtype))
    assert idx.searchsorted(0.0) == 1 and idx.searchsorted(-m) == 0 and idx.searchsorted(-math.inf) == 0


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pygm_refuses_infinite_keys(dtype):
    guarded(PyGMIndex, _pygm_inf, dtype)


def _pygm_max(dtype):
    dt = np.dtype(dtype)
    top = np.finfo(dt).max if dt.kind == "f" else np.iinfo(dt).max
    for keys in ([top], [0, top], [0, top, top, top], [top] * 5):
        with pytest.raises(ValueError, match=rf"PyGM cannot index a key equal to the {dt.name} maximum"):
            PyGMIndex(np.array(keys, dtype=dt))
    below = top - 1 if dt.kind != "f" else np.nextafter(top, dt.type(0))
    keys = np.array([0, below], dtype=dt)
    idx = PyGMIndex(keys)
    assert_matches_numpy(idx, keys, np.array([0, 1, below, top], dtype=dt))


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_pygm_refuses_keys_equal_to_the_dtype_max(dtype):
    """pygm uses the dtype's maximum as a sentinel: such keys are refused (documented)."""
    guarded(PyGMIndex, _pygm_max, dtype)


# ------------------------------------------------------------ known library bugs
#
# PyGMIndex hands pygm 1.0.1 inputs its PGM-index mishandles.  Crashes, endless loops
# and runaway allocations are reproduced in subprocesses (they must not take the test
# run down).  See index_impls (``pygm_bug``, ``guarded``).

_PYGM_MAX_QUERY = """
import numpy as np
from learnedidx.baselines import PyGMIndex
keys = np.array({keys}, dtype=np.{dtype})
try:
    idx = PyGMIndex(keys, epsilon={eps})
except ValueError as exc:
    print("refused" if "PyGM cannot index a key equal to the" in str(exc) else exc)
    raise SystemExit
top = int(np.iinfo(keys.dtype).max)
print(idx.searchsorted(top), idx.searchsorted(top - 1, side="right"),
      idx.searchsorted(np.array([top], dtype=keys.dtype))[0], idx.lookup(top), top in idx)
"""


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", ["uint32", "uint64", "int32", "int64"])
def test_pygm_integer_query_at_dtype_max(dtype):
    """Library bug: a target equal to the integer dtype's maximum segfaults in pygm.

    Reproduction: ``PyGMIndex(np.array([0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000],
    dtype=np.uint32), epsilon=1).searchsorted(2**32 - 1)`` kills the interpreter
    (SIGSEGV); numpy answers 10.  The same for ``side="right"`` of ``max - 1``, for
    every integer dtype, and when the maximum is itself the last key
    (``PyGMIndex(np.array([2**63 - 2] * 3 + [2**63 - 1])).searchsorted(2**63 - 1)``;
    such keys may be refused instead, as the adapter now documents).
    """
    failures = []
    top = int(np.iinfo(dtype).max)
    for keys, eps, expected in (([0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000], 1, "10 10 10 -1 False"),
                                ([top - 1] * 3 + [top], 64, "3 3 3 3 True")):
        res = run_isolated(_PYGM_MAX_QUERY.format(keys=keys, dtype=dtype, eps=eps))
        if res.returncode != 0:
            failures.append(f"keys={keys[:4]}..., epsilon={eps}: crashed (code {res.returncode}) {res.stderr[-300:]}")
        elif res.stdout.split() != expected.split() and res.stdout.strip() != "refused":
            failures.append(f"keys={keys[:4]}..., epsilon={eps}: answered {res.stdout.split()}, expected {expected}")
    assert not failures, "\n".join(failures)


@needs(PyGMIndex)
def test_pygm_default_parameters_on_adversarial_uint32_keys():
    """The same crash with default parameters on the conftest adversarial uint32 keys
    (without their maximum, which the adapter now refuses)."""
    import os
    code = ("import numpy as np, sys; sys.path.insert(0, {tests!r})\n"
            "from conftest import adversarial_keys\n"
            "from learnedidx.baselines import PyGMIndex\n"
            "keys = adversarial_keys('uint32')\n"
            "keys = np.ascontiguousarray(keys[keys < 2**32 - 1])\n"
            "print(PyGMIndex(keys).searchsorted(2**32 - 1) == np.searchsorted(keys, np.uint32(2**32 - 1)))")
    res = run_isolated(code.format(tests=os.path.dirname(os.path.abspath(__file__))))
    assert res.returncode == 0, f"crashed with code {res.returncode}: {res.stderr[-500:]}"
    assert res.stdout.strip() == "True"


_PYGM_KEYS = """
import numpy as np
from learnedidx.baselines import PyGMIndex
dt = np.dtype("{dtype}")
top = np.finfo(dt).max if dt.kind == "f" else np.iinfo(dt).max
keys = np.array({keys}, dtype=dt)
try:
    idx = PyGMIndex(keys)
except ValueError as exc:
    print("refused:", exc)
else:
    q = np.concatenate([keys, np.array([0, 1], dtype=dt)])
    print((idx.searchsorted(q) == np.searchsorted(keys, q)).all())
"""


def _pygm_key_failures(dtype, key_exprs, timeout=3):
    """Key sets (Python expressions) on which PyGMIndex neither answers exactly nor
    refuses with a ValueError naming PyGM, each built in a subprocess."""
    failures = []
    for keys in key_exprs:
        res = run_isolated(_PYGM_KEYS.format(dtype=dtype, keys=keys), timeout=timeout)
        out = res.stdout.strip()
        if res.returncode != 0:
            failures.append(f"{keys}: exit code {res.returncode}, {res.stderr.strip().splitlines()[-1:]}")
        elif out != "True" and not (out.startswith("refused:") and "PyGM" in out):
            failures.append(f"{keys}: {out}")
    return failures


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_pygm_keys_holding_the_dtype_max(dtype):
    """Keys holding the dtype's maximum three times break pygm's build (found by this
    suite; the adapter now refuses keys equal to the dtype's maximum).

    Reproductions before the refusal (every other index takes these keys):
    ``PyGMIndex(np.array([0] + [2**63 - 1] * 3))`` raises ``RuntimeError: Points must be
    increasing by x`` (every integer dtype); ``PyGMIndex(np.full(3, np.finfo(np.float32).max))``
    never returns (endless loop); ``PyGMIndex(np.full(3, np.finfo(np.float64).max))``
    allocates until ``MemoryError: std::bad_alloc``.

    The adapter must answer exactly, or refuse such keys with a ``ValueError`` that says
    so (as it does for its documented limits).
    """
    failures = _pygm_key_failures(dtype, ["[top] * 3", "[0] + [top] * 3", "[0] * 50 + [top] * 3"])
    assert not failures, f"{dtype} keys: " + "; ".join(failures)


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pygm_equal_float_keys_beyond_the_mantissa(dtype):
    """Library bug: all-equal float keys with ``k + 1 == k`` make pygm loop forever.

    Reproduction: ``PyGMIndex(np.array([1e16, 1e16]))`` never returns (float64, any
    ``|k| >= 2**53``: ``[2.0**53] * 3``, ``[-1e300] * 2``); for float32 from ``|k| >= 2**24``
    (``PyGMIndex(np.array([2.0**24] * 2, dtype=np.float32))``).  ``[9e15, 9e15]`` works.
    """
    big = "2.0**53" if dtype == "float64" else "2.0**24"
    failures = _pygm_key_failures(dtype, [f"[{big}] * 2", f"[-{big}] * 3", "[1e16 if dt.itemsize == 8 else 1e30] * 2"])
    assert not failures, f"{dtype} keys: " + "; ".join(failures)


def _runs(keys) -> str:
    vals, counts = np.unique(keys, return_counts=True)
    return "[" + ", ".join(f"{v!r}" + (f" x{c}" if c > 1 else "") for v, c in zip(vals.tolist(), counts.tolist())) + "]"


@needs(PyGMIndex)
def test_pygm_wrong_answers_inside_the_key_range():
    """Library bug: PyGMIndex answers wrongly next to runs of equal keys, and between
    subnormal float keys (the answers are not verified; no documented limit covers these).

    Reproductions (numpy's answer in brackets):
    ``PyGMIndex(np.array([0, 2, 3, 6, 8]) * 5e-324, epsilon=1).searchsorted(7 * 5e-324)`` -> 3 (4);
    ``PyGMIndex(np.array([0.0] * 300 + [1000.0] * 300)).searchsorted(500.0)`` -> 66 (300),
    default epsilon, float32 too;
    ``PyGMIndex(np.array([0.0] * 4 + [1000.0] * 4), epsilon=1).searchsorted(999.0)`` -> 3 (4);
    ``PyGMIndex(np.array([0] * 4 + [2**62] * 4, dtype=np.uint64), epsilon=1).searchsorted(2**62 - 1)``
    -> 3 (4).
    """
    cases = [(np.array([0.0] * 300 + [1000.0] * 300), 64, [500.0, 999.0, 1.0]),
             (np.array([0.0] * 300 + [1000.0] * 300, dtype=np.float32), 64, [500.0]),
             (np.array([0.0] * 4 + [1000.0] * 4), 1, [999.0]),
             (np.array([0] * 4 + [2 ** 62] * 4, dtype=np.uint64), 1, [2 ** 62 - 1]),
             (np.array([2 ** 63 - 1] * 4 + [2 ** 64 - 2049] * 4, dtype=np.uint64), 1, [2 ** 64 - 2050]),
             (np.array([0, 2, 3, 6, 8]) * 5e-324, 1, [7 * 5e-324])]
    failures = []
    for keys, eps, qs in cases:
        idx = PyGMIndex(keys, epsilon=eps)
        for q in qs:
            exp = int(np.searchsorted(keys, keys.dtype.type(q)))
            got = idx.searchsorted(q)
            if got != exp:
                failures.append(f"{keys.dtype} keys {_runs(keys)}, epsilon={eps}: "
                                f"searchsorted({q!r}) = {got}, numpy says {exp}")
    assert not failures, "\n".join(failures)


@needs(PyGMIndex)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pygm_float_queries_above_last_key(dtype):
    """Library bug: PyGMIndex answers wrongly for float targets far above the last key.

    Reproduction: ``PyGMIndex(np.array([0.0, 1.0, 2.0, 10.0]), epsilon=1).searchsorted(math.inf)``
    answers 3; numpy (and every other index) answers 4.  The same for the dtype's
    largest finite value, and with ``epsilon=4`` already for 1e150 on the float64 keys
    ``[0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000]`` (6 instead of 10).  The adapter passes
    targets above the last key on to pygm instead of answering ``len(keys)`` itself.
    """
    dt = np.dtype(dtype)
    top = float(np.finfo(dt).max)
    failures = []
    for keys, eps in (([0.0, 1.0, 2.0, 10.0], 1), ([0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000], 1),
                      ([0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000], 4)):
        keys = np.array(keys, dtype=dt)
        idx = PyGMIndex(keys, epsilon=eps)
        for q in (math.inf, top, 1e150 if dt.itemsize == 8 else 1e38, 2 ** 1024):
            for side in SIDES:
                got = idx.searchsorted(q, side=side)
                if got != keys.size:
                    failures.append((keys.size, eps, q, side, got))
        got = idx.searchsorted(np.array([math.inf, top], dtype=dt))
        if got.tolist() != [keys.size] * 2:
            failures.append((keys.size, eps, "array [inf, max]", got.tolist()))
    assert not failures, f"(n, epsilon, query, side, answer) where the answer must be n: {failures}"
