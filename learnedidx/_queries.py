"""Exact reduction of any numeric query to a lower-bound target in the key dtype.

Every index answers ``searchsorted(keys, q, side)`` for queries of any numeric type:
Python ints of any size, floats, ``Fraction`` and ``Decimal``, numpy scalars and arrays
of another dtype.  Comparing them with the keys by casting (numpy casts a uint64 array
and a Python int to float64) rounds and can answer wrongly.  Instead each query is
reduced here, exactly, to one of:

* a *target* ``t`` of the key dtype such that
  ``searchsorted(keys, q, side) == searchsorted(keys, t, "left")``;
* ``BELOW``: the answer is ``0`` (``q`` is below every value the dtype holds);
* ``ABOVE``: the answer is ``len(keys)`` (``q`` is above every value, or NaN, which
  numpy sorts last).

``side="right"`` becomes the successor in the dtype (``q + 1`` for integers, the next
float up for floats), so the searches and compiled kernels only implement
``lower_bound``.  ``exact`` tells whether ``t == q`` (needed by ``lookup``).
"""
from __future__ import annotations

import math
import numbers
import sys
from decimal import Decimal
from fractions import Fraction

import numpy as np

TARGET, BELOW, ABOVE = 0, 1, 2


def check_side(side: str) -> bool:
    """Return True for ``"right"``, False for ``"left"``; raise ``ValueError`` otherwise."""
    if side == "left":
        return False
    if side == "right":
        return True
    raise ValueError(f"side must be 'left' or 'right', got {side!r}")


# --------------------------------------------------------------------------- scalars

def _next_up(x: float, dtype: np.dtype) -> float:
    if dtype == np.float64:
        return math.nextafter(x, math.inf)
    with np.errstate(over="ignore"):            # FLT_MAX -> inf is the right answer
        return float(np.nextafter(np.float32(x), np.float32(np.inf)))


def _ceil_float(x: float, dtype: np.dtype) -> float:
    """Smallest value of float ``dtype`` that is >= the float64 ``x`` (x not NaN)."""
    if dtype == np.float64:
        return x
    with np.errstate(over="ignore"):
        f = float(np.float32(x))
    if f < x:
        f = _next_up(f, dtype)
    return f


#: A Decimal whose adjusted exponent is beyond this (either way) is replaced by a proxy:
#: converting ``Decimal("1e1000000")`` exactly would build a million-digit integer.
_DECIMAL_FAR = 400
#: No int or float a key dtype holds has more significant decimal digits than this
#: (float64: 767, int64 and uint64: 20), so a Decimal with more is never equal to a key.
_DECIMAL_DIGITS = 800


def from_decimal(d: Decimal):
    """``d`` as the Python number equal to it: an int, a ``Fraction``, or a float (inf, NaN).

    Magnitudes of ``10**401`` and more become ``+-10**401``, those below ``10**-400``
    (not zero) ``+-1/10**401``, and a coefficient of more than ``_DECIMAL_DIGITS``
    significant digits is cut there with a 5 appended: every int and float that a key
    dtype holds compares with the proxy as with ``d`` (none lies between them, since
    those have fewer digits), so searches stay exact and never convert a huge number.

    >>> from_decimal(Decimal("2.000")), from_decimal(Decimal("0.5")), from_decimal(Decimal("-inf"))
    (2, Fraction(1, 2), -inf)
    """
    if d.is_nan():
        return math.nan
    if d.is_infinite():
        return float(d)
    if d.is_zero():
        return -0.0 if d.is_signed() else 0
    sign = -1 if d.is_signed() else 1
    if d.adjusted() > _DECIMAL_FAR:
        return sign * 10 ** (_DECIMAL_FAR + 1)
    if d.adjusted() < -_DECIMAL_FAR:
        return Fraction(sign, 10 ** (_DECIMAL_FAR + 1))
    neg, digits, exp = d.as_tuple()
    if len(digits) > _DECIMAL_DIGITS:
        sig = bytes(digits).rstrip(b"\0")              # trailing zeros are not significant
        if len(sig) > _DECIMAL_DIGITS:
            d = Decimal((neg, tuple(sig[:_DECIMAL_DIGITS]) + (5,), exp + len(digits) - _DECIMAL_DIGITS - 1))
        else:
            d = Decimal((neg, tuple(sig), exp + len(digits) - len(sig)))
    fr = Fraction(d)
    return fr.numerator if fr.denominator == 1 else fr


def _exact_rational(q):
    """``q`` as an exact ``Fraction`` if it is wider than float64 (longdouble) or a
    non-integer rational; ``None`` for ints and float64-or-narrower floats."""
    if isinstance(q, np.floating) and q.dtype.itemsize > 8:
        if not np.isfinite(q):
            return None
        return Fraction(*q.as_integer_ratio())
    if isinstance(q, numbers.Rational) and not isinstance(q, numbers.Integral):
        return Fraction(q)
    return None


def _rational_target(dtype: np.dtype, fr: Fraction, right: bool):
    """``scalar_target`` for an exact rational query (longdouble, Fraction)."""
    if dtype.kind in "iu":
        if fr.denominator == 1:
            return scalar_target(dtype, fr.numerator, right)
        code, t, _ = scalar_target(dtype, math.ceil(fr), False)   # left == right between ints
        return code, t, False
    try:
        g = float(fr)                                        # correctly rounded
    except OverflowError:
        g = math.inf if fr > 0 else -sys.float_info.max
    if math.isfinite(g) and Fraction(g) < fr:
        g = math.nextafter(g, math.inf)
    if not math.isfinite(g) or Fraction(g) != fr:
        # not a float64 (beyond DBL_MAX too, where the next one up is inf): left and
        # right coincide; reduce the next float64 up exactly
        code, t, _ = scalar_target(dtype, g, False)
        return code, t, False
    return scalar_target(dtype, g, right)


def scalar_target(dtype: np.dtype, q, right: bool):
    """Reduce one query to ``(code, target, exact)`` for keys of ``dtype``.

    ``code`` is ``TARGET``, ``BELOW`` or ``ABOVE``; ``target`` is a Python int or float
    that the dtype holds exactly.  Raises ``TypeError`` for a non-numeric query.

    >>> scalar_target(np.dtype("uint64"), -1, False)
    (1, 0, False)
    >>> scalar_target(np.dtype("int64"), 2.5, True)   # keys <= 2.5  ==  keys < 3
    (0, 3, False)
    >>> scalar_target(np.dtype("float64"), 2**53 + 1, False)
    (0, 9007199254740994.0, False)
    """
    if isinstance(q, (bool, np.bool_)):
        q = int(q)
    elif isinstance(q, Decimal):
        q = from_decimal(q)
    fr = _exact_rational(q)
    if fr is not None:
        return _rational_target(dtype, fr, right)
    if isinstance(q, np.floating) and q.dtype.itemsize > 8:
        q = float(q)                                          # +-inf or NaN
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if isinstance(q, numbers.Integral):
            qi = int(q)
        elif isinstance(q, (float, np.floating)):
            f = float(q)
            if math.isnan(f) or f == math.inf:
                return ABOVE, 0, False
            if f == -math.inf:
                return BELOW, 0, False
            if not f.is_integer():
                # Between two integers the left and right answers coincide.
                qi = math.ceil(f)
                if qi > info.max:
                    return ABOVE, 0, False
                if qi < info.min:
                    return BELOW, 0, False
                return TARGET, qi, False
            qi = int(f)
        else:
            raise TypeError(f"query {q!r} is not a number; queries must be ints, floats, Fractions or Decimals")
        if right:
            qi += 1
        if qi < info.min:
            return BELOW, 0, False
        if qi > info.max:
            return ABOVE, 0, False
        return TARGET, qi, not right
    # float keys
    if isinstance(q, numbers.Integral):
        qi = int(q)
        try:
            g = float(qi)
        except OverflowError:
            # Beyond every finite float: the smallest float >= qi is +inf (which an
            # inf key is not below), or -DBL_MAX (which a -inf key is below).
            g = math.inf if qi > 0 else -sys.float_info.max
        if g < qi:
            g = math.nextafter(g, math.inf)
        exact = g == qi
    elif isinstance(q, (float, np.floating)):
        g = float(q)
        if math.isnan(g):
            return ABOVE, 0, False
        exact = True
    else:
        raise TypeError(f"query {q!r} is not a number; queries must be ints, floats, Fractions or Decimals")
    t = _ceil_float(g, dtype)
    exact = exact and t == g
    if right and exact:
        if t == math.inf:
            return ABOVE, 0, False
        t = _next_up(t, dtype)
        exact = False
    return TARGET, t, exact


# ---------------------------------------------------------------------------- arrays

def _int_targets(q: np.ndarray, dtype: np.dtype, right: bool):
    info = np.iinfo(dtype)
    if q.dtype.kind == "u":
        qq = q.astype(np.uint64, copy=False)
        below = np.zeros(q.shape, dtype=bool)
        above = qq > np.uint64(info.max)
        at_max = qq == np.uint64(info.max)
    else:
        qq = q.astype(np.int64, copy=False)
        below = qq < np.int64(info.min)
        above = qq > np.int64(info.max) if info.max <= np.iinfo(np.int64).max else np.zeros(q.shape, dtype=bool)
        if info.max <= np.iinfo(np.int64).max:
            at_max = qq == np.int64(info.max)
        else:                                  # no int64 equals uint64's maximum
            at_max = np.zeros(q.shape, dtype=bool)
    if right:
        above |= at_max
    special = below | above
    if special.any():
        qq = np.where(special, 0, qq).astype(qq.dtype, copy=False)
    t = qq.astype(dtype)
    if right:
        t += np.array(1, dtype=dtype)
    return t, below, above


def _float_to_int_targets(q: np.ndarray, dtype: np.dtype, right: bool):
    info = np.iinfo(dtype)
    q = q.astype(np.float64, copy=False)
    nan = np.isnan(q)
    lo_f, hi_excl = float(info.min), float(info.max + 1)   # both exact powers of two (or 0)
    with np.errstate(invalid="ignore"):                     # NaN queries are marked above
        c = np.ceil(q)
    below = c < lo_f
    above = nan | (c >= hi_excl)
    special = below | above
    c = np.where(special, 0.0, c)
    is_int = c == q
    t = c.astype(dtype)                                     # exact: an integer in range
    exact = is_int & ~special
    if right:
        bump = exact
        at_max = bump & (t == np.array(info.max, dtype=dtype))
        above |= at_max
        t = np.where(bump & ~at_max, t + np.array(1, dtype=dtype), t).astype(dtype, copy=False)
        exact = np.zeros(q.shape, dtype=bool)
    return t, below, above, exact


def _int_to_float64_ceil(q: np.ndarray):
    """Smallest float64 >= each integer of ``q`` (int64/uint64), and whether it is exact."""
    g = q.astype(np.float64)
    limit = 2.0 ** 63 if q.dtype.kind == "i" else 2.0 ** 64
    big = g >= limit                                  # rounded up past the dtype: g > q
    back = np.where(big, 0.0, g).astype(q.dtype)
    lt = (back < q) & ~big                            # rounded down: g < q
    g = np.where(lt, np.nextafter(g, np.inf), g)
    exact = (back == q) & ~big
    return g, exact


def array_targets(dtype: np.dtype, v: np.ndarray, right: bool):
    """Vectorised ``scalar_target``: ``(targets, below, above, exact)`` arrays.

    ``targets`` has the key dtype; ``below``/``above`` are boolean masks (or ``None``
    when no query is special), ``exact`` a boolean mask or ``None`` when every query is
    its own target.  Queries of the key dtype take a fast path with no copies for
    ``side="left"``.

    Runtime complexity: ``O(m)`` for ``m`` queries.
    """
    kind = v.dtype.kind
    if kind == "O" or (kind == "f" and v.dtype.itemsize > 8):
        return _object_targets(dtype, v, right)        # exact, one query at a time
    if kind not in "biuf":
        raise TypeError(f"queries of dtype {v.dtype} are not numbers; pass ints or floats")
    if dtype.kind in "iu":
        if kind == "f":
            t, below, above, exact = _float_to_int_targets(v, dtype, right)
            return t, below, above, exact
        if v.dtype == dtype and not right:
            return v, None, None, None
        t, below, above = _int_targets(v, dtype, right)
        exact = None if not right else np.zeros(v.shape, dtype=bool)
        if below is not None and not right:
            exact = ~(below | above)
        return t, below, above, exact
    # float keys
    if kind == "f" and v.dtype == dtype and not right:
        nan = np.isnan(v)
        if nan.any():
            return np.where(nan, 0, v).astype(dtype), None, nan, ~nan
        return v, None, None, None
    with np.errstate(over="ignore", invalid="ignore"):
        if kind in "iu" and v.dtype.itemsize == 8:
            g, exact = _int_to_float64_ceil(v)
            nan = np.zeros(v.shape, dtype=bool)
        else:
            g = v.astype(np.float64, copy=False)
            nan = np.isnan(g)
            exact = ~nan
            g = np.where(nan, 0.0, g)
        if dtype == np.float32:
            t = g.astype(np.float32)
            down = t.astype(np.float64) < g
            t = np.where(down, np.nextafter(t, np.float32(np.inf)), t).astype(np.float32, copy=False)
            exact = exact & (t.astype(np.float64) == g)
        else:
            t = g
        above = nan
        if right:
            top = exact & (t == np.inf)
            above = above | top
            t = np.where(exact & ~top, np.nextafter(t, dtype.type(np.inf)), t).astype(dtype, copy=False)
            exact = np.zeros(v.shape, dtype=bool)
        t = np.where(above, 0, t).astype(dtype, copy=False)
    return t, None, above, exact & ~above


def _object_targets(dtype: np.dtype, v: np.ndarray, right: bool):
    """Slow exact path for object arrays (Python ints beyond 64 bits, mixed types)."""
    flat = v.ravel()
    m = flat.size
    t = np.zeros(m, dtype=dtype)
    below = np.zeros(m, dtype=bool)
    above = np.zeros(m, dtype=bool)
    exact = np.zeros(m, dtype=bool)
    items = flat.tolist() if flat.dtype.kind == "O" else list(flat)   # keep longdoubles exact
    for i, q in enumerate(items):
        code, target, ex = scalar_target(dtype, q, right)
        if code == TARGET:
            t[i] = target
            exact[i] = ex
        elif code == BELOW:
            below[i] = True
        else:
            above[i] = True
    shape = v.shape
    return t.reshape(shape), below.reshape(shape), above.reshape(shape), exact.reshape(shape)


def as_query_array(v) -> np.ndarray:
    """Turn an array-like of queries into an ndarray without rounding Python ints.

    numpy converts ``[-1, 2**64 - 1]`` to float64, rounding the second value; such
    sequences become object arrays, answered exactly by the slow path.
    """
    if isinstance(v, np.ndarray):
        return v
    arr = np.asarray(v)
    if arr.dtype.kind == "f" and arr.size:
        items = _flatten(v)
        if any(isinstance(x, numbers.Integral) for x in items):
            obj = np.empty(len(items), dtype=object)
            obj[:] = items
            arr = obj.reshape(arr.shape)
    return arr


def _flatten(v):
    out = []
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
        else:
            out.append(x)
    return out
