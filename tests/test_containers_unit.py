"""Unit tests of learnedidx.containers against sortedcontainers (seeded, bounded)."""
import copy
import pickle
import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sortedcontainers = pytest.importorskip("sortedcontainers")

from learnedidx import SortedDict, SortedList, SortedSet
from learnedidx.containers import _store


@pytest.fixture
def small_store(monkeypatch):
    """Tiny buffer limits and chunk loads, so short runs cross many merges and splits."""
    monkeypatch.setattr(_store, "BUF_MIN", 40)
    monkeypatch.setattr(_store, "LOAD", 4)
    monkeypatch.setattr(_store.Store, "_load", 4)
    monkeypatch.setattr(_store, "CHUNK", 16)
    monkeypatch.setattr(_store, "SHIFT", 3)
    monkeypatch.setattr(_store, "BLOCK", 8)


def _queries(rng):
    return [rng.randint(-5, 105), rng.randint(-5, 105) + 0.5, -2 ** 70, 2 ** 70, float("inf"),
            np.int32(rng.randint(0, 100)), np.float32(rng.randint(0, 100)), np.uint64(7)]


@pytest.mark.parametrize("seed", range(3))
def test_sortedlist_stress(small_store, seed):
    rng = random.Random(seed)
    ours = SortedList(np.array([rng.randint(0, 100) for _ in range(60)]))
    ref = sortedcontainers.SortedList(ours)
    for step in range(1500):
        r = rng.random()
        x = rng.randint(0, 100)
        if r < 0.35:
            ours.add(x)
            ref.add(x)
        elif r < 0.55:
            ours.discard(x)
            ref.discard(x)
        elif r < 0.62 and ref:
            i = rng.randrange(-len(ref), len(ref))
            assert ours.pop(i) == ref.pop(i)
        elif r < 0.66 and ref:
            i = rng.randrange(len(ref))
            j = rng.randrange(i, len(ref) + 1)
            step_ = rng.choice([1, 2])
            del ours[i:j:step_]
            del ref[i:j:step_]
        elif r < 0.68:
            vals = [rng.randint(0, 100) for _ in range(rng.choice([3, 80]))]
            ours.update(vals)
            ref.update(vals)
        else:
            for q in _queries(rng):
                assert ours.bisect_left(q) == ref.bisect_left(q), q
                assert ours.bisect_right(q) == ref.bisect_right(q), q
                assert (q in ours) == (q in ref), q
            if ref:
                i = rng.randrange(len(ref))
                assert ours[i] == ref[i]
                assert ours[-1] == ref[-1]
                assert ours.index(ref[i]) == ref.index(ref[i])
            lo, hi = sorted(rng.randint(0, 100) for _ in range(2))
            inc = (rng.random() < 0.5, rng.random() < 0.5)
            assert list(ours.irange(lo, hi, inc)) == list(ref.irange(lo, hi, inc))
            assert list(ours.islice(3, 40, reverse=True)) == list(ref.islice(3, 40, reverse=True))
        ours._check()
        assert len(ours) == len(ref)
        if step % 100 == 0:
            assert list(ours) == list(ref)
            assert list(reversed(ours)) == list(reversed(ref))
            ours._check(full=True)
    assert ours == ref


@pytest.mark.parametrize("seed", range(2))
def test_sorteddict_stress(small_store, seed):
    rng = random.Random(seed)
    vd = "int64" if seed else None
    ours = SortedDict(dtype="int64", value_dtype=vd)
    ref = sortedcontainers.SortedDict()
    for step in range(1500):
        r = rng.random()
        k = rng.randint(0, 150)
        if r < 0.4:
            ours[k] = step
            ref[k] = step
        elif r < 0.55:
            assert ours.pop(k, None) == ref.pop(k, None)
        elif r < 0.6 and ref:
            i = rng.randrange(-len(ref), len(ref))
            assert ours.popitem(i) == ref.popitem(i)
        elif r < 0.63:
            assert ours.setdefault(k, -1) == ref.setdefault(k, -1)
        elif r < 0.65:
            pairs = [(rng.randint(0, 150), -step) for _ in range(rng.choice([2, 60]))]
            ours.update(pairs)
            ref.update(pairs)
        else:
            assert ours.get(k) == ref.get(k)
            assert (k in ours) == (k in ref)
            assert ours.bisect_left(k + 0.5) == ref.bisect_left(k + 0.5)
            if ref:
                i = rng.randrange(len(ref))
                assert ours.peekitem(i) == ref.peekitem(i)
                assert ours.keys()[i] == ref.keys()[i]
                assert ours.values()[i] == ref.values()[i]
                assert ours.index(ref.keys()[i]) == i
        ours._check()
        if step % 100 == 0:
            assert list(ours.items()) == list(ref.items())
            assert ours.items()[2:9] == ref.items()[2:9]
            ours._check(full=True)
    assert ours == ref
    keys = np.arange(-3, 155)
    got = ours.get_many(keys, default=-99)
    assert got.tolist() == [ref.get(int(k), -99) for k in keys]


def test_sortedset_stress(small_store):
    rng = random.Random(5)
    ours, ref = SortedSet(dtype="int32"), sortedcontainers.SortedSet()
    for step in range(1200):
        r = rng.random()
        x = rng.randint(0, 120)
        if r < 0.45:
            ours.add(x)
            ref.add(x)
        elif r < 0.7:
            ours.discard(x)
            ref.discard(x)
        elif r < 0.72:
            other = {rng.randint(0, 120) for _ in range(30)}
            op = rng.choice(["__ior__", "__iand__", "__isub__", "__ixor__"])
            getattr(ours, op)(other)
            getattr(ref, op)(other)
        else:
            assert (x in ours) == (x in ref)
            assert ours.bisect_right(x) == ref.bisect_right(x)
            if ref:
                i = rng.randrange(len(ref))
                assert ours[i] == ref[i]
        ours._check()
        assert len(ours) == len(ref)
    assert list(ours) == list(ref) and ours == ref


def test_set_algebra_matches_sortedcontainers():
    a, b = [1, 2, 3, 5, 8], [2, 3, 4, 9]
    ours, ref = SortedSet(a), sortedcontainers.SortedSet(a)
    for name in ["union", "intersection", "difference", "symmetric_difference"]:
        assert list(getattr(ours, name)(b)) == list(getattr(ref, name)(b)), name
    assert list(ours | b) == list(ref | b) and list(ours & b) == list(ref & b)
    assert list(ours - b) == list(ref - b) and list(ours ^ b) == list(ref ^ b)
    assert ours.isdisjoint([100]) and ours.issubset(range(10)) and ours.issuperset([1, 2])
    assert ours == set(a) and ours <= set(a) | {99} and ours < set(a) | {99} and not ours > set(a)
    assert ours != [1, 2, 3, 5, 8]                     # a set never equals a list
    assert 1.5 not in ours and "x" not in ours
    with pytest.raises(KeyError):
        ours.remove(4)


class Sub(SortedList):
    pass


def test_drop_in_behaviour():
    sl = SortedList([3, 1, 2])
    assert sl == [1, 2, 3] and sl == (1, 2, 3) and sl < [1, 2, 4] and sl != [1, 2]
    assert sl + [0] == [0, 1, 2, 3] and [0] + sl == [0, 1, 2, 3] and sl * 2 == [1, 1, 2, 2, 3, 3]
    sl += [4]
    sl *= 1
    assert sl == [1, 2, 3, 4]
    for name, args, exc in [("append", (1,), NotImplementedError), ("extend", ([1],), NotImplementedError),
                            ("insert", (0, 1), NotImplementedError), ("reverse", (), NotImplementedError),
                            ("__setitem__", (0, 1), NotImplementedError)]:
        with pytest.raises(exc):
            getattr(sl, name)(*args)
    with pytest.raises(TypeError, match="key functions"):
        SortedList([1], key=abs)
    with pytest.raises(ValueError, match="not in list"):
        sl.remove(7)
    with pytest.raises(ValueError, match="is not in list"):
        sl.index(7)
    with pytest.raises(IndexError):
        sl[10]
    with pytest.raises(IndexError, match="pop index out of range"):
        SortedList().pop()
    with pytest.raises(KeyError, match="empty"):
        SortedDict().popitem()
    s = Sub([2, 1])
    assert repr(s) == "Sub([1, 2])" and type(copy.copy(s)) is Sub
    assert type(pickle.loads(pickle.dumps(s))) is Sub and pickle.loads(pickle.dumps(s)) == [1, 2]
    d = SortedDict({2: "b", 1: "a"})
    assert pickle.loads(pickle.dumps(d)) == d and repr(d) == "SortedDict({1: 'a', 2: 'b'})"
    ss = SortedSet([3, 1])
    assert pickle.loads(pickle.dumps(ss)) == ss and repr(ss) == "SortedSet([1, 3])"
    assert d.keys()[0] == 1 and d.items()[1] == (2, "b") and list(reversed(d.values())) == ["b", "a"]
    del d.keys()[0]
    assert d == {2: "b"}
    with pytest.raises(TypeError, match="keyword"):
        SortedDict(a=1)


def test_pickle_is_compact():
    sl = SortedList(np.arange(100_000))
    assert len(pickle.dumps(sl)) < 100_000 * 8 + 1000


def test_no_reference_cycles():
    import gc
    import weakref
    gc.collect()
    d = SortedDict({1: 2})
    views = (d.keys(), d.values(), d.items())
    ref = weakref.ref(d)
    gc.disable()
    try:
        del d, views
        assert ref() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("dtype,good,bad", [
    ("int64", [1, 2.0, np.int32(3)], [1.5, 2 ** 63, float("nan"), "a"]),
    ("uint64", [2 ** 64 - 1, 0], [-1, 2 ** 64]),
    ("float64", [0.5, 2 ** 53, np.float32(1.5)], [2 ** 53 + 1, float("nan")]),
    ("float32", [0.5, 16777216], [0.1, 16777217]),
    ("int32", [2 ** 31 - 1], [2 ** 31]),
])
def test_exact_keys_or_errors(dtype, good, bad):
    sl = SortedList(dtype=dtype)
    for g in good:
        sl.add(g)
    assert len(sl) == len(good)
    for b in bad:
        with pytest.raises((TypeError, ValueError)):
            sl.add(b)
    assert len(sl) == len(good)
    sl._check(full=True)


def test_inference_and_mixed_queries():
    assert SortedList([1, 2]).dtype == np.int64 and SortedList([1, 2.5]).dtype == np.float64
    assert SortedList([2 ** 63]).dtype == np.uint64
    with pytest.raises(ValueError):
        SortedList([2 ** 53 + 1, 0.5])                # float64 cannot hold 2**53 + 1
    sl = SortedList(np.array([2 ** 64 - 2, 2 ** 64 - 1], dtype=np.uint64))
    assert sl.bisect_left(2 ** 64 - 1) == 1 and sl.bisect_left(2.0 ** 64) == 2 and sl.bisect_right(-1) == 0
    assert (2 ** 64 - 1) in sl and float(2 ** 64 - 1) not in sl and sl.count(2 ** 64 - 2) == 1


def test_vectorised_extras(small_store):
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 1000, 500)
    sl = SortedList.from_arrays(keys)
    ref = sortedcontainers.SortedList(keys.tolist())
    for x in rng.integers(0, 1000, 60).tolist():
        sl.add(x)
        ref.add(x)
        sl.discard(x + 1)
        ref.discard(x + 1)
    q = np.concatenate([rng.integers(-5, 1005, 300), [2 ** 40]])
    assert sl.bisect_left_many(q).tolist() == [ref.bisect_left(int(v)) for v in q]
    assert sl.bisect_right_many(q.astype(np.float64) + 0.5).tolist() == [ref.bisect_right(float(v) + 0.5) for v in q]
    assert sl.contains_many(q).tolist() == [int(v) in ref for v in q]
    sl.update(np.arange(0, 1000, 7))
    ref.update(range(0, 1000, 7))
    assert sl == ref and sl.to_numpy().tolist() == list(ref)
    d = SortedDict.from_arrays(np.array([5, 1, 5]), np.array([1.0, 2.0, 3.0]))
    assert d == {1: 2.0, 5: 3.0} and d.value_dtype == np.float64
    with pytest.raises(KeyError):
        d.get_many([1, 9])


def test_state_round_trip():
    sl = SortedList(np.arange(2000) % 37)
    sl.discard(3)
    sl.add(1000)
    meta, arrays = sl._state()
    back = SortedList._from_state(meta, arrays)
    assert back == sl
    back._check(full=True)
    d = SortedDict({1: 1.5, 2: 2.5}, value_dtype=np.float64)
    assert SortedDict._from_state(*d._state()) == d
    with pytest.raises(TypeError, match="value_dtype"):
        SortedDict({1: "x"})._state()
    meta, arrays = d._state()
    arrays["values"] = arrays["values"][:1]
    with pytest.raises(ValueError):
        SortedDict._from_state(meta, arrays)


def test_copy_is_independent():
    d = SortedDict.from_arrays(np.arange(10), np.arange(10.0))
    c = d.copy()
    c[3] = -1.0
    del c[4]
    assert d[3] == 3.0 and 4 in d and c[3] == -1.0 and 4 not in c


def test_no_array_is_shared_writably():
    """Dicts built from dicts, copies and bulk sources never write into each other or the caller."""
    t = SortedDict({1: 1.0, 2: 2.0}, value_dtype=np.float64)
    d, c = SortedDict(t, value_dtype=np.float64), t.copy()
    d[1], c[2], t[1] = 9.0, 5.0, 7.0
    assert (t, d, c) == ({1: 7.0, 2: 2.0}, {1: 9.0, 2: 2.0}, {1: 1.0, 2: 5.0})
    o = SortedDict({1: "a"})
    p = SortedDict(o)
    p[1] = "b"
    assert o[1] == "a"
    keys, vals = np.array([1, 2]), np.array([1.0, 2.0])
    s = SortedDict(value_dtype=np.float64)
    s.set_many(keys, vals)
    s[1] = 7.0
    keys[:] = 50
    assert vals.tolist() == [1.0, 2.0] and s == {1: 7.0, 2: 2.0}
    for make in (SortedList, SortedSet, lambda a: SortedList().__iadd__(a)):
        arr = np.array([1, 2, 3])               # already sorted: nothing else would copy it
        sl = make(arr)
        arr[:] = 100
        assert list(sl) == [1, 2, 3]
        sl._check(full=True)
    for x in (t, d, c, s):
        x._check(full=True)


def test_exactness_of_casts():
    """numpy calls int64 -> float64 'safe'; the containers check each value instead."""
    f = SortedList([0.5])
    f.update(np.array([2 ** 53, -(2 ** 63)], dtype=np.int64))
    f.update(np.array([2 ** 63], dtype=np.uint64))
    assert list(f) == [-(2.0 ** 63), 0.5, 2.0 ** 53, 2.0 ** 63]
    for bad in (np.array([2 ** 63 - 1]), np.array([2 ** 64 - 1], dtype=np.uint64), np.array([2 ** 24 + 1], dtype=np.int32)):
        with pytest.raises(ValueError):
            SortedList(bad, dtype=np.float32 if bad.dtype == np.int32 else np.float64)
    v = SortedDict({1: 1.0}, value_dtype=np.float64)
    with pytest.raises(ValueError):
        v[2] = np.int64(2 ** 53 + 1)
    with pytest.raises(ValueError):
        v.set_many(np.array([3]), np.array([2 ** 63 - 1]))
    with pytest.raises(TypeError):
        SortedDict.from_arrays(np.array([1, 2]), np.array([None, 1.0], dtype=object), value_dtype=np.float64)
    assert v == {1: 1.0}


def test_fractions_are_kept_exactly_or_refused():
    sl = SortedList([1.0])
    with pytest.raises(ValueError, match="round it"):
        sl.add(Fraction(1, 3))                        # float(1/3) would be a different key
    sl.add(Fraction(1, 2))
    assert list(sl) == [0.5, 1.0] and Fraction(1, 2) in sl and Fraction(1, 3) not in sl
    for bad in (lambda: SortedSet([1.0]).add(Fraction(1, 3)),
                lambda: SortedDict({1.0: "a"}).__setitem__(Fraction(1, 3), "x"),
                lambda: SortedDict({1.0: "a"}).setdefault(Fraction(1, 3), "x")):
        with pytest.raises(ValueError):
            bad()
    il = SortedList([0])
    il.add(Fraction(2 ** 60 + 1))                      # an integral Fraction is an exact int64
    assert list(il) == [0, 2 ** 60 + 1] and il.dtype == np.int64


def test_decimals_are_kept_exactly_or_refused():
    """Decimal keys join as the int or float equal to them, or are refused like Fractions;
    Decimal queries compare exactly (``Decimal("0.1") != 0.1``) in every container."""
    sl = SortedList([Decimal(3), Decimal("1.5"), 2])
    assert list(sl) == [1.5, 2.0, 3.0] and sl.dtype == np.float64
    assert SortedList([Decimal("2.000"), Decimal(2 ** 63)]).dtype == np.uint64
    sl.update([Decimal("0.25")])
    assert sl.bisect_left(Decimal("2.5")) == 3 and Decimal("0.25") in sl and Decimal("0.1") not in sl
    for bad, match in ((lambda: sl.add(Decimal("0.1")), "Decimal\\('0.1'\\).*round it"),
                       (lambda: SortedList([Decimal("0.1")]), "Decimal\\('0.1'\\)"),
                       (lambda: SortedList([Decimal("NaN")]), "NaN"),
                       (lambda: SortedList([Decimal("1E+500")]), "Decimal\\('1E\\+500'\\)"),
                       (lambda: SortedList([1]).add(Decimal("1E-1000000")), "Decimal"),
                       (lambda: SortedList([1], dtype=np.int64).add(Decimal("1.5")), "Decimal\\('1.5'\\)")):
        with pytest.raises(ValueError, match=match):
            bad()
    s, d = SortedSet([1, 2]), SortedDict({2: "b", 0.5: "h"})
    assert Decimal(2) in s and s.count(Decimal("2.0")) == 1 and Decimal("2.5") not in s
    assert d[Decimal(2)] == "b" and d.get(Decimal("0.5")) == "h" and Decimal("0.1") not in d
    assert list(SortedList([0.1, 0.2]).irange(Decimal("0.1"), Decimal("0.2"))) == [0.1]   # 0.2 > Decimal("0.2")
    for nan in (Decimal("NaN"), Decimal("sNaN")):         # (sNaN != sNaN would trap)
        for bad in (lambda: SortedList([1]).add(nan), lambda: SortedList([nan]), lambda: SortedList([1.5, nan])):
            with pytest.raises(ValueError, match="NaN"):
                bad()
    long_one = Decimal("1." + "0" * 100_000)               # == 1; its Fraction would take seconds
    assert long_one in SortedSet([1, 2]) and SortedList([0.5, 1.0]).bisect_right(long_one) == 2


def test_complex_members_with_no_imaginary_part():
    """A set or dict finds ``1 + 0j`` where 1 is (they are equal), as hash tables do; a
    list, which orders its values, refuses complex numbers like sortedcontainers."""
    s, d = SortedSet([1, 2]), SortedDict({1: "a", 2.5: "b"})
    assert 1 + 0j in s and 1j not in s and s.count(2 + 0j) == 1
    assert 2.5 + 0j in d and d[2.5 + 0j] == "b" and d.get(1 + 0j) == "a" and d.get(1j, "-") == "-"
    s.discard(1 + 0j)
    s.remove(2 + 0j)
    assert not s
    assert d.pop(1 + 0j) == "a" and list(d) == [2.5]
    with pytest.raises(KeyError):
        s.remove(3 + 0j)
    with pytest.raises(KeyError) as info:
        SortedDict({1: "a"})[3 + 0j]
    assert info.value.args == (3 + 0j,)                    # the key as asked for
    s = SortedSet([1, 2])                                  # set algebra agrees with membership
    assert not s.isdisjoint([1 + 0j]) and s.issuperset([1 + 0j]) and not s.issuperset([1j])
    assert list(s - [1 + 0j]) == [2] and list(s & [1 + 0j]) == [1]
    with pytest.raises(TypeError):
        SortedList([1]).bisect_left(1 + 0j)
    with pytest.raises(TypeError, match="unhashable"):
        [1] in SortedSet([1])


#: Keys of which every mix has an exact common dtype: ints within float64's exact range,
#: any finite or infinite float, and multiples of 2**11 in [2**63, 2**64) (exact as
#: float64, and uint64 when no negative key joins them).
_MIXED = st.one_of(st.integers(-2 ** 53, 2 ** 53), st.floats(allow_nan=False),
                   st.integers(2 ** 52, 2 ** 53 - 1).map(lambda v: v << 11))


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "discard", "update"]),
                              st.lists(_MIXED, min_size=1, max_size=4)), max_size=25))
def test_inferred_dtype_widens_like_a_list(ops):
    """A container without ``dtype=`` holds any mix of ints and floats, as sortedcontainers does."""
    for cls, ref in ((SortedList, sortedcontainers.SortedList), (SortedSet, sortedcontainers.SortedSet),
                     (SortedDict, sortedcontainers.SortedDict)):
        ours, want = cls(), ref()
        for op, vals in ops:
            if op == "add":
                for v in vals:
                    if cls is SortedDict:
                        ours[v] = want[v] = len(want)
                    else:
                        ours.add(v)
                        want.add(v)
            elif op == "discard":
                for v in vals:
                    ours.pop(v, None) if cls is SortedDict else ours.discard(v)
                    want.pop(v, None) if cls is SortedDict else want.discard(v)
            else:
                pairs = [(v, i) for i, v in enumerate(vals)]
                ours.update(pairs if cls is SortedDict else vals)
                want.update(pairs if cls is SortedDict else vals)
            assert list(ours.items() if cls is SortedDict else ours) == list(want.items() if cls is SortedDict else want)
            ours._check()


def test_given_dtype_never_widens():
    for make in (lambda: SortedList([1], dtype=np.int64), lambda: SortedSet([1], dtype="int64"),
                 lambda: SortedDict({1: 0}, dtype=np.int64), lambda: SortedList.from_arrays([1], dtype=np.int64),
                 lambda: pickle.loads(pickle.dumps(SortedList([1], dtype=np.int64))),
                 lambda: SortedList([1], dtype=np.int64) * 1, lambda: SortedList._from_state(*SortedList([1], dtype=np.int64)._state()),
                 lambda: copy.copy(SortedSet([1], dtype="int64"))):
        c = make()
        is_dict = isinstance(c, SortedDict)
        with pytest.raises(ValueError, match="dtype=np.float64"):
            c.update([(0.5, 1)] if is_dict else [0.5])
        with pytest.raises(ValueError, match="dtype=np.float64"):
            c.__setitem__(0.5, 1) if is_dict else c.add(0.5)
        assert c.dtype == np.int64 and len(c) == 1
    sl = SortedList([1], dtype=np.int64)
    sl.clear()
    with pytest.raises(ValueError):
        sl.add(0.5)
    assert SortedSet([1, 2]).__xor__([0.5]) == {0.5, 1, 2}           # a new, wider result ...
    s = SortedSet([1, 2])
    s.intersection([0.5, 1])
    assert s.dtype == np.int64                                         # ... leaves this set as it was


def test_widening_without_a_common_dtype_is_refused():
    sl = SortedList([2 ** 53 + 1])
    with pytest.raises(ValueError, match="no supported dtype"):
        sl.add(0.5)
    with pytest.raises(ValueError, match="no supported dtype"):
        sl.update([0.5, 2.5])
    assert list(sl) == [2 ** 53 + 1] and sl.dtype == np.int64


@pytest.mark.parametrize("load", [1, 2, 7])
def test_reset_load_like_sortedcontainers(load):
    rng = random.Random(load)
    ours, ref = SortedList(), sortedcontainers.SortedList()
    ours._reset(load)
    for step in range(400):
        x = rng.randint(0, 50)
        if rng.random() < 0.6:
            ours.add(x)
            ref.add(x)
        else:
            ours.discard(x)
            ref.discard(x)
        if step % 37 == 0:
            ours._reset(rng.randint(1, 9))
        assert list(ours) == list(ref)
    ours._check()
    d = SortedDict({3: "c", 1: "a"})
    d[2] = "b"
    d._reset(1)
    d[0] = "z"
    assert list(d.items()) == [(0, "z"), (1, "a"), (2, "b"), (3, "c")]
    d._check()
    for bad in (0, -1, 1.5, "3"):
        with pytest.raises(ValueError):
            ours._reset(bad)


def test_refused_dict_writes_leave_the_keys_alone():
    d = SortedDict({1: 1}, value_dtype=np.int64)
    for bad in (lambda: d.__setitem__(0.5, "x"), lambda: d.update([(0.5, "x")]),
                lambda: d.set_many([0.5, 2], [1]), lambda: d.setdefault(0.5, "x")):
        with pytest.raises((TypeError, ValueError)):
            bad()
        assert d.dtype == np.int64 and list(d.items()) == [(1, 1)]


def test_widening_prefers_an_exact_integer_dtype_to_refusing():
    sl = SortedList([2 ** 53 + 1])
    sl.add(2.0 ** 63)                                  # float64 cannot hold 2**53 + 1; uint64 holds both
    assert sl.dtype == np.uint64 and list(sl) == [2 ** 53 + 1, 2 ** 63]
    fl = SortedList([1.0])
    fl.add(2 ** 53 + 1)
    assert fl.dtype == np.int64 and list(fl) == [1, 2 ** 53 + 1]
    assert SortedList([Fraction(3)]).dtype == np.int64 and SortedList([2 ** 64 - 1, Fraction(0)]).dtype == np.uint64


@pytest.mark.parametrize("attempt, words", [
    (lambda: SortedList([1]).add(Fraction(1, 3)), "round it"),
    (lambda: SortedList([1]).add(2 ** 64 + 1), "round it"),
    (lambda: SortedList([1]).update([2 ** 53 + 1, 0.5]), "cannot join"),
    (lambda: SortedList([2 ** 53 + 1, 0.5]), "cannot join"),
    (lambda: SortedList([2 ** 53 + 1]).add(0.5), "no supported dtype holds 0.5"),
    (lambda: SortedList([1], dtype=np.int64).add(Fraction(1, 3)), "round it"),
    (lambda: SortedList([1]).add(np.float32("nan")), "NaN"),
])
def test_refusal_messages_name_a_fix_that_works(attempt, words):
    with pytest.raises(ValueError, match=words) as got:
        attempt()
    assert "dtype=np.float64" not in str(got.value)


def test_set_comparisons_are_exact_across_dtypes():
    assert SortedSet([2 ** 53 + 1]) != SortedSet([float(2 ** 53)])
    assert SortedSet([1, 2]) == SortedSet([1.0, 2.0]) and SortedSet([1]) <= SortedSet([1.0, 2.5])
    assert not SortedSet([2 ** 63 + 1]) <= SortedSet([2.0 ** 63, 1.5])


def test_view_classes_are_exported_like_sortedcontainers():
    import learnedidx
    d = SortedDict({1: "a"})
    assert isinstance(d.keys(), learnedidx.SortedKeysView)
    assert isinstance(d.items(), learnedidx.SortedItemsView)
    assert isinstance(d.values(), learnedidx.SortedValuesView)


def test_signed_zeros_first_key_kept_last_value():
    """Of equal keys (0.0 and -0.0) a set or dict keeps the first, a dict the last value,
    whether built in bulk or updated, as Python's set and dict do."""
    assert repr(SortedSet([0.0, -0.0])) == "SortedSet([0.0])"
    assert repr(SortedSet([-0.0, 0.0])) == "SortedSet([-0.0])"
    d = SortedDict([(-0.0, "a"), (0.0, "b")])
    assert repr(d) == "SortedDict({-0.0: 'b'})"
    s = SortedSet([0.0])
    s.update([-0.0, 1.0] * 40)                          # the bulk path
    assert repr(s) == "SortedSet([0.0, 1.0])"
    d.update({0.0: "c", **{float(i): i for i in range(1, 100)}})
    assert repr(d.peekitem(0)) == "(-0.0, 'c')"


@pytest.mark.parametrize("keys", [[(1, 2), (3, 4)], [(1, 2), 3], [[1], [2, 3]], [[1]]])
def test_nested_sequences_are_type_errors(keys):
    with pytest.raises(TypeError, match="not a number|flat sequence"):
        SortedList(keys)
    with pytest.raises(TypeError, match="not a number|flat sequence"):
        SortedList([1.5]).update(keys)


def test_unhashable_lookups_in_empty_sets_and_dicts_raise():
    """As a set or dict does, even when there is nothing to compare with."""
    for f in (lambda: [1] in SortedSet(), lambda: SortedDict().get([1]), lambda: SortedDict()[[1]],
              lambda: [1] in SortedDict()):
        with pytest.raises(TypeError, match="unhashable"):
            f()
    assert "a" not in SortedSet() and SortedDict().get("a", 5) == 5 and 1 not in SortedSet()
