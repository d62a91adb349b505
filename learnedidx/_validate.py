"""Validation of the sorted key arrays every index is built on.

One job: turn what a user passes as ``keys`` into a 1-D, C-contiguous numpy array of
one of the six supported dtypes, or raise an exception that names the fix.  A
contiguous array of a supported dtype is returned as it is (a read-only view of the
same memory): no copy of the keys is ever made unless the caller asks for one.
"""
from __future__ import annotations

import numbers

import numpy as np

#: The key dtypes every index supports, in native byte order.
SUPPORTED_DTYPES = tuple(
    np.dtype(t) for t in ("uint32", "uint64", "int32", "int64", "float32", "float64")
)
_SUPPORTED_NAMES = ", ".join(d.name for d in SUPPORTED_DTYPES)


def check_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a supported key dtype, or raise ``TypeError`` naming the choices.

    >>> check_dtype("uint64")
    dtype('uint64')
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{dtype!r} is not a dtype; supported key dtypes: {_SUPPORTED_NAMES}") from exc
    if dt in SUPPORTED_DTYPES and dt.isnative:
        return dt
    if dt.kind in "iuf" and not dt.isnative:
        raise TypeError(
            f"key dtype {dt} is not in native byte order; convert with "
            f"keys.astype(keys.dtype.newbyteorder('='))"
        )
    hint = ""
    if dt.kind in "iub":
        hint = "; widen with keys.astype(np.int64) (or np.uint64 / np.int32 / np.uint32)"
    elif dt.kind == "f":
        hint = "; convert with keys.astype(np.float64)"
    raise TypeError(f"unsupported key dtype {dt}: supported key dtypes are {_SUPPORTED_NAMES}{hint}")


def _sequence_to_array(keys) -> np.ndarray:
    """Convert a non-array sequence, refusing conversions that would round Python ints."""
    arr = np.asarray(keys)
    if arr.dtype.kind in "fO" and arr.ndim == 1 and len(keys) and all(
        isinstance(k, numbers.Integral) for k in keys
    ):
        # numpy turns a list of ints that fits neither int64 nor uint64 into float64
        # (or object), which rounds keys silently: refuse instead.
        raise TypeError(
            "these integer keys fit neither int64 nor uint64 (numpy would round them to "
            "float64); pass a numpy array with an explicit integer dtype"
        )
    if arr.dtype.kind == "b":
        raise TypeError("boolean keys are not supported; convert them with np.asarray(keys, dtype=np.uint32)")
    return arr


def as_sorted_keys(keys, *, copy: bool = False, check_sorted: bool = True) -> np.ndarray:
    """Validate ``keys`` and return them as a read-only, C-contiguous numpy array.

    A C-contiguous numpy array of a supported dtype is not copied (the result is a
    read-only view of the caller's memory; modifying the original afterwards breaks the
    index built on it).  ``copy=True`` makes a private copy.  Python sequences are
    converted with ``np.asarray``.

    Raises ``TypeError`` for an unsupported dtype and ``ValueError`` for a non-1-D,
    non-contiguous, unsorted or NaN-holding array.

    Runtime complexity: ``O(n)`` (one pass for sortedness, one for NaN on floats).

    >>> as_sorted_keys([1, 2, 2, 7]).dtype
    dtype('int64')
    >>> as_sorted_keys(np.array([3, 1]))
    Traceback (most recent call last):
    ...
    ValueError: keys must be sorted in non-decreasing order (first violation at position 1: 3 > 1); sort them with np.sort(keys)
    """
    if isinstance(keys, np.ndarray):
        arr = keys
    else:
        arr = _sequence_to_array(keys)
    if arr.ndim != 1:
        raise ValueError(f"keys must be a 1-D array, got {arr.ndim}-D with shape {arr.shape}; flatten with keys.ravel()")
    check_dtype(arr.dtype)
    if copy:
        arr = np.array(arr, copy=True, order="C")
    elif not arr.flags.c_contiguous:
        raise ValueError(
            "keys must be C-contiguous (a strided view would need a hidden copy); "
            "pass np.ascontiguousarray(keys) or copy=True"
        )
    if arr.dtype.kind == "f":
        nan_at = np.flatnonzero(np.isnan(arr))
        if nan_at.size:
            raise ValueError(f"keys contain NaN (first at position {nan_at[0]}); remove NaN before building an index")
    if check_sorted and arr.size > 1:
        bad = np.flatnonzero(arr[1:] < arr[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(
                f"keys must be sorted in non-decreasing order (first violation at position "
                f"{i}: {arr[i - 1]} > {arr[i]}); sort them with np.sort(keys)"
            )
    view = arr.view()
    view.flags.writeable = False
    return view
