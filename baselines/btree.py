"""A cache-aware, static, bulk-loaded B+-tree: the baseline a learned index must beat.

Layout (``B = node_bytes / key size`` keys per node, ``page_keys`` keys per page)::

    inner (one 64-byte aligned array, top level first)
    level 2:  [ m0   m1   ...          ]            one node: the max of each child
    level 1:  [ s0 .. s(B-1) ][ sB .. ]             B-key nodes, one cache line each
    level 0:  [ p0 p1 ... p(B-1) ][ pB ... ]        p_i = last key of page i
    keys:     [ page 0 ][ page 1 ][ ... ]           the sorted array itself, not copied

A lookup counts, in each node on its path, the keys smaller than the target (a
branch-free compare over one cache line); that count picks the child, and at the bottom
it is the page, searched by a branch-free binary search.  Nodes are padded with the
dtype's maximum (+inf for floats), which no target is below.  A target above the last
key answers ``n`` before the descent, so the descent never leaves the tree.

Build: ``O(n / page_keys)`` (only the separators are touched).  Lookup:
``ceil(log_B(n / page_keys))`` node visits plus ``log2(page_keys)`` key compares.
"""
from __future__ import annotations

import math

import numpy as np

from learnedidx import search
from learnedidx._memory import aligned_zeros
from learnedidx._validate import as_sorted_keys
from learnedidx.interface import IndexBase, check_backend, compiled_module, require_compiled


def _pad_value(dtype: np.dtype):
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


class BTree(IndexBase):
    """Static B+-tree over sorted keys (any supported dtype, duplicates allowed).

    ``node_bytes`` is the inner node size (a multiple of 64, the cache line);
    the fanout follows from the key width (8 uint64 keys per 64-byte node, 16 uint32).
    ``page_keys`` is the number of keys per leaf page of the sorted array.  The defaults
    (64-byte nodes, 32-key pages) were the fastest batch configuration measured here at
    10M uint64 keys (``bench/RESULTS.md``).  The keys are
    not copied (``copy=True`` to opt in); ``backend`` as for :class:`learnedidx.RMI`.

    >>> import numpy as np
    >>> t = BTree(np.arange(0, 1000, 3, dtype=np.uint64), node_bytes=64, page_keys=8)
    >>> t.searchsorted(300), t.searchsorted([2, 3, 999, 1000]).tolist(), t.height
    (100, [1, 1, 333, 334], 2)
    """

    name = "BTree"

    def __init__(self, keys, node_bytes: int = 64, page_keys: int = 32, *, copy: bool = False,
                 backend: str = "auto"):
        check_backend(backend)
        if not isinstance(node_bytes, (int, np.integer)) or node_bytes < 64 or node_bytes % 64:
            raise ValueError(f"node_bytes must be a positive multiple of 64 (the cache line), got {node_bytes!r}")
        if not isinstance(page_keys, (int, np.integer)) or isinstance(page_keys, bool) or page_keys < 1:
            raise ValueError(f"page_keys must be a positive int, got {page_keys!r}")
        self._keys = as_sorted_keys(keys, copy=copy)
        self._n = self._keys.size
        self.dtype = self._keys.dtype
        self.node_bytes = int(node_bytes)
        self.page_keys = int(page_keys)
        self.fanout = self.node_bytes // self.dtype.itemsize
        self._build()
        self._attach(backend)

    def _attach(self, backend: str) -> None:
        """Bind the compiled kernel to the built (or loaded) layout, unless the backend is numpy."""
        module = require_compiled(compiled_module("learnedidx.baselines._btree_kernel"), backend)
        self._kernel = None if module is None or self._n == 0 else module.BTreeKernel(
            self._keys, self._inner, self._offsets, self.fanout, self.page_keys)
        if self._kernel is not None:
            self._attach_kernel(self._kernel)
        self.backend = "compiled" if self._kernel is not None else "numpy"

    def _build(self) -> None:
        n, B, pk = self._n, self.fanout, self.page_keys
        pages = max(1, math.ceil(n / pk))
        pad = _pad_value(self.dtype)
        if n:
            seps = self._keys[np.minimum(np.arange(1, pages + 1, dtype=np.int64) * pk, n) - 1]
        else:
            seps = np.full(1, pad, dtype=self.dtype)
        levels = []                                   # bottom level first
        cur = seps
        while True:
            nodes = math.ceil(cur.size / B)
            level = np.full(nodes * B, pad, dtype=self.dtype)
            level[:cur.size] = cur
            levels.append(level)
            if nodes == 1:
                break
            cur = level.reshape(nodes, B)[:, -1]      # each node's max (its last entry)
        levels.reverse()                              # store top level first
        sizes = [lv.size for lv in levels]
        self._offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self._inner = aligned_zeros(sum(sizes), self.dtype)
        for off, lv in zip(self._offsets, levels):
            self._inner[off:off + lv.size] = lv
        self.pages = pages
        self.height = len(levels)

    # ----------------------------------------------------------- reference path

    def _reference_lower_bound(self, targets: np.ndarray) -> np.ndarray:
        """Vectorised descent, then a bounded binary search in each target's page."""
        n, B, pk = self._n, self.fanout, self.page_keys
        big = targets > self._keys[-1]
        t = np.where(big, self._keys[-1], targets)
        node = np.zeros(targets.size, dtype=np.int64)
        cols = np.arange(B)
        for off in self._offsets:
            block = self._inner[off + node[:, None] * B + cols]
            node = node * B + (block < t[:, None]).sum(axis=1)
        lo = node * pk
        pos = search.lower_bound_batch(self._keys, t, lo, np.minimum(lo + pk, n))
        pos[big] = n
        return pos

    def _reference_lower_bound_scalar(self, target) -> int:
        n, B, pk = self._n, self.fanout, self.page_keys
        if target > self._keys.item(n - 1):
            return n
        inner = self._inner
        node = 0
        for off in self._offsets.tolist():
            base = off + node * B
            node = node * B + sum(1 for j in range(B) if inner.item(base + j) < target)
        lo = node * pk
        return search.lower_bound(self._keys, target, lo, min(lo + pk, n))

    # ----------------------------------------------------------------- reports

    @property
    def nbytes(self) -> int:
        """Bytes of inner nodes (separators); the pages are the key array itself."""
        return int(self._inner.nbytes)

    def stats(self) -> dict:
        """Layout figures: fanout, height, pages, inner bytes.

        >>> BTree(np.arange(10_000), node_bytes=64, page_keys=100).stats()["pages"]
        100
        """
        return {"n": self._n, "dtype": self.dtype.name, "node_bytes": self.node_bytes, "fanout": self.fanout,
                "page_keys": self.page_keys, "pages": self.pages, "height": self.height,
                "inner_bytes": self.nbytes, "bytes_per_key": self.nbytes / self._n if self._n else 0.0,
                "backend": self.backend}

    def _check(self) -> None:
        """Verify the invariants (sorted keys, separators, node maxima, padding).

        Runtime complexity: ``O(n / page_keys)`` plus one sortedness pass over the keys.
        """
        keys, n, B, pk = self._keys, self._n, self.fanout, self.page_keys
        assert n < 2 or not np.any(keys[1:] < keys[:-1]), "keys are no longer sorted (modified after build?)"
        assert self._inner.ctypes.data % 64 == 0, "inner nodes are not cache-line aligned"
        pad = _pad_value(self.dtype)
        offs = list(self._offsets) + [self._inner.size]
        levels = [self._inner[offs[i]:offs[i + 1]] for i in range(self.height)]
        assert all(lv.size % B == 0 for lv in levels), "a level is not a whole number of nodes"
        assert levels[0].size == B, "the top level is not a single node"
        if n:
            seps = keys[np.minimum(np.arange(1, self.pages + 1) * pk, n) - 1]
            bottom = levels[-1]
            assert np.array_equal(bottom[:self.pages], seps), "separators differ from the pages' last keys"
            assert np.all(bottom[self.pages:] == pad), "padding of the bottom level changed"
        for upper, lower in zip(levels[:-1], levels[1:]):
            maxima = lower.reshape(-1, B)[:, -1]
            assert np.array_equal(upper[:maxima.size], maxima), "an inner entry is not its child's maximum"
            assert np.all(upper[maxima.size:] == pad), "padding of an inner level changed"

    # ------------------------------------------------------------- persistence

    def _state(self) -> tuple[dict, dict]:
        """``(meta, arrays)`` for :mod:`learnedidx.storage`: layout parameters, keys (not copied), inner nodes.

        >>> meta, arrays = BTree(np.arange(100), page_keys=8)._state()
        >>> meta["page_keys"], sorted(arrays)
        (8, ['inner', 'keys', 'offsets'])
        """
        meta = {"version": 1, "n": self._n, "dtype": self.dtype.name, "node_bytes": self.node_bytes,
                "page_keys": self.page_keys}
        return meta, {"keys": self._keys, "inner": self._inner, "offsets": self._offsets}

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict, backend: str = "auto") -> "BTree":
        """Rebuild from :meth:`_state` output (arrays may be read-only maps) without copying the keys.

        The level sizes are recomputed from ``n``, the fanout and ``page_keys``, and the inner
        nodes are checked (sorted levels, node maxima, padding, the last separator equal to
        the last key), so no descent can leave the tree; bad state raises ``ValueError``.
        The keys' order is not re-checked (``O(n)``; :meth:`_check` does it).

        Runtime complexity: ``O(n / page_keys)``; one key is read.

        >>> t = BTree(np.arange(0, 50, 5), page_keys=2)
        >>> BTree._from_state(*t._state()).searchsorted([12, 45])
        array([3, 9])
        """
        check_backend(backend)
        try:
            self = cls.__new__(cls)
            self._load_state(meta, arrays)
        except (KeyError, TypeError, IndexError, AttributeError, AssertionError) as exc:
            raise ValueError(f"inconsistent BTree state: {type(exc).__name__}: {exc}") from None
        self._attach(backend)
        return self

    def _load_state(self, meta: dict, arrays: dict) -> None:
        def need(ok, what):
            if not ok:
                raise ValueError(f"inconsistent BTree state: {what}")

        need(meta.get("version") == 1, f"unknown BTree state version {meta.get('version')!r}")
        ints = [meta[k] for k in ("n", "node_bytes", "page_keys")]
        need(all(isinstance(v, int) and not isinstance(v, bool) for v in ints), "n, node_bytes, page_keys must be ints")
        n, node_bytes, page_keys = ints
        keys = arrays["keys"]
        need(isinstance(meta["dtype"], str) and keys.dtype == np.dtype(meta["dtype"]), "keys dtype")
        need(keys.ndim == 1 and keys.size == n and keys.flags.c_contiguous, "keys shape")
        as_sorted_keys(keys[:2])                      # a supported dtype
        need(node_bytes >= 64 and node_bytes % 64 == 0 and 1 <= page_keys, "node_bytes / page_keys")
        self._keys, self._n, self.dtype = keys, n, keys.dtype
        self.node_bytes, self.page_keys = node_bytes, page_keys
        self.fanout = B = node_bytes // keys.dtype.itemsize
        self.pages = pages = max(1, math.ceil(n / page_keys))
        sizes, cur = [], pages
        while True:                                    # the level sizes _build makes, bottom first
            nodes = math.ceil(cur / B)
            sizes.append(nodes * B)
            if nodes == 1:
                break
            cur = nodes
        sizes.reverse()
        self.height = len(sizes)
        inner, offsets = arrays["inner"], arrays["offsets"]
        need(inner.dtype == keys.dtype and inner.shape == (sum(sizes),) and inner.flags.c_contiguous, "inner nodes")
        need(offsets.dtype == np.int64 and offsets.shape == (len(sizes),), "level offsets")
        need(np.array_equal(offsets, np.concatenate(([0], np.cumsum(sizes)[:-1]))), "level offsets")
        if inner.ctypes.data % 64:                     # a loaded section is aligned; other input may not be
            inner = aligned_zeros(inner.size, inner.dtype)
            inner[:] = arrays["inner"]
        self._inner, self._offsets = inner, offsets
        pad = _pad_value(self.dtype)
        bounds = np.concatenate((offsets, [inner.size]))
        levels = [inner[bounds[i]:bounds[i + 1]] for i in range(self.height)]
        for lv in levels:
            need(not np.any(lv[1:] < lv[:-1]), "an inner level is not sorted")
            need(self.dtype.kind != "f" or not np.isnan(lv).any(), "an inner level holds NaN")
        for upper, lower in zip(levels[:-1], levels[1:]):
            maxima = lower.reshape(-1, B)[:, -1]
            need(np.array_equal(upper[:maxima.size], maxima) and np.all(upper[maxima.size:] == pad),
                 "an inner entry is not its child's maximum")
        if n:
            need(np.all(levels[-1][pages:] == pad), "bottom level padding")
            need(levels[-1][pages - 1] == keys[n - 1], "the last separator is not the last key")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={self._n}, dtype={self.dtype.name}, node_bytes={self.node_bytes}, "
                f"page_keys={self.page_keys}, height={self.height})")
