"""SortedDict: sortedcontainers' SortedDict API for numeric keys, values optionally typed.

Keys live in the learned store; values sit positionally beside them: in a typed numpy
array with ``value_dtype=`` (compact, savable) or as Python objects otherwise.

>>> from learnedidx import SortedDict
>>> d = SortedDict({3: "c", 1: "a"})
>>> d[2] = "b"; d
SortedDict({1: 'a', 2: 'b', 3: 'c'})
>>> d.peekitem(0), d.keys()[-1], d.bisect_left(2.5)
((1, 'a'), 3, 2)
"""
from __future__ import annotations

import warnings
from collections.abc import (
    ItemsView,
    KeysView,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)
from reprlib import recursive_repr

import numpy as np

from .._queries import as_query_array
from ._keys import keys_array, value_of, values_array
from ._store import Store
from .sortedlist import _equal_real, _private, _reject_key, _restore, _SortedBase


class _NotGiven:
    def __repr__(self):
        return "<not-given>"


_NOT_GIVEN = _NotGiven()

_KWARGS_ERROR = ("SortedDict keys are numbers, so keyword arguments (string keys) are not supported; "
                 "pass a mapping or (key, value) pairs instead")


class SortedDict(_SortedBase, MutableMapping):
    """A mapping with numeric keys kept in sorted order: the sortedcontainers API.

    ``SortedDict(mapping_or_pairs, *, dtype=None, value_dtype=None)``: ``dtype`` is the
    key dtype (inferred from the first keys when omitted); ``value_dtype`` stores the
    values in a typed numpy array (values must convert exactly) instead of as objects.

    Unlike sortedcontainers' SortedDict this is a ``collections.abc.MutableMapping``, not a
    ``dict`` subclass (``isinstance(d, dict)`` is False): a dict subclass would carry a hash
    table of per-key Python objects, the memory this class exists to save.  Code that needs a
    real dict can use ``dict(d)``.

    >>> SortedDict([(2, 20), (1, 10)], value_dtype="int32")
    SortedDict({1: 10, 2: 20})
    """

    _unique = True
    _has_values = True

    def __init__(self, *args, dtype=None, value_dtype=None, **kwargs):
        if args and (args[0] is None or callable(args[0])):
            _reject_key(args[0])
            args = args[1:]
        if kwargs:
            raise TypeError(_KWARGS_ERROR)
        if len(args) > 1:
            raise TypeError(f"SortedDict expected at most 1 positional argument, got {len(args)}")
        self._init_store(dtype, value_dtype)
        self._dtype_given = dtype is not None
        if args:
            self._merge_pairs(*self._pairs(args[0]))

    @property
    def value_dtype(self):
        """The numpy dtype of the values, or None for Python objects."""
        return self._vdtype

    # ------------------------------------------------------------ construction

    @classmethod
    def from_arrays(cls, keys, values=None, *, dtype=None, value_dtype=None):
        """Build from a key array and an aligned value array in bulk.

        Keys are sorted if needed; for equal keys the last value wins.  A numeric
        ``values`` array sets ``value_dtype`` to its dtype unless given; ``values=None``
        maps every key to None.

        No copy: a sorted key array of the key dtype and a value array of the value dtype
        are used as they are, so do not modify them afterwards.  The dict itself never
        writes into the caller's arrays: the values are copied on the first in-place write
        (``d[k] = v`` on an existing key), once.

        Runtime complexity: ``O(n)`` for sorted keys, ``O(n log n)`` otherwise.

        >>> SortedDict.from_arrays(np.array([3, 1]), np.array([0.5, 1.5]))
        SortedDict({1: 1.5, 3: 0.5})
        """
        karr = keys_array(None if dtype is None else np.dtype(dtype), keys)
        n = karr.shape[0]
        if values is None:
            vals = np.full(n, None, dtype=object)
        else:
            if value_dtype is None and isinstance(values, np.ndarray) and values.dtype != object:
                value_dtype = values.dtype
            vd = None if value_dtype is None else np.dtype(value_dtype)
            vals = values_array(vd if vd != object else None, values, n)
        k, v = cls._prepare(karr, vals)
        vd = None if vals.dtype == object else vals.dtype
        # the values may be the caller's array: _from_sorted_arrays loads them copy-on-write
        return cls._from_sorted_arrays(k, v, dtype=karr.dtype, value_dtype=vd, dtype_given=dtype is not None)

    @classmethod
    def fromkeys(cls, iterable, value=None):
        """A new dict mapping every key of ``iterable`` to ``value``.

        >>> SortedDict.fromkeys([2, 1], 0)
        SortedDict({1: 0, 2: 0})
        """
        return cls((k, value) for k in iterable)

    def _pairs(self, arg):
        """``(keys array, values array)`` from a mapping or an iterable of pairs.

        The arrays may be another container's (immutable keys, values shared copy-on-write).
        """
        if isinstance(arg, Store):
            keys, vs = arg._arrays()
        elif isinstance(arg, Mapping):
            keys = list(arg.keys())
            vs = [arg[k] for k in keys]
        else:
            keys, vs = [], []
            for pair in arg:
                k, v = pair
                keys.append(k)
                vs.append(v)
        return self._checked_pairs(keys, vs)

    def _checked_pairs(self, keys, values):
        """Keys (widening an inferred dtype only once the values passed too) and values as arrays."""
        karr = self._keys_in(keys, retype=False)
        vals = values_array(self._vdtype, values, karr.shape[0])
        if self._dtype is not None and karr.dtype != self._dtype:
            self._retype(karr.dtype)
        return karr, vals

    def _merge_pairs(self, keys: np.ndarray, vals: np.ndarray) -> None:
        """Insert many pairs: one by one when few, else one merge (new values win)."""
        if keys.size == 0:
            return
        if self._dtype is None:
            self._set_dtype(keys.dtype)
        if keys.size <= 64 and keys.size * 8 < len(self):
            for k, v in zip(keys.tolist(), vals.tolist() if vals.dtype != object else list(vals)):
                self._set(k, v)
            return
        mk, mv = self._arrays()
        allk = np.concatenate((mk, keys)) if mk.size else keys
        allv = np.concatenate((mv, vals)) if mk.size else vals
        k, v = self._prepare(allk, allv)
        # without a merge the values may be the caller's or another dict's: copy-on-write
        self._load_arrays(k, v, owned=bool(mk.size))

    # ------------------------------------------------------------------ mapping

    def __getitem__(self, key):
        """The value of ``key``; ``KeyError`` if absent.

        Runtime complexity: ``O(1)`` model evaluation plus a window search.

        >>> SortedDict({1.5: "x"})[1.5]
        'x'
        """
        try:
            if self._ns:
                p = self._lk(key)
                if p >= 0 and (not self._ndead or not self._dead[p]):
                    return self._vals.item(p)
            if self._blen:
                loc = self._bfind(key)
                if loc is not None:
                    return self._vlists[loc[0]][loc[1]]
        except TypeError:
            real = _equal_real(key)
            if real is not None and real in self:
                return self[real]
        else:
            self._check_hashable_if_empty(key)
        raise KeyError(key)

    def __setitem__(self, key, value):
        """Set the value of ``key`` (inserting it if new).

        Runtime complexity: ``O(log n)`` amortised.

        >>> d = SortedDict(); d[2] = "b"; d[1] = "a"; d
        SortedDict({1: 'a', 2: 'b'})
        """
        v = value_of(self._vdtype, value)      # first: a refused value must not widen the keys
        self._set(self._key(key), v)

    _setitem = __setitem__

    def _set(self, x, v) -> None:
        if self._ns:
            p = self._lk(x)
            if p >= 0:
                self._own_values()[p] = v
                if self._ndead and self._dead[p]:
                    self._revive(p)
                return
        if self._blen:
            loc = self._bfind(x)
            if loc is not None:
                self._vlists[loc[0]][loc[1]] = v
                self._bvarr = None
                return
        self._binsert(x, v)

    def _find(self, key):
        """The location of ``key`` (see ``Store._locate``) or None."""
        try:
            if self._blen:
                loc = self._bfind(key)
                if loc is not None:
                    return False, loc
            if self._ns:
                p = self._lk(key)
                if p >= 0 and (not self._ndead or not self._dead[p]):
                    return True, p
        except TypeError:
            real = _equal_real(key)
            if real is not None:
                return self._find(real)
        return None

    def __delitem__(self, key):
        """Remove ``key``; ``KeyError`` if absent.

        >>> d = SortedDict({1: 2}); del d[1]; d
        SortedDict({})
        """
        loc = self._find(key)
        if loc is None:
            raise KeyError(key)
        self._delete_at(loc)

    def __contains__(self, key):
        """Whether ``key`` is a key (exact for any numeric type).

        >>> 1.0 in SortedDict({1: 0}), "a" in SortedDict({1: 0})
        (True, False)
        """
        return self._hash_contains(key)

    def get(self, key, default=None):
        """The value of ``key``, or ``default``.

        >>> SortedDict({1: "a"}).get(2, "-")
        '-'
        """
        try:
            return self[key]
        except KeyError:
            return default

    def clear(self):
        """Remove every item (dtypes are kept).

        >>> d = SortedDict({1: 1}); d.clear(); len(d)
        0
        """
        self._init_store(self._dtype, self._vdtype)

    def pop(self, key, default=_NOT_GIVEN):
        """Remove ``key`` and return its value (or ``default``; ``KeyError`` without one).

        >>> d = SortedDict({1: "a"}); d.pop(1), d.pop(5, None)
        ('a', None)
        """
        loc = self._find(key)
        if loc is None:
            if default is _NOT_GIVEN:
                raise KeyError(key)
            return default
        value = self._value_at(loc)
        self._delete_at(loc)
        return value

    def popitem(self, index=-1):
        """Remove and return the ``(key, value)`` pair at ``index`` (default the last).

        Runtime complexity: ``O(log n)``.

        >>> d = SortedDict({1: "a", 2: "b"}); d.popitem(), d.popitem(0)
        ((2, 'b'), (1, 'a'))
        """
        if not len(self):
            raise KeyError("popitem(): dictionary is empty")
        loc = self._locate(self._norm_index(index))
        item = (self._key_at(loc), self._value_at(loc))
        self._delete_at(loc)
        return item

    def peekitem(self, index=-1):
        """The ``(key, value)`` pair at ``index`` (default the last).

        >>> SortedDict({1: "a", 2: "b"}).peekitem(0)
        (1, 'a')
        """
        loc = self._locate(self._norm_index(index))
        return self._key_at(loc), self._value_at(loc)

    def setdefault(self, key, default=None):
        """The value of ``key``, inserting ``default`` first if absent.

        >>> d = SortedDict(); d.setdefault(3, []).append(1); d
        SortedDict({3: [1]})
        """
        loc = self._find(key)
        if loc is not None:
            return self._value_at(loc)
        v = value_of(self._vdtype, default)
        self._set(self._key(key), v)
        return v

    def update(self, *args, **kwargs):
        """Insert the pairs of a mapping or an iterable of pairs (in bulk when many).

        Runtime complexity: ``O(k log n)`` for few pairs, ``O(n + k log k)`` for many.

        >>> d = SortedDict({1: "a"}); d.update([(0, "z"), (1, "b")]); d
        SortedDict({0: 'z', 1: 'b'})
        """
        if kwargs:
            raise TypeError(_KWARGS_ERROR)
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 positional argument, got {len(args)}")
        if args:
            self._merge_pairs(*self._pairs(args[0]))

    _update = update

    def set_many(self, keys, values):
        """Vectorised ``d[k] = v`` for aligned arrays (the update-from-arrays bulk merge).

        Runtime complexity: ``O(n + k log k)``.

        >>> d = SortedDict({1: 1.0}, value_dtype=float); d.set_many(np.array([1, 5]), np.array([2.0, 3.0])); d
        SortedDict({1: 2.0, 5: 3.0})
        """
        karr, vals = self._checked_pairs(keys, values)
        self._merge_pairs(_private(karr, keys), vals)

    def get_many(self, keys, default=_NOT_GIVEN):
        """Vectorised ``d[k]``: an array of values (``value_dtype`` or object).

        Missing keys raise ``KeyError`` (naming the first) unless ``default`` is given.

        Runtime complexity: ``O(m)`` model evaluations.

        >>> SortedDict({1: 10, 2: 20}, value_dtype="int64").get_many([2, 1, 7], default=-1).tolist()
        [20, 10, -1]
        """
        q = as_query_array(keys)
        flat = q.reshape(-1)
        out = self._empty_values(flat.size)
        found = np.zeros(flat.size, dtype=bool)
        if self._ns and flat.size:
            pos = np.asarray(self._rmi.lookup(flat)).reshape(-1)
            hit = pos >= 0
            if self._ndead:
                hit &= self._dead[np.where(hit, pos, 0)] == 0
            if not self._blen and self._vals.dtype == out.dtype and hit.all():
                return self._vals[pos].reshape(q.shape)      # every key found: one gather, no masks
            out[hit] = self._vals[pos[hit]]
            found |= hit
        if self._blen and flat.size:
            ok, r = self._bmatch(flat)
            out[ok] = self._buffer_values()[r[ok]]
            found |= ok
        if not found.all():
            if default is _NOT_GIVEN:
                raise KeyError(flat[np.flatnonzero(~found)[0]].item() if flat.dtype != object
                               else flat[np.flatnonzero(~found)[0]])
            out[~found] = value_of(self._vdtype, default) if self._vdtype is not None else default
        return out.reshape(q.shape)

    # ------------------------------------------------------------------ views

    def keys(self):
        """A sorted, indexable view of the keys.

        >>> SortedDict({2: 0, 1: 0}).keys()[0]
        1
        """
        return SortedKeysView(self)

    def values(self):
        """A view of the values in key order, indexable.

        >>> SortedDict({2: "b", 1: "a"}).values()[:]
        ['a', 'b']
        """
        return SortedValuesView(self)

    def items(self):
        """A view of the ``(key, value)`` pairs in key order, indexable.

        >>> SortedDict({2: "b", 1: "a"}).items()[-1]
        (2, 'b')
        """
        return SortedItemsView(self)

    @property
    def iloc(self):
        """The keys view, under sortedcontainers' deprecated name (use :meth:`keys`).

        Warns with ``DeprecationWarning`` like sortedcontainers.  The view is not cached
        on the dict (sortedcontainers caches it): a cached view would point back to the
        dict and make a reference cycle.

        >>> with warnings.catch_warnings(record=True) as caught:
        ...     SortedDict({2: 0, 1: 0}).iloc[0]
        1
        >>> caught[0].category.__name__
        'DeprecationWarning'
        """
        warnings.warn("sorted_dict.iloc is deprecated. Use SortedDict.keys() instead.",
                      DeprecationWarning, stacklevel=2)
        return SortedKeysView(self)

    def _iter_items(self, start, stop, reverse=False, what="items"):
        for ks, vs in self._chunks(start, stop, reverse):
            vl = vs.tolist() if self._vdtype is not None else list(vs)
            if what == "values":
                yield from vl
            else:
                yield from zip(ks.tolist(), vl)

    def _range_items(self, index, what):
        """Items (or values) for an int or slice position ``index``."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            idx = range(start, stop, step)
            if not len(idx):
                return []
            lo, hi = min(idx[0], idx[-1]), max(idx[0], idx[-1]) + 1
            ks, vs = self._range_arrays(lo, hi)
            sel = np.asarray(idx, dtype=np.int64) - lo
            vl = vs[sel].tolist() if self._vdtype is not None else list(vs[sel])
            return vl if what == "values" else list(zip(ks[sel].tolist(), vl))
        loc = self._locate(self._norm_index(index))
        v = self._value_at(loc)
        return v if what == "values" else (self._key_at(loc), v)

    # ------------------------------------------------------------------ misc

    def copy(self):
        """A shallow copy.

        >>> d = SortedDict({1: "a"}); c = d.copy(); c[2] = "b"; len(d), len(c)
        (1, 2)
        """
        return _SortedBase.copy(self)

    __copy__ = copy

    def __or__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        new = type(self)(other, dtype=self._dtype if self._dtype_given else None, value_dtype=self._vdtype)
        new.update(self)
        return new

    def __ior__(self, other):
        self.update(other)
        return self

    def __eq__(self, other):
        """Mapping equality (with any ``collections.abc.Mapping``)."""
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        try:
            return all(k in other and other[k] == v for k, v in self.items())
        except TypeError:
            return False

    __hash__ = None

    def __reduce__(self):
        keys, vals = self._arrays()
        return (_restore, (type(self), None if self._dtype is None else self._dtype.name, keys, vals,
                           None if self._vdtype is None else self._vdtype.str, self._dtype_given))

    @recursive_repr()
    def __repr__(self):
        items = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"{type(self).__name__}({{{items}}})"

    def _check(self, full: bool = False):
        """Verify every invariant (see :meth:`SortedList._check`).

        >>> SortedDict({1: 2})._check(full=True)
        """
        self._check_store(full)
        if self._vdtype is not None:
            assert self._vals.dtype == self._vdtype, "static values have the wrong dtype"
        else:
            assert self._vals.dtype == object, "object values stored in a typed array"

    # ------------------------------------------------------------ persistence

    def _state(self):
        """``(meta, arrays)`` for :mod:`learnedidx.storage`; needs ``value_dtype``.

        >>> meta, arrays = SortedDict({1: 2.5}, value_dtype="float64")._state(); arrays["values"].tolist()
        [2.5]
        """
        if self._vdtype is None:
            raise TypeError("a SortedDict of Python object values cannot be saved; "
                            "build it with value_dtype= (e.g. value_dtype=np.float64)")
        self._merge()
        meta, arrays = self._store_state()
        meta["value_dtype"] = self._vdtype.str
        arrays["values"] = np.ascontiguousarray(self._vals)
        return meta, arrays

    @classmethod
    def _values_from_state(cls, meta, arrays, n):
        vd = meta.get("value_dtype")
        vals = arrays.get("values")
        try:
            vd = np.dtype(vd)
        except TypeError:
            raise ValueError(f"inconsistent SortedDict state: bad value_dtype {vd!r}") from None
        if vd == object or not isinstance(vals, np.ndarray) or vals.dtype != vd or vals.shape != (n,):
            raise ValueError(f"inconsistent SortedDict state: values must be {n} items of {vd}")
        return vals


# ------------------------------------------------------------------- views

def _view_delitem(self, index):
    """``del view[index]``: remove the item(s) at position(s) ``index``."""
    _SortedBase.__delitem__(self._mapping, index)


class SortedKeysView(KeysView, Sequence):
    """The keys of a SortedDict: a set-like, indexable sequence."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        from .sortedset import SortedSet
        return SortedSet(it)

    def __getitem__(self, index):
        return _SortedBase.__getitem__(self._mapping, index)

    __delitem__ = _view_delitem

    def __reversed__(self):
        return reversed(self._mapping)

    def index(self, value, start=None, stop=None):
        """Position of key ``value`` (``ValueError`` if absent)."""
        return self._mapping.index(value, start, stop)

    def count(self, value):
        return 1 if value in self._mapping else 0


class SortedItemsView(ItemsView, Sequence):
    """The ``(key, value)`` pairs of a SortedDict in key order, indexable.

    Set operations give a plain ``set`` of pairs (pairs are not numeric keys).

    >>> SortedDict({1: "a", 2: "b"}).items() & {(1, "a"), (1, "z")}
    {(1, 'a')}
    """

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return set(it)

    def __getitem__(self, index):
        return self._mapping._range_items(index, "items")

    __delitem__ = _view_delitem

    def __iter__(self):
        m = self._mapping
        return m._iter_items(0, len(m))

    def __reversed__(self):
        m = self._mapping
        return m._iter_items(0, len(m), reverse=True)


class SortedValuesView(ValuesView, Sequence):
    """The values of a SortedDict in key order, indexable."""

    __slots__ = ()

    def __getitem__(self, index):
        return self._mapping._range_items(index, "values")

    __delitem__ = _view_delitem

    def __iter__(self):
        m = self._mapping
        return m._iter_items(0, len(m), what="values")

    def __reversed__(self):
        m = self._mapping
        return m._iter_items(0, len(m), reverse=True, what="values")
