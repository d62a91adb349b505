"""Bad input raises clear errors; the keys are shared, not copied, and read-only."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import KEY_DTYPES, ROOTS, dtype_id

from learnedidx import RMI

GOOD = np.array([1, 2, 2, 5, 9], dtype=np.int64)


# --------------------------------------------------------------------------- keys

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_unsorted_keys(backend, dtype):
    keys = np.array([1, 3, 2, 4], dtype=dtype)
    with pytest.raises(ValueError, match=r"sorted.*position 2"):
        RMI(keys, backend=backend)
    with pytest.raises(ValueError, match="sorted"):
        RMI(keys.tolist(), backend=backend)
    with pytest.raises(ValueError, match="sorted"):
        RMI(keys, copy=True, backend=backend)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", [0, 2, -1])
def test_nan_keys(backend, dtype, where):
    keys = np.array([1.0, 2.0, 3.0, 4.0], dtype=dtype)
    keys[where] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RMI(keys, backend=backend)
    with pytest.raises(ValueError, match="NaN"):
        RMI(keys.tolist(), backend=backend)


@pytest.mark.parametrize("keys", [
    np.array([1, 2, 3], dtype=np.int8),
    np.array([1, 2, 3], dtype=np.uint8),
    np.array([1, 2, 3], dtype=np.int16),
    np.array([1, 2, 3], dtype=np.uint16),
    np.array([1.0, 2.0], dtype=np.float16),
    np.array([False, True]),
    np.array([1, 2], dtype=object),
    np.array(["a", "b"]),
    np.array([b"a", b"b"]),
    np.array([1 + 0j, 2 + 0j]),
    np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"),
    np.array([1, 2], dtype="timedelta64[s]"),
], ids=lambda a: a.dtype.name)
def test_unsupported_dtypes(backend, keys):
    with pytest.raises(TypeError, match=r"(?i)unsupported key dtype|not supported"):
        RMI(keys, backend=backend)


def test_unsupported_dtype_messages_name_the_fix():
    with pytest.raises(TypeError, match=r"uint32, uint64, int32, int64, float32, float64"):
        RMI(np.array([1, 2], dtype=np.int8))
    with pytest.raises(TypeError, match=r"astype\(np.int64\)"):
        RMI(np.array([1, 2], dtype=np.int16))
    with pytest.raises(TypeError, match=r"astype\(np.float64\)"):
        RMI(np.array([1, 2], dtype=np.float16))
    with pytest.raises(TypeError, match="boolean"):
        RMI([False, True])


def test_unsupported_python_sequences():
    with pytest.raises(TypeError):
        RMI(["a", "b"])
    with pytest.raises(TypeError):
        RMI([1 + 2j, 3 + 0j])
    # ints beyond int64/uint64 would be rounded to float64 by numpy: refused
    with pytest.raises(TypeError, match="fit neither int64 nor uint64"):
        RMI([-1, 2 ** 64 - 1])
    with pytest.raises(TypeError, match="fit neither int64 nor uint64"):
        RMI([1, 2 ** 70])


@pytest.mark.parametrize("shape", [(2, 3), (6, 1), (1, 6), (1, 2, 3)])
def test_multidimensional_keys(backend, shape):
    keys = np.arange(6, dtype=np.int64).reshape(shape)
    with pytest.raises(ValueError, match="1-D"):
        RMI(keys, backend=backend)
    with pytest.raises(ValueError, match="1-D"):
        RMI(keys.tolist(), backend=backend)


def test_zero_d_keys(backend):
    with pytest.raises(ValueError, match="1-D"):
        RMI(np.array(5, dtype=np.int64), backend=backend)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_non_contiguous_keys(backend, dtype):
    base = np.arange(20, dtype=dtype)
    view = base[::2]
    assert not view.flags.c_contiguous
    with pytest.raises(ValueError, match="C-contiguous"):
        RMI(view, backend=backend)
    idx = RMI(view, copy=True, backend=backend)
    idx._check()
    assert idx.keys.flags.c_contiguous
    assert not np.shares_memory(idx.keys, base)
    np.testing.assert_array_equal(idx.keys, view)
    q = np.arange(-1, 21, dtype=dtype) if dtype.kind != "u" else np.arange(0, 21, dtype=dtype)
    np.testing.assert_array_equal(idx.searchsorted(q), np.searchsorted(view, q))
    # a reversed view is not contiguous either (and not sorted)
    with pytest.raises(ValueError):
        RMI(base[::-1], backend=backend)


@pytest.mark.parametrize("dtype", ["uint32", "uint64", "int32", "int64", "float32", "float64"])
def test_big_endian_keys(backend, dtype):
    keys = np.arange(10, dtype=np.dtype(dtype).newbyteorder(">"))
    with pytest.raises(TypeError, match="byte order"):
        RMI(keys, backend=backend)
    with pytest.raises(TypeError, match="byte order"):
        RMI(keys, copy=True, backend=backend)


# ---------------------------------------------------------------------- parameters

def test_bad_side(backend):
    idx = RMI(GOOD, backend=backend)
    for side in ("middle", "LEFT", "", None, 0, "l"):
        with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
            idx.searchsorted(3, side=side)
        with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
            idx.searchsorted(np.array([3, 4]), side=side)
        with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
            idx.searchsorted(3.5, side=side)


@pytest.mark.parametrize("root", ["quadratic", "", "Radix", "MLP", 3])   # (None: the default root)
def test_bad_root(backend, root):
    with pytest.raises(ValueError) as info:
        RMI(GOOD, root=root, backend=backend)
    msg = str(info.value)
    for name in ROOTS:
        assert name in msg, msg


@pytest.mark.parametrize("stages", [0, 1, 4, -2, "2", None])
def test_bad_stages(backend, stages):
    with pytest.raises(ValueError, match="stages"):
        RMI(GOOD, stages=stages, backend=backend)


@pytest.mark.parametrize("leaves", [0, -1, 2.5, 2.0, "4", True, False, np.float64(4.0)])
def test_bad_leaves(backend, leaves):
    with pytest.raises(ValueError, match="leaves"):
        RMI(GOOD, leaves=leaves, backend=backend)


def test_numpy_int_leaves_accepted(backend):
    idx = RMI(GOOD, leaves=np.int64(3), backend=backend)
    idx._check()
    assert idx.stats()["leaves"] == 3


@pytest.mark.parametrize("middle", [0, -1, 2.5, "4"])
def test_bad_middle(backend, middle):
    with pytest.raises(ValueError, match="middle"):
        RMI(GOOD, stages=3, middle=middle, backend=backend)


@pytest.mark.parametrize("middle", [1, 4])
def test_middle_with_two_stages(backend, middle):
    with pytest.raises(ValueError, match="middle"):
        RMI(GOOD, stages=2, middle=middle, backend=backend)
    with pytest.raises(ValueError, match="middle"):
        RMI(GOOD, middle=middle, backend=backend)


@pytest.mark.parametrize("bad", ["gpu", "", "NUMPY", None, "cython"])
def test_bad_backend(bad):
    with pytest.raises(ValueError, match="backend"):
        RMI(GOOD, backend=bad)


@pytest.mark.parametrize("root,params", [("radix", {"bits": 27}), ("radix", {"bits": -1}),
                                         ("spline", {"knots": 1}), ("spline", {"knots": 0}),
                                         ("mlp", {"hidden": [64]}), ("mlp", {"hidden": [4, 4, 4]})])
def test_bad_root_params(backend, root, params):
    with pytest.raises(ValueError):
        RMI(np.arange(100, dtype=np.int64), root=root, root_params=params, backend=backend)


def test_unknown_root_param(backend):
    with pytest.raises(TypeError):
        RMI(np.arange(100, dtype=np.int64), root="linear", root_params={"bits": 3}, backend=backend)


# ------------------------------------------------------------------------ queries

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_non_numeric_queries(backend, dtype):
    idx = RMI(np.arange(5, dtype=dtype), backend=backend)
    for q in ("a", b"a", None, 1 + 2j, [1, "a"], np.array(["a", "b"]), np.array([1 + 1j]), object(),
              np.array([None, 1], dtype=object), np.array(["2020-01-01"], dtype="datetime64[D]")):
        with pytest.raises(TypeError):
            idx.searchsorted(q)
        with pytest.raises(TypeError):
            idx.searchsorted(q, side="right")
        with pytest.raises(TypeError):
            idx.lookup(q)
        with pytest.raises(TypeError):
            idx.contains(q)
    for q in ("a", None, 1 + 2j):
        with pytest.raises(TypeError):
            q in idx                                   # noqa: B015
    with pytest.raises(TypeError, match="not a number|not numbers"):
        idx.searchsorted("a")


def test_in_with_array_raises(backend):
    idx = RMI(GOOD, backend=backend)
    with pytest.raises(TypeError, match="contains"):
        np.array([1, 2]) in idx                        # noqa: B015
    with pytest.raises(TypeError):
        [1, 2] in idx                                  # noqa: B015
    with pytest.raises(TypeError):
        np.array([[1]]) in idx                         # noqa: B015
    # a 0-d array is one key
    assert np.array(2) in idx
    assert np.array(3) not in idx


# -------------------------------------------------------------- memory semantics

@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_keys_are_not_copied(backend, dtype):
    keys = np.arange(100, dtype=dtype)
    idx = RMI(keys, backend=backend)
    assert np.shares_memory(idx.keys, keys)
    assert idx.keys.flags.writeable is False
    assert keys.flags.writeable is True, "the caller's array must stay writeable"
    with pytest.raises(ValueError):
        idx.keys[0] = 5
    assert idx.keys is idx.keys or np.shares_memory(idx.keys, idx.keys)


@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
def test_copy_true_copies(backend, dtype):
    keys = np.arange(100, dtype=dtype)
    idx = RMI(keys, copy=True, backend=backend)
    assert not np.shares_memory(idx.keys, keys)
    assert idx.keys.flags.writeable is False
    keys[:] = keys[::-1].copy()                        # the caller may now do as it likes
    idx._check()
    np.testing.assert_array_equal(idx.keys, np.arange(100, dtype=dtype))
    assert idx.searchsorted(dtype.type(50)) == 50


def test_read_only_input_is_accepted(backend):
    keys = np.arange(50, dtype=np.uint64)
    keys.flags.writeable = False
    idx = RMI(keys, backend=backend)
    assert np.shares_memory(idx.keys, keys)
    idx._check()


def test_python_list_keys(backend):
    idx = RMI([1, 4, 4, 9], backend=backend)
    assert idx.keys.dtype == np.int64
    assert idx.searchsorted(4) == 1 and idx.searchsorted(4, side="right") == 3
    idx = RMI([2 ** 63, 2 ** 64 - 1], backend=backend)
    assert idx.keys.dtype == np.uint64
    idx = RMI([0.5, 1.5], backend=backend)
    assert idx.keys.dtype == np.float64
    idx = RMI([], backend=backend)
    assert len(idx) == 0 and idx.searchsorted(1) == 0


def test_check_detects_modified_keys(backend):
    """_check() notices keys modified behind the index's back (here via the writeable original)."""
    keys = np.arange(1000, dtype=np.int64)
    idx = RMI(keys, backend=backend)
    idx._check()
    keys[500] = -1
    with pytest.raises(AssertionError, match="sorted"):
        idx._check()
