"""The shared interface of every index in ``learnedidx.baselines.INDEXES``.

* every implementation is a ``learnedidx.interface.SortedIndex`` and has the contract's
  attributes (``name``, ``nbytes``, ``keys`` not copied, ``len``, ``scalar_fn``);
* ``scalar_fn`` (what the benchmark's scalar rows time) agrees with ``searchsorted`` and
  numpy on in-range values of the key dtype;
* ``threads=`` gives the same answers for 1, 2 and 3 threads on a 300k batch (compiled
  backends), and an invalid value raises ``ValueError`` everywhere;
* a missing optional package raises ``ImportError`` naming the extra to install.
"""
from __future__ import annotations

import math
import operator
import sys

import numpy as np
import pytest
from conftest import KEY_DTYPES, adversarial_keys, dtype_id, neighbours, oracle_lookup
from index_impls import (
    IMPL_IDS,
    IMPLS,
    OPTIONAL_PACKAGES,
    build_tested,
    check_basics,
    guarded,
    keys_under_test,
)
from learnedidx.baselines import (
    INDEXES,
    BTree,
    BTreesIndex,
    InterleavedBinarySearch,
    PyGMIndex,
    SortedContainersIndex,
)

from learnedidx.interface import IndexBase, SortedIndex
from learnedidx.rmi import RMI

impl_param = pytest.mark.parametrize("impl", IMPLS, ids=IMPL_IDS)
SMALL = np.array([-7, 0, 0, 3, 3, 3, 10, 42], dtype=np.int64)


# ------------------------------------------------------------------------- protocol

def test_registry():
    assert len(INDEXES) == len(set(INDEXES.values()))
    for name, cls in INDEXES.items():
        assert isinstance(name, str) and cls.name == name
        assert issubclass(cls, IndexBase)
    assert INDEXES["RMI"] is RMI and INDEXES["BTree"] is BTree


def _protocol(impl):
    idx = impl.make(SMALL)
    assert isinstance(idx, SortedIndex)
    check_basics(idx, SMALL, impl)
    assert isinstance(idx.name, str) and idx.name == impl.cls.name
    assert len(idx) == SMALL.size
    assert idx.keys is not None and np.shares_memory(idx.keys, SMALL)
    assert type(idx.nbytes) is int and idx.nbytes >= 0
    assert idx.searchsorted(3) == 3 and idx.searchsorted(3, "right") == 6
    assert idx.searchsorted(np.array([[3], [11]])).tolist() == [[3], [7]]
    assert idx.lookup(10) == 6 and 42 in idx and 41 not in idx
    assert idx.range(0, 10) == (1, 6)
    assert isinstance(repr(idx), str)
    empty = impl.make(np.zeros(0, dtype=np.int64))
    assert isinstance(empty, SortedIndex) and len(empty) == 0 and empty.nbytes >= 0


@impl_param
def test_is_a_sorted_index(impl):
    guarded(impl, _protocol, impl)


def test_sorted_index_protocol_is_structural():
    """Anything with name / searchsorted / nbytes / __len__ passes; a bare object does not."""
    class Duck:
        name = "duck"

        def searchsorted(self, v, side="left"):
            return 0

        @property
        def nbytes(self):
            return 0

        def __len__(self):
            return 0

    assert isinstance(Duck(), SortedIndex)
    assert not isinstance(object(), SortedIndex)
    assert not isinstance(np.arange(3), SortedIndex)


# ------------------------------------------------------------------------- scalar_fn

def _in_range_values(keys: np.ndarray) -> list:
    """Python numbers of the key dtype between the first and the last key (inclusive)."""
    if not keys.size:
        return []
    dtype = keys.dtype
    with np.errstate(all="ignore"):
        cand = np.concatenate([keys, np.array(neighbours(dtype, keys.tolist()), dtype=dtype)])
    cand = cand[(cand >= keys[0]) & (cand <= keys[-1])]
    return cand.tolist()


def _scalar_fn(impl, dtype):
    idx, keys = build_tested(impl, adversarial_keys(dtype, size=25))
    if idx is None:
        return
    fn = idx.scalar_fn
    assert callable(fn)
    bad = []
    for v in _in_range_values(keys):
        exp = int(np.searchsorted(keys, dtype.type(v)))
        got = operator.index(fn(v))
        if got != exp or idx.searchsorted(v) != exp:
            bad.append((v, got, idx.searchsorted(v), exp))
    assert not bad, f"(value, scalar_fn, searchsorted, numpy): {bad[:5]} ({len(bad)} wrong)"


@impl_param
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_scalar_fn_agrees_with_searchsorted(impl, dtype):
    guarded(impl, _scalar_fn, impl, dtype)


# --------------------------------------------------------------------------- threads

#: Implementations whose batches run through ``run_batch`` in a compiled kernel.
#: (the RMI, the B-tree and the binary search, once their kernels are built)
THREADED = [i for i in IMPLS if i.backend == "compiled"]


_THREADS_DATA: dict = {}


def threads_data():
    if not _THREADS_DATA:
        rng = np.random.default_rng(11)
        keys = np.sort(rng.integers(0, 2 ** 64 - 1, 120_000, dtype=np.uint64, endpoint=True))
        q = np.concatenate([keys[rng.integers(0, keys.size, 150_000)],
                            rng.integers(0, 2 ** 64 - 1, 150_000, dtype=np.uint64, endpoint=True)])
        rng.shuffle(q)
        assert q.size == 300_000
        _THREADS_DATA.update(keys=keys, q=q, left=np.searchsorted(keys, q, "left"),
                             right=np.searchsorted(keys, q, "right"), lookup=oracle_lookup(keys, q))
    return _THREADS_DATA


@pytest.mark.parametrize("impl", THREADED, ids=[i.id for i in THREADED])
def test_threads_give_identical_answers(impl):
    d = threads_data()
    idx = impl.make(d["keys"])
    assert idx.backend == "compiled"
    q = d["q"]
    for threads in (1, 2, 3, np.int64(2)):
        np.testing.assert_array_equal(idx.searchsorted(q, threads=threads), d["left"])
        np.testing.assert_array_equal(idx.searchsorted(q, "right", threads=threads), d["right"])
        np.testing.assert_array_equal(idx.lookup(q, threads=threads), d["lookup"])
        np.testing.assert_array_equal(idx.contains(q, threads=threads), d["lookup"] >= 0)
    # 2-D and non-native query arrays are split the same way
    q2 = q.reshape(1000, 300)
    np.testing.assert_array_equal(idx.searchsorted(q2, threads=3), d["left"].reshape(1000, 300))
    np.testing.assert_array_equal(idx.searchsorted(q.astype(np.float64), threads=2),
                                  idx.searchsorted(q.astype(np.float64), threads=1))


BAD_THREADS = [0, -1, 1.5, True, False, "2", None, np.float64(2.0)]


def _bad_threads_arrays(impl):
    idx = impl.make(SMALL)
    for arr in (SMALL[:3], np.zeros(0, dtype=np.int64), [1, 2], np.array([1.5, 2.5])):
        for threads in BAD_THREADS:
            for method, args in ((idx.searchsorted, (arr,)), (idx.searchsorted, (arr, "right")),
                                 (idx.lookup, (arr,)), (idx.contains, (arr,))):
                with pytest.raises(ValueError, match="threads must be a positive int"):
                    method(*args, threads=threads)
    empty = impl.make(np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="threads must be a positive int"):
        empty.searchsorted(SMALL, threads=0)


@impl_param
def test_bad_threads_raise_for_arrays(impl):
    guarded(impl, _bad_threads_arrays, impl)


def _bad_threads_scalars(impl):
    idx = impl.make(SMALL)
    accepted = []
    for q in (3, 2.5, np.int64(3), np.float32(2.5), 2 ** 70, math.nan):
        for threads in (0, -1, 1.5, True):
            for method in (idx.searchsorted, idx.lookup, idx.contains):
                try:
                    method(q, threads=threads)
                except ValueError as exc:
                    assert "threads must be a positive int" in str(exc)
                else:
                    accepted.append(f"{method.__name__}({q!r}, threads={threads!r})")
    assert not accepted, f"{len(accepted)} calls accepted a bad threads= value, e.g. {accepted[:4]}"


def test_bad_threads_raise_for_scalars():
    """Library bug: ``threads=`` is validated for arrays only.

    Reproduction: ``RMI(np.arange(10)).searchsorted(5, threads=0)`` answers 5 (so do
    ``threads=-1``, ``1.5``, ``True``, and ``lookup`` / ``contains`` of a scalar, on
    every implementation and backend), while ``searchsorted([5], threads=0)`` raises
    ``ValueError: threads must be a positive int``.  The scalar paths
    (``CompiledLookups.searchsorted`` in ``_kernels/lookup.pyx``, and
    ``IndexBase._searchsorted`` / ``_lookup`` before ``_search_array``) never call
    ``check_threads``.  (One test for all implementations: it is one bug.)
    """
    failures = []
    for impl in IMPLS:
        try:
            guarded(impl, _bad_threads_scalars, impl)
        except AssertionError as exc:
            failures.append(f"{impl.id}: {str(exc).strip().splitlines()[-1]}")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------ optional packages

#: sys.modules entries that hide each optional package.
HIDE = {PyGMIndex: ("pygm",), SortedContainersIndex: ("sortedcontainers",),
        BTreesIndex: ("BTrees", "BTrees.QQBTree", "BTrees.LLBTree", "BTrees.UUBTree", "BTrees.IIBTree")}


@pytest.mark.parametrize("cls", sorted(OPTIONAL_PACKAGES, key=lambda c: c.name), ids=lambda c: c.name)
def test_missing_optional_package_names_the_extra(cls, monkeypatch):
    for mod in HIDE[cls]:
        monkeypatch.setitem(sys.modules, mod, None)
    for dtype in ("int64", "uint64", "int32", "uint32"):
        with pytest.raises(ImportError, match=r"learnedidx\[bench\]") as info:
            cls(np.arange(5, dtype=dtype))
        assert OPTIONAL_PACKAGES[cls] in str(info.value)      # and the package itself


def test_pygm_missing_simulated_exactly_as_in_the_brief(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygm", None)
    with pytest.raises(ImportError, match=r"pip install learnedidx\[bench\]"):
        PyGMIndex(np.arange(10, dtype=np.uint64))
    # the others do not need pygm
    for cls in (RMI, BTree, InterleavedBinarySearch):
        assert cls(np.arange(10, dtype=np.uint64)).searchsorted(3) == 3


# -------------------------------------------------------------- keys are not copied

@impl_param
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_keys_are_shared_and_read_only(impl, dtype):
    keys = keys_under_test(impl.cls, adversarial_keys(dtype, size=5))

    def body():
        idx, _ = build_tested(impl, keys)
        if idx is None:
            return
        assert np.shares_memory(idx.keys, keys) or not keys.size
        assert not idx.keys.flags.writeable
        with pytest.raises(ValueError):
            idx.keys[0] = idx.keys[0]
    guarded(impl, body)
