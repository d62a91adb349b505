"""Exact conversion of user keys (and typed values) into the containers' numpy dtypes.

One job: a key either becomes a Python number that the container's dtype holds
exactly, or raises.  Non-numbers raise ``TypeError``; numbers the dtype cannot hold
exactly (``1.5`` into int64, ``2**64`` into uint64, ``2**53 + 1`` into float64) and NaN
raise ``ValueError`` naming the fix.  Nothing is ever rounded.

>>> key_of(np.dtype("int64"), 3.0), key_of(np.dtype("float64"), 2)
(3, 2.0)
>>> key_of(np.dtype("int64"), 1.5)
Traceback (most recent call last):
...
ValueError: key 1.5 is not exactly representable as int64; build the container with dtype=np.float64
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._validate import check_dtype

_FLOAT_BITS = {"float32": 24, "float64": 53}


def _fix(dtype: np.dtype) -> str:
    """The advice naming a dtype that would hold the rejected key."""
    if dtype.kind in "iu":
        return "build the container with dtype=np.float64"
    return "use an integer dtype (e.g. dtype=np.int64) for large integer keys"


def infer_dtype(x) -> np.dtype:
    """The key dtype a container infers from its first key ``x``.

    Python ints (and bools) give int64 (uint64 beyond int64), floats float64, numpy
    scalars of a supported dtype keep it; narrower numpy ints widen to int64.

    >>> infer_dtype(5), infer_dtype(2**63), infer_dtype(0.5), infer_dtype(np.float32(1))
    (dtype('int64'), dtype('uint64'), dtype('float64'), dtype('float32'))
    """
    if isinstance(x, np.generic):
        dt = x.dtype
        if dt.kind in "iub" and dt.itemsize < 4 or dt.kind == "b":
            return np.dtype(np.int64)
        if dt.kind == "f" and dt.itemsize < 4:
            return np.dtype(np.float32)
        if dt.kind == "f" and dt.itemsize > 8:
            return np.dtype(np.float64)
        if dt.kind in "iuf":
            return check_dtype(dt)
    if isinstance(x, numbers.Integral):
        v = int(x)
        if -2 ** 63 <= v < 2 ** 63:
            return np.dtype(np.int64)
        if 0 <= v < 2 ** 64:
            return np.dtype(np.uint64)
        raise ValueError(f"key {v} fits neither int64 nor uint64; pass dtype=np.float64 if rounding is acceptable")
    if isinstance(x, numbers.Real):
        return np.dtype(np.float64)
    raise TypeError(f"key {x!r} is not a number; containers hold int or float keys")


def key_of(dtype: np.dtype, x):
    """``x`` as a Python int (integer dtypes) or float (float dtypes), exactly, or raise.

    Runtime complexity: ``O(1)``.
    """
    t = type(x)
    if dtype.kind in "iu":
        if t is int:
            v = x
        elif isinstance(x, (bool, np.bool_)) or isinstance(x, numbers.Integral):
            v = int(x)
        elif isinstance(x, numbers.Real):
            f = x
            if isinstance(x, np.floating) and x.dtype.itemsize > 8:
                f = x                                  # longdouble: compare exactly below
            try:
                ok = math.isfinite(f) and float(f) == f and float(f).is_integer()
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                if isinstance(f, float) and math.isnan(f):
                    raise ValueError("NaN cannot be a key")
                raise ValueError(f"key {x!r} is not exactly representable as {dtype}; {_fix(dtype)}")
            v = int(float(f))
        else:
            raise TypeError(f"key {x!r} is not a number; this container holds {dtype} keys")
        info = np.iinfo(dtype)
        if not info.min <= v <= info.max:
            raise ValueError(f"key {v} is out of range for {dtype} [{info.min}, {info.max}]; "
                             f"build the container with a wider dtype")
        return v
    # float dtypes
    if t is float:
        f = x
    elif isinstance(x, (bool, np.bool_)):
        f = float(int(x))
    elif isinstance(x, numbers.Integral):
        v = int(x)
        try:
            f = float(v)
        except OverflowError:
            raise ValueError(f"key {v} is not exactly representable as {dtype}; {_fix(dtype)}") from None
        if f != v:
            raise ValueError(f"key {v} is not exactly representable as {dtype}; {_fix(dtype)}")
    elif isinstance(x, numbers.Real):
        f = float(x)
        if isinstance(x, np.floating) and x.dtype.itemsize > 8 and not (f == x or math.isnan(f)):
            raise ValueError(f"key {x!r} is not exactly representable as {dtype}")
    else:
        raise TypeError(f"key {x!r} is not a number; this container holds {dtype} keys")
    if f != f:
        raise ValueError("NaN cannot be a key")
    if dtype.itemsize == 4:
        g = float(np.float32(f)) if math.isfinite(f) else f
        if g != f:
            raise ValueError(f"key {x!r} is not exactly representable as float32; build the container with dtype=np.float64")
    return f


def keys_array(dtype: np.dtype | None, values) -> np.ndarray:
    """Many keys as a 1-D numpy array of ``dtype`` (inferred when None), exactly, or raise.

    A numpy array is cast only when every element survives the cast unchanged; a
    Python iterable is converted by numpy and verified element by element.

    Runtime complexity: ``O(m)``.

    >>> keys_array(None, [3, 1, 2.0]).tolist()
    [3.0, 1.0, 2.0]
    >>> keys_array(np.dtype("int64"), np.array([1.0, 2.0])).tolist()
    [1, 2]
    """
    if isinstance(values, np.ndarray):
        return _cast_array(dtype, values)
    seq = values if isinstance(values, (list, tuple)) else list(values)
    if not len(seq):
        return np.zeros(0, dtype=dtype if dtype is not None else np.int64)
    if dtype is None:
        arr = _infer_sequence(seq)
    else:
        try:
            with np.errstate(all="ignore"):
                arr = np.asarray(seq, dtype=dtype)
        except OverflowError:
            for x in seq:
                key_of(dtype, x)        # raises the precise error
            raise
        except (TypeError, ValueError):
            for x in seq:
                key_of(dtype, x)
            raise
    if arr.ndim != 1:
        raise ValueError(f"keys must be a flat sequence of numbers, got shape {arr.shape}")
    if arr.tolist() != list(seq):
        # numpy rounded, truncated or met a NaN: report the first bad key precisely
        dt = arr.dtype
        for x in seq:
            key_of(dt, x)
        raise ValueError("keys are not exactly representable in " + str(dt))
    return arr


def _infer_sequence(seq) -> np.ndarray:
    """numpy's conversion of a Python sequence, restricted to the supported dtypes."""
    try:
        arr = np.asarray(seq)
    except (TypeError, ValueError, OverflowError):
        arr = np.asarray(seq, dtype=object)
    kind = arr.dtype.kind
    if kind in "fO" and all(isinstance(x, numbers.Integral) for x in seq):
        # numpy turns ints beyond int64 into float64 or object: pick the integer dtype instead
        lo, hi = int(min(seq)), int(max(seq))
        if -2 ** 63 <= lo and hi < 2 ** 63:
            return np.asarray(seq, dtype=np.int64)
        if 0 <= lo and hi < 2 ** 64:
            return np.asarray(seq, dtype=np.uint64)
        raise ValueError("these integer keys fit neither int64 nor uint64; pass dtype=np.float64 "
                         "if rounding is acceptable")
    if kind in "biu":
        if kind == "b" or arr.dtype.itemsize < 8:
            return arr.astype(np.int64)
        return arr
    if kind == "f":
        if arr.dtype.itemsize != 8:
            arr = arr.astype(np.float64)
        return arr
    # object or strings: find the offending element
    for x in seq:
        if not isinstance(x, numbers.Real):
            raise TypeError(f"key {x!r} is not a number; containers hold int or float keys")
    if all(isinstance(x, numbers.Integral) for x in seq):
        raise ValueError("these integer keys fit neither int64 nor uint64; pass dtype=np.float64 "
                         "if rounding is acceptable")
    f64 = np.dtype(np.float64)
    return np.asarray([key_of(f64, x) for x in seq], dtype=f64)


def _cast_array(dtype, arr: np.ndarray) -> np.ndarray:
    """Cast a numpy array to ``dtype`` only if exact (NaN rejected)."""
    if arr.ndim != 1:
        raise ValueError(f"keys must be a 1-D array, got shape {arr.shape}; flatten with keys.ravel()")
    src = arr.dtype
    if src.kind not in "biuf":
        if src.kind == "O":
            return keys_array(dtype, arr.tolist())
        raise TypeError(f"keys of dtype {src} are not numbers; containers hold int or float keys")
    if dtype is None:
        if src.kind == "b" or (src.kind in "iu" and src.itemsize < 4):
            dtype = np.dtype(np.int64)
        elif src.kind == "f" and src.itemsize < 4:
            dtype = np.dtype(np.float32)
        elif src.kind == "f" and src.itemsize > 8:
            dtype = np.dtype(np.float64)
        else:
            dtype = check_dtype(src.newbyteorder("=")) if not src.isnative else check_dtype(src)
    if src.kind == "f" and arr.size and np.isnan(arr).any():
        raise ValueError(f"keys contain NaN (first at position {int(np.flatnonzero(np.isnan(arr))[0])}); "
                         "remove NaN first")
    if src == dtype:
        return arr
    if not arr.size or np.can_cast(src, dtype, "safe"):
        return arr.astype(dtype)
    with np.errstate(all="ignore"):
        out = arr.astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if src.kind == "f":
            ok = bool(np.all(np.isfinite(arr))) and bool(np.all(np.floor(arr) == arr))
            ok = ok and float(arr.min()) >= info.min and float(arr.max()) <= info.max
            # the top float below 2**63 etc. is exact; info.max + 1 is a power of two
            ok = ok and float(arr.max()) < info.max + 1
        else:
            ok = int(arr.min()) >= info.min and int(arr.max()) <= info.max
        if not ok:
            bad = next(x for x in arr.tolist() if not _exact_in(dtype, x))
            raise ValueError(f"key {bad!r} is not exactly representable as {dtype}; {_fix(dtype)}")
        return out
    # to float
    if src.kind == "f":
        back = out.astype(src)
        ok = bool(np.all((back == arr) | ~np.isfinite(arr)))
    else:
        limit = 2 ** _FLOAT_BITS[dtype.name]
        big = arr.tolist() if (int(arr.max()) > limit or int(arr.min()) < -limit) else []
        ok = all(_exact_in(dtype, x) for x in big)
    if not ok:
        bad = next(x for x in arr.tolist() if not _exact_in(dtype, x))
        raise ValueError(f"key {bad!r} is not exactly representable as {dtype}; {_fix(dtype)}")
    return out


def _exact_in(dtype: np.dtype, x) -> bool:
    try:
        key_of(dtype, x)
    except (TypeError, ValueError):
        return False
    return True


def value_of(value_dtype: np.dtype | None, v):
    """A value as stored: unchanged without ``value_dtype``, else the exact numpy item.

    >>> value_of(np.dtype("int32"), 7), value_of(None, "x")
    (7, 'x')
    """
    if value_dtype is None:
        return v
    try:
        a = np.asarray(v, dtype=value_dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise type(e)(f"value {v!r} cannot be stored as {value_dtype}: {e}") from None
    if a.ndim != 0:
        raise ValueError(f"value {v!r} is not a scalar of {value_dtype}")
    item = a.item()
    if value_dtype.kind in "iuf" and isinstance(v, numbers.Number) and not (item == v or (v != v and item != item)):
        raise ValueError(f"value {v!r} is not exactly representable as {value_dtype}")
    return item


def values_array(value_dtype: np.dtype | None, values, n: int) -> np.ndarray:
    """``n`` values as a numpy array (object dtype without ``value_dtype``), never broadcast."""
    if value_dtype is None:
        if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
            out = values
        else:
            out = np.fromiter(values, dtype=object, count=n) if n else np.zeros(0, dtype=object)
    elif isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"values must be 1-D, got shape {values.shape}")
        out = values if values.dtype == value_dtype else _cast_values(value_dtype, values)
    else:
        lst = list(values)
        out = np.zeros(len(lst), dtype=value_dtype)
        for i, v in enumerate(lst):
            out[i] = value_of(value_dtype, v)
    if out.shape[0] != n:
        raise ValueError(f"got {out.shape[0]} values for {n} keys")
    return out


def _cast_values(value_dtype: np.dtype, values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = values.astype(value_dtype)
    if value_dtype.kind in "iuf" and values.dtype.kind in "biuf":
        if not np.array_equal(out.astype(values.dtype) if values.dtype.kind != "b" else out != 0,
                              values, equal_nan=values.dtype.kind == "f"):
            raise ValueError(f"values are not exactly representable as {value_dtype}; pass value_dtype={values.dtype}")
    return out
