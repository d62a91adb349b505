"""``KeyValueIndex``: sorted numeric keys with values, looked up through an RMI.

The keys live in one sorted array indexed by a :class:`learnedidx.RMI`; the values in a
parallel array: either fixed-width (any numeric or structured numpy dtype, rows of
any shape) or variable-length bytes (``offsets`` into one ``blob``).  Built once, saved
in the :mod:`learnedidx.storage` format and reopened memory-mapped, it answers lookups
without reading the whole file.

>>> import numpy as np
>>> kv = KeyValueIndex.build(np.array([30, 10, 20], dtype=np.uint64), np.array([3.0, 1.0, 2.0]), sort=True)
>>> kv.get(20), kv.get(25, "absent"), len(kv)
(np.float64(2.0), 'absent', 3)
>>> kv.get_many([10, 30]).tolist()
[1.0, 3.0]
"""
from __future__ import annotations

import numpy as np

from ._validate import as_sorted_keys
from .interface import is_scalar
from .rmi import RMI

#: ``duplicates=`` choices of :meth:`KeyValueIndex.build`.
DUPLICATES = ("error", "keep")
_RAISE = object()


def _storable(dtype: np.dtype) -> None:
    from .storage.format import dtype_spec
    dtype_spec(dtype)                                   # TypeError for object/unicode/datetime


def _corrupt(what: str) -> Exception:
    """The error of offsets a forged file holds (checked on use when the file was opened
    without verifying them): a ``FormatError``, which is a ``ValueError``."""
    from .storage.errors import FormatError
    return FormatError(f"{what} (the file's value offsets are damaged; open it with verify=True to check them)")


def _bytes_values(values, n: int):
    """``(offsets, blob)`` for a sequence of ``n`` bytes-like values."""
    if len(values) != n:
        raise ValueError(f"{len(values)} values for {n} keys; pass one value per key")
    parts = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            raise TypeError(f"value {i} is a str; store bytes (encode it, e.g. v.encode()) or use a fixed-width dtype")
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise TypeError(f"value {i} is a {type(v).__name__}: values are a numpy array of a fixed-width dtype "
                            "or a sequence of bytes")
        parts.append(bytes(v))
    offsets = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(np.fromiter((len(p) for p in parts), dtype=np.uint64, count=n), out=offsets[1:])
    return offsets, np.frombuffer(b"".join(parts), dtype=np.uint8)


class KeyValueIndex:
    """Sorted numeric keys mapped to values; an immutable, savable lookup table.

    Build with :meth:`build`, reopen with :meth:`open`.  Values are either a numpy array
    of a fixed-width dtype with one row per key (``values[i]`` belongs to ``keys[i]``;
    structured dtypes and rows of any shape included) or variable-length ``bytes``.
    With ``duplicates="keep"``, :meth:`get` answers the first value of equal keys and
    :meth:`range` returns all of them.

    >>> import numpy as np
    >>> kv = KeyValueIndex.build([1, 5, 9], [b"one", b"five", b""])
    >>> kv.get(5), kv.get_many([9, 4], default=None), kv.range(2, 100)
    (b'five', [b'', None], (array([5, 9]), [b'five', b'']))
    """

    def __init__(self, index: RMI, values=None, offsets=None, blob=None, duplicates: str = "error"):
        """Wrap a built index and its values (use :meth:`build` or :meth:`open` instead)."""
        self._index = index
        self._keys = index.keys
        self._values = values
        self._offsets = offsets
        self._blob = blob
        self.duplicates = duplicates

    # ------------------------------------------------------------------ build

    @classmethod
    def build(cls, keys, values, *, sort: bool = False, duplicates: str = "error", copy: bool = False,
              index: dict | None = None) -> "KeyValueIndex":
        """A key-value index over ``keys`` (1-D numeric) and one value per key.

        ``values``: a numpy array of a fixed-width dtype whose first axis matches the
        keys (not copied when C-contiguous, unless ``copy``), or a sequence of ``bytes``.
        ``sort=True`` sorts the keys (stable, so equal keys keep their order) and their
        values with them (a copy); otherwise unsorted keys are a ``ValueError``.
        ``duplicates="error"`` refuses equal keys; ``"keep"`` keeps them all.
        ``index`` holds :class:`learnedidx.RMI` parameters; by default the tuned
        ``RMI.auto(keys, max_bytes=...)`` with a model budget of 1/16 of the key bytes
        (at least 4 KiB): an embedded index stays small next to its data.

        Runtime complexity: ``O(n)`` plus the index build; ``O(n log n)`` with ``sort``.

        >>> KeyValueIndex.build([3, 3], [1, 2])
        Traceback (most recent call last):
        ...
        ValueError: duplicate key 3 at positions 0 and 1; pass duplicates='keep' to keep every value (get answers the first)
        """
        if duplicates not in DUPLICATES:
            raise ValueError(f"duplicates must be one of {', '.join(DUPLICATES)}, got {duplicates!r}")
        fixed = isinstance(values, np.ndarray) and values.dtype != object
        if not fixed and (isinstance(values, (str, bytes, np.generic)) or not hasattr(values, "__len__")):
            raise TypeError("values must be a numpy array of a fixed-width dtype or a sequence of bytes, "
                            f"one per key; got {type(values).__name__}")
        if fixed:
            _storable(values.dtype)
            if values.ndim == 0:
                raise ValueError("values must have one row per key, got a 0-d array")
        if sort:
            raw = keys if isinstance(keys, np.ndarray) else np.asarray(keys)
            order = np.argsort(raw, kind="stable")
            keys = as_sorted_keys(raw[order])          # dtype and NaN checks; sorted now
            count = values.shape[0] if fixed else len(values)
            if count != keys.size:
                raise ValueError(f"{count} values for {keys.size} keys; pass one value per key")
            values = values[order] if fixed else [values[i] for i in order.tolist()]
        else:
            try:
                keys = as_sorted_keys(keys, copy=copy)
            except ValueError as exc:
                if "sorted" in str(exc):
                    raise ValueError(f"{exc}, or pass sort=True") from None
                raise
        n = keys.size
        count = values.shape[0] if fixed else len(values)
        if count != n:
            raise ValueError(f"{count} values for {n} keys; pass one value per key")
        if duplicates == "error" and n > 1:
            dup = np.flatnonzero(keys[1:] == keys[:-1])
            if dup.size:
                i = int(dup[0])
                raise ValueError(f"duplicate key {keys[i]} at positions {i} and {i + 1}; pass duplicates='keep' "
                                 "to keep every value (get answers the first)")
        offsets = blob = None
        if fixed:
            if copy and not sort:
                values = np.array(values, copy=True, order="C")
            elif not values.flags.c_contiguous:
                raise ValueError("values must be C-contiguous (a strided view would need a hidden copy); "
                                 "pass np.ascontiguousarray(values) or copy=True")
            values = values.view()
            values.flags.writeable = False
        else:
            offsets, blob = _bytes_values(values, n)
        if index is not None:
            rmi = RMI(keys, **index)
        else:
            rmi = RMI.auto(keys, max_bytes=max(4096, keys.nbytes // 16))
        return cls(rmi, values if fixed else None, offsets, blob, duplicates)

    # ---------------------------------------------------------------- lookups

    def _value(self, pos: int):
        if self._values is not None:
            return self._values[pos]
        start, stop = int(self._offsets[pos]), int(self._offsets[pos + 1])
        if not start <= stop <= self._blob.size:
            raise _corrupt(f"corrupt value offsets at position {pos}")
        return self._blob[start:stop].tobytes()

    def get(self, key, default=None):
        """The value of ``key`` (the first one, with duplicates), or ``default``.

        Fixed-width values come back as a numpy scalar (or a read-only row); bytes
        values as ``bytes``.  ``key`` may be any number (compared exactly, as in
        :meth:`learnedidx.RMI.searchsorted`).

        Runtime complexity: one RMI lookup, ``O(log w)`` for a window of ``w`` keys.

        >>> import numpy as np
        >>> kv = KeyValueIndex.build(np.array([2, 4], dtype=np.int32), np.array([20, 40], dtype=np.int16))
        >>> kv.get(4), kv.get(4.0), kv.get(4.5), kv.get(3, -1)
        (np.int16(40), np.int16(40), None, -1)
        """
        if not (is_scalar(key) or np.ndim(key) == 0):
            raise TypeError("get takes one key; use get_many(keys) for an array of keys")
        pos = self._index.lookup(key)
        return default if pos < 0 else self._value(pos)

    def __getitem__(self, key):
        """``kv[key]``: the value of ``key``, or ``KeyError``.

        >>> KeyValueIndex.build([1], [b"x"])[1]
        b'x'
        """
        value = self.get(key, _RAISE)
        if value is _RAISE:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        return key in self._index

    def get_many(self, keys, default=_RAISE, *, return_found: bool = False):
        """The values of many keys at once (vectorised): the first value of each key.

        Fixed-width values: an array of shape ``keys.shape + row shape``; bytes values: a
        list (``keys`` must be 1-D).  An absent key gets ``default``; without one, an
        absent key raises ``KeyError`` (as ``dict[k]`` does).  With
        ``return_found=True`` the result is ``(values, found)``, ``found`` a bool array
        (absent rows then hold ``default``, or zeros when none is given).  A typed array
        cannot hold None: with fixed-width values, ``default=None`` also fills absent
        rows with zero bytes (``0``, ``0.0``, ``False``, ``b""`` in every field).

        Runtime complexity: one batch RMI lookup plus ``O(m)`` gathering.

        >>> import numpy as np
        >>> kv = KeyValueIndex.build(np.arange(0, 50, 10), np.arange(5) * 1.5)
        >>> kv.get_many([40, 0, 15], default=np.nan).tolist()
        [6.0, 0.0, nan]
        >>> values, found = kv.get_many(np.array([10, 11]), return_found=True)
        >>> values.tolist(), found.tolist()
        ([1.5, 0.0], [True, False])
        """
        q = keys if isinstance(keys, np.ndarray) else np.asarray(keys)
        pos = np.asarray(self._index.lookup(q))
        found = pos >= 0
        missing = not bool(found.all())
        if missing and default is _RAISE and not return_found:
            raise KeyError(q.reshape(-1)[int(np.argmin(found.reshape(-1)))].item())
        fill = None if default is _RAISE else default
        if self._values is None:
            if q.ndim != 1:
                raise ValueError("get_many of bytes values takes a 1-D array of keys")
            out = self._bytes_many(pos, found, fill)
        else:
            out = self._fixed_many(pos, found, fill)
        return (out, found) if return_found else out

    def _fixed_many(self, pos: np.ndarray, found: np.ndarray, fill):
        vals = self._values
        if vals.shape[0] == 0:
            out = np.zeros(pos.shape + vals.shape[1:], dtype=vals.dtype)
        else:
            out = vals[np.where(found, pos, 0)]
        if not found.all():
            # zero bytes, whatever the dtype (a plain 0 would store b"0" into bytes fields)
            out[~found] = np.zeros((), dtype=vals.dtype) if fill is None else fill
        return out

    def _bytes_many(self, pos: np.ndarray, found: np.ndarray, fill) -> list:
        safe = np.where(found, pos, 0)
        if self._offsets.size < 2:
            return [fill] * pos.size
        starts, stops = self._offsets[safe], self._offsets[safe + 1]
        if not (np.all(starts <= stops) and np.all(stops <= self._blob.size)):
            raise _corrupt("corrupt value offsets")
        blob = memoryview(self._blob)
        return [blob[a:b].tobytes() if ok else fill
                for a, b, ok in zip(starts.tolist(), stops.tolist(), found.tolist())]

    def range(self, lo, hi):
        """``(keys, values)`` of the keys in ``[lo, hi)``, in key order.

        Fixed-width values: read-only views (no copy); bytes values: a list.

        Runtime complexity: two RMI lookups plus the values returned.

        >>> import numpy as np
        >>> kv = KeyValueIndex.build(np.array([1, 3, 3, 8]), np.array([10, 30, 31, 80]), duplicates="keep")
        >>> kv.range(2, 8)
        (array([3, 3]), array([30, 31]))
        """
        if not (is_scalar(lo) or np.ndim(lo) == 0) or not (is_scalar(hi) or np.ndim(hi) == 0):
            raise TypeError("range takes two scalar bounds")
        start, stop = self._index.range(lo, hi)
        if self._values is not None:
            return self._keys[start:stop], self._values[start:stop]
        return self._keys[start:stop], [self._value(i) for i in range(start, stop)]

    def __len__(self) -> int:
        return self._keys.size

    # ------------------------------------------------------------- properties

    @property
    def keys(self) -> np.ndarray:
        """The sorted keys (a read-only view)."""
        return self._keys

    @property
    def values(self) -> np.ndarray:
        """The fixed-width values, one row per key (read-only); bytes values raise ``TypeError``."""
        if self._values is None:
            raise TypeError("bytes values have no array form; use get, get_many, range, or offsets and blob")
        return self._values

    @property
    def offsets(self):
        """Bytes values: ``values[i]`` is ``blob[offsets[i]:offsets[i + 1]]`` (None for fixed-width)."""
        return self._offsets

    @property
    def blob(self):
        """Bytes values: every value concatenated (None for fixed-width)."""
        return self._blob

    @property
    def index(self) -> RMI:
        """The RMI over the keys."""
        return self._index

    @property
    def value_dtype(self):
        """The values' dtype, or ``bytes`` for variable-length values."""
        return bytes if self._values is None else self._values.dtype

    @property
    def nbytes(self) -> int:
        """Bytes of the index model and the values (the keys not counted, as for an RMI)."""
        vals = self._values.nbytes if self._values is not None else self._offsets.nbytes + self._blob.nbytes
        return int(self._index.nbytes + vals)

    def stats(self) -> dict:
        """Sizes and the RMI's statistics.

        >>> KeyValueIndex.build([1, 2], [b"a", b"bc"]).stats()["value_bytes"]
        27
        """
        vals = self._values.nbytes if self._values is not None else self._offsets.nbytes + self._blob.nbytes
        return {"n": len(self), "values": "bytes" if self._values is None else str(self._values.dtype),
                "value_bytes": int(vals), "duplicates": self.duplicates, "index": self._index.stats()}

    def _check(self) -> None:
        """Verify the invariants: the index's, one value per key, consistent offsets, duplicates.

        Runtime complexity: ``O(n)``.
        """
        self._index._check()
        n = len(self)
        if self._values is not None:
            assert self._values.ndim >= 1 and self._values.shape[0] == n, "not one value per key"
        else:
            off = self._offsets
            assert off.shape == (n + 1,) and off[0] == 0 and off[-1] == self._blob.size, "offsets do not span the blob"
            assert not np.any(off[1:] < off[:-1]), "offsets are not non-decreasing"
        if self.duplicates == "error" and n > 1:
            assert not np.any(self._keys[1:] == self._keys[:-1]), "duplicate keys in an index built without them"

    def __repr__(self) -> str:
        vals = "bytes" if self._values is None else str(self._values.dtype)
        return f"{type(self).__name__}(n={len(self)}, keys={self._keys.dtype}, values={vals})"

    # ------------------------------------------------------------ persistence

    def save(self, path) -> None:
        """Write to ``path`` atomically (see :func:`learnedidx.save`).

        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "kv.lidx")
        >>> KeyValueIndex.build([1, 2], [b"a", b"b"]).save(p)
        >>> KeyValueIndex.open(p).get(2)
        b'b'
        """
        from .storage import save
        save(self, path)

    @classmethod
    def open(cls, path, mmap: bool = True, verify: bool | None = None) -> "KeyValueIndex":
        """Open a saved KeyValueIndex (memory-mapped by default; see :func:`learnedidx.load`).

        Runtime complexity: ``O(model size)`` with ``mmap``; keys and values load on use.
        """
        from .storage import FormatError, load
        obj = load(path, mmap=mmap, verify=verify)
        if not isinstance(obj, cls):
            raise FormatError(f"{path}: holds a {type(obj).__name__}, not a {cls.__name__}; use learnedidx.load")
        return obj

    def _state(self) -> tuple[dict, dict]:
        """``(meta, arrays)``: the RMI's state under ``index.``, then the values.

        >>> meta, arrays = KeyValueIndex.build([1, 2], [b"a", b"b"])._state()
        >>> meta["values"], [k for k in arrays if not k.startswith("index.")]
        ('bytes', ['values.offsets', 'values.blob'])
        """
        imeta, iarrays = self._index._state()
        meta = {"version": 1, "n": len(self), "values": "bytes" if self._values is None else "fixed",
                "duplicates": self.duplicates, "index": imeta}
        arrays = {"index." + k: v for k, v in iarrays.items()}
        if self._values is not None:
            arrays["values"] = self._values
        else:
            arrays["values.offsets"] = self._offsets
            arrays["values.blob"] = self._blob
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> "KeyValueIndex":
        """Rebuild from :meth:`_state` output (arrays may be read-only maps); ``ValueError`` if inconsistent.

        Checks the sizes and the two ends of the offsets, not every key or offset
        (``O(n)``; :meth:`_check` does that); each lookup checks the offsets it reads.

        Runtime complexity: the RMI's ``_from_state``, ``O(model size)``.
        """
        def need(ok, what):
            if not ok:
                raise ValueError(f"inconsistent KeyValueIndex state: {what}")

        need(isinstance(meta, dict) and meta.get("version") == 1, "unknown version")
        need(meta.get("values") in ("fixed", "bytes") and meta.get("duplicates") in DUPLICATES,
             "values kind / duplicates")
        need(isinstance(meta.get("index"), dict), "index meta")
        index = RMI._from_state(meta["index"], {k[6:]: v for k, v in arrays.items() if k.startswith("index.")})
        n = len(index)
        need(meta.get("n") == n, "key count")
        if meta["values"] == "fixed":
            values = arrays["values"]
            need(values.ndim >= 1 and values.shape[0] == n and values.dtype != object, "values shape")
            return cls(index, values, None, None, meta["duplicates"])
        offsets, blob = arrays["values.offsets"], arrays["values.blob"]
        need(offsets.dtype == np.uint64 and offsets.shape == (n + 1,), "value offsets shape")
        need(blob.dtype == np.uint8 and blob.ndim == 1, "value blob")
        need(offsets[0] == 0 and offsets[-1] == blob.size, "value offsets do not span the blob")
        return cls(index, None, offsets, blob, meta["duplicates"])
