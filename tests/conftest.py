"""Shared fixtures, hypothesis profiles, strategies and exact oracles for the test suite.

Oracles
-------
* For queries of the key dtype, the oracle is ``numpy.searchsorted`` itself.
* For queries of any other type, numpy's mixed-type comparisons round, so the oracle is
  exact Python arithmetic (:func:`exact_searchsorted`): Python int/float/Fraction
  comparisons are mathematically exact; NaN answers ``len(keys)`` (numpy sorts NaN last).

Hypothesis profiles (``HYPOTHESIS_PROFILE=...``): ``default`` and ``ci`` run 60 examples
per test with no deadline; ``dev`` runs 20, ``thorough`` 500 (minutes, for bug hunts).

Backends: the ``backend`` fixture runs every RMI test on ``"numpy"`` and, once the
extension ``learnedidx._kernels.rmi_kernel`` is built, on ``"compiled"`` as well.
"""
from __future__ import annotations

import bisect
import importlib.util
import math
import os
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------- profiles

_PROFILE = {"max_examples": 60, "deadline": None, "print_blob": True,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much]}
settings.register_profile("default", **_PROFILE)
settings.register_profile("ci", **_PROFILE)
settings.register_profile("dev", **{**_PROFILE, "max_examples": 20})
settings.register_profile("thorough", **{**_PROFILE, "max_examples": 500})
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# --------------------------------------------------------------------------- backends


def available_backends() -> list[str]:
    """``["numpy"]`` plus ``"compiled"`` once ``learnedidx._kernels.rmi_kernel`` exists."""
    backends = ["numpy"]
    try:
        found = importlib.util.find_spec("learnedidx._kernels.rmi_kernel") is not None
    except ImportError:
        found = False
    if found:
        backends.append("compiled")
    return backends


BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request) -> str:
    """Every lookup backend that is built (the compiled one is picked up automatically)."""
    return request.param


# ----------------------------------------------------------------------------- dtypes

KEY_DTYPES = tuple(np.dtype(t) for t in ("uint32", "uint64", "int32", "int64", "float32", "float64"))
INT_DTYPES = tuple(d for d in KEY_DTYPES if d.kind in "iu")
FLOAT_DTYPES = tuple(d for d in KEY_DTYPES if d.kind == "f")
ROOTS = ("radix", "linear", "spline", "cubic", "loglinear")
#: Every numeric query dtype (key dtypes plus the ones keys may not have).
QUERY_DTYPES = tuple(np.dtype(t) for t in (
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64"))

#: "more leaves than keys" is spelled as this marker and resolved with :func:`resolve_leaves`.
MORE_THAN_KEYS = "n+"
LEAF_COUNTS = (1, 2, 7, 64, 1024, MORE_THAN_KEYS)


def resolve_leaves(leaves, n: int) -> int:
    return n + 5 if leaves == MORE_THAN_KEYS else leaves


def dtype_id(dt) -> str:
    return np.dtype(dt).name


def lo_hi(dtype: np.dtype):
    """The finite extreme values of ``dtype`` as Python numbers."""
    if dtype.kind == "f":
        fi = np.finfo(dtype)
        return float(fi.min), float(fi.max)
    ii = np.iinfo(dtype)
    return int(ii.min), int(ii.max)


def special_values(dtype: np.dtype) -> list:
    """Interesting Python values that ``dtype`` holds exactly (no NaN)."""
    dtype = np.dtype(dtype)
    lo, hi = lo_hi(dtype)
    if dtype.kind in "iu":
        vals = {lo, lo + 1, hi, hi - 1, 0, 1, 2, hi // 2, hi // 2 + 1}
        if dtype.kind == "i":
            vals |= {-1, -2, lo // 2}
        if dtype.itemsize == 8:
            vals |= {2 ** 53, 2 ** 53 + 1, 2 ** 53 - 1, 2 ** 62 + 1}
            if dtype.kind == "u":
                vals |= {2 ** 63, 2 ** 63 - 1, 2 ** 63 + 1, 2 ** 64 - 2 ** 11, 2 ** 64 - 2 ** 11 - 1}
            else:
                vals |= {-(2 ** 53) - 1, 2 ** 63 - 2 ** 10, -(2 ** 63) + 2 ** 10}
        return sorted(v for v in vals if lo <= v <= hi)
    fi = np.finfo(dtype)
    tiny_sub = float(np.nextafter(dtype.type(0), dtype.type(1)))
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, math.inf, -math.inf, lo, hi, float(fi.tiny), -float(fi.tiny),
            tiny_sub, -tiny_sub, 2.0 * tiny_sub, float(fi.smallest_normal) - tiny_sub,
            float(2 ** 24), float(2 ** 24 + 2), 1e10, -1e10]
    if dtype.itemsize == 8:
        vals += [float(2 ** 53), float(2 ** 53 + 2), float(2 ** 63), float(2 ** 64), 1e300, -1e300]
    return vals


def special_array(dtype) -> np.ndarray:
    """:func:`special_values` as an array of ``dtype``."""
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore"):
        return np.array(special_values(dtype), dtype=dtype)


# ------------------------------------------------------------------------ key arrays

def _float_from_bits(rng: np.random.Generator, dtype: np.dtype, n: int) -> np.ndarray:
    """Random bit patterns: every magnitude, subnormals and infinities; NaN removed."""
    ut = np.uint32 if dtype.itemsize == 4 else np.uint64
    bits = rng.integers(0, np.iinfo(ut).max, n, dtype=ut, endpoint=True)
    x = bits.view(dtype)
    return x[~np.isnan(x)]


def _pattern_values(pattern: str, dtype: np.dtype, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` keys (unsorted) of one adversarial distribution."""
    lo, hi = lo_hi(dtype)
    is_float = dtype.kind == "f"
    if n == 0:
        return np.zeros(0, dtype=dtype)
    if pattern == "uniform":
        if is_float:
            span = 10.0 ** rng.integers(0, 300 if dtype.itemsize == 8 else 37)
            return rng.uniform(-span, span, n).astype(dtype)
        return rng.integers(lo, hi, n, dtype=dtype, endpoint=True)
    if pattern == "bits":
        if is_float:
            return _float_from_bits(rng, dtype, n)
        return rng.integers(lo, hi, n, dtype=dtype, endpoint=True)
    if pattern in ("dups", "step"):
        # a few distinct values with long runs: step-function CDF
        k = int(rng.integers(1, 6))
        pool = rng.choice(special_array(dtype), k)
        if rng.random() < 0.5:
            extra = _pattern_values("uniform", dtype, k, rng)
            pool = np.concatenate([pool, extra])
        if pattern == "dups":
            return rng.choice(pool, n)
        runs = rng.multinomial(n, rng.dirichlet(np.full(pool.size, 0.3)))
        return np.repeat(pool, runs).astype(dtype)
    if pattern == "gaps":
        # tight clusters at both extremes (and maybe at zero) separated by huge gaps
        m = int(rng.integers(1, 4))
        centres = [lo, hi, 0][:m] if rng.random() < 0.7 else list(rng.choice(special_array(dtype), m))
        parts = []
        for c, size in zip(centres, rng.multinomial(n, np.full(len(centres), 1.0 / len(centres)))):
            parts.append(_cluster(c, int(size), dtype, rng))
        return np.concatenate(parts).astype(dtype)
    if pattern == "dense":
        # consecutive values around a random base: tiny dense cluster
        base = rng.choice(special_array(dtype)) if rng.random() < 0.5 else _pattern_values("uniform", dtype, 1, rng)[0]
        return _cluster(base, n, dtype, rng)
    if pattern == "outliers":
        # mostly small values, a few outliers near the top (near 2**64 for uint64)
        k = max(1, n // 50)
        body = _cluster(0 if not is_float else 1.0, n - k, dtype, rng)
        top = _cluster(hi, k, dtype, rng)
        return np.concatenate([body, top]).astype(dtype)
    if pattern == "lognormal":
        x = rng.lognormal(0.0, 2.0, n)
        if is_float:
            return (x * (1 if rng.random() < 0.5 else 1e30 if dtype.itemsize == 8 else 1e20)).astype(dtype)
        scaled = x / x.max() * float(hi) * 0.999 if rng.random() < 0.5 else x * 1000
        return np.clip(scaled, 0, float(hi) * 0.999).astype(dtype)
    if pattern == "subnormal":
        tiny_sub = np.nextafter(dtype.type(0), dtype.type(1)) if is_float else 1
        if is_float:
            k = rng.integers(-50, 50, n)
            return (k * tiny_sub).astype(dtype)
        return _cluster(0, n, dtype, rng)
    if pattern == "specials":
        return rng.choice(special_array(dtype), n)
    raise AssertionError(pattern)


def _cluster(centre, n: int, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct-ish values adjacent to ``centre`` (clamped into the dtype)."""
    if n == 0:
        return np.zeros(0, dtype=dtype)
    if dtype.kind == "f":
        c = dtype.type(centre)
        if not np.isfinite(c):
            c = dtype.type(np.finfo(dtype).max) if c > 0 else dtype.type(np.finfo(dtype).min)
        out = [c]
        steps = rng.integers(1, 4, n - 1)
        direction = dtype.type(-np.inf) if rng.random() < 0.5 else dtype.type(np.inf)
        x = c
        for s in steps:
            for _ in range(int(s)):
                x = np.nextafter(x, direction)
            out.append(x)
        arr = np.array(out, dtype=dtype)
        return arr[np.isfinite(arr) | (rng.random() < 0.1)]
    lo, hi = lo_hi(dtype)
    c = int(centre)
    offs = np.cumsum(rng.integers(0, 3, n)).tolist()
    if c + offs[-1] > hi:
        vals = [max(lo, c - o) for o in offs]
    else:
        vals = [c + o for o in offs]
    return np.array(vals, dtype=dtype)


PATTERNS = ("uniform", "bits", "dups", "step", "gaps", "dense", "outliers", "lognormal", "subnormal",
            "specials")


@st.composite
def sorted_keys(draw, dtype, max_size: int = 300) -> np.ndarray:
    """A sorted, NaN-free key array of ``dtype`` from an adversarial distribution.

    Includes empty and one-key arrays, duplicates, dtype extremes, step CDFs, huge gaps,
    dense clusters, outliers near the top, subnormals, +-inf and -0.0/0.0 for floats.
    """
    dtype = np.dtype(dtype)
    n = draw(st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 40), st.integers(0, max_size)))
    pattern = draw(st.sampled_from(PATTERNS))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        body = _pattern_values(pattern, dtype, n, rng)
    # a few explicitly drawn (shrinkable) special values on top
    extras = draw(st.lists(st.sampled_from(special_values(dtype)), max_size=4 if n else 2))
    keys = np.concatenate([body, np.array(extras, dtype=dtype)]) if extras else body
    keys = np.sort(keys.astype(dtype, copy=False))
    assert keys.dtype == dtype and keys.ndim == 1
    if dtype.kind == "f":
        assert not np.isnan(keys).any()
    return np.ascontiguousarray(keys)


def neighbours(dtype: np.dtype, values) -> list:
    """Python values adjacent to each of ``values`` that ``dtype`` holds (v-1, v+1 / nextafter)."""
    dtype = np.dtype(dtype)
    out = []
    with np.errstate(all="ignore"):
        return _neighbours(dtype, values, out)


def _neighbours(dtype, values, out):
    if dtype.kind in "iu":
        lo, hi = lo_hi(dtype)
        for v in values:
            v = int(v)
            out += [x for x in (v - 1, v + 1) if lo <= x <= hi]
        return out
    for v in values:
        x = dtype.type(v)
        out += [float(np.nextafter(x, dtype.type(-np.inf))), float(np.nextafter(x, dtype.type(np.inf)))]
        if np.isfinite(x):
            out += [float(dtype.type(float(x) + 1.0)), float(dtype.type(float(x) - 1.0))]
    return [v for v in out if not math.isnan(v)]


@st.composite
def key_queries(draw, keys: np.ndarray, max_size: int = 200) -> np.ndarray:
    """Queries of the key dtype: keys, keys +- 1, absent values, beyond min/max, extremes, NaN."""
    dtype = keys.dtype
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    m = draw(st.integers(0, max_size))
    parts = []
    if keys.size:
        picked = keys[rng.integers(0, keys.size, min(m, 3 * keys.size) // 2 + 1)]
        parts.append(picked)
        nb = neighbours(dtype, picked[: 40].tolist() + [keys[0].item(), keys[-1].item()])
        parts.append(np.array(nb, dtype=dtype))
    pattern = draw(st.sampled_from(["uniform", "bits", "specials", "subnormal"]))
    with np.errstate(all="ignore"):
        parts.append(_pattern_values(pattern, dtype, m // 3 + 1, rng))
    parts.append(special_array(dtype))
    if dtype.kind == "f":
        parts.append(np.array([np.nan, -np.nan], dtype=dtype))
    q = np.concatenate(parts).astype(dtype, copy=False)
    rng.shuffle(q)
    return np.ascontiguousarray(q)


# ---------------------------------------------------------------------------- oracles

def exact_value(q):
    """A Python number whose comparisons with Python ints/floats are exact."""
    if isinstance(q, (bool, np.bool_)):
        return int(q)
    if isinstance(q, Decimal):
        return math.nan if q.is_nan() else q          # Python compares Decimals exactly; NaN would trap
    if isinstance(q, np.integer):
        return int(q)
    if isinstance(q, np.floating):
        if np.isnan(q):
            return math.nan
        if np.isinf(q):
            return math.inf if q > 0 else -math.inf
        if q.dtype.itemsize > 8:
            return Fraction(*q.as_integer_ratio())
        return float(q)
    return q


def exact_searchsorted(key_list: list, q, side: str = "left") -> int:
    """``searchsorted`` with exact mathematical comparisons (NaN sorts last)."""
    q = exact_value(q)
    if isinstance(q, float) and math.isnan(q):
        return len(key_list)
    if side == "left":
        return bisect.bisect_left(key_list, q)
    return bisect.bisect_right(key_list, q)


def exact_lookup(key_list: list, q) -> int:
    p = exact_searchsorted(key_list, q, "left")
    v = exact_value(q)
    return p if p < len(key_list) and key_list[p] == v else -1


def oracle_lookup(keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Vectorised lookup oracle for queries of the key dtype."""
    pos = np.searchsorted(keys, q, "left")
    if keys.size == 0:
        return np.full(q.shape, -1, dtype=np.int64)
    found = (pos < keys.size) & (keys[np.minimum(pos, keys.size - 1)] == q)
    return np.where(found, pos, -1).astype(np.int64)


# ------------------------------------------------------------ fixed adversarial data

def adversarial_keys(dtype, seed: int = 1234, size: int = 80) -> np.ndarray:
    """A fixed sorted key array mixing every adversarial pattern plus the special values."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed + dtype.num)
    with np.errstate(all="ignore"):
        parts = [_pattern_values(p, dtype, size, rng)
                 for p in ("uniform", "dups", "step", "gaps", "dense", "outliers", "lognormal", "subnormal")]
        parts.append(special_array(dtype))
        return np.ascontiguousarray(np.sort(np.concatenate(parts).astype(dtype)))


#: Python ints of every interesting size, far beyond every key dtype as well.
FOREIGN_INTS = (
    0, 1, -1, 2, -2, 3, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32,
    2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 53 + 2, 2 ** 53 + 3, -(2 ** 53) - 1, 2 ** 63 - 1, 2 ** 63,
    2 ** 63 + 1, -(2 ** 63), -(2 ** 63) - 1, 2 ** 64 - 2, 2 ** 64 - 1, 2 ** 64, 2 ** 64 + 1, 2 ** 70,
    -(2 ** 70), 2 ** 1024 - 2 ** 971, 2 ** 1024 - 2 ** 970 - 1, 2 ** 1024 - 2 ** 970, 2 ** 1024,
    -(2 ** 1024), -(2 ** 1024 - 2 ** 970), 10 ** 400, -(10 ** 400),
)

#: Python floats: non-integers, beyond-range, infinities, NaN, signed zero, subnormals.
FOREIGN_FLOATS = (
    0.0, -0.0, 0.5, -0.5, 2.5, -2.5, 1.5, 1e30, -1e30, math.inf, -math.inf, math.nan,
    2.0 ** 31 - 0.5, 2.0 ** 31, -(2.0 ** 31) - 0.5, 2.0 ** 32 - 0.5, 2.0 ** 32, 2.0 ** 53, 2.0 ** 53 + 2,
    2.0 ** 63, -(2.0 ** 63), 2.0 ** 63 - 1024, 2.0 ** 64, 2.0 ** 64 - 2048, 1e-320, -1e-320, 5e-324,
    1.401298464324817e-45, 3.4028234663852886e38, 3.4028235677973366e38, 1.7976931348623157e308,
    -1.7976931348623157e308, 16777217.0, 0.1,
)


def foreign_numpy_scalars() -> list:
    """numpy scalars of every numeric dtype, including ones the keys may not hold."""
    out = [np.bool_(True), np.bool_(False)]
    for dt in QUERY_DTYPES[1:]:
        if dt.kind in "iu":
            ii = np.iinfo(dt)
            vals = {int(ii.min), int(ii.max), 0, 1, int(ii.max) - 1, 2 ** 53 + 1, 2 ** 31, -1, -(2 ** 31) - 1}
            out += [dt.type(v) for v in sorted(vals) if ii.min <= v <= ii.max]
        else:
            with np.errstate(all="ignore"):
                out += [dt.type(v) for v in (2.5, -0.5, 0.0, -0.0, math.inf, -math.inf, math.nan, 1e-45,
                                             float(np.finfo(dt).max), 2.0 ** 53 + 2, 1e30, 16777217.0)]
    return out


def key_relative_foreign(keys: np.ndarray, limit: int = 60) -> list:
    """Foreign queries next to actual keys: k +- 0.5, and Python ints adjacent to float keys."""
    out = []
    for k in keys[:: max(1, keys.size // limit)].tolist():
        if isinstance(k, int):
            out += [k + 0.5 if abs(k) < 2 ** 52 else float(k), k - 1, k + 1, float(k)]
        elif math.isfinite(k):
            out += [k + 0.5, k - 0.5]
            if abs(k) >= 1:
                i = int(k)
                out += [i, i + 1, i - 1]
    return out


def tiny_cases(dtype: np.dtype):
    """``(key arrays, queries)``: empty, one-key, all-equal and all-specials arrays of
    ``dtype``, with every query the dtype finds interesting (NaN for floats)."""
    specials = special_array(dtype)
    with np.errstate(all="ignore"):
        queries = np.concatenate([specials, np.array(neighbours(dtype, specials.tolist()), dtype=dtype)])
    if dtype.kind == "f":
        queries = np.append(queries, dtype.type(np.nan))
    cases = [np.zeros(0, dtype=dtype), specials[:1], specials[-1:], np.repeat(specials[3:4], 5),
             np.repeat(specials[-1:], 300), np.sort(specials), np.repeat(np.sort(specials), 3)]
    return [np.ascontiguousarray(k) for k in cases], queries


def grid_queries(keys: np.ndarray) -> np.ndarray:
    """Seeded, shuffled queries for a deterministic grid over ``keys``: the keys, their
    neighbours, bit patterns, the dtype's special values and (floats) both NaN signs."""
    rng = np.random.default_rng(99)
    dtype = keys.dtype
    with np.errstate(all="ignore"):
        parts = [keys, np.array(neighbours(dtype, keys.tolist()), dtype=dtype),
                 _pattern_values("bits", dtype, 300, rng), special_array(dtype)]
        if dtype.kind == "f":
            parts.append(np.array([np.nan, -np.nan], dtype=dtype))
    q = np.concatenate(parts)
    rng.shuffle(q)
    return q
