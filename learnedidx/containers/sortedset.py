"""SortedSet: sortedcontainers' SortedSet API (set algebra included) for numeric keys.

>>> from learnedidx import SortedSet
>>> s = SortedSet([5, 1, 3, 3])
>>> s, s[0], s | [2], s & {3, 5, 8}
(SortedSet([1, 3, 5]), 1, SortedSet([1, 2, 3, 5]), SortedSet([3, 5]))
"""
from __future__ import annotations

import operator
from collections.abc import MutableSet, Sequence, Set

import numpy as np

from ._keys import common_key_dtype, key_of, keys_array
from ._store import Store
from .sortedlist import SortedList, _equal_real, _reject_key, _restore, _SortedBase


class SortedSet(_SortedBase, MutableSet, Sequence):
    """A sorted set of numbers with the sortedcontainers API, indexable like a list.

    ``dtype`` as for :class:`SortedList`.

    >>> SortedSet([3, 1, 3], dtype="uint32")
    SortedSet([1, 3])
    """

    _unique = True

    def __init__(self, iterable=None, key=None, *, dtype=None):
        _reject_key(key)
        self._init_store(dtype)
        self._dtype_given = dtype is not None
        if iterable is not None:
            self._bulk(iterable)

    # ------------------------------------------------------------------ updates

    def _add_key(self, x) -> None:
        if self._ns:
            p = self._lk(x)
            if p >= 0:
                if self._ndead and self._dead[p]:
                    self._revive(p)
                return
        if self._blen and self._bfind(x) is not None:
            return
        self._binsert(x)

    def add(self, value):
        """Add ``value`` if it is not already a member.

        Runtime complexity: ``O(log n)`` amortised.

        >>> s = SortedSet([1]); s.add(1); s.add(0); s
        SortedSet([0, 1])
        """
        self._add_key(self._key(value))

    _add = add

    def __contains__(self, value):
        """Membership (exact for any numeric type; non-numbers are never members).

        >>> 3 in SortedSet([3]), "a" in SortedSet([3])
        (True, False)
        """
        return self._hash_contains(value)

    def clear(self):
        """Remove all values.

        >>> s = SortedSet([1]); s.clear(); s
        SortedSet([])
        """
        self._init_store(self._dtype)

    _clear = clear

    _discard = SortedList._discard
    pop = SortedList.pop

    def discard(self, value):
        """Remove ``value`` if it is a member.

        >>> s = SortedSet([1, 2]); s.discard(2); s.discard(9); s
        SortedSet([1])
        """
        try:
            self._discard(value)
        except TypeError:
            real = _equal_real(value)
            if real is not None:
                self._discard(real)

    def remove(self, value):
        """Remove ``value``; ``KeyError`` if it is not a member.

        >>> SortedSet([1]).remove(5)
        Traceback (most recent call last):
        ...
        KeyError: 5
        """
        try:
            found = self._discard(value)
        except TypeError:
            real = _equal_real(value)
            found = real is not None and self._discard(real)
        if not found:
            raise KeyError(value)

    def count(self, value):
        """1 if ``value`` is a member, else 0.

        >>> SortedSet([4]).count(4)
        1
        """
        return 1 if value in self else 0

    def update(self, *iterables):
        """Add the values of every iterable (in bulk when many).

        Runtime complexity: ``O(k log n)`` for few values, ``O(n + k log k)`` for many.

        >>> s = SortedSet([1]); _ = s.update([3, 2], np.array([1])); s
        SortedSet([1, 2, 3])
        """
        for it in iterables:
            self._bulk(it)
        return self

    __ior__ = update
    _update = update

    # ------------------------------------------------------------ set algebra

    def _other(self, iterable, strict: bool) -> np.ndarray:
        """The keys of ``iterable`` as a unique sorted array of this set's dtype.

        ``strict=False`` drops values the dtype cannot hold (they cannot be members).
        """
        if isinstance(iterable, Store):
            arr = iterable._arrays()[0]
            if self._dtype is None:
                return np.unique(arr)
        elif not isinstance(iterable, np.ndarray):
            iterable = list(iterable)
            arr = iterable
        else:
            arr = iterable
        if self._dtype is None:
            arr = keys_array(None, arr)
            return np.unique(arr)
        try:
            # a strict operand may widen an inferred dtype (in the result, not in this set)
            return np.unique(self._keys_in(arr, retype=False) if strict else keys_array(self._dtype, arr))
        except (TypeError, ValueError):
            if strict:
                raise
        items = arr.tolist() if isinstance(arr, np.ndarray) else arr
        keep = []
        for x in items:
            try:
                keep.append(key_of(self._dtype, x))
            except TypeError:
                real = _equal_real(x)              # 1 + 0j is the member 1, as in a set
                if real is not None:
                    try:
                        keep.append(key_of(self._dtype, real))
                    except ValueError:
                        pass
            except ValueError:
                pass
        return np.unique(np.array(keep, dtype=self._dtype).reshape(len(keep)))

    def _mine(self) -> np.ndarray:
        return self._arrays()[0]

    def _result(self, keys: np.ndarray):
        dtype = self._dtype if self._dtype is not None else (keys.dtype if keys.size else None)
        return type(self)._from_sorted_arrays(keys, None, dtype=dtype, dtype_given=self._dtype_given)

    def _replace(self, keys: np.ndarray):
        if self._dtype is None and keys.size:
            self._set_dtype(keys.dtype)
        self._load_arrays(keys)
        return self

    def union(self, *iterables):
        """A new set with the values of this set and of every iterable.

        Runtime complexity: ``O(n + k log k)``.

        >>> SortedSet([1, 3]).union([2], (5,))
        SortedSet([1, 2, 3, 5])
        """
        new = self.copy()
        for it in iterables:
            new._bulk(it)
        return new

    __or__ = union
    __ror__ = union

    def intersection(self, *iterables):
        """A new set with the values present in this set and every iterable.

        >>> SortedSet([1, 2, 3]).intersection([2, 3, 4], {3})
        SortedSet([3])
        """
        keys = self._mine()
        for it in iterables:
            keys = np.intersect1d(keys, self._other(it, False), assume_unique=True)
        return self._result(keys)

    __and__ = intersection
    __rand__ = intersection

    def difference(self, *iterables):
        """A new set with the values of this set that are in no iterable.

        >>> SortedSet([1, 2, 3]) - [2]
        SortedSet([1, 3])
        """
        keys = self._mine()
        for it in iterables:
            keys = np.setdiff1d(keys, self._other(it, False), assume_unique=True)
        return self._result(keys)

    __sub__ = difference

    def __rsub__(self, other):
        if not isinstance(other, Set):
            return NotImplemented
        return self._from_iterable(other) - self

    @classmethod
    def _from_iterable(cls, it):
        return cls(it)

    def symmetric_difference(self, other):
        """A new set with the values in exactly one of this set and ``other``.

        >>> SortedSet([1, 2]) ^ [2, 3]
        SortedSet([1, 3])
        """
        theirs = self._other(other, True)
        if self._dtype is None:
            return self._result(theirs)
        return self._result(np.setxor1d(self._mine().astype(theirs.dtype, copy=False), theirs, assume_unique=True))

    __xor__ = symmetric_difference
    __rxor__ = symmetric_difference

    def difference_update(self, *iterables):
        """Remove the values of every iterable.

        >>> s = SortedSet([1, 2, 3]); s -= {1}; s
        SortedSet([2, 3])
        """
        for it in iterables:
            theirs = self._other(it, False)
            if theirs.size * 4 > len(self):
                self._replace(np.setdiff1d(self._mine(), theirs, assume_unique=True))
            else:
                for x in theirs.tolist():
                    self._discard(x)
        return self

    __isub__ = difference_update

    def intersection_update(self, *iterables):
        """Keep only the values present in every iterable.

        >>> s = SortedSet([1, 2, 3]); s &= [2, 3, 9]; s
        SortedSet([2, 3])
        """
        keys = self._mine()
        for it in iterables:
            keys = np.intersect1d(keys, self._other(it, False), assume_unique=True)
        return self._replace(keys)

    __iand__ = intersection_update

    def symmetric_difference_update(self, other):
        """Keep the values in exactly one of this set and ``other``.

        >>> s = SortedSet([1, 2]); s ^= [2, 3]; s
        SortedSet([1, 3])
        """
        theirs = self._other(other, True)
        if self._dtype is None:
            return self._replace(theirs)
        return self._replace(np.setxor1d(self._mine().astype(theirs.dtype, copy=False), theirs, assume_unique=True))

    __ixor__ = symmetric_difference_update

    def isdisjoint(self, other):
        """Whether no value of ``other`` is a member.

        >>> SortedSet([1, 2]).isdisjoint([3, 4.5])
        True
        """
        return not np.intersect1d(self._mine(), self._other(other, False), assume_unique=True).size

    def issubset(self, other):
        """Whether every member is in ``other``.

        >>> SortedSet([1, 2]).issubset([1, 2, 3])
        True
        """
        theirs = self._other(other, False)
        return bool(np.isin(self._mine(), theirs, assume_unique=True).all())

    def issuperset(self, other):
        """Whether every value of ``other`` is a member.

        >>> SortedSet([1, 2]).issuperset([2, 1.0]), SortedSet([1]).issuperset([1.5])
        (True, False)
        """
        if not isinstance(other, (np.ndarray, Store)):
            other = list(other)
        try:
            theirs = self._other(other, True)
        except (TypeError, ValueError):            # a value no key dtype holds exactly, 1 + 0j, ...
            return all(x in self for x in other)
        return bool(np.isin(theirs, self._mine(), assume_unique=True).all())

    def _set_compare(self, other, op):
        if not isinstance(other, Set):
            return NotImplemented
        if not isinstance(other, SortedSet):
            # a non-member of our dtype makes ``other`` not a subset: compare via Python sets
            return _OPS[op](set(self), set(other))
        a, b = self._mine(), other._arrays()[0]
        if a.dtype != b.dtype:
            # compare in a dtype that holds both exactly (numpy's own mix rounds to float64)
            common = common_key_dtype(a, b)
            if common is None:
                return _OPS[op](set(self), set(other))
            a, b = a.astype(common, copy=False), b.astype(common, copy=False)
        sub = bool(np.isin(a, b, assume_unique=True).all()) if a.size <= b.size else False
        sup = bool(np.isin(b, a, assume_unique=True).all()) if b.size <= a.size else False
        return _from_flags(op, a.size, b.size, sub, sup)

    def __eq__(self, other):
        """Set equality (with any ``collections.abc.Set``)."""
        return self._set_compare(other, "eq")

    def __ne__(self, other):
        r = self._set_compare(other, "eq")
        return r if r is NotImplemented else not r

    def __lt__(self, other):
        return self._set_compare(other, "lt")

    def __le__(self, other):
        return self._set_compare(other, "le")

    def __gt__(self, other):
        return self._set_compare(other, "gt")

    def __ge__(self, other):
        return self._set_compare(other, "ge")

    __hash__ = None

    def __reduce__(self):
        return (_restore, (type(self), None if self._dtype is None else self._dtype.name, self._mine(),
                           None, None, self._dtype_given))

    def __repr__(self):
        return f"{type(self).__name__}({list(self)!r})"

    def _check(self, full: bool = False):
        """Verify every invariant (see :meth:`SortedList._check`).

        >>> SortedSet([2, 1])._check(full=True)
        """
        self._check_store(full)


_OPS = {"eq": operator.eq, "le": operator.le, "lt": operator.lt, "ge": operator.ge, "gt": operator.gt}


def _from_flags(op: str, n: int, m: int, sub: bool, sup: bool) -> bool:
    """A set comparison from the sizes and the subset/superset flags."""
    if op == "eq":
        return n == m and sub
    if op == "le":
        return sub
    if op == "lt":
        return sub and n < m
    if op == "ge":
        return sup
    return sup and n > m
