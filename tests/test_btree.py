"""The static B+-tree (``learnedidx.baselines.BTree``): layout, invariants and exact answers.

* A grid of ``node_bytes`` 64/128/256/512 x ``page_keys`` 1, 2, 3, 7, 64, 100, 512 x all
  six dtypes x tiny and boundary sizes (0, 1, 2, fanout - 1, fanout, fanout + 1,
  page_keys +- 1, the sizes where a level fills up or a new one starts, exact powers of
  the fanout), each built on both backends with ``_check()`` after every build, height /
  pages / nbytes against independently computed values, 64-byte aligned inner nodes, and
  answers equal to ``numpy.searchsorted`` (so the two backends agree), including keys
  equal to the padding value (the dtype's maximum, +inf).
* Bad parameters and bad keys raise; ``_check()`` detects keys modified after the build.
* A seeded large test (200k uint64 keys, 50k queries) is marked ``slow``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import KEY_DTYPES, dtype_id, neighbours, oracle_lookup, special_array
from index_impls import backends_of
from learnedidx.baselines import BTree

BTREE_BACKENDS = backends_of(BTree)
NODE_BYTES = (64, 128, 256, 512)
PAGE_KEYS = (1, 2, 3, 7, 64, 100, 512)
#: Largest key count the grid builds (exact powers of the fanout above it are left out).
GRID_MAX_N = 70_000

backend_param = pytest.mark.parametrize("backend", BTREE_BACKENDS)


# ----------------------------------------------------------------------------- layout

def expected_layout(n: int, itemsize: int, node_bytes: int, page_keys: int) -> dict:
    """Pages, height, nodes per level and inner bytes of the documented layout."""
    fanout = node_bytes // itemsize
    pages = max(1, math.ceil(n / page_keys))
    nodes, below = [], pages
    while True:                          # bottom level first: one separator per page
        nodes.append(math.ceil(below / fanout))
        if nodes[-1] == 1:
            break
        below = nodes[-1]
    height = len(nodes)
    # the height is the smallest h >= 1 with fanout**h >= pages
    assert height == max(1, next(h for h in range(1, 64) if fanout ** h >= pages))
    return {"fanout": fanout, "pages": pages, "height": height, "nodes": nodes,
            "inner_bytes": sum(nodes) * node_bytes}


def grid_sizes(fanout: int, page_keys: int) -> list[int]:
    """Tiny sizes and the boundaries of the layout: a level that just fills, or overflows."""
    sizes = {0, 1, 2, 3, fanout - 1, fanout, fanout + 1, page_keys - 1, page_keys, page_keys + 1}
    for k in (1, 2, 3):
        full = page_keys * fanout ** k   # exactly fanout**k pages: a full tree of height k
        sizes |= {fanout ** k, full - 1, full, full + 1, full + page_keys}
    return sorted(s for s in sizes if 0 <= s <= GRID_MAX_N)


def make_keys(n: int, dtype: np.dtype, variant: str, rng) -> np.ndarray:
    """Sorted keys: ``spread`` (random, with duplicates) or ``extremes`` (the dtype's
    minimum first, a run of its maximum, the padding value, last; -inf/+inf for floats)."""
    if n == 0:
        return np.zeros(0, dtype=dtype)
    if dtype.kind == "f":
        body = np.round(rng.normal(0, 1000, n), 1).astype(dtype)
    else:
        info = np.iinfo(dtype)
        lo, hi = (int(info.min) // 2, int(info.max) // 2) if rng.random() < 0.5 else (-50, 50)
        body = rng.integers(max(lo, int(info.min)), min(hi, int(info.max)), n, dtype=dtype, endpoint=True)
    keys = np.sort(body)
    if variant == "extremes":
        top = dtype.type(np.inf) if dtype.kind == "f" else np.iinfo(dtype).max
        bottom = dtype.type(-np.inf) if dtype.kind == "f" else np.iinfo(dtype).min
        run = min(n, max(1, n // 4))
        keys[n - run:] = top
        keys[0] = bottom
        if dtype.kind == "f" and n - run > 2:
            keys[n - run - 1] = np.finfo(dtype).max
    return np.ascontiguousarray(keys)


def grid_queries(keys: np.ndarray, rng) -> np.ndarray:
    dtype = keys.dtype
    sample = keys if keys.size <= 600 else keys[rng.integers(0, keys.size, 600)]
    with np.errstate(all="ignore"):
        parts = [sample, np.array(neighbours(dtype, sample[:150].tolist()), dtype=dtype), special_array(dtype)]
    if keys.size:
        # each page's first and last key and their neighbours
        edges = keys[np.unique(np.clip(np.arange(0, keys.size, max(1, keys.size // 200)), 0, keys.size - 1))]
        with np.errstate(all="ignore"):
            parts += [edges, np.array(neighbours(dtype, edges.tolist()), dtype=dtype)]
    if dtype.kind == "f":
        parts.append(np.array([np.nan], dtype=dtype))
    return np.concatenate(parts).astype(dtype)


def build(keys, backend, **kw) -> BTree:
    """Build, check the invariants and the layout against :func:`expected_layout`."""
    idx = BTree(keys, backend=backend, **kw)
    idx._check()
    node_bytes, page_keys = kw.get("node_bytes", 64), kw.get("page_keys", 64)
    exp = expected_layout(keys.size, keys.dtype.itemsize, node_bytes, page_keys)
    s = idx.stats()
    assert idx.fanout == s["fanout"] == exp["fanout"]
    assert idx.height == s["height"] == exp["height"], (keys.size, node_bytes, page_keys, s)
    assert s["pages"] == exp["pages"], (keys.size, node_bytes, page_keys, s)
    assert idx.nbytes == s["inner_bytes"] == exp["inner_bytes"] == idx._inner.nbytes
    assert idx.nbytes % 64 == 0 and idx._inner.ctypes.data % 64 == 0
    assert s["n"] == keys.size == len(idx) and s["dtype"] == keys.dtype.name
    assert s["node_bytes"] == node_bytes and s["page_keys"] == page_keys
    assert s["bytes_per_key"] == (idx.nbytes / keys.size if keys.size else 0.0)
    assert s["backend"] == idx.backend
    if keys.size:
        assert np.shares_memory(idx.keys, keys)
        assert idx.backend == backend
    np.testing.assert_array_equal(idx.keys, keys)
    return idx


def assert_answers(idx: BTree, keys: np.ndarray, queries: np.ndarray, n_scalar: int = 6) -> dict:
    """Batch (both sides) and lookup vs numpy; a few scalars; returns the batch answers."""
    out = {}
    for side in ("left", "right"):
        exp = np.searchsorted(keys, queries, side)
        got = idx.searchsorted(queries, side=side)
        assert got.dtype == np.int64 and got.shape == queries.shape
        bad = np.flatnonzero(got != exp)
        assert not bad.size, (f"{idx!r} side={side}: query {queries[bad[0]]!r} -> {got[bad[0]]}, "
                              f"numpy says {exp[bad[0]]} ({bad.size} wrong)")
        out[side] = got
        for q, e in zip(queries[:n_scalar], exp[:n_scalar].tolist()):
            assert idx.searchsorted(q, side=side) == e
            assert idx.searchsorted(q.item(), side=side) == e
    out["lookup"] = idx.lookup(queries)
    np.testing.assert_array_equal(out["lookup"], oracle_lookup(keys, queries))
    return out


# ------------------------------------------------------------------------------- grid

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("page_keys", PAGE_KEYS)
@pytest.mark.parametrize("node_bytes", NODE_BYTES)
def test_grid(node_bytes, page_keys, dtype):
    fanout = node_bytes // dtype.itemsize
    rng = np.random.default_rng(node_bytes * 1000 + page_keys * 10 + dtype.num)
    for n in grid_sizes(fanout, page_keys):
        for variant in (("spread", "extremes") if n else ("spread",)):
            keys = make_keys(n, dtype, variant, rng)
            queries = grid_queries(keys, rng)
            answers = []
            for backend in BTREE_BACKENDS:
                idx = build(keys, backend, node_bytes=node_bytes, page_keys=page_keys)
                answers.append(assert_answers(idx, keys, queries))
            for other in answers[1:]:        # numpy and compiled backends agree
                for name, got in other.items():
                    np.testing.assert_array_equal(got, answers[0][name])


@pytest.mark.parametrize("node_bytes,page_keys,n,height,pages", [
    (64, 8, 334, 2, 42),             # the class docstring: 8 uint64 keys per node
    (64, 100, 10_000, 3, 100),       # the stats() docstring: 100 pages, 13 nodes, 2 nodes, 1
    (64, 64, 0, 1, 1),
    (64, 64, 1, 1, 1),
    (64, 1, 8, 1, 8),
    (64, 1, 9, 2, 9),
    (64, 1, 64, 2, 64),
    (64, 1, 65, 3, 65),
    (64, 1, 512, 3, 512),
    (64, 1, 513, 4, 513),
    (128, 3, 16 * 3, 1, 16),
    (128, 3, 16 * 3 + 1, 2, 17),
    (512, 512, 64 * 512, 1, 64),
    (512, 512, 64 * 512 + 1, 2, 65),
])
@backend_param
def test_known_layouts_uint64(backend, node_bytes, page_keys, n, height, pages):
    keys = np.arange(n, dtype=np.uint64) * 3
    idx = build(keys, backend, node_bytes=node_bytes, page_keys=page_keys)
    assert idx.height == height and idx.stats()["pages"] == pages == idx.pages
    assert idx.fanout == node_bytes // 8


@backend_param
def test_docstring_example(backend):
    t = BTree(np.arange(0, 1000, 3, dtype=np.uint64), node_bytes=64, page_keys=8, backend=backend)
    t._check()
    assert t.searchsorted(300) == 100
    assert t.searchsorted([2, 3, 999, 1000]).tolist() == [1, 1, 333, 334]
    assert t.height == 2
    assert repr(t).startswith("BTree(n=334, dtype=uint64, node_bytes=64, page_keys=8, height=2")


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@backend_param
def test_fanout_follows_the_key_width(backend, dtype):
    keys = np.arange(100, dtype=dtype)
    for node_bytes in NODE_BYTES:
        idx = build(keys, backend, node_bytes=node_bytes, page_keys=2)
        assert idx.fanout == node_bytes // dtype.itemsize
        assert idx.nbytes % node_bytes == 0


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@backend_param
def test_all_keys_equal_to_the_padding_value(backend, dtype):
    """Keys equal to the pad value (dtype max / +inf) fill whole nodes with 'padding'."""
    top = dtype.type(np.inf) if dtype.kind == "f" else np.iinfo(dtype).max
    for n in (1, 2, 7, 8, 9, 64, 65, 300):
        keys = np.full(n, top, dtype=dtype)
        for page_keys in (1, 3, 64):
            idx = build(keys, backend, node_bytes=64, page_keys=page_keys)
            q = np.concatenate([keys[:1], special_array(dtype)])
            assert_answers(idx, keys, q)
            assert idx.searchsorted(top) == 0 and idx.searchsorted(top, side="right") == n


# ---------------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("node_bytes", [0, 32, 100, -64, 64.0, 63, 65, 96, "64", None, 1.5])
@backend_param
def test_bad_node_bytes(backend, node_bytes):
    with pytest.raises(ValueError, match="node_bytes must be a positive multiple of 64"):
        BTree(np.arange(10), node_bytes=node_bytes, backend=backend)


@pytest.mark.parametrize("page_keys", [0, -1, 1.5, True, False, 2.0, "8", None])
@backend_param
def test_bad_page_keys(backend, page_keys):
    with pytest.raises(ValueError, match="page_keys must be a positive int"):
        BTree(np.arange(10), page_keys=page_keys, backend=backend)


@backend_param
def test_numpy_integer_parameters_are_accepted(backend):
    idx = build(np.arange(1000, dtype=np.int64), backend, node_bytes=np.int64(128), page_keys=np.int32(7))
    assert type(idx.node_bytes) is int and type(idx.page_keys) is int


@pytest.mark.parametrize("backend", ["", "gpu", "Numpy", None])
def test_bad_backend(backend):
    with pytest.raises(ValueError, match="backend must be one of"):
        BTree(np.arange(10), backend=backend)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@backend_param
def test_unsorted_keys(backend, dtype):
    keys = np.array([1, 3, 2, 4], dtype=dtype)
    for k in (keys, keys.tolist()):
        with pytest.raises(ValueError, match=r"sorted.*position 2"):
            BTree(k, backend=backend)
    with pytest.raises(ValueError, match="sorted"):
        BTree(keys, copy=True, backend=backend)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", [0, 2, -1])
@backend_param
def test_nan_keys(backend, dtype, where):
    keys = np.array([1.0, 2.0, 3.0, 4.0], dtype=dtype)
    keys[where] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BTree(keys, backend=backend)


@pytest.mark.parametrize("shape", [(2, 3), (6, 1), (1, 6), (1, 2, 3), ()])
@backend_param
def test_multidimensional_keys(backend, shape):
    keys = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    with pytest.raises(ValueError, match="1-D"):
        BTree(keys, backend=backend)


@pytest.mark.parametrize("keys", [
    np.array([1, 2, 3], dtype=np.int8),
    np.array([1, 2, 3], dtype=np.uint16),
    np.array([1.0, 2.0], dtype=np.float16),
    np.array([False, True]),
    np.array([1, 2], dtype=object),
    np.array(["a", "b"]),
    np.array([1 + 0j, 2 + 0j]),
    np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"),
], ids=lambda a: a.dtype.name)
@backend_param
def test_unsupported_dtypes(backend, keys):
    with pytest.raises(TypeError, match=r"(?i)unsupported key dtype|not supported"):
        BTree(keys, backend=backend)


@backend_param
def test_non_contiguous_and_big_endian_keys(backend):
    base = np.arange(40, dtype=np.int64)
    with pytest.raises(ValueError, match="C-contiguous"):
        BTree(base[::2], backend=backend)
    idx = build(np.ascontiguousarray(base[::2]), backend, page_keys=3)
    copied = BTree(base[::2], copy=True, backend=backend, page_keys=3)
    copied._check()
    np.testing.assert_array_equal(copied.searchsorted(base), idx.searchsorted(base))
    with pytest.raises(TypeError, match="byte order"):
        BTree(base.astype(">i8"), backend=backend)


# ------------------------------------------------------------------------- _check()

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@backend_param
def test_check_detects_modified_keys(backend, dtype):
    """The tree shares the caller's array: modifying it afterwards breaks the invariants."""
    def fresh():
        keys = (np.arange(1000) * 2).astype(dtype)       # a writable array we own
        idx = BTree(keys, node_bytes=64, page_keys=10, backend=backend)
        idx._check()
        assert not idx.keys.flags.writeable and keys.flags.writeable
        return keys, idx

    keys, idx = fresh()
    keys[9] += 1                                      # still sorted; page 0's last key changed
    with pytest.raises(AssertionError, match="separators differ"):
        idx._check()
    keys, idx = fresh()
    keys[500] = 0                                     # no longer sorted
    with pytest.raises(AssertionError, match="no longer sorted"):
        idx._check()
    keys, idx = fresh()
    keys[-1] = keys[-2]                               # still sorted; the last separator changed
    with pytest.raises(AssertionError, match="separators differ"):
        idx._check()
    keys, idx = fresh()
    keys[3] += 1                                      # a key inside a page: sorted, separators intact
    idx._check()


@backend_param
def test_check_detects_modified_inner_nodes(backend):
    keys = np.arange(10_005, dtype=np.uint64)
    idx = BTree(keys, node_bytes=64, page_keys=10, backend=backend)
    idx._check()
    assert idx.height == 4                            # 1001 pages: 126, 16, 2, 1 nodes
    inner = idx._inner
    offs = idx._offsets.tolist() + [inner.size]
    # an entry of the top level (not its child's maximum any more)
    saved = inner[0]
    inner[0] = saved + 1
    with pytest.raises(AssertionError, match="maximum"):
        idx._check()
    inner[0] = saved
    idx._check()
    # the bottom level's padding
    bottom = slice(offs[-2], offs[-1])
    pad_at = offs[-2] + idx.pages
    assert pad_at < offs[-1] and inner[pad_at] == np.iinfo(np.uint64).max
    inner[pad_at] = 5
    with pytest.raises(AssertionError, match="padding"):
        idx._check()
    inner[pad_at] = np.iinfo(np.uint64).max
    inner[bottom][0] += 1
    with pytest.raises(AssertionError, match="separators"):
        idx._check()


@backend_param
def test_copy_true_is_independent(backend):
    keys = np.arange(0, 3000, 3, dtype=np.int32)
    idx = BTree(keys, copy=True, page_keys=7, backend=backend)
    assert not np.shares_memory(idx.keys, keys)
    keys[:] = 0
    idx._check()
    assert idx.searchsorted(300) == 100


# -------------------------------------------------------------------- seeded large test

def _large_keys(name: str) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    n = 200_000
    if name == "uniform":
        k = rng.integers(0, 2 ** 64 - 1, n, dtype=np.uint64, endpoint=True)
    else:
        x = rng.lognormal(0.0, 2.0, n)
        k = (x / x.max() * (2.0 ** 64 - 2.0 ** 12)).astype(np.uint64)
    return np.sort(k)


def _large_queries(keys: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(5)
    picked = keys[rng.integers(0, keys.size, 20_000)]
    i = rng.integers(0, keys.size - 1, 8000)
    gaps = keys[i] + (keys[i + 1] - keys[i]) // np.uint64(2)
    parts = [picked, picked[:5000] + np.uint64(1), picked[5000:10_000] - np.uint64(1), gaps,
             rng.integers(0, 2 ** 64 - 1, 6000, dtype=np.uint64, endpoint=True), special_array(np.uint64)]
    q = np.concatenate(parts)[:50_000]
    rng.shuffle(q)
    return q


LARGE_CONFIGS = [(64, 64), (64, 1), (128, 16), (256, 256), (512, 7), (512, 512)]


@pytest.mark.slow
@pytest.mark.parametrize("node_bytes,page_keys", LARGE_CONFIGS, ids=[f"{a}-{b}" for a, b in LARGE_CONFIGS])
@pytest.mark.parametrize("name", ["uniform", "lognormal"])
def test_large_seeded(name, node_bytes, page_keys):
    keys = _large_keys(name)
    queries = _large_queries(keys)
    answers = []
    for backend in BTREE_BACKENDS:
        idx = build(keys, backend, node_bytes=node_bytes, page_keys=page_keys)
        answers.append(assert_answers(idx, keys, queries, n_scalar=200))
        np.testing.assert_array_equal(idx.searchsorted(keys), np.searchsorted(keys, keys))
    for other in answers[1:]:
        for name_, got in other.items():
            np.testing.assert_array_equal(got, answers[0][name_])
