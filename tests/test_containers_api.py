"""API conformance of SortedList, SortedSet and SortedDict with sortedcontainers.

Every documented behaviour a user of ``sortedcontainers`` relies on, checked against
``sortedcontainers`` itself where it has an answer: constructors (iterables, arrays,
``dtype=``, inference), ``repr`` with the subclass name, comparisons with lists, tuples,
sets and dicts, ``+ * += *=``, pickling and copies, the methods that cannot keep order
(raising and naming the alternative), refused keys (never stored rounded), exceptions for
misuse, no reference cycles, the vectorised extras against a per-element oracle, and a
seeded weighted-random stress test with ``_check()`` after every operation.
"""
from __future__ import annotations

import copy
import gc
import itertools
import json
import math
import pickle
import random
import warnings
import weakref
from collections.abc import Mapping, MutableMapping, MutableSequence, MutableSet, Sequence, Set

import numpy as np
import pytest
from conftest import dtype_id, lo_hi, special_values

from container_impls import (
    KEY_DTYPES,
    REFUSED,
    SortedDict,
    SortedList,
    SortedSet,
    accepts,
    assert_same,
    canon,
    norm,
    outcome,
    sc,
    thresholds,
)

INT_DTYPES = [d for d in KEY_DTYPES if d.kind in "iu"]
FLOAT_DTYPES = [d for d in KEY_DTYPES if d.kind == "f"]
DT = pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)


class MyList(SortedList):
    """A subclass (module level, so that it pickles)."""


class MySet(SortedSet):
    """A subclass (module level, so that it pickles)."""


class MyDict(SortedDict):
    """A subclass (module level, so that it pickles)."""


def sample_keys(dtype, n: int = 60, seed: int = 0) -> list:
    """Python keys of ``dtype`` with duplicates and the dtype's special values."""
    dtype = np.dtype(dtype)
    rng = random.Random(seed)
    specials = special_values(dtype)
    small = list(range(0, 6)) if dtype.kind == "u" else [-3, -1, 0, 0, 2, 5]
    out = [canon(dtype, rng.choice(specials + small)) for _ in range(n)]
    return out


def checked(c):
    c._check()
    return c


# ------------------------------------------------------------------- constructors

class TestConstruct:
    @DT
    def test_from_list_array_and_generator(self, dtype):
        ks = sample_keys(dtype)
        want = sorted(ks)
        arr = np.array(ks, dtype=dtype)
        made = [SortedList(ks, dtype=dtype), SortedList(arr), SortedList(arr, dtype=dtype),
                SortedList(iter(ks), dtype=dtype), SortedList((k for k in ks), dtype=dtype)]
        if dtype in (np.int64, np.float64):      # what Python ints / floats infer
            made.append(SortedList(k for k in ks))
        for c in made:
            checked(c)
            assert norm(list(c)) == want
            assert len(c) == len(ks)
        assert norm(list(checked(SortedSet(arr)))) == sorted(set(ks))
        assert norm(list(checked(SortedSet(ks, dtype=dtype)))) == sorted(set(ks))
        d = checked(SortedDict(zip(ks, range(len(ks))), dtype=dtype))
        assert d == dict(zip(ks, range(len(ks))))

    def test_from_array_keeps_its_dtype_and_does_not_alias(self):
        arr = np.array([5, 1, 3], dtype=np.uint32)
        sl = SortedList(arr)
        assert sl.dtype == np.uint32
        arr[0] = 0                     # the caller's array stays the caller's
        assert list(sl) == [1, 3, 5]
        sl.add(2)
        assert arr.tolist() == [0, 1, 3]

    @pytest.mark.parametrize("keys, dtype", [
        ([1, 2], "int64"), ([2 ** 63, 1], "uint64"), ([0.5, 1], "float64"), ([1, 2.0], "float64"),
        (np.array([1, 2], dtype=np.float32), "float32"), (np.array([1], dtype=np.int32), "int32"),
    ])
    def test_dtype_inferred_from_first_keys(self, keys, dtype):
        assert SortedList(keys).dtype == np.dtype(dtype)
        assert SortedSet(keys).dtype == np.dtype(dtype)

    def test_dtype_inferred_on_first_add(self):
        sl = SortedList()
        assert len(sl) == 0 and list(sl) == []
        sl.add(3)
        sl.add(1.0)                    # an integral float is exactly an int64
        assert sl.dtype == np.int64 and list(sl) == [1, 3]
        sl.add(1.5)                    # an inferred dtype widens, as a list holds ints and floats
        assert sl.dtype == np.float64 and list(sl) == [1, 1.5, 3]
        given = SortedList([3], dtype=np.int64)
        with pytest.raises(ValueError, match="dtype=np.float64"):
            given.add(1.5)             # a dtype the caller chose never changes
        d = SortedDict()
        d[0.25] = "x"
        assert d.dtype == np.float64

    @pytest.mark.parametrize("bad", ["int8", "float16", "complex128", "U3", object])
    def test_unsupported_dtype(self, bad):
        for cls in (SortedList, SortedSet, SortedDict):
            with pytest.raises(TypeError, match="int64|float64"):
                cls(dtype=bad)

    def test_sorteddict_constructor_forms(self):
        want = {3: "c", 1: "a", 2: "b"}
        for d in (SortedDict(want), SortedDict(list(want.items())), SortedDict(sc.SortedDict(want)),
                  SortedDict(SortedDict(want)), SortedDict(iter(want.items()))):
            checked(d)
            assert d == want and list(d) == [1, 2, 3]
        # a key seen twice keeps its last value, as dict does
        assert SortedDict([(1, "a"), (1, "b")]) == {1: "b"}

    def test_fromkeys(self):
        d = SortedDict.fromkeys([3, 1, 2, 1], "v")
        checked(d)
        assert d == {1: "v", 2: "v", 3: "v"} and list(d) == [1, 2, 3]
        assert SortedDict.fromkeys([2]) == {2: None}
        assert type(MyDict.fromkeys([1])) is MyDict

    def test_values_from_a_typed_dict_are_python_numbers(self):
        t = SortedDict({2: 2.0, 5: 1.5}, value_dtype=np.float64)
        made = [SortedDict(t), SortedDict({1: "x"}) | t, SortedDict(t.items())]
        for how in ("update", "__ior__"):
            d = SortedDict({1: "x"})
            getattr(d, how)(t)
            made.append(d)
        for d in made:
            assert all(type(v) is float for k, v in d.items() if k != 1), repr(d)
            assert repr(d).count("np.") == 0

    def test_value_dtype_refuses_non_numbers(self):
        f = SortedDict({1: 1.0}, value_dtype=np.float64)
        for bad in (None, "1.5", b"1", [1.0]):
            with pytest.raises(TypeError):
                f[2] = bad
        i = SortedDict({1: 1}, value_dtype=np.int64)
        for bad in (2 ** 70, 1.5, math.nan):
            with pytest.raises(ValueError):
                i[2] = bad
        assert f == {1: 1.0} and i == {1: 1}

    def test_value_dtype(self):
        d = SortedDict({2: 1.5, 1: -2.0}, value_dtype=np.float64)
        checked(d)
        assert d[2] == 1.5 and list(d.values()) == [-2.0, 1.5]
        assert type(d[2]) is float
        i = SortedDict({1: 7}, value_dtype=np.int32)
        with pytest.raises(REFUSED):
            i[2] = 1.5                 # a value the value dtype would round
        with pytest.raises(REFUSED):
            i[3] = "x"
        assert i == {1: 7}


# ------------------------------------------------------------------- repr, types

class TestReprAndTypes:
    def test_repr_matches_sortedcontainers(self):
        assert repr(SortedList([3, 1, 2])) == repr(sc.SortedList([3, 1, 2]))
        assert repr(SortedList([0.5, -1.0])) == repr(sc.SortedList([0.5, -1.0]))
        assert repr(SortedSet([3, 1, 3])) == repr(sc.SortedSet([3, 1, 3]))
        assert repr(SortedDict({2: "b", 1: "a"})) == repr(sc.SortedDict({2: "b", 1: "a"}))
        assert repr(SortedList()) == "SortedList([])"
        assert repr(SortedDict()) == "SortedDict({})"

    def test_repr_uses_the_subclass_name(self):
        assert repr(MyList([2, 1])) == "MyList([1, 2])"
        assert repr(MySet([2, 1])) == "MySet([1, 2])"
        assert repr(MyDict({1: None})) == "MyDict({1: None})"
        r = repr(MyDict({1: None}).keys())
        assert "MyDict({1: None})" in r

    def test_repr_of_a_dict_holding_itself(self):
        d = SortedDict()
        d[1] = d
        assert repr(d) == "SortedDict({1: ...})"

    @DT
    def test_elements_are_python_numbers(self, dtype):
        pytype = int if dtype.kind in "iu" else float
        ks = sample_keys(dtype, 20)
        sl, ss = SortedList(ks, dtype=dtype), SortedSet(ks, dtype=dtype)
        d = SortedDict(dict.fromkeys(ks, 0), dtype=dtype)
        for got in (sl[0], sl[-1], ss[0], d.keys()[0], d.peekitem(0)[0], d.items()[0][0], next(iter(sl)),
                    next(iter(d)), next(reversed(ss)), sl.pop(), sl[1:2][0], next(sl.irange()),
                    next(sl.islice(0, 1))):
            assert type(got) is pytype
        json.dumps(list(sl))           # what a user does with a list of numbers

    def test_abstract_base_classes(self):
        assert isinstance(SortedList(), Sequence) and isinstance(SortedList(), MutableSequence)
        assert isinstance(SortedSet(), MutableSet) and isinstance(SortedSet(), Sequence)
        assert isinstance(SortedDict(), MutableMapping) and isinstance(SortedDict(), Mapping)
        d = SortedDict({1: 2})
        assert isinstance(d.keys(), Set) and isinstance(d.keys(), Sequence)
        assert isinstance(d.items(), Set) and isinstance(d.values(), Sequence)


# ------------------------------------------------------------------- comparisons

class TestComparisons:
    @pytest.mark.parametrize("other", [[], [1], [1, 2, 2], [1, 2, 3], [1, 2, 2, 4], [0, 9], [1.0, 2.0, 2.0],
                                       (1, 2, 2), (1, 3), [2]])
    def test_list_like(self, other):
        c, o = SortedList([2, 1, 2]), sc.SortedList([2, 1, 2])
        for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(c, op)(other) == getattr(o, op)(other), op
        assert (c == other) == (o == other) and (c < other) == (o < other) and (c >= other) == (o >= other)
        assert (other == c) == (other == o)

    def test_between_containers(self):
        a, b = SortedList([1, 2]), SortedList([1, 3])
        assert a < b and a <= b and a != b and not a == b and b > a
        assert a == SortedList([2, 1]) and a == sc.SortedList([1, 2])

    def test_not_a_sequence(self):
        sl = SortedList([1, 2])
        assert (sl == {1, 2}) is False and (sl != {1, 2}) is True
        with pytest.raises(TypeError):
            sl < {1, 2}  # noqa: B015

    @pytest.mark.parametrize("other", [set(), {1}, {1, 2}, {1, 2, 3}, {4}, frozenset({1, 2}), {1.0, 2.0}])
    def test_set_like(self, other):
        c, o = SortedSet([2, 1]), sc.SortedSet([2, 1])
        for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(c, op)(other) == getattr(o, op)(other), op
        assert (c == SortedSet(other, dtype=np.int64)) == (o == other)
        for name in ("isdisjoint", "issubset", "issuperset"):
            assert getattr(c, name)(list(other)) == getattr(o, name)(list(other)), name
        assert (c == [1, 2]) is False          # a list is not a set
        with pytest.raises(TypeError):
            c < [1, 2]  # noqa: B015

    def test_dict_like(self):
        d = SortedDict({1: "a", 2: "b"})
        assert d == {2: "b", 1: "a"} and {1: "a", 2: "b"} == d
        assert d != {1: "a"} and d != {1: "a", 2: "c"}
        assert d == SortedDict({1: "a", 2: "b"}) and d == sc.SortedDict({1: "a", 2: "b"})
        assert d.keys() == {1, 2} and d.items() == {(1, "a"), (2, "b")}
        assert d.keys() & {2, 7} == {2} and d.keys() | {7} == {1, 2, 7} and d.keys() - {1} == {2}

    def test_items_view_set_algebra(self):
        d, o = SortedDict({1: "a", 2: "b"}), sc.SortedDict({1: "a", 2: "b"})
        for other in ({(1, "a"), (1, "z")}, {(2, "b")}, set()):
            for op in ("__and__", "__or__", "__sub__", "__xor__"):
                assert getattr(d.items(), op)(other) == getattr(o.items(), op)(other), op


# ------------------------------------------------------------------- arithmetic

class TestArithmetic:
    def test_add_mul(self):
        c, o = SortedList([3, 1]), sc.SortedList([3, 1])
        for got, want in ((c + [2, 0], o + [2, 0]), ([5] + c, [5] + o), (c + c, o + o), (c * 3, o * 3),
                          (2 * c, 2 * o), (c * 0, o * 0), (c * -1, o * -1)):
            assert type(got) is SortedList and got is not c
            checked(got)
            assert list(got) == list(want)
        assert list(c) == [1, 3]               # operands unchanged
        assert type(MyList([1]) + [2]) is MyList and type(MyList([1]) * 2) is MyList
        assert (MyList([1]) + [2]).dtype == np.int64

    def test_add_keeps_the_dtype(self):
        c = SortedList([1, 2], dtype=np.uint32)
        assert (c + [3]).dtype == np.uint32 and (c * 2).dtype == np.uint32
        with pytest.raises(REFUSED):
            c + [-1]  # noqa: B018

    def test_inplace(self):
        c = SortedList([3, 1])
        ident = id(c)
        c += [2, 2]
        c += np.array([0], dtype=np.int64)
        assert id(c) == ident and list(c) == [0, 1, 2, 2, 3]
        c *= 2
        assert id(c) == ident and list(c) == [0, 0, 1, 1, 2, 2, 2, 2, 3, 3]
        checked(c)
        c *= 0
        assert id(c) == ident and list(c) == []

    def test_sorteddict_or(self):
        d = SortedDict({1: "a", 3: "c"})
        for got, want in ((d | {2: "b", 1: "z"}, {1: "z", 2: "b", 3: "c"}), ({2: "b", 1: "z"} | d, {1: "a", 2: "b", 3: "c"})):
            assert isinstance(got, SortedDict) and got == want and list(got) == [1, 2, 3]
            checked(got)
        ident = id(d)
        d |= {0: "o"}
        assert id(d) == ident and list(d) == [0, 1, 3]
        assert type(MyDict({1: 1}) | {2: 2}) is MyDict

    def test_set_algebra_operators(self):
        c, o = SortedSet([1, 2, 3]), sc.SortedSet([1, 2, 3])
        other = {2, 3, 4}
        for op in ("__or__", "__and__", "__sub__", "__xor__", "__ror__", "__rand__", "__rxor__", "__rsub__"):
            got, want = getattr(c, op)(other), getattr(o, op)(other)
            assert isinstance(got, SortedSet), op
            checked(got)
            assert list(got) == list(want), op
        assert {0} | c == {0, 1, 2, 3} and {1, 9} - c == {9}
        for name in ("union", "intersection", "difference"):
            assert list(getattr(c, name)([2], (5,), {3})) == list(getattr(o, name)([2], (5,), {3})), name
        assert list(c.symmetric_difference([3, 9])) == list(o.symmetric_difference([3, 9]))
        assert type(MySet([1]) | {2}) is MySet and type(MySet([1]) - {1}) is MySet

    def test_set_inplace_operators(self):
        for op, arg in (("__ior__", {5}), ("__iand__", {1, 2}), ("__isub__", {1}), ("__ixor__", {1, 7})):
            c, o = SortedSet([1, 2, 3]), sc.SortedSet([1, 2, 3])
            ident = id(c)
            res = getattr(c, op)(arg)
            getattr(o, op)(arg)
            assert res is c and id(c) == ident
            checked(c)
            assert list(c) == list(o), op


# ------------------------------------------------------------------- copies

def _roundtrips(c):
    yield "copy", c.copy()
    yield "copy.copy", copy.copy(c)
    yield "copy.deepcopy", copy.deepcopy(c)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        yield f"pickle{proto}", pickle.loads(pickle.dumps(c, protocol=proto))


class TestCopies:
    @DT
    @pytest.mark.parametrize("cls", [SortedList, SortedSet, MyList, MySet])
    def test_sequence_roundtrips(self, cls, dtype):
        ks = sample_keys(dtype, 200, seed=3)
        c = cls(ks, dtype=dtype)
        for i in range(len(ks)):       # push some keys through the update buffers
            if i % 3 == 0:
                c.discard(ks[i])
            else:
                c.add(ks[(i * 7) % len(ks)])
        for how, cp in _roundtrips(c):
            assert type(cp) is cls and cp is not c, how
            checked(cp)
            assert cp.dtype == c.dtype, how
            assert norm(list(cp)) == norm(list(c)), how
        cp = c.copy()
        before = norm(list(c))
        cp.clear()
        cp.add(ks[0])
        assert norm(list(c)) == before

    @pytest.mark.parametrize("value_dtype", [None, np.float64, np.int32])
    def test_dict_roundtrips(self, value_dtype):
        vals = (lambda i: ["v", i, None, (i,)][i % 4]) if value_dtype is None else (lambda i: i % 7)
        d = MyDict({k: vals(k) for k in range(-50, 50, 3)}, **({"value_dtype": value_dtype} if value_dtype else {}))
        for k in range(0, 40, 2):
            d[k] = vals(k + 1)
            d.pop(k - 25, None)
        for how, cp in _roundtrips(d):
            assert type(cp) is MyDict and cp is not d, how
            checked(cp)
            assert cp == d and list(cp.items()) == list(d.items()), how
            assert getattr(cp, "value_dtype", None) == getattr(d, "value_dtype", None), how
        cp = d.copy()
        cp[1000] = vals(3)
        del cp[d.keys()[0]]
        assert 1000 not in d and d.keys()[0] in d

    def test_shallow_copy_shares_values(self):
        obj = ["mutable"]
        d = SortedDict({1: obj})
        assert d.copy()[1] is obj and copy.copy(d)[1] is obj
        assert copy.deepcopy(d)[1] is not obj and copy.deepcopy(d)[1] == obj
        d[2] = obj
        assert d[2] is d[1] is obj            # values are stored, not converted


# ------------------------------------------------------------------- unsupported

class TestUnsupported:
    @pytest.mark.parametrize("call, alternative", [
        (lambda c: c.append(1), "add"), (lambda c: c.extend([1]), "update"), (lambda c: c.insert(0, 1), "add"),
        (lambda c: c.__setitem__(0, 1), "add"), (lambda c: c.reverse(), "reversed"),
    ])
    def test_order_breaking_methods(self, call, alternative):
        c = SortedList([1, 2])
        o = sc.SortedList([1, 2])
        with pytest.raises(NotImplementedError) as got:
            call(c)
        with pytest.raises(NotImplementedError):
            call(o)
        assert alternative in str(got.value)
        assert list(c) == [1, 2]

    def test_key_function(self):
        for make in (lambda: SortedList([1], key=abs), lambda: SortedSet([1], key=abs),
                     lambda: SortedDict(abs, {1: 2})):
            with pytest.raises((TypeError, ValueError, NotImplementedError)) as got:
                make()
            assert str(got.value)

    def test_sortedlist_keyword_key_none_is_fine(self):
        assert list(SortedList([2, 1], key=None)) == [1, 2]

    @pytest.mark.parametrize("name", ["SortedList", "SortedSet", "SortedDict"])
    def test_key_attribute_is_none(self, name):
        # sortedcontainers' plain classes expose ``key`` (None); code that checks it must not break
        ours, theirs = globals()[name](), getattr(sc, name)()
        assert theirs.key is None
        assert ours.key is None


# ------------------------------------------------------------------- refused keys

def _refused_for(dtype):
    dtype = np.dtype(dtype)
    lo, hi = lo_hi(dtype)
    out = [math.nan, float("nan"), np.float64("nan"), "3", None, b"1", 1 + 2j]
    if dtype.kind in "iu":
        out += [1.5, -0.5, hi + 1, lo - 1, 2 ** 64, 2 ** 100, math.inf, -math.inf, np.float64(0.25)]
    elif dtype.itemsize == 4:
        out += [0.1, 2 ** 24 + 1, 1e300, 1e-320, np.float64(0.1)]
    else:
        out += [2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 1024, 10 ** 400, 2 ** 64 + 1]
    return [k for k in out if not accepts(dtype, k)]


class TestRefusedKeys:
    @DT
    def test_every_insertion_path_refuses(self, dtype):
        base = [canon(dtype, 1), canon(dtype, 2)]
        for bad in _refused_for(dtype):
            exc = TypeError if not isinstance(bad, (int, float, np.floating)) else (TypeError, ValueError)
            sl, ss = SortedList(base, dtype=dtype), SortedSet(base, dtype=dtype)
            d = SortedDict(dict.fromkeys(base, 0), dtype=dtype)
            attempts = [
                lambda: sl.add(bad), lambda: sl.update([base[0], bad]), lambda: sl.__iadd__([bad]),
                lambda: sl + [bad], lambda: SortedList([base[0], bad], dtype=dtype),
                lambda: ss.add(bad), lambda: ss.update([bad]), lambda: ss.__ior__({bad}) if _hashable(bad) else ss.add(bad),
                lambda: ss.symmetric_difference_update([bad]), lambda: ss | [bad],
                lambda: d.__setitem__(bad, 1), lambda: d.setdefault(bad, 1), lambda: d.update([(bad, 1)]),
                lambda: SortedDict({bad: 1}, dtype=dtype) if _hashable(bad) else d.__setitem__(bad, 1),
            ]
            for i, attempt in enumerate(attempts):
                with pytest.raises(exc):
                    attempt()
                assert norm(list(sl)) == base and norm(list(ss)) == base and norm(list(d)) == base, (bad, i)
                checked(sl), checked(ss), checked(d)

    def test_refusals_do_not_warn(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for attempt in (lambda: SortedList(dtype=np.float32).add(1e300),
                            lambda: SortedSet(dtype=np.float32).update([1.0, -1e300]),
                            lambda: SortedList(np.array([1e300]), dtype=np.float32),
                            lambda: SortedDict({1: 2.0}, value_dtype=np.float32).__setitem__(2, 1e300)):
                with pytest.raises(ValueError):
                    attempt()

    @pytest.mark.parametrize("bad, dtype, exc", [
        (1.5, "int64", ValueError), (2 ** 64, "uint64", ValueError), (-1, "uint32", ValueError),
        ("a", "int64", TypeError), (math.nan, "float64", ValueError), (2 ** 53 + 1, "float64", ValueError),
        (0.1, "float32", ValueError),
    ])
    def test_named_cases_and_messages(self, bad, dtype, exc):
        sl = SortedList([0], dtype=dtype)
        with pytest.raises(exc) as got:
            sl.add(bad)
        assert len(str(got.value)) > 10
        assert list(sl) == [0]

    @DT
    def test_arrays_are_checked_exactly(self, dtype):
        sl = SortedList([canon(dtype, 1)], dtype=dtype)
        for arr in _refused_arrays(dtype):
            with pytest.raises(REFUSED):
                sl.update(arr)
            with pytest.raises(REFUSED):
                SortedList(arr, dtype=dtype)
            with pytest.raises(REFUSED):
                SortedSet(dtype=dtype).update(arr)
            assert norm(list(sl)) == [canon(dtype, 1)]
        checked(sl)

    @DT
    def test_exact_foreign_arrays_are_accepted(self, dtype):
        sl = SortedList(dtype=dtype)
        for arr in _exact_arrays(dtype):
            sl.update(arr)
            checked(sl)
        want = sorted(v for arr in _exact_arrays(dtype) for v in arr.tolist())
        assert norm(list(sl)) == want

    def test_container_sources_are_checked_exactly(self):
        for src in (SortedList([2 ** 53 + 1]), SortedSet([2 ** 64 - 1])):
            for dst in (SortedList([0.5]), SortedSet([0.5])):
                with pytest.raises(ValueError):
                    dst.update(src)
                assert list(dst) == [0.5]

    def test_container_sources_exact(self):
        sl = SortedList([5])
        sl.update(SortedList([1, 2], dtype=np.int32))
        sl.update(SortedSet([3], dtype=np.uint64))
        sl += SortedList([4.0])
        assert list(sl) == [1, 2, 3, 4, 5] and sl.dtype == np.int64
        with pytest.raises(ValueError):
            SortedList([0.5], dtype=np.float32).update(SortedList([0.1]))
        sl.update(SortedList([0.5]))          # the inferred int64 widens to float64
        assert list(sl) == [0.5, 1, 2, 3, 4, 5] and sl.dtype == np.float64

    def test_refused_initial_keys_in_inference(self):
        with pytest.raises(ValueError):
            SortedList([1, 2 ** 64 + 1])      # fits neither int64 nor uint64 nor float64 exactly
        assert SortedList([-1, 2 ** 64]).dtype == np.float64     # float64 holds both exactly
        with pytest.raises(ValueError):
            SortedList([1.0, math.nan])
        with pytest.raises(TypeError):
            SortedList(["a", "b"])
        with pytest.raises(ValueError):
            SortedList(np.array([0.5, np.nan]))


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _refused_arrays(dtype):
    dtype = np.dtype(dtype)
    out = [np.array([np.nan]), np.array([1.0, np.nan])]
    if dtype.kind in "iu":
        lo, hi = lo_hi(dtype)
        out += [np.array([0.5]), np.array([1.0, 2.5]), np.array([np.inf])]
        if dtype != np.uint64:
            out.append(np.array([hi], dtype=np.uint64) + np.uint64(1))
        if dtype.kind == "u":
            out.append(np.array([-1], dtype=np.int64))
        elif dtype == np.int32:
            out.append(np.array([lo - 1], dtype=np.int64))
    elif dtype.itemsize == 4:
        out += [np.array([0.1]), np.array([2 ** 24 + 1], dtype=np.int64), np.array([1e300])]
    else:
        out += [np.array([2 ** 53 + 1], dtype=np.int64), np.array([2 ** 64 - 1], dtype=np.uint64)]
    return out


def _exact_arrays(dtype):
    dtype = np.dtype(dtype)
    out = [np.array([1, 2, 3], dtype=np.uint8), np.array([4, 0], dtype=np.uint16)]
    if dtype.kind in "iu":
        out += [np.array([2.0, 5.0], dtype=np.float64), np.array([7.0], dtype=np.float32)]
        if dtype.kind == "i":
            out.append(np.array([-3, -2], dtype=np.int8))
    else:
        out += [np.array([0.5, -0.25], dtype=np.float64), np.array([2 ** 20], dtype=np.int64)]
    return out


# ------------------------------------------------------------------- exceptions for misuse

class TestMisuse:
    def test_sequence_errors_match(self):
        for cls, ocls in ((SortedList, sc.SortedList), (SortedSet, sc.SortedSet)):
            for keys in ([], [1, 2, 2, 3]):
                c, o = cls(keys, dtype=np.int64), ocls(keys)
                # (sortedcontainers answers ``[][1.5]`` with IndexError before looking at the
                # index's type; only a non-empty list defines the TypeError)
                bad_type = [("__getitem__", (1.5,))] if keys else []
                for name, args in bad_type + [("__getitem__", (10,)), ("__getitem__", (-10,)),
                                   ("__getitem__", (slice(None, None, 0),)), ("__delitem__", (10,)),
                                   ("pop", ()), ("pop", (10,)), ("pop", (-10,)), ("remove", (7,)), ("remove", (1.5,)),
                                   ("index", (7,)), ("index", (2, 3)), ("index", (2, 0, 1)), ("__delitem__", (slice(0, 5, 0),))]:
                    assert_same(outcome(getattr(c, name), *args), outcome(getattr(o, name), *args),
                                f"{cls.__name__}({keys}).{name}{args}")
                    checked(c)
                    assert norm(list(c)) == list(o)

    def test_numpy_integer_indices(self):
        sl = SortedList([5, 1, 3])
        assert sl[np.int64(1)] == 3 and sl[np.uint8(0)] == 1
        del sl[np.int32(-1)]
        assert list(sl) == [1, 3]
        assert sl.pop(np.int64(0)) == 1

    def test_dict_errors_match(self):
        for keys in ([], [1, 2, 3]):
            c, o = SortedDict(dict.fromkeys(keys, "v"), dtype=np.int64), sc.SortedDict(dict.fromkeys(keys, "v"))
            for name, args in (("__getitem__", (7,)), ("__getitem__", (1.5,)), ("__delitem__", (7,)), ("pop", (7,)),
                               ("pop", (math.nan,)), ("popitem", ()), ("popitem", (10,)), ("peekitem", ()),
                               ("peekitem", (-10,)), ("index", (7,)), ("__getitem__", (math.nan,))):
                assert_same(outcome(getattr(c, name), *args), outcome(getattr(o, name), *args),
                            f"SortedDict({keys}).{name}{args}")
                checked(c)
                assert list(c) == list(o)
            for view in ("keys", "values", "items"):
                assert_same(outcome(getattr(c, view)().__getitem__, 10), outcome(getattr(o, view)().__getitem__, 10))

    def test_sortedset_remove_raises_keyerror(self):
        ss = SortedSet([1])
        with pytest.raises(KeyError):
            ss.remove(2)
        with pytest.raises(KeyError):
            ss.remove(math.nan)

    def test_unhashable_queries_fail_like_set_and_dict(self):
        # sortedcontainers looks set/dict members up in a hash table first: unhashable -> TypeError
        s, os_ = SortedSet([1, 2]), sc.SortedSet([1, 2])
        d, od = SortedDict({1: 2}), sc.SortedDict({1: 2})
        for bad in ([1], {1: 1}, np.array([1])):
            for c, o, names in ((s, os_, ("__contains__", "count", "discard", "remove")),
                                (d, od, ("__contains__", "__getitem__", "__delitem__", "get", "pop", "setdefault"))):
                for name in names:
                    assert_same(outcome(getattr(c, name), bad), outcome(getattr(o, name), bad), f"{name}({bad!r})")
            assert_same(outcome(d.keys().__contains__, bad), outcome(od.keys().__contains__, bad))
            assert_same(outcome(d.items().__contains__, (bad, 2)), outcome(od.items().__contains__, (bad, 2)))
        for c, o in ((s, os_), (d, od)):       # hashable non-numbers are simply absent
            for name in ("__contains__", "get", "count", "discard"):
                if hasattr(o, name):
                    assert_same(outcome(getattr(c, name), "x"), outcome(getattr(o, name), "x"), name)
        assert list(s) == [1, 2] and d == {1: 2}

    def test_non_number_queries(self):
        sl, o = SortedList([1, 2]), sc.SortedList([1, 2])
        for name in ("__contains__", "bisect_left", "bisect_right", "count", "index", "remove", "discard"):
            assert_same(outcome(getattr(sl, name), "x"), outcome(getattr(o, name), "x"), name)
        d = SortedDict({1: 2})
        with pytest.raises(TypeError):
            d.bisect_left("x")


# ------------------------------------------------------------------- mixed-type queries

QUERIES = [0, 1, -1, 2, 2.0, 2.5, -0.0, 0.0, 1e-300, 2 ** 31, 2 ** 32 - 1, 2 ** 53 + 1, 2.0 ** 53, 2 ** 63, 2 ** 64 - 1,
           2 ** 64, 2 ** 100, -(2 ** 100), 10 ** 400, -(10 ** 400), math.inf, -math.inf, 1.7976931348623157e308,
           np.int8(-2), np.uint64(2 ** 64 - 1), np.float32(0.5), np.int64(-(2 ** 63)), True]


class TestMixedQueries:
    @DT
    def test_scalar_queries_against_the_oracle(self, dtype):
        ks = sample_keys(dtype, 80, seed=11)
        c, o = SortedList(ks, dtype=dtype), sc.SortedList(ks)
        s, so = SortedSet(ks, dtype=dtype), sc.SortedSet(ks)
        d, do = SortedDict(dict.fromkeys(ks, "v"), dtype=dtype), sc.SortedDict(dict.fromkeys(ks, "v"))
        for q in QUERIES + ks[:10]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    o.bisect_left(q)
            except (TypeError, OverflowError, RuntimeWarning):  # numpy scalars the oracle cannot compare
                continue
            for name in ("__contains__", "bisect_left", "bisect_right", "count", "index"):
                assert_same(outcome(getattr(c, name), q), outcome(getattr(o, name), q), f"{name}({q!r})")
            for name in ("__contains__", "bisect_left", "count", "index"):
                assert_same(outcome(getattr(s, name), q), outcome(getattr(so, name), q), f"set.{name}({q!r})")
            for name in ("__contains__", "get", "__getitem__", "bisect_right", "index"):
                assert_same(outcome(getattr(d, name), q), outcome(getattr(do, name), q), f"dict.{name}({q!r})")
            assert norm(list(c.irange(q, None))) == list(o.irange(q, None))
            assert norm(list(c.irange(None, q, (True, False), True))) == list(o.irange(None, q, (True, False), True))

    @DT
    def test_nan_queries(self, dtype):
        ks = sample_keys(dtype, 30, seed=5)
        for c in (SortedList(ks, dtype=dtype), SortedSet(ks, dtype=dtype)):
            n = len(c)
            assert math.nan not in c and np.float32("nan") not in c
            c.discard(math.nan)
            with pytest.raises(ValueError):
                c.index(math.nan)
            with pytest.raises((ValueError, KeyError)):
                c.remove(math.nan)
            assert len(c) == n
        assert SortedSet(ks, dtype=dtype).count(math.nan) == 0
        d = SortedDict(dict.fromkeys(ks, 1), dtype=dtype)
        assert math.nan not in d and d.get(math.nan, "no") == "no" and d.pop(math.nan, "no") == "no"

    def test_signed_zero(self):
        sl = SortedList([0.0, -0.0, 1.0, -1.0])
        assert list(sl) == [-1.0, 0.0, 0.0, 1.0] and sl.count(-0.0) == 2 and sl.count(0.0) == 2
        assert sl.bisect_left(0.0) == sl.bisect_left(-0.0) == 1 and sl.bisect_right(-0.0) == 3
        sl.remove(-0.0)
        assert sl.count(0.0) == 1
        ss = SortedSet([0.0, -0.0])
        assert len(ss) == 1
        d = SortedDict({-0.0: "neg"})
        d[0.0] = "pos"
        assert len(d) == 1 and d[-0.0] == "pos"

    def test_ints_and_floats_mixed_where_exact(self):
        sl = SortedList([3, 1], dtype=np.int64)
        sl.add(2.0)
        sl.update([4.0, np.float32(5.0), np.int8(0)])
        assert list(sl) == [0, 1, 2, 3, 4, 5] and all(type(v) is int for v in sl)
        assert 2.0 in sl and 2.5 not in sl and sl.index(3.0) == 3
        f = SortedList([0.5], dtype=np.float64)
        f.update([1, 2 ** 53, np.int64(-7)])
        assert list(f) == [-7.0, 0.5, 1.0, 2.0 ** 53] and 1 in f and (2 ** 53 + 1) not in f
        d = SortedDict({1: "a"})
        assert d[1.0] == "a" and 1.0 in d
        d[1.0] = "b"
        assert len(d) == 1 and d[1] == "b"


# ------------------------------------------------------------------- documented methods

class TestDocumentedBehaviour:
    def test_sortedlist_basics(self):
        sl = SortedList([5, 1, 3, 3])
        assert sl.bisect(3) == sl.bisect_right(3) == 3 and sl.bisect_left(3) == 1
        assert sl.count(3) == 2 and sl.index(3) == 1 and sl.index(3, 2) == 2 and sl.index(5, -1) == 3
        assert list(sl.irange(2, 4)) == [3, 3] and list(sl.irange(3, 5, (False, True))) == [5]
        assert list(sl.irange(5, 1)) == [] and list(sl.irange(reverse=True)) == [5, 3, 3, 1]
        assert list(sl.islice(1, -1)) == [3, 3] and list(sl.islice(reverse=True)) == [5, 3, 3, 1]
        assert list(sl.islice(3, 1)) == [] and list(sl.islice(-100, 100)) == [1, 3, 3, 5]
        assert sl[::-1] == [5, 3, 3, 1] and sl[1:3] == [3, 3] and sl[-1] == 5 and sl[::2] == [1, 3]
        assert bool(sl) and not bool(SortedList())
        del sl[::2]
        assert list(sl) == [3, 5]
        sl.discard(99)
        assert sl.pop(0) == 3 and sl.pop() == 5 and len(sl) == 0
        with pytest.raises(IndexError):
            sl.pop()

    def test_iteration_is_lazy_for_islice_and_irange(self):
        sl = SortedList(range(1000))
        it = sl.irange(10, 20)
        assert next(it) == 10
        it2 = sl.islice(500, reverse=True)
        assert next(it2) == 999

    def test_sorteddict_methods(self):
        c, o = SortedDict({3: "c", 1: "a"}), sc.SortedDict({3: "c", 1: "a"})
        for d in (c, o):
            assert d.setdefault(2, "b") == "b" and d.setdefault(2, "z") == "b"
            assert d.pop(3) == "c" and d.pop(3, "dflt") == "dflt"
            d.update({5: "e"}, **{})
            d.update([(4, "d")])
            assert d.peekitem() == (5, "e") and d.peekitem(0) == (1, "a")
            assert d.popitem() == (5, "e") and d.popitem(0) == (1, "a")
            assert d.index(4) == 1 and d.bisect_left(3) == 1 and d.bisect_right(4) == 2 and d.bisect(2) == 1
            assert list(d.irange(2, 4)) == [2, 4] and list(d.islice(1)) == [4]
            assert list(reversed(d)) == [4, 2] and d.keys()[-1] == 4 and d.values()[0] == "b"
            assert d.items()[0] == (2, "b") and d.items()[::-1] == [(4, "d"), (2, "b")]
            assert d.keys().index(4) == 1 and d.values().index("d") == 1 and d.items().index((4, "d")) == 1
            assert d.keys().count(4) == 1 and d.values().count("b") == 1
            assert "b" in d.values() and (2, "b") in d.items() and (2, "x") not in d.items() and 4 in d.keys()
            assert d.get(7) is None and d.get(7, 0) == 0 and d.get(2) == "b"
            assert list(d.keys()) == [2, 4] and list(d.values()) == ["b", "d"] and len(d.items()) == 2
            k = d.keys()
            d[0] = "zero"                       # views are dynamic
            assert list(k) == [0, 2, 4] and k[0] == 0
            del d.keys()[0]
            del d.values()[-1]
            del d.items()[:]
            assert len(d) == 0 and list(k) == []

    def test_sorteddict_iloc_is_the_deprecated_keys_view(self):
        # sortedcontainers 2 keeps ``iloc`` as a deprecated alias of ``keys()``
        c, o = SortedDict.fromkeys(range(10), 0), sc.SortedDict.fromkeys(range(10), 0)
        for d in (c, o):
            with pytest.warns(DeprecationWarning, match="keys"):
                iloc = d.iloc
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                assert len(iloc) == 10 and iloc[0] == 0 and iloc[-1] == 9 and iloc[-3:] == [7, 8, 9]
                del d.iloc[0]
                del d.iloc[-3:]
                assert list(d.iloc) == list(d.keys()) == [1, 2, 3, 4, 5, 6]
        assert c == o

    def test_sortedset_methods(self):
        c, o = SortedSet([5, 1, 3]), sc.SortedSet([5, 1, 3])
        for s in (c, o):
            s.add(3)
            s.add(4)
            assert s.count(3) == 1 and s.count(2) == 0 and s[1] == 3 and s[-1] == 5 and s[1:3] == [3, 4]
            assert s.index(4) == 2 and s.bisect_left(4) == 2 and s.bisect_right(4) == 3
            assert list(s.irange(2, 4)) == [3, 4] and list(s.islice(1, 2)) == [3] and list(reversed(s)) == [5, 4, 3, 1]
            del s[0]
            assert s.pop() == 5 and s.pop(0) == 3
            s.discard(99)
            s.remove(4)
            assert len(s) == 0
            with pytest.raises(IndexError):
                s.pop()

    def test_clear_then_reuse(self):
        for cls in (SortedList, SortedSet):
            c = cls(range(500))
            c.clear()
            checked(c)
            assert len(c) == 0 and list(c) == []
            c.update([3, 1])
            assert list(c) == [1, 3]
        d = SortedDict.fromkeys(range(500))
        d.clear()
        d[1] = 1
        assert d == {1: 1}


# ------------------------------------------------------------------- reference cycles

def _own_cyclic_garbage(run):
    """Objects of ours that only the cycle collector would free after ``run()``.

    ``run`` is called once first so lazy imports and caches it triggers (numpy
    imports ``numpy.ma`` on first ``np.unique``, which leaves cycles of its own)
    are not counted; then again with the collector off, and whatever the
    collector finds is filtered to objects whose type or code lives in
    ``learnedidx``.
    """
    def ours(obj) -> bool:
        module = getattr(type(obj), "__module__", "") or ""
        if module.startswith("learnedidx"):
            return True
        code = getattr(obj, "__code__", None) or getattr(obj, "gi_code", None)
        return code is not None and "learnedidx" in code.co_filename

    run()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        result = run()
        gc.collect()
        found = [o for o in gc.garbage if ours(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    return result, found


class TestNoCycles:
    @pytest.mark.parametrize("make", [
        lambda: SortedList(range(300)), lambda: SortedSet(range(300)), lambda: SortedDict.fromkeys(range(300), 1),
        lambda: SortedDict({k: float(k) for k in range(300)}, value_dtype=np.float64),
    ], ids=["list", "set", "dict", "typed_dict"])
    def test_freed_without_the_cycle_collector(self, make):
        def build_and_use():
            c = make()
            for k in range(0, 600, 7):       # through the update buffers
                c.add(k) if not isinstance(c, SortedDict) else c.__setitem__(k, 1)
            if isinstance(c, SortedDict):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    c.iloc[0]                # the deprecated view must not be cached on the dict
                views = [c.keys(), c.values(), c.items()]
            else:
                views = [c.irange(5, 50), c.islice(3)]
            next(iter(views[0]))
            next(iter(views[1]))
            c._check()
            return weakref.ref(c)

        ref, garbage = _own_cyclic_garbage(build_and_use)
        assert garbage == [], "left for the cycle collector: %r" % sorted({type(o).__name__ for o in garbage})
        assert ref() is None

    def test_copies_are_freed(self):
        def copy_and_drop():
            c = SortedList(range(100))
            cp = pickle.loads(pickle.dumps(c))
            refs = [weakref.ref(x) for x in (c, cp, c.copy())]
            del c, cp
            return refs

        refs, garbage = _own_cyclic_garbage(copy_and_drop)
        assert garbage == [], "left for the cycle collector: %r" % sorted({type(o).__name__ for o in garbage})
        assert all(r() is None for r in refs)


# ------------------------------------------------------------------- vectorised extras

def _query_arrays(dtype, keys: np.ndarray, seed: int):
    """Queries of the key dtype and of other numeric dtypes (foreign queries)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    lo, hi = lo_hi(dtype)
    with np.errstate(all="ignore"):
        own = np.concatenate([keys[rng.integers(0, max(1, keys.size), 50)] if keys.size else keys,
                              np.array(special_values(dtype), dtype=dtype)]).astype(dtype)
        yield own
        yield own[::2]                              # strided
        yield np.array([], dtype=dtype)
        yield own.astype(np.float64) + 0.5
        yield np.array([np.nan, np.inf, -np.inf, -0.0, 2.0 ** 64, -(2.0 ** 63)], dtype=np.float64)
        yield np.array([0, 1, 2 ** 63 + 5, 2 ** 64 - 1], dtype=np.uint64)
        yield np.array([-5, -1, 0, 3], dtype=np.int8)


class TestVectorised:
    @DT
    def test_many_against_per_element_oracle(self, dtype):
        rng = np.random.default_rng(dtype.num)
        ks = sorted(sample_keys(dtype, 300, seed=dtype.num))
        keys = np.array(ks, dtype=dtype)
        sl, ss = SortedList(keys), SortedSet(keys)
        d = SortedDict.from_arrays(np.unique(keys), np.arange(np.unique(keys).size))
        o, so, do = sc.SortedList(ks), sc.SortedSet(ks), sc.SortedDict(zip(np.unique(keys).tolist(), range(len(set(ks)))))
        for k in rng.choice(keys, 40).tolist():  # into the update buffers
            sl.discard(k), o.discard(k)
        for c, oc in ((sl, o), (ss, so), (d, do)):
            checked(c)
            for qs in _query_arrays(dtype, keys, dtype.num):
                ql = qs.tolist()
                got = c.contains_many(qs)
                assert isinstance(got, np.ndarray) and got.dtype == bool and got.shape == qs.shape
                assert got.tolist() == [q in oc for q in ql], (type(c).__name__, qs.dtype)
                pos = c.bisect_left_many(qs)
                assert isinstance(pos, np.ndarray) and pos.shape == qs.shape
                want = [oc.bisect_left(q) if not (isinstance(q, float) and math.isnan(q)) else None for q in ql]
                assert [p for p, w in zip(pos.tolist(), want) if w is not None] == [w for w in want if w is not None]
        for qs in _query_arrays(dtype, keys, 1):
            # get_many is the vectorised d[k]: KeyError for a missing key unless a default is given
            want = [do.get(q, -1) for q in qs.tolist()]
            assert norm(list(d.get_many(qs, -1))) == want
            if -1 in want:
                with pytest.raises(KeyError):
                    d.get_many(qs)
            else:
                assert norm(list(d.get_many(qs))) == want

    @DT
    def test_from_arrays(self, dtype):
        rng = np.random.default_rng(7)
        keys = np.unique(np.array(sample_keys(dtype, 200, seed=2), dtype=dtype))
        perm = rng.permutation(keys.size)
        for k, v in ((keys, None), (keys, np.arange(keys.size, dtype=np.int64)), (keys[perm], perm.astype(np.float64)),
                     (keys, [str(i) for i in range(keys.size)])):
            d = checked(SortedDict.from_arrays(k, v))
            want = dict(zip(k.tolist(), [None] * k.size if v is None else list(v)))
            assert d == want and norm(list(d)) == sorted(want)
            assert d.dtype == dtype
        with pytest.raises(ValueError):
            SortedDict.from_arrays(keys, np.arange(keys.size + 1))
        typed = SortedDict.from_arrays(keys, np.arange(keys.size, dtype=np.int32))
        assert norm(list(typed.values())) == list(range(keys.size))

    def test_from_arrays_never_writes_the_callers_arrays(self):
        for vals in (np.array([10.0, 20.0, 30.0]), np.array(["a", "b", "c"], dtype=object)):
            keys, before = np.array([1, 2, 3]), vals.copy()
            d = SortedDict.from_arrays(keys, vals)
            d[2] = vals[0]
            d.setdefault(3, vals[0])
            del d[1]
            d[0] = vals[0]
            assert keys.tolist() == [1, 2, 3] and vals.tolist() == before.tolist()

    def test_from_arrays_rejects_nan(self):
        with pytest.raises(ValueError):
            SortedDict.from_arrays(np.array([1.0, np.nan]), np.zeros(2))

    @DT
    def test_update_from_arrays(self, dtype):
        rng = np.random.default_rng(3)
        o, oss = sc.SortedList(), sc.SortedSet()
        sl, ss = SortedList(dtype=dtype), SortedSet(dtype=dtype)
        for rnd in range(12):
            arr = np.array(sample_keys(dtype, int(rng.integers(0, 400)), seed=rnd), dtype=dtype)
            if rnd % 3 == 1:
                arr = arr[::-1]                      # negative strides
            elif rnd % 3 == 2:
                arr = arr[::2]
            sl.update(arr)
            ss.update(arr)
            o.update(arr.tolist())
            oss.update(arr.tolist())
            checked(sl), checked(ss)
            assert norm(list(sl)) == list(o) and norm(list(ss)) == list(oss)
        assert sl.dtype == dtype

    def test_update_array_is_copied(self):
        arr = np.array([3, 1, 2])
        sl = SortedList()
        sl.update(arr)
        arr[:] = 100
        assert list(sl) == [1, 2, 3]


# ------------------------------------------------------------------- seeded stress

def _stress_list(cls, ocls, dtype, seed: int, steps: int):
    rng = random.Random(seed)
    ks = sample_keys(dtype, 400, seed=seed)
    c, o = cls(ks[:100], dtype=dtype), ocls(ks[:100])
    actions = [("add", 30), ("discard", 15), ("remove", 8), ("pop", 6), ("del", 5), ("del_slice", 1), ("update", 4),
               ("update_array", 2), ("contains", 8), ("bisect", 8), ("getitem", 6), ("index", 3), ("irange", 3)]
    names, weights = zip(*actions)
    for step in range(steps):
        act = rng.choices(names, weights)[0]
        n = len(o)
        k = rng.choice(ks) if rng.random() < 0.8 else rng.choice(QUERIES[:22])
        if act == "add":
            c.add(ks[step % len(ks)]), o.add(ks[step % len(ks)])
        elif act == "discard":
            c.discard(k), o.discard(k)
        elif act == "remove":
            assert_same(outcome(c.remove, k), outcome(o.remove, k), "remove")
        elif act == "pop":
            i = rng.randint(-n - 1, n) if n else 0
            assert_same(outcome(c.pop, i), outcome(o.pop, i), "pop")
        elif act == "del":
            i = rng.randint(-n - 1, n) if n else 0
            assert_same(outcome(c.__delitem__, i), outcome(o.__delitem__, i), "del")
        elif act == "del_slice":
            a, b = sorted(rng.randint(0, n) for _ in range(2))
            b = min(b, a + 30)
            del c[a:b], o[a:b]
        elif act == "update":
            batch = rng.sample(ks, 20)
            c.update(batch), o.update(batch)
        elif act == "update_array":
            batch = np.array(rng.sample(ks, 150), dtype=dtype)
            c.update(batch), o.update(batch.tolist())
        elif act == "contains":
            assert (k in c) == (k in o)
        elif act == "bisect":
            assert c.bisect_left(k) == o.bisect_left(k) and c.bisect_right(k) == o.bisect_right(k)
        elif act == "getitem":
            i = rng.randint(-n - 1, n)
            assert_same(outcome(c.__getitem__, i), outcome(o.__getitem__, i), "getitem")
        elif act == "index":
            assert_same(outcome(c.index, k), outcome(o.index, k), "index")
        elif act == "irange":
            rev = rng.random() < 0.5
            got = list(itertools.islice(c.irange(k, None, (False, True), rev), 20))
            assert norm(got) == list(itertools.islice(o.irange(k, None, (False, True), rev), 20))
        c._check()
        assert len(c) == len(o)
        if step % 250 == 0:
            assert norm(list(c)) == list(o)
    assert norm(list(c)) == list(o)


def _stress_dict(dtype, seed: int, steps: int, value_dtype=None):
    rng = random.Random(seed)
    ks = sample_keys(dtype, 400, seed=seed)
    kw = {"value_dtype": value_dtype} if value_dtype is not None else {}
    c, o = SortedDict(dtype=dtype, **kw), sc.SortedDict()
    actions = [("set", 30), ("del", 10), ("pop", 8), ("popitem", 4), ("setdefault", 6), ("update", 3), ("get", 10),
               ("peek", 5), ("bisect", 5), ("keys_at", 5)]
    names, weights = zip(*actions)
    for step in range(steps):
        act = rng.choices(names, weights)[0]
        n = len(o)
        k = rng.choice(ks)
        v = step % 13
        if act == "set":
            c[k] = v
            o[k] = v
        elif act == "del":
            assert_same(outcome(c.__delitem__, k), outcome(o.__delitem__, k), "del")
        elif act == "pop":
            assert_same(outcome(c.pop, k, -1), outcome(o.pop, k, -1), "pop")
        elif act == "popitem":
            i = rng.randint(-n - 1, n) if n else -1
            assert_same(outcome(c.popitem, i), outcome(o.popitem, i), "popitem")
        elif act == "setdefault":
            assert_same(outcome(c.setdefault, k, v), outcome(o.setdefault, k, v), "setdefault")
        elif act == "update":
            batch = [(x, i) for i, x in enumerate(rng.sample(ks, 60))]
            c.update(batch), o.update(batch)
        elif act == "get":
            assert norm(c.get(k)) == o.get(k) and (k in c) == (k in o)
        elif act == "peek":
            i = rng.randint(-n - 1, n) if n else -1
            assert_same(outcome(c.peekitem, i), outcome(o.peekitem, i), "peekitem")
        elif act == "bisect":
            assert c.bisect_left(k) == o.bisect_left(k) and c.bisect_right(k) == o.bisect_right(k)
        elif act == "keys_at":
            i = rng.randint(-n - 1, n)
            assert_same(outcome(c.keys().__getitem__, i), outcome(o.keys().__getitem__, i), "keys()[i]")
        c._check()
        assert len(c) == len(o)
        if step % 250 == 0:
            assert list(norm(list(c.items()))) == list(o.items())
    assert list(norm(list(c.items()))) == list(o.items())


STRESS_STEPS = 3500


@pytest.mark.slow
@pytest.mark.parametrize("dtype, profile", [("int64", "merges"), ("float32", "buffer"), ("uint32", "default")])
def test_stress_sortedlist(dtype, profile):
    with thresholds(profile):
        _stress_list(SortedList, sc.SortedList, np.dtype(dtype), seed=1, steps=STRESS_STEPS)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["merges", "buffer"])
def test_stress_sortedset(profile):
    with thresholds(profile):
        _stress_list(SortedSet, sc.SortedSet, np.dtype("uint64"), seed=2, steps=STRESS_STEPS)


@pytest.mark.slow
@pytest.mark.parametrize("value_dtype, profile", [(None, "merges"), (np.int64, "buffer")])
def test_stress_sorteddict(value_dtype, profile):
    with thresholds(profile):
        _stress_dict(np.dtype("float64"), seed=3, steps=STRESS_STEPS, value_dtype=value_dtype)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [SortedList, SortedDict], ids=["list", "dict"])
def test_realistic_thresholds_across_merges(cls):
    """20k keys with the store's default thresholds: 25k single updates cross the
    default merge threshold (4096 buffered keys or tombstones) about six times."""
    rng = np.random.default_rng(17)
    keys = rng.integers(-(10 ** 6), 10 ** 6, 20_000)
    if cls is SortedList:
        c, o = SortedList(keys), sc.SortedList(keys.tolist())
    else:
        uk = np.unique(keys)
        c, o = SortedDict.from_arrays(uk, uk * 2), sc.SortedDict(zip(uk.tolist(), (uk * 2).tolist()))
    adds = rng.integers(-(10 ** 6), 10 ** 6, 25_000).tolist()
    for step, k in enumerate(adds):
        if step % 3 == 2 and len(o):
            victim = o.keys()[int(rng.integers(0, len(o)))] if cls is SortedDict else o[int(rng.integers(0, len(o)))]
            if cls is SortedDict:
                assert c.pop(victim) == o.pop(victim)
            else:
                c.remove(victim), o.remove(victim)
        elif cls is SortedDict:
            c[k] = step
            o[k] = step
        else:
            c.add(k), o.add(k)
        if step % 500 == 0:
            c._check()
            qs = rng.integers(-(10 ** 6), 10 ** 6, 200)
            i = int(rng.integers(0, len(o)))
            assert c.bisect_left_many(qs).tolist() == [o.bisect_left(q) for q in qs.tolist()]
            assert norm(c.keys()[i] if cls is SortedDict else c[i]) == (o.keys()[i] if cls is SortedDict else o[i])
            assert c.index(norm(o.keys()[i] if cls is SortedDict else o[i])) == o.index(o.keys()[i] if cls is SortedDict else o[i])
    c._check()
    assert norm(list(c)) == list(o)
    if cls is SortedDict:
        assert norm(list(c.values())) == list(o.values())
