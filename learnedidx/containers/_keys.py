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
from decimal import Decimal

import numpy as np

from .._queries import from_decimal
from .._validate import check_dtype


#: The advice for a key that no supported dtype holds exactly.
ROUND_IT = "no supported dtype holds it exactly: round it with float() first if that is acceptable"


def _fix(dtype: np.dtype, x=None) -> str:
    """The advice naming a dtype that would hold the rejected key ``x``."""
    if x is not None and not _integral(x) and not _float_exact(x):
        return ROUND_IT
    if dtype.kind in "iu":
        return "build the container with dtype=np.float64"
    return "use an integer dtype (e.g. dtype=np.int64) for large integer keys"


def _float_exact(x) -> bool:
    """Whether ``float(x)`` is exactly ``x`` (a Fraction, a long double, ...)."""
    try:
        return float(x) == x
    except (TypeError, ValueError, OverflowError):
        return False


#: Adjusted exponents of the Decimals a key dtype may hold exactly (float64: 4.9e-324 to
#: 1.8e308; every int64 / uint64 is far inside); beyond them nothing is converted.
_DECIMAL_KEY_EXPONENTS = (-330, 310)


def _integral(x) -> bool:
    """Whether ``x`` is an integer type's value or an integral Fraction or Decimal (not a float)."""
    if isinstance(x, Decimal):
        return x.is_finite() and x.adjusted() <= _DECIMAL_KEY_EXPONENTS[1] and x == x.to_integral_value()
    return isinstance(x, numbers.Integral) or isinstance(x, numbers.Rational) and x.denominator == 1


def is_nan(x) -> bool:
    """Whether the number ``x`` is a NaN (a signalling ``Decimal`` NaN too, which ``x != x``
    would raise for).

    >>> from decimal import Decimal
    >>> is_nan(float("nan")), is_nan(Decimal("sNaN")), is_nan(1)
    (True, True, False)
    """
    return x.is_nan() if isinstance(x, Decimal) else x != x


def _decimal_key(d: Decimal):
    """A ``Decimal`` key as the int, ``Fraction`` or float equal to it (``key_of`` then
    keeps it only if the dtype holds it exactly), or raise for one far beyond every dtype."""
    lo, hi = _DECIMAL_KEY_EXPONENTS
    if d.is_finite() and not d.is_zero() and not lo <= d.adjusted() <= hi:
        raise ValueError(f"key {d!r} is not exactly representable in any supported dtype; {ROUND_IT}")
    return from_decimal(d)


def infer_dtype(x) -> np.dtype:
    """The key dtype a container infers from its first key ``x``.

    Python ints (and bools) give int64 (uint64 beyond int64), floats float64, numpy
    scalars of a supported dtype keep it; narrower numpy ints widen to int64.

    >>> infer_dtype(5), infer_dtype(2**63), infer_dtype(0.5), infer_dtype(np.float32(1))
    (dtype('int64'), dtype('uint64'), dtype('float64'), dtype('float32'))
    """
    if isinstance(x, Decimal):
        x = _decimal_key(x)
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
    if _integral(x):
        v = int(x)
        if -2 ** 63 <= v < 2 ** 63:
            return np.dtype(np.int64)
        if 0 <= v < 2 ** 64:
            return np.dtype(np.uint64)
        if _float_exact(v):
            return np.dtype(np.float64)                # 2**70 is a float64 exactly
        raise ValueError(f"key {v} fits neither int64 nor uint64 nor exactly float64; {ROUND_IT}")
    if isinstance(x, numbers.Real):
        return np.dtype(np.float64)
    raise TypeError(f"key {x!r} is not a number; containers hold int or float keys")


def key_of(dtype: np.dtype, x):
    """``x`` as a Python int (integer dtypes) or float (float dtypes), exactly, or raise.

    Runtime complexity: ``O(1)``.

    >>> from decimal import Decimal
    >>> key_of(np.dtype("int64"), Decimal("7.00")), key_of(np.dtype("float64"), Decimal("0.5"))
    (7, 0.5)
    """
    t = type(x)
    if t is Decimal:
        v = _decimal_key(x)
        try:
            return key_of(dtype, v)
        except ValueError as e:                       # name the key as the caller wrote it
            raise ValueError(str(e).replace(repr(v), repr(x), 1)) from None
    if dtype.kind in "iu":
        if t is int:
            v = x
        elif isinstance(x, (bool, np.bool_)) or isinstance(x, numbers.Integral):
            v = int(x)
        elif isinstance(x, numbers.Rational):          # a Fraction: exact without a float
            if x.denominator != 1:
                raise ValueError(f"key {x!r} is not exactly representable as {dtype}; {_fix(dtype, x)}")
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
                if f != f:
                    raise ValueError("NaN cannot be a key")
                raise ValueError(f"key {x!r} is not exactly representable as {dtype}; {_fix(dtype, x)}")
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
        # a long double, a Fraction, any other Real: kept only if float() is exact (== compares
        # exactly across these types)
        try:
            f = float(x)
        except OverflowError:
            raise ValueError(f"key {x!r} is not exactly representable as {dtype}; {_fix(dtype)}") from None
        if not (f == x or f != f):
            raise ValueError(f"key {x!r} is not exactly representable as {dtype}; {_fix(dtype, x)}")
    else:
        raise TypeError(f"key {x!r} is not a number; this container holds {dtype} keys")
    if f != f:
        raise ValueError("NaN cannot be a key")
    if dtype.itemsize == 4:
        with np.errstate(over="ignore"):      # beyond float32's range: refused below, not warned
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
        raise TypeError(f"keys must be a flat sequence of numbers, got nested sequences (shape {arr.shape})")
    if arr.tolist() != list(seq):
        # numpy rounded, truncated or met a NaN: report the first bad key precisely
        dt = arr.dtype
        if dtype is None:
            _exact_floats(seq)          # inferred: say that no dtype holds them all
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
    if kind in "fO" and all(_integral(x) for x in seq):
        # numpy turns ints beyond int64 into float64 or object, and integral Fractions into
        # object: pick the integer dtype instead
        ints = [int(x) for x in seq]
        lo, hi = min(ints), max(ints)
        if -2 ** 63 <= lo and hi < 2 ** 63:
            return np.asarray(ints, dtype=np.int64)
        if 0 <= lo and hi < 2 ** 64:
            return np.asarray(ints, dtype=np.uint64)
        return _exact_floats(seq)
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
        if not isinstance(x, (numbers.Real, Decimal)):
            raise TypeError(f"key {x!r} is not a number; containers hold int or float keys")
    return _exact_floats(seq)


def _exact_floats(seq) -> np.ndarray:
    """Numbers that no 64-bit integer dtype holds together, as float64 if each is exact there."""
    f64 = np.dtype(np.float64)
    out = []
    for x in seq:
        try:
            out.append(key_of(f64, x))
        except ValueError:
            if is_nan(x):
                raise                                  # "NaN cannot be a key"
            if len(seq) == 1:
                raise ValueError(f"key {x!r}: {ROUND_IT}") from None
            raise ValueError(f"key {x!r} cannot join the other keys exactly: int64 and uint64 cannot hold "
                             "them all and float64 cannot hold it; round it with float() first if that is "
                             "acceptable") from None
    return np.asarray(out, dtype=f64)


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
    if src == dtype or not arr.size:
        return arr if src == dtype else arr.astype(dtype)
    if _safe(src, dtype):
        return arr.astype(dtype)
    with np.errstate(all="ignore"):
        out = arr.astype(dtype)
    if not _lossless(arr, out):
        bad = next(x for x in arr.tolist() if not _exact_in(dtype, x))
        fix = "build the container with dtype=np.float64" if src.kind == dtype.kind == "f" else _fix(dtype)
        raise ValueError(f"key {bad!r} is not exactly representable as {dtype}; {fix}")
    return out


def common_key_dtype(*arrays: np.ndarray) -> np.dtype | None:
    """The supported key dtype that holds every key of every array exactly, or None.

    Integers stay integers while one of int64 / uint64 covers them all; a float among
    them gives float32 when every array is float32, else float64, which must then hold
    every integer exactly; only when it cannot (``2**53 + 1`` beside ``2.0**63``) are
    integral floats tried as int64 / uint64.  This is how a container whose dtype was
    inferred widens it.

    Runtime complexity: ``O(m)`` for the arrays' ``m`` keys, but only the keys beyond
    ``+-2**53`` are checked one by one.

    >>> common_key_dtype(np.array([1, 2]), np.array([2.5])), common_key_dtype(np.array([1]), np.array([2**63], dtype=np.uint64))
    (dtype('float64'), dtype('uint64'))
    >>> common_key_dtype(np.array([2**53 + 1]), np.array([0.5])) is None
    True
    >>> common_key_dtype(np.array([2**53 + 1]), np.array([2.0**63]))
    dtype('uint64')
    """
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return None
    ends = [v for a in arrays for v in (a.min(), a.max())]
    kinds = {a.dtype.kind for a in arrays}
    wanted = []
    if "f" in kinds:
        wanted.append(np.dtype(np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64))
    if all(math.isfinite(v) and float(v).is_integer() if isinstance(v, np.floating) else True for v in ends):
        lo, hi = min(int(v) for v in ends), max(int(v) for v in ends)
        if -2 ** 63 <= lo and hi < 2 ** 63:
            wanted.append(np.dtype(np.int64))
        elif 0 <= lo and hi < 2 ** 64:
            wanted.append(np.dtype(np.uint64))
        if not wanted:
            wanted.append(np.dtype(np.float64))
    for target in wanted:
        if all(_holds(target, a) for a in arrays):
            return target
    return None


def deciding_keys(a: np.ndarray) -> np.ndarray:
    """The keys of a sorted integer array that decide :func:`common_key_dtype`: its ends and
    the keys beyond ``+-2**53`` (a view or a small copy; float arrays come back whole).

    >>> deciding_keys(np.array([-2**60, 1, 2, 3, 2**60])).tolist()
    [-1152921504606846976, 1152921504606846976]
    """
    if a.dtype.kind not in "iu" or a.size <= 2:
        return a
    lo = int(np.searchsorted(a, -2 ** 53)) if a.dtype.kind == "i" else 0
    hi = int(np.searchsorted(a, 2 ** 53, "right"))
    return np.concatenate((a[:max(lo, 1)], a[min(hi, a.size - 1):]))


def _holds(target: np.dtype, a: np.ndarray) -> bool:
    """Whether ``target`` holds every key of ``a`` exactly (its range already checked)."""
    if a.dtype == target or _safe(a.dtype, target):
        return True
    if target.kind == "f" and a.dtype.kind in "iu":
        # integers within +-2**53 are exact in float64: check only the others
        big = (a > 2 ** 53) | (a < -2 ** 53) if a.dtype.kind == "i" else a > 2 ** 53
        a = a[big]
        if not a.size:
            return True
    with np.errstate(all="ignore"):
        return _lossless(a, a.astype(target))


def _safe(src: np.dtype, dst: np.dtype) -> bool:
    """Whether every value of ``src`` survives a cast to ``dst``.

    Not ``np.can_cast(src, dst, "safe")`` alone: numpy calls int64 -> float64 safe although
    it rounds above 2**53, so an integer -> float cast is trusted only when the integer's
    bits fit the float's mantissa (int32 -> float64 is exact, int64 -> float64 is not).

    >>> _safe(np.dtype("int32"), np.dtype("float64")), _safe(np.dtype("int64"), np.dtype("float64"))
    (True, False)
    """
    if not np.can_cast(src, dst, "safe"):
        return False
    if src.kind in "iu" and dst.kind == "f":
        return src.itemsize * 8 - (src.kind == "i") <= np.finfo(dst).nmant + 1
    return True


def _lossless(arr: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``out`` (``arr`` cast to a numeric dtype) holds every element of ``arr`` unchanged.

    NaN counts as unchanged between float dtypes (keys refuse NaN before this).
    Runtime complexity: ``O(m)`` vectorised.

    >>> a = np.array([1, 2 ** 53 + 1]); _lossless(a, a.astype(np.float64))
    False
    """
    src, dst = arr.dtype, out.dtype
    if not arr.size:
        return True
    with np.errstate(all="ignore"):
        if dst.kind in "iu":
            info = np.iinfo(dst)
            if src.kind == "f":
                # info.max + 1 is a power of two, so the comparisons with Python ints are exact
                return (bool(np.all(np.isfinite(arr) & (np.floor(arr) == arr)))
                        and float(arr.min()) >= info.min and float(arr.max()) < info.max + 1)
            return int(arr.min()) >= info.min and int(arr.max()) <= info.max
        if src.kind == "f":
            back = out.astype(src)
            return bool(np.all((back == arr) | np.isnan(arr)))
        if src.kind == "b":
            return True
        # integers to float: the float must lie below 2**bits (the cast back would be undefined
        # there) and convert back to the same integer
        top = 2.0 ** (src.itemsize * 8 - (src.kind == "i"))
        return bool(np.all((out < top) & (out.astype(src) == arr)))


def _exact_in(dtype: np.dtype, x) -> bool:
    try:
        key_of(dtype, x)
    except (TypeError, ValueError):
        return False
    return True


def value_of(value_dtype: np.dtype | None, v):
    """A value as stored: unchanged without ``value_dtype``, else the exact Python item.

    Into a numeric ``value_dtype``, a non-number (None, a str, a list) raises ``TypeError``
    and a number the dtype cannot hold exactly (``1.5`` or ``2**70`` into int64) raises
    ``ValueError``; NaN and infinities are values like any other in a float dtype.

    >>> value_of(np.dtype("int32"), 7), value_of(None, "x"), value_of(np.dtype("float64"), 2)
    (7, 'x', 2.0)
    >>> value_of(np.dtype("float64"), None)
    Traceback (most recent call last):
    ...
    TypeError: value None is not a number; this SortedDict holds float64 values
    """
    if value_dtype is None:
        return v
    if value_dtype.kind in "iuf":
        return _number_of(value_dtype, v)
    try:
        with np.errstate(all="ignore"):
            a = np.asarray(v, dtype=value_dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise type(e)(f"value {v!r} cannot be stored as {value_dtype}: {e}") from None
    if a.ndim != 0:
        raise ValueError(f"value {v!r} is not a scalar of {value_dtype}")
    return a.item()


def _number_of(value_dtype: np.dtype, v):
    """``v`` as the Python int/float a numeric value dtype stores exactly, or raise."""
    if not isinstance(v, (numbers.Real, np.bool_)):
        raise TypeError(f"value {v!r} is not a number; this SortedDict holds {value_dtype} values")
    fix = "pass a wider value_dtype (e.g. value_dtype=np.float64 or object)"
    if isinstance(v, np.generic) and (v.dtype.kind in "biu" or v.dtype.itemsize <= 8):
        v = v.item()        # compare as Python numbers: numpy would cast one side first
    if value_dtype.kind in "iu":
        if isinstance(v, (numbers.Integral, np.bool_)):
            iv = int(v)
        else:
            try:
                iv = int(v)
            except (ValueError, OverflowError):       # NaN, inf
                raise ValueError(f"value {v!r} is not exactly representable as {value_dtype}; {fix}") from None
            if iv != v:
                raise ValueError(f"value {v!r} is not exactly representable as {value_dtype}; {fix}")
        info = np.iinfo(value_dtype)
        if not info.min <= iv <= info.max:
            raise ValueError(f"value {iv} is out of range for {value_dtype} [{info.min}, {info.max}]; {fix}")
        return iv
    try:
        with np.errstate(all="ignore"):
            item = value_dtype.type(v)
    except OverflowError:
        raise ValueError(f"value {v!r} is not exactly representable as {value_dtype}; {fix}") from None
    r = item.item()
    if not (r == v or (r != r and v != v)):
        raise ValueError(f"value {v!r} is not exactly representable as {value_dtype}; {fix}")
    return r


def values_array(value_dtype: np.dtype | None, values, n: int) -> np.ndarray:
    """``n`` values as a numpy array (object dtype without ``value_dtype``), never broadcast."""
    if value_dtype is None:
        if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
            out = values
        elif isinstance(values, np.ndarray) and values.ndim == 1:
            out = np.empty(values.shape[0], dtype=object)
            out[:] = values.tolist()                # Python numbers, as d[k] returns them
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
    """A value array as ``value_dtype``: exactly for numeric dtypes, else as numpy casts it."""
    src = values.dtype
    if value_dtype.kind in "iuf":
        if src.kind == "O":
            out = np.zeros(values.shape[0], dtype=value_dtype)
            for i, v in enumerate(values.tolist()):
                out[i] = _number_of(value_dtype, v)
            return out
        if src.kind not in "biuf":
            raise TypeError(f"values of dtype {src} are not numbers; this SortedDict holds {value_dtype} values")
        if _safe(src, value_dtype):
            return values.astype(value_dtype)
    with np.errstate(all="ignore"):
        out = values.astype(value_dtype)
    if value_dtype.kind in "iuf" and not _lossless(values, out):
        raise ValueError(f"values are not exactly representable as {value_dtype}; pass value_dtype={src}")
    return out
