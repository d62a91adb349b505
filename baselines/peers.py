"""The tools users would pick instead of a learned index, behind one interface.

Every adapter is an :class:`~learnedidx.interface.IndexBase`: ``searchsorted`` equals
``numpy.searchsorted`` exactly for every numeric query (queries are reduced to targets
of the key dtype before the peer sees them, so a peer's own casting never rounds).
``nbytes`` is the index structure beyond the raw key array, and ``scalar_fn`` is the
peer's own fastest call for one in-range key (what a user would write, used by the
benchmark's scalar rows).  Optional packages are imported when an adapter is built; a
missing one raises ``ImportError`` naming the extra to install.

>>> import numpy as np
>>> keys = np.array([2, 4, 4, 8], dtype=np.int64)
>>> [cls(keys).searchsorted(4, "right") for cls in (BinarySearch, InterleavedBinarySearch, SortedBinarySearch)]
[3, 3, 3]
"""
from __future__ import annotations

import importlib
import tracemalloc

import numpy as np

from learnedidx._validate import as_sorted_keys
from learnedidx.interface import IndexBase, check_backend, compiled_module, require_compiled


def _require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{package} is not installed; install it with `pip install learnedidx[bench]` "
                          f"(or `pip install {package}`)") from exc


def traced_bytes(build):
    """``(result, bytes)``: what ``build()`` returns and the Python-heap bytes it kept.

    Measured with ``tracemalloc`` (Python and PyMem allocations, as sortedcontainers
    and BTrees make them).
    """
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    after = tracemalloc.get_traced_memory()[0]
    if not was:
        tracemalloc.stop()
    return result, max(0, after - before)


class _Adapter(IndexBase):
    """Common set-up: validated keys (not copied), no kernel unless one is attached."""

    name = "?"

    def __init__(self, keys, *, copy: bool = False):
        self._keys = as_sorted_keys(keys, copy=copy)
        self._n = self._keys.size
        self.dtype = self._keys.dtype

    def _reference_lower_bound(self, targets: np.ndarray) -> np.ndarray:
        """Batch as a loop of the scalar reference (peers have no batch API)."""
        fn = self._reference_lower_bound_scalar
        return np.fromiter((fn(t) for t in targets.tolist()), dtype=np.int64, count=targets.size)

    def _reference_lower_bound_scalar(self, target) -> int:
        return int(self.scalar_fn(target))

    @property
    def nbytes(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self._n}, dtype={self.dtype.name})"


class BinarySearch(_Adapter):
    """``numpy.searchsorted`` on the key array: no index structure, ``O(log n)``."""

    name = "BinarySearch"

    def _reference_lower_bound(self, targets):
        return np.searchsorted(self._keys, targets).astype(np.int64, copy=False)

    @property
    def scalar_fn(self):
        ks, kt = self._keys.searchsorted, self.dtype.type
        return lambda x: int(ks(kt(x)))


class SortedBinarySearch(BinarySearch):
    """Batch: sort the queries, ``searchsorted``, scatter the answers back.

    The best plain-numpy idiom for large batches (sorted queries walk the array in
    order, so the caches help).
    """

    name = "SortedBinarySearch"

    def _reference_lower_bound(self, targets):
        order = np.argsort(targets, kind="stable")
        out = np.empty(targets.size, dtype=np.int64)
        out[order] = np.searchsorted(self._keys, targets[order])
        return out


class InterleavedBinarySearch(_Adapter):
    """Compiled branch-free binary search over the whole array, queries interleaved.

    No model at all: the bar a learned index must beat to be worth its training.
    """

    name = "InterleavedBinarySearch"

    def __init__(self, keys, *, copy: bool = False, backend: str = "auto"):
        super().__init__(keys, copy=copy)
        check_backend(backend)
        module = require_compiled(compiled_module("learnedidx._kernels.lookup"), backend)
        self._kernel = None if module is None else module.BinarySearchKernel(self._keys)
        if self._kernel is not None:
            self._attach_kernel(self._kernel)
        self.backend = "compiled" if self._kernel is not None else "numpy"

    def _reference_lower_bound(self, targets):
        return np.searchsorted(self._keys, targets).astype(np.int64, copy=False)

    def _reference_lower_bound_scalar(self, target) -> int:
        return int(np.searchsorted(self._keys, self.dtype.type(target)))

    @property
    def scalar_fn(self):
        return self.searchsorted


class SortedContainersIndex(_Adapter):
    """``sortedcontainers.SortedList`` (``bisect_left``) over the keys as Python numbers."""

    name = "sortedcontainers"

    def __init__(self, keys, *, copy: bool = False):
        super().__init__(keys, copy=copy)
        sc = _require("sortedcontainers", "sortedcontainers")
        self._list, self._bytes = traced_bytes(lambda: sc.SortedList(self._keys.tolist()))

    @property
    def scalar_fn(self):
        return self._list.bisect_left

    @property
    def nbytes(self) -> int:
        """Traced bytes of the list (its Python number objects included)."""
        return self._bytes


class PyGMIndex(_Adapter):
    """``pygm.SortedList`` (a PGM-index) with its ``epsilon``; ``bisect_left``."""

    name = "PyGM"

    def __init__(self, keys, epsilon: int = 64, *, copy: bool = False):
        super().__init__(keys, copy=copy)
        pygm = _require("pygm", "pygm")
        if not isinstance(epsilon, (int, np.integer)) or epsilon < 1:
            raise ValueError(f"epsilon must be a positive int, got {epsilon!r}")
        self.epsilon = int(epsilon)
        self._refuse_unsupported()
        self._list = pygm.SortedList(self._keys, epsilon=self.epsilon)
        self._last = self._keys.item(self._n - 1) if self._n else None
        self.repaired = 0

    def _refuse_unsupported(self) -> None:
        """Key sets PyGM 1.0.1 mishandles (measured): signed keys spanning more than the
        type's maximum (wrong answers), float keys holding +-inf (wrong answers or a
        crash), and keys equal to the dtype's maximum, which PyGM uses as a sentinel
        (an exception, an endless loop or unbounded allocation)."""
        keys = self._keys
        if not self._n:
            return
        top = np.finfo(self.dtype).max if self.dtype.kind == "f" else np.iinfo(self.dtype).max
        if keys[-1] == top:
            raise ValueError(f"PyGM cannot index a key equal to the {self.dtype.name} maximum ({top}), "
                             "which it uses as a sentinel; use a wider dtype or another index")
        if self.dtype.kind == "i" and int(keys[-1]) - int(keys[0]) > np.iinfo(self.dtype).max:
            raise ValueError(f"PyGM answers wrongly when {self.dtype.name} keys span more than "
                             f"2**{np.iinfo(self.dtype).bits - 1} - 1; use unsigned keys (offset them) "
                             "or another index")
        if self.dtype.kind == "f" and not (np.isfinite(keys[0]) and np.isfinite(keys[-1])):
            raise ValueError("PyGM cannot index infinite keys (it answers wrongly or crashes); "
                             "remove +-inf or use another index")
        if self.dtype.kind == "f" and keys[0] == keys[-1] and abs(float(keys[0])) >= 2.0 ** (np.finfo(self.dtype).nmant + 1):
            raise ValueError(f"PyGM never finishes building from equal {self.dtype.name} keys of magnitude "
                             f">= 2**{np.finfo(self.dtype).nmant + 1}; use another index")

    def _reference_lower_bound_scalar(self, target) -> int:
        """PyGM's answer, verified with two key reads and repaired when wrong.

        PyGM 1.0.1 answers some absent keys wrongly (measured: 130 zeros and two keys
        2**63 + 1, query 2**62 + 1 -> 66 instead of 130), so ``searchsorted`` never
        returns its answer unchecked; ``repaired`` counts the answers fixed.
        """
        r = int(self.scalar_fn(target))
        keys, n = self._keys, self._n
        if 0 <= r <= n and (r == 0 or keys.item(r - 1) < target) and (r == n or keys.item(r) >= target):
            return r
        self.repaired += 1
        return int(np.searchsorted(keys, self.dtype.type(target)))

    @property
    def scalar_fn(self):
        """PyGM's ``bisect_left`` behind one guard: PyGM answers targets above its last
        key wrongly (floats) or crashes on the dtype's maximum (integers), so those
        answer ``n`` without reaching it (one Python compare per call).  Unverified: the
        benchmark checks its answers; ``searchsorted`` verifies and repairs them."""
        bisect_left, last, n = self._list.bisect_left, self._last, self._n
        if not n:
            return lambda x: 0
        return lambda x: n if x > last else bisect_left(x)

    @property
    def nbytes(self) -> int:
        """PyGM's own index size (its copy of the keys excluded)."""
        return int(self._list.stats()["index size"]) if self._n else 0


#: BTrees' integer families by key dtype (key type letter + value type letter).
_BTREES_FAMILY = {"uint32": "UU", "int32": "II", "uint64": "QQ", "int64": "LL"}


class BTreesIndex(_Adapter):
    """A BTrees map key -> first position; lower bound via ``minKey`` then a lookup.

    Integer keys only (``UU``/``II``/``QQ``/``LL`` trees); float keys raise ``TypeError``.
    """

    name = "BTrees"

    def __init__(self, keys, *, copy: bool = False):
        super().__init__(keys, copy=copy)
        family = _BTREES_FAMILY.get(self.dtype.name)
        if family is None:
            raise TypeError(f"BTreesIndex cannot hold {self.dtype.name} keys (BTrees has integer trees only); "
                            "use an integer dtype or another index")
        mod = _require(f"BTrees.{family}BTree", "BTrees")
        tree_cls = getattr(mod, f"{family}BTree")
        n = self._n

        def build():
            tree = tree_cls()
            # reversed, so that the first occurrence of a duplicate key wins
            tree.update(dict(zip(self._keys[::-1].tolist(), range(n - 1, -1, -1))))
            return tree
        self._tree, self._bytes = traced_bytes(build)

    @property
    def scalar_fn(self):
        tree, n = self._tree, self._n

        def lower_bound(x):
            try:
                return tree[tree.minKey(x)]
            except ValueError:               # no key >= x
                return n
        return lower_bound

    @property
    def nbytes(self) -> int:
        """Traced bytes of the tree."""
        return self._bytes
