"""The sorted containers under test, their oracle and the key rules of the containers.

Shared by ``test_containers_stateful.py`` and ``test_containers_api.py``.

* :data:`SortedList`, :data:`SortedDict`, :data:`SortedSet`: the classes under test
  (``learnedidx``'s); the oracle is ``sortedcontainers`` itself (imported as ``sc``).
* :func:`accepts` / :func:`canon`: whether a container of key dtype ``dtype`` must store a
  key (the dtype holds it exactly, it is not NaN) and the Python number it stores.  A key
  it must refuse raises ``TypeError`` or ``ValueError`` and leaves the container as it was.
* :func:`valid_keys`, :func:`refused_keys`, :func:`queries`: hypothesis strategies of keys
  a container of ``dtype`` stores, keys it refuses, and queries of any numeric type
  (Python ints beyond every dtype, non-integral floats, infinities, numpy scalars).
* :func:`outcome` / :func:`assert_same`: run the same call on the container and on the
  oracle and require the same result (numbers compared exactly) or the same exception type.
"""
from __future__ import annotations

import math
import numbers

import contextlib

import numpy as np
import pytest
import sortedcontainers as sc
from hypothesis import strategies as st

from conftest import KEY_DTYPES, lo_hi, special_values
import learnedidx

__all__ = ["SortedList", "SortedDict", "SortedSet", "sc", "KEY_DTYPES", "accepts", "canon",
           "valid_keys", "refused_keys", "queries", "outcome", "assert_same", "norm", "REFUSED"]

#: What a container raises for a key its dtype cannot hold exactly.
REFUSED = (TypeError, ValueError)


# ------------------------------------------------------------------------ key rules

def _is_number(k) -> bool:
    return isinstance(k, (numbers.Integral, numbers.Real)) and not isinstance(k, (bool, np.bool_))


def accepts(dtype, k) -> bool:
    """True when a container of key dtype ``dtype`` must store ``k`` exactly."""
    dtype = np.dtype(dtype)
    if not _is_number(k):
        return False
    if isinstance(k, numbers.Integral):
        v = int(k)
    else:
        v = float(k)
        if math.isnan(v):
            return False
    if dtype.kind in "iu":
        if isinstance(v, float):
            if not v.is_integer():
                return False
            v = int(v)
        lo, hi = lo_hi(dtype)
        return lo <= v <= hi
    if isinstance(v, int):
        try:
            f = float(v)
        except OverflowError:
            return False
        if f != v:
            return False
        v = f
    with np.errstate(over="ignore"):
        return float(dtype.type(v)) == v


def canon(dtype, k):
    """The Python number a container of ``dtype`` stores for an accepted key ``k``."""
    return int(k) if np.dtype(dtype).kind in "iu" else float(k)


def norm(x):
    """``x`` with numpy scalars and arrays turned into Python numbers and lists."""
    if isinstance(x, np.ndarray):
        return [norm(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, tuple):
        return tuple(norm(v) for v in x)
    if isinstance(x, list):
        return [norm(v) for v in x]
    return x


# ------------------------------------------------------------------------ strategies

def _small_values(dtype: np.dtype) -> list:
    if dtype.kind == "u":
        return list(range(0, 9))
    if dtype.kind == "i":
        return list(range(-4, 5))
    return [-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0]


def _wide(dtype: np.dtype):
    if dtype.kind in "iu":
        lo, hi = lo_hi(dtype)
        return st.integers(lo, hi)
    return st.floats(width=dtype.itemsize * 8, allow_nan=False)


def valid_keys(dtype, wide: bool = True):
    """Keys a container of ``dtype`` stores: small ranges (many duplicates), the whole
    range, the dtype's special values, and the same numbers spelled as another type."""
    dtype = np.dtype(dtype)
    small = st.sampled_from(_small_values(dtype))
    parts = [small, small]
    if wide:
        parts += [_wide(dtype), st.sampled_from(special_values(dtype))]
    base = st.one_of(*parts)

    def spell(v):
        # the same number as another Python / numpy type, when that type holds it exactly
        out = [v]
        if dtype.kind in "iu":
            if abs(v) <= 2 ** 53:
                out.append(float(v))
        elif math.isfinite(v) and v.is_integer() and abs(v) < 2 ** 62:
            out.append(int(v))
        out.append(dtype.type(v))
        return st.sampled_from(out)

    return base.flatmap(spell).filter(lambda k: accepts(dtype, k))


def refused_keys(dtype):
    """Keys a container of ``dtype`` must refuse (non-integral floats into integer keys,
    ints beyond the range, floats the dtype would round, NaN, non-numbers)."""
    dtype = np.dtype(dtype)
    lo, hi = lo_hi(dtype)
    common = [math.nan, "1", None, b"\x01", (1,), complex(1, 1)]
    if dtype.kind in "iu":
        cands = [1.5, -0.5, 0.1, math.inf, -math.inf, hi + 1, lo - 1, 2 ** 64, -(2 ** 63) - 1,
                 2 ** 70, float(hi) * 2, np.float64(2.5)]
    elif dtype.itemsize == 4:
        cands = [0.1, 1e300, -1e300, 2 ** 24 + 1, 16777217.0 + 2 ** 30, 2 ** 130, 1e-320,
                 np.float64(0.1)]
    else:
        cands = [2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 1024, 10 ** 400, 2 ** 64 + 1]
    return st.sampled_from([c for c in cands + common if not accepts(dtype, c)])


def queries(dtype, nan: bool = False):
    """Queries of any numeric type for keys of ``dtype``: valid keys, their neighbours as
    non-integral floats, Python ints beyond every dtype, infinities (and NaN if asked)."""
    dtype = np.dtype(dtype)
    foreign = [0.5, -0.5, 2.5, 1e-300, -1e-300, 2 ** 64, 2 ** 64 + 1, -(2 ** 63) - 1, 2 ** 70,
               -(2 ** 70), 10 ** 400, -(10 ** 400), math.inf, -math.inf, 2 ** 53 + 1, 2.0 ** 63,
               np.float64(1.25), np.int8(-3), np.uint16(7), np.float32(0.5)]
    if nan:
        foreign.append(math.nan)
    k = valid_keys(dtype)
    near = k.map(lambda v: float(v) + 0.5 if abs(float(v)) < 2 ** 50 else float(v))
    return st.one_of(k, k, near, st.sampled_from(foreign))


# ------------------------------------------------------------------------ thresholds

#: Store constants that make structural events frequent.  ``merges``: buffer merges and
#: RMI retrains every ~4 updates (``n / 16`` on larger containers); ``buffer``: the
#: buffer grows to ~60 keys in chunks that split and join every few keys before a merge.
#: Both use tombstone blocks of 8 positions and iterate in chunks of 7 keys.
PROFILES = {
    "default": {},
    "merges": {"LOAD": 4, "BUF_MIN": 4, "FRACTION_SHIFT": 4, "SHIFT": 3, "BLOCK": 8, "CHUNK": 7},
    "buffer": {"LOAD": 3, "BUF_MIN": 60, "FRACTION_SHIFT": 1, "SHIFT": 3, "BLOCK": 8, "CHUNK": 7},
}


@contextlib.contextmanager
def thresholds(profile: str):
    """Run with the store's constants of one of :data:`PROFILES`."""
    from learnedidx.containers import _store as store
    consts = PROFILES[profile]
    missing = [k for k in consts if not hasattr(store, k)]
    assert not missing, f"the container store no longer has {missing}: update PROFILES"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in consts.items():
            mp.setattr(store, k, v)
        if "LOAD" in consts:
            mp.setattr(store.Store, "_load", consts["LOAD"])    # what each container starts with
        yield


# ------------------------------------------------------------------------ comparisons

def outcome(fn, *args, **kwargs):
    """``("ok", result)`` or ``("raise", exception type)`` of calling ``fn``."""
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- the exception type is the result
        return "raise", type(exc)


def assert_same(got, want, what: str = ""):
    """Two :func:`outcome` results agree: equal values or the same exception type."""
    if want[0] == "raise":
        assert got[0] == "raise", f"{what}: expected {want[1].__name__}, got result {got[1]!r}"
        assert issubclass(got[1], want[1]), f"{what}: expected {want[1].__name__}, got {got[1].__name__}"
        return
    assert got[0] == "ok", f"{what}: expected {want[1]!r}, raised {got[1].__name__}"
    g, w = norm(got[1]), norm(want[1])
    assert g == w, f"{what}: got {g!r}, expected {w!r}"


# ------------------------------------------------------------------ the classes under test

SortedList, SortedSet, SortedDict = learnedidx.SortedList, learnedidx.SortedSet, learnedidx.SortedDict
