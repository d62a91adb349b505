"""The storage shared by SortedList, SortedSet and SortedDict.

Design (one sorted multiset of numeric keys, optionally with a value per key):

* **Static run**: a sorted numpy array ``_keys`` (and a parallel value array ``_vals``
  for a dict) indexed by a compiled :class:`learnedidx.RMI`.  Lookups go straight to
  the RMI's compiled scalar kernel (``searchsorted`` / ``lookup`` of any Python number,
  exact).
* **Tombstones**: deleting a static key sets a byte in ``_dead`` (allocated on the first
  delete) and adds one to a Fenwick tree over blocks of 512 positions, so the rank of a
  static position is ``p - dead_before(p)`` in ``O(log n)`` and the k-th live key is
  found by a Fenwick descent plus one block scan.  Re-adding a deleted key revives its
  tombstone instead of touching the buffer.
* **Buffer**: keys added since the last merge live in a small sorted structure of
  Python lists of at most ``2 * LOAD`` keys (sortedcontainers' layout), with a lazily
  built Fenwick tree over the chunk lengths for positions.
* **Merge**: when ``buffer + tombstones`` exceed ``max(BUF_MIN, n / 8)`` everything is
  merged (``np.insert`` of the buffer into the live keys) into a new static run and a
  new RMI is trained.  A merge costs ``O(n)`` (measured ~0.3 us/key at 10M keys on a
  shared machine, dominated by the RMI build) and happens at most once per ``n / 8``
  updates, so an update costs ``O(log n)`` plus an amortised ``O(1)`` of about
  ``8 * 0.3 = 2.4 us``; compaction removes tombstones, so deletes never leave the
  structure slower.

Measured on a shared, noisy 2-core machine (``python -m learnedidx.bench.containers_bench
--n 1000000 --n 10000000``; ratios against sortedcontainers in the same run): at 1M
int64 keys ``bisect_left`` ~9x and ``in`` ~5-10x faster, ``add``/``discard`` ~3-4x faster
before merges; a merge + RMI retrain costs ~0.5 us/key (4.5 us per update amortised over
the ``n/8`` updates between merges, so ``add`` amortised is about 1.5x sortedcontainers'
``add``); SortedList holds ~8.7 B/key and SortedDict with ``value_dtype`` ~16.7 B/key
(sortedcontainers: 40 and 124).

Values: the static value array is written in place only when this container made it;
an array that came from the caller (``from_arrays``), from another container or from
``copy()`` is copied on the first in-place write (copy-on-write, ``_own_values``), so
no user's or sibling's array is ever modified.

Order of equal keys: static keys come before buffered ones (only observable as
positions, which are the same for equal keys).

Positions across both parts: ``_split(i)`` finds how many of the first ``i`` keys
come from the static run and how many from the buffer by a binary search over the
buffer (``O(log b)`` probes of ``O(log n)``); without a buffer it is ``O(1)``.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import chain

import numpy as np

from .._queries import BELOW, array_targets, as_query_array, scalar_target
from .._validate import check_dtype
from ._keys import common_key_dtype, deciding_keys, infer_dtype, is_nan, key_of, keys_array

#: Buffer chunk load: chunks hold at most ``2 * LOAD`` keys, as in sortedcontainers.
LOAD = 1000
#: Tombstone blocks hold ``1 << SHIFT`` static positions.
SHIFT = 9
BLOCK = 1 << SHIFT
#: The buffer and tombstones may reach ``max(BUF_MIN, n >> FRACTION_SHIFT)`` before a merge.
BUF_MIN = 4096
FRACTION_SHIFT = 3
#: Iteration and slicing materialise this many keys at a time.
CHUNK = 1 << 14


# ------------------------------------------------------------------ Fenwick trees

def fen_build(counts) -> list:
    """A 1-indexed Fenwick tree (Python list) over ``counts``, built in ``O(m)``.

    >>> fen_prefix(fen_build([3, 1, 4, 1, 5]), 3)
    8
    """
    tree = [0]
    tree.extend(int(c) for c in counts)
    m = len(tree) - 1
    for i in range(1, m + 1):
        j = i + (i & -i)
        if j <= m:
            tree[j] += tree[i]
    return tree


def fen_add(tree: list, i: int, d: int) -> None:
    """Add ``d`` to element ``i`` (0-based)."""
    i += 1
    m = len(tree)
    while i < m:
        tree[i] += d
        i += i & -i


def fen_prefix(tree: list, i: int) -> int:
    """Sum of elements ``[0, i)``."""
    s = 0
    while i > 0:
        s += tree[i]
        i &= i - 1
    return s


def fen_find(tree: list, k: int):
    """``(i, rem)``: the element ``i`` holding item ``k`` (0-based) and its offset in it.

    >>> fen_find(fen_build([3, 1, 4]), 4)
    (2, 0)
    """
    pos = 0
    m = len(tree) - 1
    step = 1 << (m.bit_length() - 1) if m else 0
    while step:
        nxt = pos + step
        if nxt <= m and tree[nxt] <= k:
            pos = nxt
            k -= tree[nxt]
        step >>= 1
    return pos, k


def _kernel_fns(rmi):
    """The exact scalar ``(lower_bound(q, right), lookup(q))`` of an RMI, compiled if built."""
    k = rmi._kernel
    if k is not None:
        return k.searchsorted, k.lookup
    ss = rmi.searchsorted
    return (lambda q, right: ss(q, "right" if right else "left")), rmi.lookup


class Store:
    """Static learned run + tombstones + sorted buffer; the containers subclass it.

    Subclasses set ``_has_values`` (dict) and ``_unique`` (set, dict) as class attributes.
    """

    _has_values = False
    _unique = False
    #: Whether the caller chose the key dtype (``dtype=``): only an inferred dtype widens.
    _dtype_given = False
    #: This container's buffer chunk load (``_reset`` changes it).
    _load = LOAD

    # ------------------------------------------------------------------ set-up

    def _init_store(self, dtype=None, value_dtype=None) -> None:
        self._dtype = None if dtype is None else check_dtype(dtype)
        if value_dtype is not None:
            value_dtype = np.dtype(value_dtype)
            if value_dtype == object:
                value_dtype = None
        self._vdtype = value_dtype
        empty = np.zeros(0, dtype=self._dtype if self._dtype is not None else np.int64)
        self._set_static(empty, self._empty_values(0) if self._has_values else None)
        self._reset_buffer()

    def _empty_values(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=self._vdtype if self._vdtype is not None else object)

    def _set_static(self, keys: np.ndarray, vals, rmi=None, owned: bool = False) -> None:
        """Make ``keys`` (sorted, never written again by anyone) the static run and index it.

        ``vals`` is written in place only when ``owned`` (an array this container made);
        otherwise it is copied on the first write, so an array the caller or another
        container holds is never modified.
        """
        n = int(keys.shape[0])
        if keys.flags.writeable:
            keys = keys.view()
            keys.flags.writeable = False
        self._keys = keys
        self._vals = vals
        self._vals_shared = vals is not None and not (owned and vals.flags.writeable)
        self._ns = n
        self._dead = None
        self._ndead = 0
        self._fen = None
        self._cum = None
        if n:
            if rmi is None:
                from ..rmi import RMI
                rmi = RMI(keys)
            self._rmi = rmi
            self._lb, self._lk = _kernel_fns(rmi)
            self._prefetch_values()
        else:
            self._rmi = self._lb = self._lk = None
        self._limit = max(BUF_MIN, n >> FRACTION_SHIFT)

    def _reset_buffer(self) -> None:
        self._lists = []
        self._maxes = []
        self._vlists = [] if self._has_values else None
        self._blen = 0
        self._bfen = None
        self._barr = None
        self._bvarr = None

    def _reset(self, load) -> None:
        """Set the buffer's chunk load and re-chunk the buffer (sortedcontainers' ``_reset``).

        Only the insert buffer is chunked; small loads make its chunk splits and joins
        happen after a few updates, which is what tests written for sortedcontainers use
        ``_reset`` for.  Runtime complexity: ``O(buffer)``.

        >>> from learnedidx import SortedList
        >>> sl = SortedList(); sl._reset(4); sl.update([5, 1, 4, 2, 3, 0, 6, 7, 9]); sl._check(); sl
        SortedList([0, 1, 2, 3, 4, 5, 6, 7, 9])
        """
        load = int(load) if isinstance(load, (int, np.integer)) else load
        if not isinstance(load, int) or load < 1:
            raise ValueError(f"load must be a positive int, got {load!r}")
        self._load = load
        keys = list(chain.from_iterable(self._lists))
        vals = None if self._vlists is None else list(chain.from_iterable(self._vlists))
        self._reset_buffer()
        for a in range(0, len(keys), load):
            self._lists.append(keys[a:a + load])
            self._maxes.append(keys[min(a + load, len(keys)) - 1])
            if vals is not None:
                self._vlists.append(vals[a:a + load])
        self._blen = len(keys)

    def _set_dtype(self, dtype) -> None:
        self._dtype = check_dtype(dtype)
        if self._ns == 0:
            self._keys = np.zeros(0, dtype=self._dtype)

    @property
    def _dtype(self):
        return self.__dict__["_dtype"]

    @_dtype.setter
    def _dtype(self, dt) -> None:
        # the key dtype, plus the bounds of the fast path of ``_key`` for Python ints
        d = self.__dict__
        d["_dtype"] = dt
        if dt is not None and dt.kind in "iu":
            info = np.iinfo(dt)
            d["_kmin"], d["_kmax"] = int(info.min), int(info.max)
        else:
            d["_kmin"], d["_kmax"] = 1, 0
        d["_kf64"] = dt is not None and dt == np.float64

    def _key(self, x):
        """``x`` coerced exactly to the key dtype (inferring the dtype from the first key)."""
        t = type(x)
        if t is int:
            if self._kmin <= x <= self._kmax:
                return x
        elif t is float and self._kf64 and x == x:
            return x
        dt = self._dtype
        if dt is None:
            self._set_dtype(infer_dtype(x))
            dt = self._dtype
        try:
            return key_of(dt, x)
        except ValueError:
            if self._dtype_given or is_nan(x):
                raise
        new = keys_array(None, [x])            # raises if no dtype holds x alone
        self._retype(self._widened(new, repr(x)))
        return key_of(self._dtype, x)

    def _keys_in(self, values, retype: bool = True) -> np.ndarray:
        """Many keys as an array of the key dtype, widening an inferred dtype if they need it.

        With ``retype=False`` the container keeps its dtype and the array comes back in the
        wider one (for results that are new containers).

        >>> from learnedidx import SortedList
        >>> sl = SortedList([1, 2]); sl._keys_in([0.5]), sl.dtype
        (array([0.5]), dtype('float64'))
        """
        if not isinstance(values, (np.ndarray, list, tuple, Store)):
            values = list(values)              # an iterator is read once
        if isinstance(values, Store):
            values = values._arrays()[0]
        try:
            return keys_array(self._dtype, values)
        except ValueError:
            if self._dtype_given or self._dtype is None:
                raise
        new = keys_array(None, values)          # raises if no dtype holds them alone
        target = self._widened(new, "these keys")
        if retype:
            self._retype(target)
        return new.astype(target)

    def _widened(self, new: np.ndarray, what: str) -> np.dtype:
        """The dtype that holds this container's keys and ``new`` exactly, or raise.

        A container whose dtype was inferred widens it the way a Python list holds ints and
        floats side by side: int64 keys meeting ``2.5`` become float64 (if every key is exact
        there), meeting ``2**63`` uint64; a dtype given with ``dtype=`` never changes.

        Runtime complexity: ``O(buffer + k)`` for ``k`` new keys, plus the keys beyond
        ``+-2**53`` when the target is a float dtype.
        """
        mine = [deciding_keys(self._keys)]
        if self._blen:
            mine.append(deciding_keys(self._buffer_keys()))
        target = common_key_dtype(*mine, new)    # deleted keys included: a superset
        if target is None and self._ndead:
            target = common_key_dtype(self._arrays()[0], new)
        if target is None:
            raise ValueError(f"no supported dtype holds {what} together with this container's {self._dtype} "
                             f"keys exactly (float64 holds integers only up to 2**53, int64 and uint64 "
                             f"no fractions); round the keys first if that is acceptable")
        return target

    def _retype(self, dtype: np.dtype) -> None:
        """Convert every key to ``dtype`` (exact: chosen by ``_widened``) and retrain.

        Runtime complexity: ``O(n)``, once per widening.
        """
        keys, vals = self._arrays()
        self._dtype = dtype
        self._load_arrays(keys.astype(dtype), vals)

    def _load_arrays(self, keys: np.ndarray, vals=None, rmi=None, owned: bool = False) -> None:
        """Replace the whole content by sorted ``keys`` (and aligned ``vals``; see ``_set_static``)."""
        if keys.size or self._dtype is not None:
            self._dtype = check_dtype(keys.dtype)
        self._set_static(keys, vals, rmi, owned)
        self._reset_buffer()

    # ------------------------------------------------------------------ sizes

    def __len__(self) -> int:
        return self._ns - self._ndead + self._blen

    @property
    def dtype(self):
        """The key dtype (None until the first key of an empty container without ``dtype=``)."""
        return self._dtype

    # --------------------------------------------------------------- tombstones

    def _dead_before(self, p: int) -> int:
        """Tombstones at static positions ``< p``."""
        b = p >> SHIFT
        s = 0
        tree = self._fen
        i = b
        while i > 0:
            s += tree[i]
            i &= i - 1
        start = b << SHIFT
        if p > start:
            s += int(np.count_nonzero(self._dead[start:p]))
        return s

    def _kill(self, p: int) -> None:
        if self._dead is None:
            n = self._ns
            self._dead = np.zeros(n, dtype=np.uint8)
            nb = (n + BLOCK - 1) >> SHIFT
            counts = [0] * nb
            counts[-1] = (nb << SHIFT) - n          # padding counts as dead: uniform blocks
            self._fen = fen_build(counts)
        self._dead[p] = 1
        self._ndead += 1
        fen_add(self._fen, p >> SHIFT, 1)
        self._cum = None

    def _revive(self, p: int) -> None:
        self._dead[p] = 0
        self._ndead -= 1
        fen_add(self._fen, p >> SHIFT, -1)
        self._cum = None

    def _static_select(self, k: int) -> int:
        """Physical position of the ``k``-th live static key (``0 <= k < live``)."""
        if not self._ndead:
            return k
        tree = self._fen
        m = len(tree) - 1
        pos, rem = 0, k
        step = 1 << (m.bit_length() - 1)
        while step:
            nxt = pos + step
            if nxt <= m:
                live = (step << SHIFT) - tree[nxt]
                if live <= rem:
                    pos = nxt
                    rem -= live
            step >>= 1
        start = pos << SHIFT
        return start + int(np.flatnonzero(self._dead[start:start + BLOCK] == 0)[rem])

    def _dead_cum(self) -> np.ndarray:
        """``cum[p]`` = tombstones before ``p`` for every ``p`` (cached until the next delete)."""
        if self._cum is None:
            c = np.zeros(self._ns + 1, dtype=np.int64)
            np.cumsum(self._dead, out=c[1:])
            self._cum = c
        return self._cum

    def _static_first(self, x, dead: bool) -> int:
        """First physical position of a key equal to ``x`` that is live (or dead), or -1."""
        if not self._ns:
            return -1
        p = self._lk(x)
        if p < 0:
            return -1
        if not self._ndead:
            return -1 if dead else p
        if bool(self._dead[p]) == dead:
            return p
        if self._unique:
            return -1
        q = self._lb(x, True)
        seg = self._dead[p:q]
        z = np.flatnonzero(seg if dead else seg == 0)
        return p + int(z[0]) if z.size else -1

    # ------------------------------------------------------------------ buffer

    def _bprefix(self, i: int) -> int:
        """Buffered keys in chunks ``< i``."""
        if i == 0:
            return 0
        if self._bfen is None:
            self._bfen = fen_build([len(lst) for lst in self._lists])
        return fen_prefix(self._bfen, i)

    def _bselect(self, j: int):
        """``(chunk, offset)`` of the ``j``-th buffered key."""
        lists = self._lists
        if j < len(lists[0]):
            return 0, j
        if self._bfen is None:
            self._bfen = fen_build([len(lst) for lst in lists])
        return fen_find(self._bfen, j)

    def _bkey(self, j: int):
        i, k = self._bselect(j)
        return self._lists[i][k]

    def _brank(self, x, right: bool) -> int:
        """Buffered keys ``< x`` (``<= x`` when ``right``), exact for any numeric ``x``."""
        t = type(x)
        if t is int or (t is float and x == x):
            fn = bisect_right if right else bisect_left
        else:
            code, x, _ = scalar_target(self._dtype, x, right)
            if code:
                return 0 if code == BELOW else self._blen
            fn = bisect_left
        maxes = self._maxes
        i = fn(maxes, x)
        if i == len(maxes):
            return self._blen
        return self._bprefix(i) + fn(self._lists[i], x)

    def _bfind(self, x):
        """``(chunk, offset)`` of the first buffered key equal to ``x``, or None."""
        t = type(x)
        if not (t is int or t is float):
            code, x, exact = scalar_target(self._dtype, x, False)
            if code or not exact:
                return None
        maxes = self._maxes
        i = bisect_left(maxes, x)
        if i == len(maxes):
            return None
        lst = self._lists[i]
        j = bisect_left(lst, x)
        return (i, j) if lst[j] == x else None

    def _binsert(self, x, v=None) -> None:
        """Insert the coerced key ``x`` (after equal keys) with value ``v``."""
        maxes, lists = self._maxes, self._lists
        if maxes:
            i = bisect_right(maxes, x)
            if i == len(maxes):
                i -= 1
                lst = lists[i]
                j = len(lst)
                lst.append(x)
                maxes[i] = x
            else:
                lst = lists[i]
                j = bisect_right(lst, x)
                lst.insert(j, x)
            if self._vlists is not None:
                self._vlists[i].insert(j, v)
            if len(lst) > 2 * self._load:
                self._bsplit(i)
            elif self._bfen is not None:
                fen_add(self._bfen, i, 1)
        else:
            lists.append([x])
            maxes.append(x)
            if self._vlists is not None:
                self._vlists.append([v])
            self._bfen = None
        self._blen += 1
        self._barr = self._bvarr = None
        if self._blen + self._ndead > self._limit:
            self._merge()

    def _bsplit(self, i: int) -> None:
        lists, maxes = self._lists, self._maxes
        lst = lists[i]
        half = len(lst) >> 1
        lists.insert(i + 1, lst[half:])
        del lst[half:]
        maxes[i] = lst[-1]
        maxes.insert(i + 1, lists[i + 1][-1])
        if self._vlists is not None:
            vl = self._vlists[i]
            self._vlists.insert(i + 1, vl[half:])
            del vl[half:]
        self._bfen = None

    def _bdelete(self, i: int, j: int) -> None:
        """Remove the buffered key at ``(chunk i, offset j)``."""
        lists, maxes, vlists = self._lists, self._maxes, self._vlists
        lst = lists[i]
        del lst[j]
        if vlists is not None:
            del vlists[i][j]
        self._blen -= 1
        self._barr = self._bvarr = None
        if not lst:
            del lists[i], maxes[i]
            if vlists is not None:
                del vlists[i]
            self._bfen = None
        elif len(lst) < (self._load >> 1) and len(lists) > 1:
            k = i - 1 if i else 0                 # merge chunk k and k + 1
            lists[k].extend(lists[k + 1])
            del lists[k + 1], maxes[k + 1]
            maxes[k] = lists[k][-1]
            if vlists is not None:
                vlists[k].extend(vlists[k + 1])
                del vlists[k + 1]
            self._bfen = None
            if len(lists[k]) > 2 * self._load:
                self._bsplit(k)
        else:
            maxes[i] = lst[-1]
            if self._bfen is not None:
                fen_add(self._bfen, i, -1)

    def _buffer_keys(self) -> np.ndarray:
        """All buffered keys as one sorted array (cached until the buffer changes)."""
        if self._barr is None:
            self._barr = np.fromiter(chain.from_iterable(self._lists), dtype=self._dtype, count=self._blen)
        return self._barr

    def _buffer_values(self) -> np.ndarray:
        if self._bvarr is None:
            self._bvarr = self._values_from(chain.from_iterable(self._vlists), self._blen)
        return self._bvarr

    def _values_from(self, it, n: int) -> np.ndarray:
        """Already-coerced Python values as an array of the value dtype (object by default)."""
        if self._vdtype is None:
            return np.fromiter(it, dtype=object, count=n) if n else np.zeros(0, dtype=object)
        return np.array(list(it), dtype=self._vdtype).reshape(n)

    def _buffer_range(self, a: int, b: int):
        """Buffered keys (and values) at buffer positions ``[a, b)`` as arrays."""
        if a == 0 and b == self._blen:
            return self._buffer_keys(), (self._buffer_values() if self._has_values else None)
        i, k = self._bselect(a)
        need = b - a
        ks, vs = [], []
        lists, vlists = self._lists, self._vlists
        while need > 0:
            part = lists[i][k:k + need]
            ks.extend(part)
            if vlists is not None:
                vs.extend(vlists[i][k:k + len(part)])
            need -= len(part)
            i, k = i + 1, 0
        keys = np.array(ks, dtype=self._dtype).reshape(len(ks))
        return keys, (self._values_from(vs, len(vs)) if vlists is not None else None)

    # ------------------------------------------------------------------ merging

    def _arrays(self):
        """``(keys, values)`` of the whole content as sorted arrays (no copy when static only)."""
        ks, vs = self._keys, self._vals
        if self._ndead:
            live = self._dead == 0
            ks = ks[live]
            if vs is not None:
                vs = vs[live]
        if self._blen:
            bk = self._buffer_keys()
            pos = np.searchsorted(ks, bk, "right")
            ks = np.insert(ks, pos, bk)
            if vs is not None:
                vs = np.insert(vs, pos, self._buffer_values())
        return ks, vs

    def _merge(self) -> None:
        """Merge the buffer and drop the tombstones: a new static run and a new RMI."""
        if not self._blen and not self._ndead:
            return
        ks, vs = self._arrays()             # new arrays: there is a buffer or a tombstone
        self._set_static(ks, vs, owned=True)
        self._reset_buffer()

    # --------------------------------------------------------------- positions

    def _srank(self, x, right: bool) -> int:
        """Live static keys ``< x`` (``<= x`` when ``right``)."""
        p = self._lb(x, right)
        if self._ndead:
            p -= self._dead_before(p)
        return p

    def _rank(self, x, right: bool) -> int:
        """Keys ``< x`` (``<= x`` when ``right``) in the whole container."""
        p = 0
        if self._ns:
            p = self._lb(x, right)
            if self._ndead:
                p -= self._dead_before(p)
        if self._blen:
            p += self._brank(x, right)
        return p

    def _split(self, i: int):
        """``(s, j)``: the first ``i`` keys are the first ``s`` live static and ``j`` buffered keys."""
        nb = self._blen
        na = self._ns - self._ndead
        if nb == 0:
            return i, 0
        if na == 0:
            return 0, i
        lo, hi = max(0, i - na), min(nb, i)
        while lo < hi:
            mid = (lo + hi) >> 1
            if mid + self._srank(self._bkey(mid), True) < i:
                lo = mid + 1
            else:
                hi = mid
        return i - lo, lo

    def _norm_index(self, i) -> int:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("list index out of range")
        return i

    def _locate(self, i: int):
        """Where position ``i`` (in range) lives: ``(True, p)`` static or ``(False, (c, k))`` buffer."""
        if not self._blen:
            return True, self._static_select(i)
        s, j = self._split(i)
        if j < self._blen:
            c, k = self._bselect(j)
            if s < self._ns - self._ndead:
                p = self._static_select(s)
                if self._keys.item(p) <= self._lists[c][k]:
                    return True, p
            return False, (c, k)
        return True, self._static_select(s)

    def _key_at(self, loc):
        static, where = loc
        if static:
            return self._keys.item(where)
        return self._lists[where[0]][where[1]]

    def _own_values(self) -> np.ndarray:
        """The static value array, copied first if it is shared (copy-on-write)."""
        if self._vals_shared:
            self._vals = self._vals.copy()
            self._vals_shared = False
            self._prefetch_values()
        return self._vals

    def _prefetch_values(self) -> None:
        """Have the compiled lookups prefetch the value at each predicted position, so
        ``d[k]`` and ``get_many`` overlap the value's cache miss with the key search."""
        prefetch = getattr(getattr(self._rmi, "_kernel", None), "prefetch_with", None)
        if prefetch is not None and isinstance(self._vals, np.ndarray) and self._vals.ndim == 1 \
                and self._vals.shape[0] == self._ns and self._vals.flags.c_contiguous:
            prefetch(self._vals)

    def _value_at(self, loc):
        static, where = loc
        if static:
            return self._vals.item(where)
        return self._vlists[where[0]][where[1]]

    def _delete_at(self, loc) -> None:
        static, where = loc
        if static:
            self._kill(where)
            if self._blen + self._ndead > self._limit:
                self._merge()
        else:
            self._bdelete(*where)

    def _range_arrays(self, a: int, b: int):
        """``(keys, values)`` arrays of positions ``[a, b)`` (values None without them)."""
        if not self._blen and not self._ndead:
            return self._keys[a:b], (None if self._vals is None else self._vals[a:b])
        sa, ja = self._split(a)
        sb, jb = self._split(b)
        if sb > sa:
            pa = self._static_select(sa)
            pb = self._static_select(sb - 1) + 1
            ks = self._keys[pa:pb]
            vs = None if self._vals is None else self._vals[pa:pb]
            if self._ndead:
                live = self._dead[pa:pb] == 0
                ks = ks[live]
                vs = None if vs is None else vs[live]
        else:
            ks = self._keys[:0]
            vs = None if self._vals is None else self._vals[:0]
        if jb > ja:
            bk, bv = self._buffer_range(ja, jb)
            pos = np.searchsorted(ks, bk, "right")
            ks = np.insert(ks, pos, bk)
            if vs is not None:
                vs = np.insert(vs, pos, bv)
        return ks, vs

    def _chunks(self, start: int, stop: int, reverse: bool = False):
        """Yield ``(keys, values)`` arrays covering positions ``[start, stop)`` in order."""
        bounds = list(range(start, stop, CHUNK))
        pairs = [(a, min(a + CHUNK, stop)) for a in bounds]
        if reverse:
            pairs.reverse()
        for a, b in pairs:
            n = len(self)
            b = min(b, n)
            if a >= b:
                continue
            ks, vs = self._range_arrays(a, b)
            if reverse:
                ks = ks[::-1]
                vs = None if vs is None else vs[::-1]
            yield ks, vs

    def _iter_keys(self, start: int, stop: int, reverse: bool = False):
        for ks, _ in self._chunks(start, stop, reverse):
            yield from ks.tolist()

    def _slice_bounds(self, start, stop):
        """``slice(start, stop).indices(len)`` as a ``(start, stop)`` pair."""
        start, stop, _ = slice(start, stop).indices(len(self))
        return start, stop

    # ------------------------------------------------------------ batch queries

    def _rank_many(self, values, right: bool) -> np.ndarray:
        """Vectorised :meth:`_rank` (an int64 array of the query array's shape)."""
        q = as_query_array(values)
        if q.dtype.kind not in "biufO":
            raise TypeError(f"queries of dtype {q.dtype} are not numbers; pass ints or floats")
        out = np.zeros(q.shape, dtype=np.int64)
        if self._dtype is None or q.size == 0:
            return out
        side = "right" if right else "left"
        if self._ns:
            pos = np.asarray(self._rmi.searchsorted(q, side), dtype=np.int64)
            if self._ndead:
                pos = pos - self._dead_cum()[pos]
            out += pos
        if self._blen:
            t, below, above, _ = array_targets(self._dtype, q, right)
            r = np.searchsorted(self._buffer_keys(), t, "left")
            if below is not None:
                r[below] = 0
            if above is not None:
                r[above] = self._blen
            out += r
        return out

    def _contains_many(self, values) -> np.ndarray:
        """Vectorised membership: a bool array of the queries' shape."""
        q = as_query_array(values)
        if self._dtype is None or q.size == 0:
            return np.zeros(q.shape, dtype=bool)
        if self._ndead and not self._unique:
            return self._rank_many(q, True) > self._rank_many(q, False)
        flat = q.reshape(-1)
        found = np.zeros(flat.size, dtype=bool)
        if self._ns:
            pos = np.asarray(self._rmi.lookup(flat)).reshape(-1)
            found = pos >= 0
            if self._ndead:
                found &= self._dead[np.where(found, pos, 0)] == 0
        if self._blen:
            found |= self._bmatch(flat)[0]
        return found.reshape(q.shape)

    def _bmatch(self, flat: np.ndarray):
        """``(found, r)``: which queries equal a buffered key, and its buffer position."""
        t, below, above, exact = array_targets(self._dtype, flat, False)
        bk = self._buffer_keys()
        r = np.searchsorted(bk, t, "left")
        ok = r < bk.size
        ok &= bk[np.minimum(r, bk.size - 1)] == t
        for mask in (below, above):
            if mask is not None:
                ok &= ~mask
        if exact is not None:
            ok &= exact
        return ok, r

    def _check_store(self, full: bool = False) -> None:
        """Verify the storage invariants; ``full`` adds ``O(n)`` checks of the static run."""
        ns = self._ns
        assert self._keys.shape == (ns,), "static key count mismatch"
        if self._has_values:
            assert self._vals is not None and self._vals.shape == (ns,), "static values misaligned"
        if ns:
            assert self._rmi is not None and len(self._rmi) == ns and self._rmi.keys is self._keys or \
                np.shares_memory(self._rmi.keys, self._keys), "RMI does not index the static run"
        if self._dead is not None:
            assert self._dead.shape == (ns,), "tombstone array size"
            nb = (ns + BLOCK - 1) >> SHIFT
            assert len(self._fen) == nb + 1, "tombstone tree size"
            padding = (nb << SHIFT) - ns
            assert fen_prefix(self._fen, nb) == self._ndead + padding, "tombstone tree total"
            if full:
                assert int(np.count_nonzero(self._dead)) == self._ndead, "tombstone count"
                counts = np.add.reduceat(self._dead.astype(np.int64), np.arange(0, ns, BLOCK)) if ns else []
                expect = fen_build(list(counts[:-1]) + [int(counts[-1]) + padding]) if ns else [0]
                assert expect == self._fen, "tombstone tree content"
        else:
            assert self._ndead == 0, "tombstones counted without a tombstone array"
        assert self._ndead <= ns, "more tombstones than keys"
        # buffer: O(buffer)
        lists, maxes = self._lists, self._maxes
        assert len(lists) == len(maxes), "buffer maxes misaligned"
        assert sum(map(len, lists)) == self._blen, "buffer length"
        prev = None
        for lst, mx in zip(lists, maxes):
            assert lst, "empty buffer chunk"
            assert len(lst) <= 2 * self._load, "buffer chunk too long"
            assert lst[-1] == mx, "buffer chunk max"
            assert all(a <= b for a, b in zip(lst, lst[1:])), "buffer chunk unsorted"
            if prev is not None:
                assert prev <= lst[0], "buffer chunks out of order"
            prev = lst[-1]
            if self._unique:
                assert all(a < b for a, b in zip(lst, lst[1:])), "duplicate buffered key"
        if self._vlists is not None:
            assert [len(v) for v in self._vlists] == [len(lst) for lst in lists], "buffer values misaligned"
        if self._bfen is not None:
            assert self._bfen == fen_build([len(lst) for lst in lists]), "buffer position tree"
        if self._blen:
            t = type(lists[0][0])
            assert t is (int if self._dtype.kind in "iu" else float), "buffer holds uncoerced keys"
            assert all(type(x) is t for lst in lists for x in lst), "buffer holds mixed types"
        assert self._blen + self._ndead <= self._limit, "merge overdue"
        if self._unique and self._blen and ns:
            for lst in lists:
                for x in lst:
                    assert self._static_first(x, False) < 0, f"key {x!r} both static and buffered"
        if ns:
            keys = self._keys
            sample = np.unique(np.linspace(0, ns - 1, num=min(ns, 64)).astype(np.int64))
            if full:
                self._rmi._check()
                assert ns < 2 or not np.any(keys[1:] < keys[:-1]), "static run unsorted"
                if self._unique:
                    assert ns < 2 or not np.any(keys[1:] == keys[:-1]), "duplicate static key"
                sample = np.arange(ns)
            for p in sample.tolist():
                x = keys.item(p)
                assert self._lb(x, False) <= p < self._lb(x, True), f"static key at {p} not found by the RMI"
