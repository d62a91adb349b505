"""SortedList: sortedcontainers' SortedList API over a learned index, for numeric keys.

See :mod:`learnedidx.containers._store` for the layout (static learned run, tombstones,
sorted buffer, amortised merges).

>>> from learnedidx import SortedList
>>> sl = SortedList([5, 1, 3, 3])
>>> sl
SortedList([1, 3, 3, 5])
>>> sl.add(4); sl.bisect_left(4), sl[-1], 3 in sl
(3, 5, True)
"""
from __future__ import annotations

import numbers
import operator
from collections.abc import MutableSequence, Sequence

import numpy as np

from ._keys import keys_array
from ._store import Store


def _restore(cls, dtype, keys, values=None, value_dtype=None, dtype_given=False):
    """Unpickle helper: rebuild a container of class ``cls`` from its arrays."""
    return cls._from_sorted_arrays(keys, values, dtype=dtype, value_dtype=value_dtype, dtype_given=dtype_given)


def _private(arr: np.ndarray, source) -> np.ndarray:
    """``arr``, copied if it is (a view of) the caller's array ``source``.

    The constructors and ``update`` copy the caller's keys, as ``list(array)`` would: the
    caller may go on writing into its array.  Only ``from_arrays`` shares them (documented).

    >>> a = np.arange(3); _private(a[1:], a) is a, _private(a, [0, 1, 2]) is a
    (False, True)
    """
    if isinstance(source, np.ndarray) and np.may_share_memory(arr, source):
        return arr.copy()
    return arr


def _equal_real(value):
    """Answer a lookup that the keys' ordering cannot, in a set or dict, as a hash table does.

    sortedcontainers' SortedSet and SortedDict look values up in a ``set`` / ``dict``
    first, which finds any value *equal* to a member, orderable or not, and raises
    ``TypeError`` for an unhashable one.  So: a complex number with no imaginary part is
    its real part (``1 + 0j == 1``; the caller looks that up), anything else that got
    here (a string, ``1j``) is never a member (None), and an unhashable value raises.

    >>> _equal_real(2 + 0j), _equal_real("a"), _equal_real(1j)
    (2.0, None, None)
    >>> _equal_real([1])
    Traceback (most recent call last):
    ...
    TypeError: unhashable type: 'list'
    """
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"unhashable type: {type(value).__name__!r}") from None
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real) and value.imag == 0:
        return value.real
    return None


def _reject_key(key):
    if key is not None:
        raise TypeError("key functions are not supported: learned containers order numeric keys by "
                        "value; store key(value) instead, or use sortedcontainers.SortedKeyList")


class _SortedBase(Store):
    """What SortedList, SortedSet and SortedDict share: positions, ranges, vectorised queries, persistence."""

    @property
    def key(self):
        """Always None: key functions are not supported (sortedcontainers' ``key`` attribute).

        >>> SortedList([1]).key is None
        True
        """
        return None

    @classmethod
    def from_arrays(cls, keys, values=None, *, dtype=None):
        """Build from a numpy array of keys in bulk (no per-element Python work).

        The keys are sorted (stably) if needed; a sorted C-contiguous array of the
        target dtype is used without a copy (do not modify it afterwards).

        Runtime complexity: ``O(n)`` for sorted keys, ``O(n log n)`` otherwise.

        >>> SortedList.from_arrays(np.array([3, 1, 2], dtype=np.int32))
        SortedList([1, 2, 3])
        """
        if values is not None:
            raise TypeError("SortedList has no values; use SortedDict.from_arrays(keys, values)")
        if not isinstance(keys, np.ndarray):
            keys = np.asarray(keys) if not isinstance(keys, (list, tuple)) else keys
        arr = keys_array(None if dtype is None else np.dtype(dtype), keys)
        return cls._from_sorted_arrays(*cls._prepare(arr, None), dtype=arr.dtype, dtype_given=dtype is not None)

    def _hash_contains(self, value) -> bool:
        """Membership as a hash table answers it (SortedSet, SortedDict): exact for any
        number, ``1 + 0j`` where 1 is, never for other non-numbers, ``TypeError`` for an
        unhashable value even when the container is empty (:func:`_equal_real`)."""
        try:
            found = _SortedBase.__contains__(self, value)
        except TypeError:
            real = _equal_real(value)
            return real is not None and real in self
        if not found:
            self._check_hashable_if_empty(value)
        return found

    def _check_hashable_if_empty(self, value) -> None:
        """An empty container compared nothing, so an unhashable ``value`` raised nothing
        yet: raise the ``TypeError`` a hash table would (:func:`_equal_real`)."""
        if not self._ns and not self._blen:
            _equal_real(value)

    @classmethod
    def _prepare(cls, keys: np.ndarray, vals):
        """Sort (and for unique containers deduplicate) key/value arrays.

        Of equal keys a set or dict keeps the first and a dict the last value, as
        ``set`` and ``dict`` do; equal keys differ only as ``0.0`` and ``-0.0``, so
        only float keys need the stable sort.

        >>> from learnedidx import SortedDict
        >>> k, v = SortedDict._prepare(np.array([0.0, 1.0, -0.0]), np.array(["a", "b", "c"]))
        >>> k.tolist(), v.tolist()
        ([0.0, 1.0], ['c', 'b'])
        """
        if keys.size > 1 and np.any(keys[1:] < keys[:-1]):
            if vals is None:
                keys = np.sort(keys, kind="stable" if cls._unique and keys.dtype.kind == "f" else None)
            else:
                order = np.argsort(keys, kind="stable")
                keys, vals = keys[order], vals[order]
        if cls._unique and keys.size > 1:
            first = np.empty(keys.size, dtype=bool)
            first[0] = True
            np.not_equal(keys[1:], keys[:-1], out=first[1:])
            if not first.all():
                if vals is not None:
                    vals = vals[np.append(first[1:], True)]    # the last of each run of equal keys
                keys = keys[first]
        return np.ascontiguousarray(keys), vals

    @classmethod
    def _from_sorted_arrays(cls, keys, values=None, *, dtype=None, value_dtype=None, dtype_given=False):
        self = cls.__new__(cls)
        kw = {"value_dtype": value_dtype} if cls._has_values else {}
        self._init_store(dtype, **kw)
        self._dtype_given = dtype_given
        self._load_arrays(keys, values)
        return self

    def _bulk(self, iterable) -> None:
        """Add many values: one by one when few, else one merge and retrain."""
        if isinstance(iterable, Store) and self._dtype is None and iterable.dtype is not None:
            self._set_dtype(iterable.dtype)
        arr = self._keys_in(iterable)
        if arr.size == 0:
            return
        if self._dtype is None:
            self._set_dtype(arr.dtype)
        if arr.size <= 64 and arr.size * 8 < len(self):
            for x in arr.tolist():
                self._add_key(x)
            return
        mine, _ = self._arrays()
        merged = np.concatenate((mine, arr)) if mine.size else arr
        keys, _ = self._prepare(merged, None)
        self._load_arrays(_private(keys, iterable), None)

    # ------------------------------------------------------------------ updates

    def __delitem__(self, index):
        """Remove the value at ``index`` (an int or a slice).

        Runtime complexity: ``O(log n)`` per value; ``O(n)`` for a large slice.

        >>> sl = SortedList(range(6)); del sl[1]; del sl[::2]; sl
        SortedList([2, 4])
        """
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            idx = range(start, stop, step)
            if not len(idx):
                return
            if len(idx) > 64:
                keys, vals = self._arrays()
                keep = np.ones(keys.size, dtype=bool)
                keep[np.arange(start, stop, step)] = False
                self._load_arrays(keys[keep], None if vals is None else vals[keep], owned=True)
                return
            for i in sorted(idx, reverse=True):
                self._delete_at(self._locate(i))
            return
        self._delete_at(self._locate(self._norm_index(operator.index(index))))

    # ------------------------------------------------------------------ queries

    def __contains__(self, value):
        """Whether ``value`` is in the list (exact for any numeric type).

        Runtime complexity: ``O(1)`` model evaluation plus a window search.

        >>> 2.0 in SortedList([1, 2]), 2.5 in SortedList([1, 2])
        (True, False)
        """
        if self._ns:
            p = self._lk(value)
            if p >= 0 and (not self._ndead or not self._dead[p] or self._static_first(value, False) >= 0):
                return True
        if self._blen:
            return self._bfind(value) is not None
        return False

    def bisect_left(self, value):
        """Index where ``value`` would be inserted before equal values.

        Runtime complexity: ``O(1)`` model evaluation plus a window search.

        >>> SortedList([10, 20, 20, 30]).bisect_left(20)
        1
        """
        p = 0
        if self._ns:
            p = self._lb(value, False)
            if self._ndead:
                p -= self._dead_before(p)
        if self._blen:
            p += self._brank(value, False)
        return p

    def bisect_right(self, value):
        """Index where ``value`` would be inserted after equal values.

        Runtime complexity: as :meth:`bisect_left`.

        >>> SortedList([10, 20, 20, 30]).bisect_right(20)
        3
        """
        p = 0
        if self._ns:
            p = self._lb(value, True)
            if self._ndead:
                p -= self._dead_before(p)
        if self._blen:
            p += self._brank(value, True)
        return p

    bisect = bisect_right

    def index(self, value, start=None, stop=None):
        """First index of ``value`` within ``[start, stop)``; ``ValueError`` if absent.

        Runtime complexity: as :meth:`bisect_left`.

        >>> SortedList([1, 2, 2, 3]).index(2), SortedList([1, 2, 2, 3]).index(2, 2)
        (1, 2)
        """
        if start is None and stop is None and self._ns and not self._blen and not self._ndead:
            p = self._lk(value)                     # static only: one model lookup
            if p < 0:
                raise ValueError(f"{value!r} is not in list")
            return p
        n = len(self)
        if not n:
            raise ValueError(f"{value!r} is not in list")
        if start is None:
            start = 0
        if start < 0:
            start += n
        start = max(start, 0)
        if stop is None:
            stop = n
        if stop < 0:
            stop += n
        stop = min(stop, n)
        if stop <= start:
            raise ValueError(f"{value!r} is not in list")
        left = self.bisect_left(value)
        right = self.bisect_right(value)
        if left == right:
            raise ValueError(f"{value!r} is not in list")
        stop -= 1
        if start <= left:
            if left <= stop:
                return left
        elif start <= right - 1:
            return start
        raise ValueError(f"{value!r} is not in list")

    def __getitem__(self, index):
        """The value at ``index``, or a list for a slice.

        Runtime complexity: ``O(1)`` without updates since the last merge, else ``O(log^2 n)``.

        >>> sl = SortedList([4, 1, 3]); sl[0], sl[-1], sl[::-1]
        (1, 4, [4, 3, 1])
        """
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._range_list(start, stop)
            if step == -1 and start > stop:
                out = self._range_list(stop + 1, start + 1)
                out.reverse()
                return out
            idx = range(start, stop, step)
            if not len(idx):
                return []
            lo, hi = min(idx[0], idx[-1]), max(idx[0], idx[-1]) + 1
            keys, _ = self._range_arrays(lo, hi)
            return keys[np.asarray(idx, dtype=np.int64) - lo].tolist()
        i = operator.index(index)
        if not self._blen and not self._ndead:
            try:
                return self._keys.item(i)
            except IndexError:
                raise IndexError("list index out of range") from None
        return self._key_at(self._locate(self._norm_index(i)))

    _getitem = __getitem__

    def _range_list(self, start, stop):
        if start >= stop:
            return []
        return self._range_arrays(start, stop)[0].tolist()

    def __iter__(self):
        """Iterate in ascending order (do not mutate meanwhile)."""
        return self._iter_keys(0, len(self))

    def __reversed__(self):
        """Iterate in descending order."""
        return self._iter_keys(0, len(self), reverse=True)

    def islice(self, start=None, stop=None, reverse=False):
        """Iterator over positions ``[start, stop)`` (optionally reversed).

        Runtime complexity: ``O(log^2 n + k)``.

        >>> list(SortedList(range(10)).islice(2, 5, reverse=True))
        [4, 3, 2]
        """
        start, stop = self._slice_bounds(start, stop)
        if start >= stop:
            return iter(())
        return self._iter_keys(start, stop, reverse)

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        """Iterator over values between ``minimum`` and ``maximum``.

        ``inclusive`` says whether each bound is included; None means unbounded.

        Runtime complexity: ``O(log n + k)``.

        >>> list(SortedList([1, 3, 5, 7]).irange(3, 7, inclusive=(True, False)))
        [3, 5]
        """
        start, stop = self._irange_bounds(minimum, maximum, inclusive)
        if start >= stop:
            return iter(())
        return self._iter_keys(start, stop, reverse)

    def _irange_bounds(self, minimum, maximum, inclusive):
        start = 0 if minimum is None else (self.bisect_left(minimum) if inclusive[0] else self.bisect_right(minimum))
        stop = len(self) if maximum is None else (self.bisect_right(maximum) if inclusive[1] else self.bisect_left(maximum))
        return start, stop

    # ------------------------------------------------------------- vectorised

    def bisect_left_many(self, values):
        """Vectorised :meth:`bisect_left`: an int64 array of the queries' shape.

        Runtime complexity: ``O(m)`` model evaluations plus ``O(n)`` once after deletes.

        >>> SortedList([10, 20, 30]).bisect_left_many([5, 20, 99]).tolist()
        [0, 1, 3]
        """
        return self._rank_many(values, False)

    def bisect_right_many(self, values):
        """Vectorised :meth:`bisect_right`.

        >>> SortedList([10, 20, 30]).bisect_right_many([20]).tolist()
        [2]
        """
        return self._rank_many(values, True)

    def contains_many(self, values):
        """Vectorised ``in``: a bool array of the queries' shape.

        >>> SortedList([1, 2]).contains_many([2, 2.5, 3]).tolist()
        [True, False, False]
        """
        return self._contains_many(values)

    def count_many(self, values):
        """Vectorised :meth:`count`.

        >>> SortedList([1, 2, 2]).count_many([2, 3]).tolist()
        [2, 0]
        """
        return self._rank_many(values, True) - self._rank_many(values, False)

    def to_numpy(self):
        """All values as a sorted numpy array of the key dtype (a new array).

        >>> SortedList([2, 1]).to_numpy()
        array([1, 2])
        """
        keys, _ = self._arrays()
        return np.array(keys, copy=True)

    # ------------------------------------------------------------------ misc

    def copy(self):
        """A shallow copy (shares the immutable static run and its index).

        A dict's static values are shared copy-on-write: whichever of the two writes a
        value first copies them.

        Runtime complexity: ``O(n / 8 + buffer)``.

        >>> sl = SortedList([1, 2]); c = sl.copy(); c.add(3); sl, c
        (SortedList([1, 2]), SortedList([1, 2, 3]))
        """
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._copy_parts_from(self)
        return new

    __copy__ = copy

    def _copy_parts_from(self, other) -> None:
        """Give this shallow ``__dict__`` copy private mutable parts."""
        if other._dead is not None:
            self._dead = other._dead.copy()
            self._fen = list(other._fen)
        if other._vals is not None:
            other._vals_shared = self._vals_shared = True   # copy-on-write for both
        self._lists = [list(lst) for lst in other._lists]
        self._maxes = list(other._maxes)
        if other._vlists is not None:
            self._vlists = [list(v) for v in other._vlists]
        self._bfen = None if other._bfen is None else list(other._bfen)

    def _new_like(self, keys, vals=None):
        """A new container of this class and dtype holding sorted ``keys``."""
        return type(self)._from_sorted_arrays(keys, vals, dtype=self._dtype, dtype_given=self._dtype_given)

    def __reduce__(self):
        keys, _ = self._arrays()
        return (_restore, (type(self), None if self._dtype is None else self._dtype.name, keys,
                           None, None, self._dtype_given))

    def _check(self, full: bool = False):
        """Verify every invariant; ``O(buffer)`` plus a sample of the static run (``full``: ``O(n)``).

        >>> SortedList([2, 1])._check()
        """
        self._check_store(full)

    # ------------------------------------------------------------ persistence

    def _state(self):
        """``(meta, arrays)`` for :mod:`learnedidx.storage` (merges pending updates first).

        >>> meta, arrays = SortedList([2, 1])._state(); meta["type"], arrays["keys"].tolist()
        ('SortedList', [1, 2])
        """
        self._merge()
        return self._store_state()

    def _store_state(self):
        meta = {"type": type(self).__name__, "version": 1, "n": self._ns,
                "dtype": None if self._dtype is None else self._dtype.name}
        if self._dtype_given:
            meta["dtype_given"] = True        # absent (older files): inferred, may widen
        arrays = {"keys": self._keys}
        if self._ns:
            rmeta, rarrays = self._rmi._state()
            meta["index"] = rmeta
            arrays.update({"index." + k: v for k, v in rarrays.items() if k != "keys"})
        return meta, arrays

    @classmethod
    def _from_state(cls, meta, arrays):
        """Rebuild from :meth:`_state` output without retraining (arrays may be read-only).

        >>> sl = SortedList([3, 1]); SortedList._from_state(*sl._state())
        SortedList([1, 3])
        """
        from .._validate import check_dtype
        from ..rmi import RMI
        try:
            n = meta["n"]
            dtype = meta["dtype"]
            keys = arrays["keys"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"inconsistent {cls.__name__} state: missing {e}") from None
        if meta.get("version") != 1:
            raise ValueError(f"unknown {cls.__name__} state version {meta.get('version')!r}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"inconsistent {cls.__name__} state: bad n {n!r}")
        if not isinstance(keys, np.ndarray) or keys.ndim != 1 or keys.shape[0] != n:
            raise ValueError(f"inconsistent {cls.__name__} state: keys must be a 1-D array of {n} keys")
        try:
            dt = None if dtype is None else check_dtype(dtype)
        except TypeError as e:
            raise ValueError(f"inconsistent {cls.__name__} state: {e}") from None
        if dt is not None and keys.dtype != dt or dt is None and n:
            raise ValueError(f"inconsistent {cls.__name__} state: keys dtype {keys.dtype} != {dtype}")
        vals = cls._values_from_state(meta, arrays, n)
        rmi = None
        if n:
            if "index" not in meta:
                raise ValueError(f"inconsistent {cls.__name__} state: no index for {n} keys")
            rarrays = {k[len("index."):]: v for k, v in arrays.items() if k.startswith("index.")}
            rarrays["keys"] = keys
            rmi = RMI._from_state(meta["index"], rarrays)
        self = cls.__new__(cls)
        kw = {"value_dtype": meta.get("value_dtype")} if cls._has_values else {}
        self._init_store(dt, **kw)
        self._dtype_given = meta.get("dtype_given") is True
        if n:
            self._load_arrays(keys, vals, rmi=rmi)
        return self

    @classmethod
    def _values_from_state(cls, meta, arrays, n):
        return None


class SortedList(_SortedBase, MutableSequence):
    """A sorted list of numbers (duplicates allowed) with the sortedcontainers API.

    ``iterable`` gives the initial values; ``dtype`` the key dtype (uint32, uint64,
    int32, int64, float32 or float64).  When omitted it is inferred from the first
    values (Python ints give int64, floats float64) and widens when a later value needs
    it: int64 keys meeting ``2.5`` become float64, meeting ``2**63`` uint64 (one ``O(n)``
    conversion); a ``dtype`` you give never changes.  Values no dtype can hold exactly
    (beside the keys already there) raise ``ValueError``; non-numbers raise
    ``TypeError``.  Values come back as Python ints (integer dtypes) or floats.

    >>> SortedList([3, 1, 2], dtype="float64")
    SortedList([1.0, 2.0, 3.0])
    >>> sl = SortedList([1, 3]); sl.add(2.5); sl, sl.dtype
    (SortedList([1.0, 2.5, 3.0]), dtype('float64'))
    """
    def __init__(self, iterable=None, key=None, *, dtype=None):
        _reject_key(key)
        self._init_store(dtype)
        self._dtype_given = dtype is not None
        if iterable is not None:
            self._bulk(iterable)

    # ------------------------------------------------------------ construction

    def clear(self):
        """Remove all values (the dtype is kept).

        Runtime complexity: ``O(n)``.

        >>> sl = SortedList([1, 2]); sl.clear(); len(sl)
        0
        """
        self._init_store(self._dtype)

    _clear = clear

    def add(self, value):
        """Add ``value`` to the sorted list.

        Runtime complexity: ``O(log n)`` amortised (plus an ``O(n)`` merge every ``n/8`` updates).

        >>> sl = SortedList([1, 3]); sl.add(2); sl
        SortedList([1, 2, 3])
        """
        self._add_key(self._key(value))

    def _add_key(self, x) -> None:
        if self._ndead:
            p = self._static_first(x, True)
            if p >= 0:
                self._revive(p)
                return
        self._binsert(x)

    def update(self, iterable):
        """Add every value of ``iterable`` (a numpy array is merged in bulk).

        Runtime complexity: ``O(k log n)`` for few values, ``O(n + k log k)`` for many.

        >>> sl = SortedList([5]); sl.update(np.array([2, 9])); sl
        SortedList([2, 5, 9])
        """
        self._bulk(iterable)

    _update = update

    def discard(self, value):
        """Remove one occurrence of ``value`` if present.

        Runtime complexity: ``O(log n)`` amortised.

        >>> sl = SortedList([1, 2, 2]); sl.discard(2); sl.discard(7); sl
        SortedList([1, 2])
        """
        self._discard(value)

    def _discard(self, value) -> bool:
        if self._blen:
            loc = self._bfind(value)
            if loc is not None:
                self._bdelete(*loc)
                return True
        p = self._static_first(value, False)
        if p >= 0:
            self._kill(p)
            if self._blen + self._ndead > self._limit:
                self._merge()
            return True
        return False

    def remove(self, value):
        """Remove one occurrence of ``value``; ``ValueError`` if absent.

        Runtime complexity: ``O(log n)`` amortised.

        >>> SortedList([1]).remove(2)
        Traceback (most recent call last):
        ...
        ValueError: 2 not in list
        """
        if not self._discard(value):
            raise ValueError(f"{value!r} not in list")

    def pop(self, index=-1):
        """Remove and return the value at ``index`` (default the last).

        Runtime complexity: ``O(log n)``.

        >>> sl = SortedList([1, 2, 3]); sl.pop(), sl.pop(0), sl
        (3, 1, SortedList([2]))
        """
        if not len(self):
            raise IndexError("pop index out of range")
        loc = self._locate(self._norm_index(operator.index(index)))
        value = self._key_at(loc)
        self._delete_at(loc)
        return value

    def count(self, value):
        """Number of occurrences of ``value``.

        >>> SortedList([1, 2, 2, 3]).count(2)
        2
        """
        return self.bisect_right(value) - self.bisect_left(value)

    def __setitem__(self, index, value):
        """Not supported: a sorted list keeps its own order."""
        raise NotImplementedError("use ``del sl[index]`` and ``sl.add(value)`` instead")

    def reverse(self):
        """Not supported: use ``reversed(sl)``."""
        raise NotImplementedError("use ``reversed(sl)`` instead")

    def append(self, value):
        """Not supported: use :meth:`add`."""
        raise NotImplementedError("use ``sl.add(value)`` instead")

    def extend(self, values):
        """Not supported: use :meth:`update`."""
        raise NotImplementedError("use ``sl.update(values)`` instead")

    def insert(self, index, value):
        """Not supported: use :meth:`add`."""
        raise NotImplementedError("use ``sl.add(value)`` instead")

    def __add__(self, other):
        """A new sorted list with the values of both.

        >>> SortedList([1, 3]) + [2]
        SortedList([1, 2, 3])
        """
        new = self.copy()
        new._bulk(other)
        return new

    __radd__ = __add__

    def __iadd__(self, other):
        """Add the values of ``other`` in place.

        >>> sl = SortedList([1]); sl += [0]; sl
        SortedList([0, 1])
        """
        self._bulk(other)
        return self

    def __mul__(self, num):
        """A new sorted list with each value repeated ``num`` times.

        >>> SortedList([1, 2]) * 2
        SortedList([1, 1, 2, 2])
        """
        keys, _ = self._arrays()
        return self._new_like(np.repeat(keys, max(0, operator.index(num))))

    __rmul__ = __mul__

    def __imul__(self, num):
        """Repeat each value ``num`` times in place.

        >>> sl = SortedList([3]); sl *= 3; sl
        SortedList([3, 3, 3])
        """
        keys, _ = self._arrays()
        self._load_arrays(np.repeat(keys, max(0, operator.index(num))))
        return self

    def _compare(self, other, op):
        if not isinstance(other, Sequence):
            return NotImplemented
        n, m = len(self), len(other)
        if n != m:
            if op is operator.eq:
                return False
            if op is operator.ne:
                return True
        for a, b in zip(self, other):
            if a != b:
                return op(a, b)
        return op(n, m)

    def __eq__(self, other):
        """Sequence equality, as ``list(self) == list(other)``."""
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({list(self)!r})"
