"""Every index implementation of ``learnedidx.baselines.INDEXES``, as test parameters.

Shared by ``test_indexes_exact.py``, ``test_btree.py`` and ``test_interface.py``:

* :data:`IMPLS`: one :class:`Impl` per implementation and lookup backend (the RMI, the
  B-tree and the interleaved binary search on ``"numpy"`` and, once built, on
  ``"compiled"``); a peer whose optional package is missing is left out (not skipped).
* :func:`refusal`: the documented limits (``BTreesIndex`` refuses float keys,
  ``PyGMIndex`` refuses signed keys spanning more than the dtype's maximum and float keys
  holding +-inf): the exception and message an adapter must raise instead of answering.
* :func:`build_or_refuse` builds an index (checking its basic contract) or asserts the
  documented exception; :func:`accepted_subset` trims a key set to what an
  implementation accepts, so that the refusing ones are still tested on the rest.
* :func:`assert_matches_numpy` / :func:`check_scalar` / :func:`check_array`: the exact
  oracles of the RMI suite (``numpy.searchsorted`` for key-dtype queries, exact Python
  arithmetic for every other type), for any implementation.
"""
from __future__ import annotations

import functools
import gc
import importlib.util
import math
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import (
    FOREIGN_FLOATS,
    FOREIGN_INTS,
    QUERY_DTYPES,
    exact_lookup,
    exact_searchsorted,
    exact_value,
    lo_hi,
    oracle_lookup,
    special_values,
)
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from learnedidx.baselines import (
    INDEXES,
    BinarySearch,
    BTree,
    BTreesIndex,
    InterleavedBinarySearch,
    PyGMIndex,
    SortedBinarySearch,
    SortedContainersIndex,
)

from learnedidx.rmi import RMI

SIDES = ("left", "right")


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


#: The compiled extension each backend-aware class uses.
KERNEL_MODULES = {
    RMI: "learnedidx._kernels.rmi_kernel",
    BTree: "learnedidx.baselines._btree_kernel",
    InterleavedBinarySearch: "learnedidx._kernels.lookup",
}

#: The optional package each peer needs.
OPTIONAL_PACKAGES = {SortedContainersIndex: "sortedcontainers", PyGMIndex: "pygm", BTreesIndex: "BTrees"}

#: Peers that answer batches through a Python loop: kept on small key sets (<= 2000 keys).
SLOW_PEERS = (SortedContainersIndex, PyGMIndex, BTreesIndex)
SLOW_MAX_KEYS = 2000


def backends_of(cls) -> list[str]:
    """``["numpy", "compiled"]`` for a backend-aware class (compiled once built), else ``[None]``."""
    if cls not in KERNEL_MODULES:
        return [None]
    out = ["numpy"]
    if _has_module(KERNEL_MODULES[cls]):
        out.append("compiled")
    return out


@dataclass(frozen=True)
class Impl:
    """One implementation under test: a class of ``INDEXES`` and its ``backend`` (or None)."""

    cls: type
    backend: str | None = None
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        return self.cls.name if self.backend is None else f"{self.cls.name}-{self.backend}"

    @property
    def slow(self) -> bool:
        return self.cls in SLOW_PEERS

    @property
    def max_keys(self) -> int | None:
        return SLOW_MAX_KEYS if self.slow else None

    def kwargs(self, **extra) -> dict:
        kw = dict(self.params)
        if self.backend is not None:
            kw["backend"] = self.backend
        kw.update(extra)
        return kw

    def make(self, keys, **extra):
        return self.cls(keys, **self.kwargs(**extra))

    def __repr__(self) -> str:
        return self.id


def _available(cls) -> bool:
    pkg = OPTIONAL_PACKAGES.get(cls)
    return pkg is None or _has_module(pkg)


#: Every implementation of INDEXES, per backend; peers without their package are left out.
IMPLS = [Impl(cls, b) for cls in INDEXES.values() if _available(cls) for b in backends_of(cls)]
IMPL_IDS = [i.id for i in IMPLS]
FAST_IMPLS = [i for i in IMPLS if not i.slow]

assert {i.cls for i in IMPLS} >= {RMI, BTree, BinarySearch, SortedBinarySearch, InterleavedBinarySearch}


# ------------------------------------------------------------------ documented limits

def refusal(cls, keys: np.ndarray):
    """``(exception type, message regex)`` an implementation must raise for ``keys``, or None."""
    dtype = keys.dtype
    if cls is BTreesIndex and dtype.kind == "f":
        return TypeError, rf"BTreesIndex cannot hold {dtype.name} keys .*integer"
    if cls is PyGMIndex and keys.size:
        if keys[-1] == _dtype_max(dtype):
            return ValueError, rf"PyGM cannot index a key equal to the {dtype.name} maximum"
        if dtype.kind == "i" and int(keys[-1]) - int(keys[0]) > int(np.iinfo(dtype).max):
            return ValueError, rf"PyGM answers wrongly when {dtype.name} keys span more than 2\*\*{dtype.itemsize * 8 - 1} - 1"
        if dtype.kind == "f" and not np.isfinite(keys).all():
            return ValueError, r"PyGM cannot index infinite keys"
        if dtype.kind == "f" and keys[0] == keys[-1] and abs(float(keys[0])) >= 2.0 ** (np.finfo(dtype).nmant + 1):
            return ValueError, r"PyGM never finishes building from equal"
    return None


def accepted_subset(cls, keys: np.ndarray) -> np.ndarray:
    """The largest easy slice of ``keys`` that ``cls`` accepts (``keys`` itself if it accepts all).

    PyGM: no key equal to the dtype's maximum; float keys without +-inf (and not all equal
    beyond the mantissa); signed keys from the first key up to first + dtype max.  BTrees refuses a whole dtype: float keys give
    an empty array (still refused).
    """
    if refusal(cls, keys) is None:
        return keys
    if cls is PyGMIndex:
        keys = np.ascontiguousarray(keys[keys != _dtype_max(keys.dtype)])
        if refusal(cls, keys) is None:
            return keys
        if keys.dtype.kind == "f":
            keys = np.ascontiguousarray(keys[np.isfinite(keys)])
            return keys if refusal(cls, keys) is None else keys[:0]
        stop = np.searchsorted(keys.astype(object), int(keys[0]) + int(np.iinfo(keys.dtype).max), "right")
        out = np.ascontiguousarray(keys[:stop])
        assert refusal(cls, out) is None
        return out
    return keys[:0]


def check_basics(idx, keys: np.ndarray, impl: Impl | None = None) -> None:
    """The part of the contract that does not depend on queries."""
    assert len(idx) == keys.size
    assert idx.keys.dtype == keys.dtype and idx.keys.shape == keys.shape
    np.testing.assert_array_equal(idx.keys, keys)
    if keys.size:
        assert np.shares_memory(idx.keys, keys), "the keys were copied"
    nb = idx.nbytes
    assert type(nb) is int and nb >= 0, nb
    assert isinstance(idx.name, str) and idx.name
    assert type(idx).name == idx.name
    assert callable(idx.scalar_fn)
    if impl is not None and impl.backend is not None:
        expected = impl.backend if keys.size or impl.cls is not BTree else "numpy"
        assert idx.backend == expected, (idx.backend, impl.backend)
    if hasattr(idx, "_check"):
        idx._check()


def build_or_refuse(impl: Impl, keys: np.ndarray, **extra):
    """Build ``impl`` on ``keys`` and check its basics; or, where ``keys`` hit a documented
    limit, assert the documented exception and return None."""
    expected = refusal(impl.cls, keys)
    if expected is not None:
        exc, pattern = expected
        with pytest.raises(exc, match=pattern):
            impl.make(keys, **extra)
        return None
    idx = impl.make(keys, **extra)
    check_basics(idx, keys, impl)
    return idx


def params_strategy(impl: Impl, n: int):
    """Constructor parameters worth drawing for ``impl`` on ``n`` keys ({} for the defaults)."""
    if impl.cls is RMI:
        return st.fixed_dictionaries({
            "root": st.sampled_from(["radix", "linear", "spline", "cubic", "loglinear"]),
            "leaves": st.sampled_from([1, 2, 7, 64, n + 5]),
            "stages": st.sampled_from([2, 3]),
        }) | st.just({})
    if impl.cls is BTree:
        return st.fixed_dictionaries({
            "node_bytes": st.sampled_from([64, 128, 256, 512]),
            "page_keys": st.sampled_from([1, 2, 3, 7, 64, 100, 512]),
        }) | st.just({})
    if impl.cls is PyGMIndex:
        return st.sampled_from([{}, {"epsilon": 1}, {"epsilon": 4}, {"epsilon": 16}])
    return st.just({})


# ----------------------------------------------------------------------------- oracles

def assert_matches_numpy(idx, keys: np.ndarray, queries: np.ndarray, n_scalar: int = 12) -> None:
    """Batch and scalar searchsorted, lookup, contains, ``in`` and range vs numpy
    (queries of the key dtype)."""
    assert queries.dtype == keys.dtype
    queries = usable_queries(idx, keys, queries)
    label = type(idx).__name__
    for side in SIDES:
        expected = np.searchsorted(keys, queries, side)
        got = idx.searchsorted(queries, side=side)
        assert isinstance(got, np.ndarray) and got.dtype == np.int64 and got.shape == queries.shape
        mism = np.flatnonzero(got != expected)
        assert mism.size == 0, (
            f"{label} side={side}: query {queries[mism[0]]!r} -> {got[mism[0]]}, numpy says "
            f"{expected[mism[0]]} ({mism.size} mismatches)")
        for q, e in zip(queries[:n_scalar], expected[:n_scalar].tolist()):
            r = idx.searchsorted(q, side=side)                     # numpy scalar
            assert type(r) is int and r == e, (label, side, q, r, e)
            r = idx.searchsorted(q.item(), side=side)              # Python scalar
            assert type(r) is int and r == e, (label, side, q.item(), r, e)
    np.testing.assert_array_equal(idx.searchsorted(queries), np.searchsorted(keys, queries))
    exp_lookup = oracle_lookup(keys, queries)
    got_lookup = idx.lookup(queries)
    assert isinstance(got_lookup, np.ndarray) and got_lookup.dtype == np.int64
    assert got_lookup.shape == queries.shape
    np.testing.assert_array_equal(got_lookup, exp_lookup)
    got_contains = idx.contains(queries)
    assert got_contains.dtype == bool and got_contains.shape == queries.shape
    np.testing.assert_array_equal(got_contains, exp_lookup >= 0)
    for q, e in zip(queries[:n_scalar], exp_lookup[:n_scalar].tolist()):
        r = idx.lookup(q)
        assert type(r) is int and r == e, (label, q, r, e)
        r = idx.lookup(q.item())
        assert type(r) is int and r == e, (label, q.item(), r, e)
        assert bool(idx.contains(q)) is (e >= 0)
        assert (q in idx) is (e >= 0)
        assert (q.item() in idx) is (e >= 0)
    if queries.size >= 2:
        lo, hi = queries[:-1], queries[1:]
        s_exp = np.searchsorted(keys, lo, "left")
        e_exp = np.maximum(s_exp, np.searchsorted(keys, hi, "left"))
        start, stop = idx.range(lo, hi)
        np.testing.assert_array_equal(start, s_exp)
        np.testing.assert_array_equal(stop, e_exp)
        for a, b, se, ee in list(zip(lo, hi, s_exp.tolist(), e_exp.tolist()))[:n_scalar]:
            assert idx.range(a, b) == (se, ee)
            assert idx.range(a.item(), b.item()) == (se, ee)


def check_scalar(idx, key_list: list, q, as_query=None) -> None:
    """One query of any type against the exact oracle: searchsorted (both sides), lookup,
    ``in``, contains.  ``as_query`` is what the index is asked (default ``q``; e.g. a
    0-d array holding ``q``)."""
    if known_bug_mask(idx, key_list, [q])[0]:
        return
    v, q = q, (q if as_query is None else as_query)
    for side in SIDES:
        exp = exact_searchsorted(key_list, v, side)
        got = idx.searchsorted(q, side=side)
        assert type(got) is int, (q, type(got))
        assert got == exp, f"{idx!r}.searchsorted({q!r}, {side!r}) = {got}, exact answer {exp}"
    exp = exact_lookup(key_list, v)
    got = idx.lookup(q)
    assert type(got) is int and got == exp, f"{idx!r}.lookup({q!r}) = {got}, exact answer {exp}"
    assert (q in idx) is (exp >= 0), q
    assert bool(idx.contains(q)) is (exp >= 0), q


def check_array(idx, key_list: list, arr) -> None:
    """An array (any dtype/shape) or a Python sequence of queries against the exact oracle."""
    shape = np.shape(arr)
    if isinstance(arr, np.ndarray):
        items = arr.ravel().tolist()
    else:
        items = np.asarray(arr, dtype=object).ravel().tolist()
    skip = known_bug_mask(idx, key_list, items)
    if any(skip):
        flat = arr.ravel() if isinstance(arr, np.ndarray) else np.asarray(arr, dtype=object).ravel()
        arr = flat[~np.array(skip)]
        shape, items = arr.shape, [q for q, s in zip(items, skip) if not s]
    for side in SIDES:
        got = idx.searchsorted(arr, side=side)
        assert isinstance(got, np.ndarray) and got.dtype == np.int64 and got.shape == shape
        exp = [exact_searchsorted(key_list, q, side) for q in items]
        bad = [(q, g, e) for q, g, e in zip(items, got.ravel().tolist(), exp) if g != e]
        assert not bad, f"{idx!r} side={side}: {len(bad)} wrong answers, first (query, got, exact): {bad[:3]}"
    got = idx.lookup(arr)
    assert got.dtype == np.int64 and got.shape == shape
    exp = [exact_lookup(key_list, q) for q in items]
    bad = [(q, g, e) for q, g, e in zip(items, got.ravel().tolist(), exp) if g != e]
    assert not bad, f"{idx!r} lookup: {len(bad)} wrong answers, first (query, got, exact): {bad[:3]}"
    c = idx.contains(arr)
    assert c.dtype == bool and c.shape == shape
    np.testing.assert_array_equal(c, got >= 0)


def foreign_query(dtype: np.dtype):
    """Any scalar query at all, with the key dtype's boundaries well represented."""
    lo, hi = lo_hi(np.dtype(dtype))
    boundary = st.sampled_from([lo, hi]).flatmap(lambda b: st.integers(int(b) - 3, int(b) + 3))
    return st.one_of(
        st.integers(-(2 ** 70), 2 ** 70),
        st.integers(-(2 ** 1030), 2 ** 1030),
        boundary,
        st.sampled_from(FOREIGN_INTS),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(width=32),
        st.floats(-1e6, 1e6),
        st.sampled_from(FOREIGN_FLOATS),
        st.booleans(),
        st.sampled_from(QUERY_DTYPES[1:]).flatmap(lambda d: hnp.from_dtype(d)),
    )


def check_queries(idx, key_list: list, qs: list) -> None:
    """Every query of a Python list alone, then all of them as an object array and as the list."""
    for q in qs:
        check_scalar(idx, key_list, q)
    if qs:
        obj = np.empty(len(qs), dtype=object)
        obj[:] = qs
        check_array(idx, key_list, obj)
        check_array(idx, key_list, qs)          # a Python list: converted without rounding


def assert_signed_zeros(idx, dtype) -> None:
    """``idx`` over ``[-1, 0, -0, 0, -0, 2]``: -0.0 and 0.0 are one run of equal keys."""
    for z in (0.0, -0.0, np.float32(-0.0), np.dtype(dtype).type(0.0), 0, False):
        assert idx.searchsorted(z) == 1, z
        assert idx.searchsorted(z, side="right") == 5, z
        assert idx.lookup(z) == 1 and z in idx
    z = np.array([0.0, -0.0], dtype=dtype)
    np.testing.assert_array_equal(idx.searchsorted(z), [1, 1])
    np.testing.assert_array_equal(idx.searchsorted(z, side="right"), [5, 5])
    np.testing.assert_array_equal(idx.lookup(z), [1, 1])
    tiny = float(np.nextafter(np.dtype(dtype).type(0), np.dtype(dtype).type(1)))
    assert idx.searchsorted(tiny) == 5 and idx.searchsorted(-tiny, side="right") == 1


def typed_queries(qdt: np.dtype, keys: np.ndarray, rng, count: int = 100) -> np.ndarray:
    """An array of ``qdt``: its extremes and specials, ``count`` random values, and the keys as ``qdt``."""
    qdt = np.dtype(qdt)
    if qdt.kind == "b":
        return np.array([True, False, False, True])
    if qdt.kind in "iu":
        lo, hi = lo_hi(qdt)
        vals = [v for v in list(FOREIGN_INTS) + special_values(qdt) if lo <= v <= hi]
        vals += rng.integers(lo, hi, count, dtype=qdt, endpoint=True).tolist()
        for k in keys.tolist():
            if isinstance(k, float):
                if not math.isfinite(k):
                    continue
                k = math.floor(k)
            vals += [v for v in (k - 1, k, k + 1) if lo <= v <= hi]
        return np.array(vals, dtype=qdt)
    with np.errstate(all="ignore"):
        bits_t = {2: np.uint16, 4: np.uint32, 8: np.uint64}[qdt.itemsize]
        rand = rng.integers(0, np.iinfo(bits_t).max, count, dtype=bits_t, endpoint=True).view(qdt)
        fin = keys[np.isfinite(keys)].astype(np.float64) if keys.dtype.kind == "f" else keys.astype(np.float64)
        parts = [np.array(FOREIGN_FLOATS, dtype=np.float64).astype(qdt), rand, keys.astype(qdt),
                 (fin + 0.5).astype(qdt), (fin - 0.5).astype(qdt),
                 np.nextafter(keys.astype(qdt), qdt.type(np.inf)), np.nextafter(keys.astype(qdt), qdt.type(-np.inf))]
        return np.concatenate(parts).astype(qdt)


# ------------------------------------------------------------------- known library bugs
#
# pygm 1.0.1 (the PGM-index) mishandles its key type's maximum (a sentinel), runs of
# equal keys, subnormals and equal float keys beyond the mantissa.  Found by this suite:
# a target equal to an integer dtype's maximum segfaulted; keys holding the dtype's
# maximum made the build raise RuntimeError, loop forever (float32) or allocate until
# MemoryError (float64); float targets above the last key got wrong answers (PyGMIndex
# now refuses such keys and answers such targets itself); all-equal float keys with
# |k| >= 2**53 (2**24 for float32) loop forever; answers next to runs of equal keys are
# wrong.  The tests ``test_pygm_*`` in ``test_indexes_exact.py`` reproduce each of them
# (crashes and endless loops in subprocesses).
#
# So that the property tests can run PyGM at all: every PyGM test body runs in a forked
# child with a time and memory limit (:func:`guarded`: a crash, an endless loop or a
# runaway allocation becomes a test failure instead of killing or hanging the run), and
# while a probe (:data:`_PYGM_PROBES`, run once per session in subprocesses) shows a
# crashing or hanging bug, the keys and queries that trigger it are left out for PyGM
# only (:func:`avoid_known_bugs`, :func:`usable_queries`), so the run stays fast and
# still finds other bugs.  Wrong answers are never left out.  Once a bug is fixed its
# probe says so and nothing is left out any more.

_PROBE_HEAD = """
import numpy as np
from learnedidx.baselines import PyGMIndex
def probe(keys, query, expected, **kw):
    try:
        idx = PyGMIndex(keys, **kw)
    except ValueError as exc:
        print("ok" if "PyGM" in str(exc) else exc)      # a documented refusal
    else:
        print("ok" if idx.searchsorted(query) == expected else "wrong")
"""
#: Crashing / hanging PyGM bugs, each probed once in a subprocess: (code, timeout).
_PYGM_PROBES = {
    # segfault: a target equal to an integer dtype's maximum
    "max_query": ("probe(np.array([0, 1, 2, 3, 10, 20, 30, 100, 1000, 5000], dtype=np.uint32), 2**32 - 1, 10, epsilon=1)",
                  30),
    # RuntimeError / endless loop / MemoryError: keys holding the dtype's maximum
    "max_keys": ("probe(np.array([0] + [2**63 - 1] * 3), 2**63 - 1, 1)", 30),
    # endless loop: all-equal float keys beyond the mantissa
    "equal_big_floats": ("probe(np.array([1e16, 1e16]), 1e16, 0)", 3),
}
_CHILD_EXTRA_BYTES = 2 << 30


def _limit_memory(extra: int = _CHILD_EXTRA_BYTES):
    """Cap this process's address space at its current size plus ``extra`` bytes."""
    try:
        import resource
        with open("/proc/self/status") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


def run_isolated(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a segfault there cannot take the test run
    down), with limited memory; a timeout gives return code -9 and says so in stderr."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False,
                              preexec_fn=_limit_memory if sys.platform != "win32" else None)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -9, "", f"timed out after {timeout}s (endless loop?)")


@functools.cache
def pygm_bug(name: str) -> bool:
    """Whether PyGMIndex still has the crashing bug ``name`` of :data:`_PYGM_PROBES`."""
    if not _has_module("pygm"):
        return False
    code, timeout = _PYGM_PROBES[name]
    res = run_isolated(_PROBE_HEAD + code, timeout=timeout)
    return res.returncode != 0 or res.stdout.strip() != "ok"


def _pygm_bug_applies(idx_or_cls, name: str) -> bool:
    cls = idx_or_cls if isinstance(idx_or_cls, type) else type(idx_or_cls)
    return issubclass(cls, PyGMIndex) and pygm_bug(name)


def _dtype_max(dtype: np.dtype):
    return np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max


def avoid_known_bugs(cls, keys: np.ndarray) -> np.ndarray:
    """``keys`` without what makes ``cls`` crash or hang (while it still does): for PyGM,
    keys equal to the dtype's maximum, and all-equal float keys beyond the mantissa
    (reduced to one key)."""
    if not keys.size or not issubclass(cls, PyGMIndex):
        return keys
    if _pygm_bug_applies(cls, "max_keys"):
        keys = np.ascontiguousarray(keys[keys != _dtype_max(keys.dtype)])
    if (keys.dtype.kind == "f" and keys.size > 1 and keys[0] == keys[-1]
            and abs(float(keys[0])) >= 2.0 ** (np.finfo(keys.dtype).nmant + 1)
            and _pygm_bug_applies(cls, "equal_big_floats")):
        keys = np.ascontiguousarray(keys[:1])
    return keys


def _crashing_query(v, top) -> bool:
    """Whether ``v``'s target may equal the integer maximum ``top`` (``v >= top - 1``)."""
    v = exact_value(v)
    try:
        return bool(v >= top - 1)
    except TypeError:
        return False


def known_bug_mask(idx, key_list: list, items: list) -> list[bool]:
    """Per query: whether it is left out for ``idx`` because it crashes a known, separately
    tested bug (integer targets at the dtype's maximum, for PyGM)."""
    if idx.dtype.kind == "f" or not len(idx) or not _pygm_bug_applies(idx, "max_query"):
        return [False] * len(items)
    top = int(np.iinfo(idx.dtype).max)
    return [_crashing_query(q, top) for q in items]


def usable_queries(idx, keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``queries`` (of the key dtype) without those :func:`known_bug_mask` leaves out."""
    if keys.dtype.kind == "f" or not keys.size or not _pygm_bug_applies(idx, "max_query"):
        return queries
    return np.ascontiguousarray(queries[queries < np.iinfo(keys.dtype).max - 1])


def guarded(impl, fn, *args, timeout: float = 20.0, **kwargs):
    """``fn(*args, **kwargs)``; for PyGM in a forked child with a time and memory limit.

    A crash, an endless loop or a runaway allocation of the peer becomes an
    ``AssertionError`` (so hypothesis reports and shrinks it) instead of taking the test
    run down.  An exception in the child is re-raised as an ``AssertionError`` carrying
    the child's traceback.  Only ``fn``'s exceptions come back, not its return value.
    """
    cls = impl.cls if isinstance(impl, Impl) else impl
    if cls is not PyGMIndex or not hasattr(os, "fork"):
        return fn(*args, **kwargs)
    for name in _PYGM_PROBES:              # probe here: a child's cache dies with it
        pygm_bug(name)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()             # the child's collector must not touch (copy) the parent's heap
    try:
        pid = os.fork()
    finally:
        if pid != 0:
            gc.unfreeze()
    if pid == 0:                                        # pragma: no cover (child)
        code = 0
        try:
            gc.disable()
            os.close(r)
            _limit_memory()
            try:
                fn(*args, **kwargs)
                msg = b""
            except BaseException:       # noqa: BLE001 (pytest.fail / pytest.raises raise BaseException)
                msg = traceback.format_exc().encode("utf-8", "replace")
                code = 1
            with os.fdopen(w, "wb") as out:
                out.write(msg)
        finally:
            os._exit(code)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(r, "rb") as inp:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([inp], [], [], max(0.0, left))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"{cls.__name__}: no answer within {timeout}s (endless loop?)")
            chunk = os.read(inp.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    msg = b"".join(chunks).decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        raise AssertionError(f"{cls.__name__} crashed the process with signal {sig} ({signal.Signals(sig).name})")
    if msg:
        raise AssertionError(f"{cls.__name__}, in a child process:\n{msg}")


def keys_under_test(cls, keys: np.ndarray) -> np.ndarray:
    """The keys :func:`build_tested` ends up indexing (without building anything)."""
    keys = avoid_known_bugs(cls, keys)
    if refusal(cls, keys) is not None:
        keys = accepted_subset(cls, keys)
    return keys


def build_tested(impl: Impl, keys: np.ndarray, **params):
    """Build ``impl`` on ``keys``; where they hit a documented limit, assert the exception
    and build on the part of ``keys`` the implementation accepts instead.

    Returns ``(idx, keys)``: the keys actually indexed (``idx`` is None when nothing is
    accepted, e.g. BTrees and float keys).
    """
    keys = avoid_known_bugs(impl.cls, keys)
    idx = build_or_refuse(impl, keys, **params)
    if idx is None:
        keys = accepted_subset(impl.cls, keys)
        if refusal(impl.cls, keys) is not None:
            return None, keys
        idx = build_or_refuse(impl, keys, **params)
    return idx, keys
