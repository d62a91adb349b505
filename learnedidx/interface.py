"""The one interface every index implements, learned or not, and its scalar mixin.

A benchmark is a loop over implementations of :class:`SortedIndex`: ``RMI``, the
B-tree and the peers in ``learnedidx.baselines`` alike.  Build time is measured by the
caller around the constructor.

>>> import numpy as np
>>> from learnedidx import RMI
>>> isinstance(RMI(np.arange(10)), SortedIndex)
True
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ._queries import ABOVE, BELOW, TARGET, array_targets, as_query_array, check_side, scalar_target


@runtime_checkable
class SortedIndex(Protocol):
    """An index over a sorted key array with ``numpy.searchsorted`` semantics.

    Constructed as ``cls(keys, **params)`` from sorted keys.  ``searchsorted`` takes a
    scalar (returning a Python int) or an array (returning an int64 array of its
    shape) and must equal ``numpy.searchsorted(keys, v, side)`` exactly; ``nbytes``
    counts the index structure beyond the raw key array; ``name`` labels it in reports.
    """

    name: str

    def searchsorted(self, v, side: str = "left"): ...

    @property
    def nbytes(self) -> int: ...

    def __len__(self) -> int: ...


class PythonLookups:
    """Pure-Python twin of the compiled ``CompiledLookups`` mixin (used without the build).

    A subclass implements ``_searchsorted(v, side, threads)``, ``_lookup(v, threads)``
    and ``_contains(v)``; the compiled mixin sends Python ints and floats to the kernel
    attached with ``_attach_kernel`` and everything else to those methods.
    """

    def _attach_kernel(self, kernel) -> None:
        pass

    def searchsorted(self, v, side: str = "left", *, threads: int = 1):
        """Exactly ``numpy.searchsorted(keys, v, side)`` for a scalar or an array ``v``."""
        return self._searchsorted(v, side, threads)

    def lookup(self, v, *, threads: int = 1):
        """Position of the first key equal to ``v``, or -1 (vectorised for arrays)."""
        return self._lookup(v, threads)

    def __contains__(self, v) -> bool:
        return self._contains(v)


def lookups_base() -> type:
    """The compiled scalar-path mixin when the kernels are built, else :class:`PythonLookups`."""
    try:
        from ._kernels.lookup import CompiledLookups
    except ImportError:
        return PythonLookups
    return CompiledLookups


#: Lookup paths: the compiled kernels, the numpy reference, or the best available.
BACKENDS = ("auto", "compiled", "numpy")


def check_backend(backend: str) -> str:
    """Validate a ``backend=`` argument (``ValueError`` names the choices)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def compiled_module(name: str):
    """The compiled extension module ``name``, or None when the kernels are not built."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def require_compiled(module, backend: str):
    """``module`` if the backend may use it; raise if ``backend="compiled"`` but it is missing."""
    if backend == "numpy":
        return None
    if module is None and backend == "compiled":
        raise RuntimeError("the compiled kernels are not built; reinstall with `pip install .` "
                           "(needs a C compiler) or pass backend='numpy'")
    return module


def check_threads(threads) -> int:
    """Validate a ``threads=`` argument: a positive int (``ValueError`` otherwise)."""
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    return int(threads)


#: Batches smaller than this per thread are not worth splitting.
MIN_CHUNK = 1 << 16


def run_batch(fn, targets: np.ndarray, out: np.ndarray, threads: int = 1) -> int:
    """Run a GIL-releasing batch kernel ``fn(targets, out)``, split over ``threads``.

    Returns the summed result of the calls (the fallback count).
    """
    check_threads(threads)
    m = targets.size
    chunks = min(int(threads), max(1, m // MIN_CHUNK))
    if chunks == 1:
        return fn(targets, out)
    from concurrent.futures import ThreadPoolExecutor
    bounds = np.linspace(0, m, chunks + 1).astype(np.int64)
    with ThreadPoolExecutor(chunks) as pool:
        parts = pool.map(lambda i: fn(targets[bounds[i]:bounds[i + 1]], out[bounds[i]:bounds[i + 1]]), range(chunks))
        return sum(parts)


class IndexBase(lookups_base()):
    """Exact ``searchsorted`` / ``lookup`` / ``contains`` / ``range`` for any index.

    Queries of every numeric type are reduced exactly to lower-bound targets of the key
    dtype (``learnedidx._queries``); a subclass answers those through its compiled
    kernel (``self._kernel``, with a ``lower_bound_batch(targets, out)`` method and the
    ``LookupKernel`` scalar methods) or, without one, through its reference methods
    ``_reference_lower_bound(targets)`` and ``_reference_lower_bound_scalar(target)``.
    A subclass sets ``_keys``, ``_n``, ``dtype`` and ``_kernel``.
    """

    _kernel = None

    def _lower_bound_targets(self, targets: np.ndarray, threads: int = 1) -> np.ndarray:
        """Exact lower bound of each target (a 1-D array of the key dtype)."""
        if self._n == 0 or targets.size == 0:
            return np.zeros(targets.shape, dtype=np.int64)
        if self._kernel is not None:
            out = np.empty(targets.size, dtype=np.int64)
            run_batch(self._kernel.lower_bound_batch, targets, out, threads)
            return out
        return self._reference_lower_bound(targets)

    def _lower_bound_scalar(self, target) -> int:
        if self._n == 0:
            return 0
        if self._kernel is not None:
            return self._kernel.searchsorted(target, False)
        return self._reference_lower_bound_scalar(target)

    def _search_scalar(self, q, right: bool) -> int:
        if self._kernel is not None:
            return self._kernel.searchsorted(q, right)
        code, target, _ = scalar_target(self.dtype, q, right)
        if code == BELOW:
            return 0
        if code == ABOVE:
            return self._n
        return self._lower_bound_scalar(target)

    def _search_array(self, arr: np.ndarray, right: bool, threads: int = 1, prepared=None):
        check_threads(threads)
        targets, below, above, exact = prepared or array_targets(self.dtype, arr, right)
        flat = np.ascontiguousarray(targets).reshape(-1)
        pos = self._lower_bound_targets(flat, threads)
        if below is not None:
            pos[below.reshape(-1)] = 0
        if above is not None:
            pos[above.reshape(-1)] = self._n
        return pos.reshape(arr.shape), targets, exact

    def _searchsorted(self, v, side: str = "left", threads: int = 1):
        """``idx.searchsorted(v, side="left", *, threads=1)``: exactly ``numpy.searchsorted(keys, v, side)``.

        ``v`` is a scalar or an array.
        A scalar (Python or numpy number) gives a Python int; an array gives an int64
        array of its shape.  Queries of any numeric type compare exactly: Python ints
        beyond the dtype, floats against integer keys, NaN (sorted last, as numpy does).
        ``threads`` splits a large batch across that many threads (the compiled
        kernels release the GIL); answers are the same for any value.

        Runtime complexity: ``O(log w)`` per query for a window of ``w`` keys.

        >>> from learnedidx import RMI
        >>> RMI([10, 20, 20, 30]).searchsorted([20, 25, -5.5, 2**70], side="right")
        array([3, 3, 0, 4])
        """
        check_threads(threads)
        right = check_side(side)
        if is_scalar(v):
            return self._search_scalar(v, right)
        arr = as_query_array(v)
        if arr.ndim == 0:
            return self._search_scalar(arr.item(), right)
        return self._search_array(arr, right, threads)[0]

    def _lookup(self, v, threads: int = 1):
        """``idx.lookup(v, *, threads=1)``: position of the first key equal to ``v``, or -1; vectorised.

        Runtime complexity: as :meth:`searchsorted`.

        >>> from learnedidx import RMI
        >>> idx = RMI([1, 4, 4, 9])
        >>> idx.lookup(4), idx.lookup(5), idx.lookup([9, 4.5, 1.0]).tolist()
        (1, -1, [3, -1, 0])
        """
        check_threads(threads)
        if is_scalar(v) or np.ndim(v) == 0:
            q = v.item() if isinstance(v, np.ndarray) else v
            if self._kernel is not None:
                return self._kernel.lookup(q)
            code, target, exact = scalar_target(self.dtype, q, False)
            if code != TARGET or not exact:
                return -1
            p = self._lower_bound_scalar(target)
            return p if p < self._n and self._keys.item(p) == target else -1
        arr = as_query_array(v)
        prepared = array_targets(self.dtype, arr, False)
        if self._n and getattr(self._kernel, "lookup_batch", None) is not None and all(p is None for p in prepared[1:]):
            # every query is its own target: the kernel checks the key in the line it searched
            out = np.empty(arr.size, dtype=np.int64)
            run_batch(self._kernel.lookup_batch, np.ascontiguousarray(prepared[0]).reshape(-1), out, threads)
            return out.reshape(arr.shape)
        pos, targets, exact = self._search_array(arr, False, threads, prepared)
        if self._n == 0:
            return np.full(arr.shape, -1, dtype=np.int64)
        # in place on the fresh position array: this runs at memory speed, so passes count
        found = np.take(self._keys, pos, mode="clip") == targets
        found &= pos < self._n
        if exact is not None:
            found &= exact
        np.logical_not(found, out=found)
        np.putmask(pos, found, -1)
        return pos

    def contains(self, v, *, threads: int = 1):
        """Whether ``v`` is a key: a bool for a scalar, a bool array for an array.

        >>> from learnedidx import RMI
        >>> RMI([1.5, 2.5]).contains([2.5, 3.0]).tolist()
        [True, False]
        """
        return self.lookup(v, threads=threads) >= 0

    def _contains(self, v) -> bool:
        """``v in idx``: whether the single key ``v`` is present."""
        if not (is_scalar(v) or np.ndim(v) == 0):
            raise TypeError("'in' takes one key; use idx.contains(array) for many")
        return self.lookup(v) >= 0

    def range(self, lo, hi):
        """``(start, stop)`` positions of the keys in ``[lo, hi)``; vectorised.

        ``stop`` is never below ``start`` (an empty or inverted interval is empty).

        >>> from learnedidx import RMI
        >>> RMI([1, 2, 3, 5, 8]).range(2, 6)
        (1, 4)
        """
        start = self.searchsorted(lo, "left")
        stop = self.searchsorted(hi, "left")
        if isinstance(start, np.ndarray) or isinstance(stop, np.ndarray):
            return start, np.maximum(start, stop)      # start keeps lo's shape
        return start, max(start, stop)

    # --------------------------------------------------------------- properties

    @property
    def scalar_fn(self):
        """The fastest call for one in-range key: what the benchmark's scalar rows time."""
        return self.searchsorted

    @property
    def keys(self) -> np.ndarray:
        """The indexed keys (a read-only view; not a copy)."""
        return self._keys

    def __len__(self) -> int:
        return self._n



def is_scalar(v) -> bool:
    """Whether ``v`` is one number (Python or numpy scalar), not an array or sequence."""
    return isinstance(v, (int, float, np.number, np.bool_))
