"""Stateful tests: SortedList, SortedSet and SortedDict against sortedcontainers.

One hypothesis ``RuleBasedStateMachine`` per container (and one for a SortedDict with
``value_dtype=``) interleaves every mutating method with every query method; after each
step the container's ``_check()`` runs and its contents must equal the oracle's.  Keys are
drawn per key dtype from small ranges (many duplicates), the whole range and the dtype's
extremes (signed zero and infinities for floats), spelled as Python ints, floats and numpy
scalars; queries add numbers of other types (non-integral floats, ints beyond every dtype,
infinities, NaN where sortedcontainers defines the answer).  Keys a dtype cannot hold
exactly must raise ``TypeError``/``ValueError`` and leave the container unchanged.  Bulk
updates from numpy arrays and copies / pickles swapped in mid-run make the runs cross
several buffer merges and retrains.
"""
from __future__ import annotations

import copy
import os
import pickle

import numpy as np
import pytest
from conftest import _pattern_values
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

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
    queries,
    refused_keys,
    sc,
    thresholds,
    valid_keys,
)

#: ``CONTAINERS_NO_SHRINK=1`` reports the first failing run unshrunk (fast while hunting bugs).
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("CONTAINERS_NO_SHRINK") else list(Phase)

#: Constructor arguments that make the containers merge and retrain often.
KNOBS: dict = {}

SETTINGS = dict(deadline=None, derandomize=True, print_blob=True, phases=_PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

INDICES = st.one_of(st.integers(-6, 6), st.integers(-3000, 3000))
OPT_INDEX = st.one_of(st.none(), INDICES)
STEPS = st.sampled_from([None, 1, 1, 2, 3, -1, -2, 0])
BULK_PATTERNS = ("uniform", "dups", "step", "dense", "gaps", "specials")


def bulk_array(dtype: np.dtype, seed: int, n: int, pattern: str) -> np.ndarray:
    """``n`` keys of ``dtype`` (NaN-free, unsorted) from one adversarial distribution."""
    rng = np.random.default_rng(seed)
    if pattern == "small":
        lo = 0 if dtype.kind == "u" else -5
        return rng.integers(lo, lo + 10, n).astype(dtype)
    with np.errstate(all="ignore"):
        arr = _pattern_values(pattern, dtype, n, rng).astype(dtype)
    if dtype.kind == "f":
        arr = arr[~np.isnan(arr)]
    rng.shuffle(arr)
    return np.ascontiguousarray(arr)


def query_array(dtype: np.dtype, oracle_values: list, seed: int) -> np.ndarray:
    """Queries of the key dtype: present keys, their neighbours and random values."""
    rng = np.random.default_rng(seed)
    parts = [bulk_array(dtype, seed, 20, "uniform"), bulk_array(dtype, seed + 1, 10, "small")]
    if oracle_values:
        picked = np.array(oracle_values, dtype=dtype)[rng.integers(0, len(oracle_values), 20)]
        parts.append(picked)
        if dtype.kind in "iu":
            with np.errstate(all="ignore"):
                parts.append((picked[picked < np.iinfo(dtype).max] + dtype.type(1)).astype(dtype))
        else:
            with np.errstate(all="ignore"):
                parts.append(np.nextafter(picked, dtype.type(np.inf)).astype(dtype))
    return np.ascontiguousarray(np.concatenate(parts).astype(dtype))


class _Machine(RuleBasedStateMachine):
    """Shared plumbing: the container ``c``, the oracle ``o`` and their dtype."""

    def __init__(self):
        super().__init__()
        self.c = None
        self.o = None
        self.dtype = None

    # ---------------------------------------------------------------- helpers
    def both(self, name: str, *args, what: str | None = None, **kwargs):
        """Call ``name`` on the container and the oracle; same result or exception."""
        got = outcome(getattr(self.c, name), *args, **kwargs)
        # numpy scalars reach the oracle as the Python numbers they equal exactly (numpy's
        # own mixed comparisons would round or warn)
        want = outcome(getattr(self.o, name), *norm(args), **kwargs)
        assert_same(got, want, what or f"{name}{args!r}")
        return got

    def keys(self, data, wide: bool = True):
        return data.draw(valid_keys(self.dtype, wide), label="key")

    def query(self, data, nan: bool = False):
        return data.draw(queries(self.dtype, nan), label="query")

    def refused(self, data):
        return data.draw(refused_keys(self.dtype), label="refused key")

    def expect_refused(self, fn, *args):
        """``fn(*args)`` must raise TypeError/ValueError (the invariant checks no change)."""
        try:
            fn(*args)
        except REFUSED:
            return
        raise AssertionError(f"{fn.__name__}{args!r} was accepted by a {self.dtype} container")

    def fresh(self, cls, *args, **kwargs):
        return cls(*args, dtype=self.dtype, **KNOBS, **kwargs)

    def snapshot(self):
        """The container's content as Python values (items for a dict)."""
        return norm(list(self.c.items() if isinstance(self.c, SortedDict) else self.c))

    def check_many(self, qs):
        """Extra vectorised checks of one container type."""

    # ------------------------------------------------- rules every container has
    @invariant()
    def agrees(self):
        """``_check()`` passes and the contents (and a dict's values) equal the oracle's."""
        if self.c is None:
            return
        self.c._check()
        assert len(self.c) == len(self.o)
        assert norm(list(self.c)) == list(self.o)
        if isinstance(self.c, SortedDict):
            assert norm(list(self.c.values())) == list(self.o.values())

    @rule(kind=st.sampled_from(["copy", "copy.copy", "pickle"]))
    def swap_in_copy(self, kind):
        """Continue the run on a copy (the original must be unaffected by later steps)."""
        old, before = self.c, self.snapshot()
        new = {"copy": lambda c: c.copy(), "copy.copy": copy.copy,
               "pickle": lambda c: pickle.loads(pickle.dumps(c))}[kind](self.c)
        assert type(new) is type(self.c) and new is not self.c
        new._check()
        self.c = new
        self._old = (old, before)

    @invariant()
    def old_copy_unchanged(self):
        old = getattr(self, "_old", None)
        if old is not None:
            current, self.c = self.c, old[0]
            try:
                assert self.snapshot() == old[1], "mutating a copy changed the original"
            finally:
                self.c = current

    @rule(data=st.data())
    def bisect(self, data):
        q = self.query(data)
        for name in ("bisect_left", "bisect_right", "bisect"):
            self.both(name, q)
        self.both("index", self.query(data, nan=True))

    @rule(data=st.data(), use_min=st.booleans(), use_max=st.booleans(),
          inclusive=st.tuples(st.booleans(), st.booleans()), reverse=st.booleans())
    def irange(self, data, use_min, use_max, inclusive, reverse):
        lo = self.query(data) if use_min else None
        hi = self.query(data) if use_max else None
        got = list(self.c.irange(lo, hi, inclusive, reverse))
        want = list(self.o.irange(norm(lo), norm(hi), inclusive, reverse))
        assert norm(got) == want, (lo, hi, inclusive, reverse)
        if inclusive == (True, True) and not reverse:
            assert norm(list(self.c.irange(lo, hi))) == want

    @rule(start=OPT_INDEX, stop=OPT_INDEX, reverse=st.booleans())
    def islice(self, start, stop, reverse):
        assert norm(list(self.c.islice(start, stop, reverse))) == list(self.o.islice(start, stop, reverse))

    @rule(seed=st.integers(0, 2 ** 32 - 1))
    def many_queries(self, seed):
        qs = query_array(self.dtype, list(self.o), seed)
        got = self.c.contains_many(qs)
        assert isinstance(got, np.ndarray) and got.dtype == bool and got.shape == qs.shape
        assert got.tolist() == [q in self.o for q in qs.tolist()]
        pos = self.c.bisect_left_many(qs)
        assert isinstance(pos, np.ndarray) and pos.shape == qs.shape and pos.dtype.kind in "iu"
        assert pos.tolist() == [self.o.bisect_left(q) for q in qs.tolist()]
        self.check_many(qs)


# --------------------------------------------------------------------- sequence-like

class _SequenceMachine(_Machine):
    """Query rules shared by SortedList and SortedSet (positions, bisect, ranges)."""

    @rule(data=st.data())
    def contains(self, data):
        q = self.query(data, nan=True)
        assert (q in self.c) == (norm(q) in self.o), q

    @rule(i=INDICES)
    def getitem(self, i):
        self.both("__getitem__", i)

    @rule(start=OPT_INDEX, stop=OPT_INDEX, step=STEPS)
    def getitem_slice(self, start, stop, step):
        got = self.both("__getitem__", slice(start, stop, step))
        if got[0] == "ok":
            assert isinstance(got[1], list)

    @rule(data=st.data(), start=OPT_INDEX, stop=OPT_INDEX)
    def index(self, data, start, stop):
        q = self.query(data, nan=True)
        self.both("index", q)
        self.both("index", q, start)
        self.both("index", q, start, stop)

    @rule()
    def iterate(self):
        assert norm(list(reversed(self.c))) == list(reversed(self.o))
        assert norm([v for v in self.c]) == list(self.o)

    @rule(i=OPT_INDEX)
    def pop(self, i):
        if i is None:
            self.both("pop")
        else:
            self.both("pop", i)

    @rule(i=INDICES)
    def delitem(self, i):
        self.both("__delitem__", i)

    @rule(start=OPT_INDEX, stop=OPT_INDEX, step=STEPS)
    def delitem_slice(self, start, stop, step):
        self.both("__delitem__", slice(start, stop, step))

    @precondition(lambda self: self.c is not None and len(self.c) > 0)
    @rule(data=st.data())
    def remove_present(self, data):
        v = self.o[data.draw(st.integers(0, len(self.o) - 1), label="position")]
        spelled = data.draw(st.sampled_from([v, self.dtype.type(v)]), label="spelling")
        self.both("remove", spelled)

    @rule(data=st.data())
    def remove_any(self, data):
        self.both("remove", self.query(data, nan=True))

    @rule(data=st.data())
    def discard(self, data):
        self.both("discard", self.query(data, nan=True))

    @rule(data=st.data())
    def add(self, data):
        k = self.keys(data)
        self.c.add(k)
        self.o.add(canon(self.dtype, k))

    @rule(data=st.data())
    def add_refused(self, data):
        self.expect_refused(self.c.add, self.refused(data))

    @rule(data=st.data(), small=st.booleans())
    def add_each(self, data, small):
        """Many single adds: they fill the buffer, split its chunks and force merges."""
        for k in data.draw(st.lists(valid_keys(self.dtype, wide=not small), min_size=5, max_size=40), label="keys"):
            self.c.add(k)
            self.o.add(canon(self.dtype, k))

    @precondition(lambda self: self.c is not None and len(self.c) > 0)
    @rule(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 40))
    def remove_each(self, seed, n):
        """Many single removals of present keys (tombstones in the static run, buffer deletes)."""
        rng = np.random.default_rng(seed)
        for _ in range(min(n, len(self.o))):
            v = self.o[int(rng.integers(0, len(self.o)))]
            if rng.random() < 0.5:
                self.c.remove(v)
            else:
                self.c.discard(v)
            self.o.remove(v)

    @rule(data=st.data(), small=st.booleans())
    def update_list(self, data, small):
        ks = data.draw(st.lists(valid_keys(self.dtype, wide=not small), max_size=30), label="keys")
        self.c.update(ks)
        self.o.update([canon(self.dtype, k) for k in ks])

    @rule(seed=st.integers(0, 2 ** 32 - 1), n=st.sampled_from([0, 1, 5, 60, 250]),
          pattern=st.sampled_from(("small",) + BULK_PATTERNS))
    def update_array(self, seed, n, pattern):
        arr = bulk_array(self.dtype, seed, n, pattern)
        self.c.update(arr)
        self.o.update(arr.tolist())

    @rule(data=st.data())
    def update_refused(self, data):
        good = data.draw(st.lists(valid_keys(self.dtype), max_size=5), label="keys")
        bad = self.refused(data)
        pos = data.draw(st.integers(0, len(good)), label="where")
        self.expect_refused(self.c.update, good[:pos] + [bad] + good[pos:])

    @precondition(lambda self: self.c is not None and len(self.c) < 40)
    @rule()
    def clear(self):
        self.c.clear()
        self.o.clear()


# ------------------------------------------------------------------------ SortedList

class SortedListMachine(_SequenceMachine):
    @initialize(dtype=st.sampled_from(KEY_DTYPES), data=st.data(), from_array=st.booleans())
    def init(self, dtype, data, from_array):
        self.dtype = np.dtype(dtype)
        ks = data.draw(st.lists(valid_keys(self.dtype), max_size=40), label="initial keys")
        if from_array:
            arr = np.array([canon(self.dtype, k) for k in ks], dtype=self.dtype)
            self.c = self.fresh(SortedList, arr)
        else:
            self.c = self.fresh(SortedList, ks)
        self.o = sc.SortedList([canon(self.dtype, k) for k in ks])

    @rule(data=st.data())
    def count(self, data):
        self.both("count", self.query(data))

    @rule(data=st.data())
    def iadd(self, data):
        ks = data.draw(st.lists(valid_keys(self.dtype), max_size=10), label="keys")
        c = self.c
        self.c += ks
        assert self.c is c
        self.o += [canon(self.dtype, k) for k in ks]

    @precondition(lambda self: self.c is not None and len(self.c) <= 60)
    @rule(num=st.integers(-1, 3))
    def imul(self, num):
        c = self.c
        self.c *= num
        assert self.c is c
        self.o *= num

    @precondition(lambda self: self.c is not None and len(self.c) <= 60)
    @rule(num=st.integers(-1, 3), data=st.data())
    def add_mul(self, num, data):
        ks = data.draw(st.lists(valid_keys(self.dtype), max_size=5), label="keys")
        for got, want in ((self.c * num, self.o * num), (self.c + ks, self.o + [canon(self.dtype, k) for k in ks])):
            assert type(got) is type(self.c)
            got._check()
            assert norm(list(got)) == list(want)

    @rule(data=st.data())
    def compare(self, data):
        other = list(self.o)
        if other and data.draw(st.booleans()):
            other[data.draw(st.integers(0, len(other) - 1))] = canon(self.dtype, self.keys(data))
        elif data.draw(st.booleans()):
            other = other + [canon(self.dtype, self.keys(data))]
        for seq in (other, tuple(other)):
            assert (self.c == seq) == (self.o == seq)
            assert (self.c != seq) == (self.o != seq)
            assert (self.c < seq) == (self.o < seq)
            assert (self.c <= seq) == (self.o <= seq)
            assert (self.c > seq) == (self.o > seq)
            assert (self.c >= seq) == (self.o >= seq)


# ------------------------------------------------------------------------- SortedSet

class SortedSetMachine(_SequenceMachine):
    @initialize(dtype=st.sampled_from(KEY_DTYPES), data=st.data(), from_array=st.booleans())
    def init(self, dtype, data, from_array):
        self.dtype = np.dtype(dtype)
        ks = data.draw(st.lists(valid_keys(self.dtype), max_size=40), label="initial keys")
        if from_array:
            self.c = self.fresh(SortedSet, np.array([canon(self.dtype, k) for k in ks], dtype=self.dtype))
        else:
            self.c = self.fresh(SortedSet, ks)
        self.o = sc.SortedSet([canon(self.dtype, k) for k in ks])

    def operand(self, data, refusable: bool):
        """An iterable for set algebra: keys (or any queries when nothing is stored)."""
        strat = valid_keys(self.dtype) if refusable else queries(self.dtype, nan=True)
        kind = data.draw(st.sampled_from(["list", "set", "tuple", "sortedset", "array"]), label="kind")
        ks = data.draw(st.lists(strat, max_size=12), label="operand")
        if kind == "array":
            return np.array([canon(self.dtype, k) for k in ks if accepts(self.dtype, k)], dtype=self.dtype)
        if kind == "sortedset":
            return self.fresh(SortedSet, [k for k in ks if accepts(self.dtype, k)])
        return {"list": list, "set": set, "tuple": tuple}[kind](ks)

    def oracle_operand(self, x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, SortedSet):
            return norm(list(x))
        return [canon(self.dtype, k) if accepts(self.dtype, k) else k for k in x]

    @rule(data=st.data())
    def count(self, data):
        self.both("count", self.query(data, nan=True))

    @rule(data=st.data(), name=st.sampled_from(["update", "__ior__", "symmetric_difference_update", "__ixor__",
                                                 "difference_update", "__isub__", "intersection_update",
                                                 "__iand__"]), n=st.integers(1, 3))
    def algebra_update(self, data, name, n):
        refusable = name in ("update", "__ior__", "symmetric_difference_update", "__ixor__")
        single = name.startswith("__") or name == "symmetric_difference_update"
        ops = [self.operand(data, refusable) for _ in range(1 if single else n)]
        c = self.c
        res = getattr(self.c, name)(*ops)
        if name.startswith("__"):
            assert res is c
        getattr(self.o, name)(*[self.oracle_operand(x) for x in ops])

    @rule(data=st.data(), name=st.sampled_from(["union", "__or__", "symmetric_difference", "__xor__",
                                                 "difference", "__sub__", "intersection", "__and__"]))
    def algebra(self, data, name):
        refusable = name in ("union", "__or__", "symmetric_difference", "__xor__")
        x = self.operand(data, refusable)
        got = getattr(self.c, name)(x)
        want = getattr(self.o, name)(self.oracle_operand(x))
        assert type(got) is type(self.c)
        got._check()
        assert norm(list(got)) == list(want)

    @rule(data=st.data(), name=st.sampled_from(["union", "symmetric_difference", "update"]))
    def algebra_refused(self, data, name):
        good = data.draw(st.lists(valid_keys(self.dtype), max_size=4), label="keys")
        self.expect_refused(getattr(self.c, name), good + [self.refused(data)])

    @rule(data=st.data())
    def set_relations(self, data):
        other = set(self.oracle_operand(self.operand(data, refusable=False)))
        if data.draw(st.booleans()):
            other |= set(self.o)
        for name in ("isdisjoint", "issubset", "issuperset"):
            self.both(name, other)
        for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(self.c, op)(other) == getattr(self.o, op)(other), op
        assert (self.c == other) == (set(self.o) == other)
        assert (self.c <= other) == (set(self.o) <= other)


# ------------------------------------------------------------------------ SortedDict

VALUES = st.one_of(st.integers(-5, 5), st.text(max_size=2), st.none(), st.tuples(st.integers(0, 3)))


class SortedDictMachine(_Machine):
    VALUE_DTYPE = None

    def values_strategy(self):
        return VALUES

    def value(self, data):
        return data.draw(self.values_strategy(), label="value")

    def make(self, *args, **kwargs):
        if self.VALUE_DTYPE is not None:
            kwargs["value_dtype"] = self.VALUE_DTYPE
        return self.fresh(SortedDict, *args, **kwargs)

    @initialize(dtype=st.sampled_from(KEY_DTYPES), data=st.data(), how=st.sampled_from(["pairs", "dict", "arrays"]))
    def init(self, dtype, data, how):
        self.dtype = np.dtype(dtype)
        ks = data.draw(st.lists(valid_keys(self.dtype), max_size=30), label="initial keys")
        vs = [self.value(data) for _ in ks]
        pairs = list(zip(ks, vs))
        self.o = sc.SortedDict([(canon(self.dtype, k), v) for k, v in pairs])
        if how == "pairs":
            self.c = self.make(pairs)
        elif how == "dict":
            self.c = self.make(dict(self.o))
        else:
            keys = np.array(list(self.o.keys()), dtype=self.dtype)
            values = list(self.o.values())
            if self.VALUE_DTYPE is not None:
                values = np.array(values, dtype=self.VALUE_DTYPE)
            kw = {"value_dtype": self.VALUE_DTYPE} if self.VALUE_DTYPE is not None else {}
            # dtype= fixes the key dtype (an array's own dtype is only inferred, and widens)
            self.c = SortedDict.from_arrays(keys, values, dtype=self.dtype, **kw)

    # ------------------------------------------------------------ mutations
    @rule(data=st.data())
    def setitem(self, data):
        k, v = self.keys(data), self.value(data)
        self.c[k] = v
        self.o[canon(self.dtype, k)] = v

    @rule(data=st.data(), small=st.booleans())
    def setitem_each(self, data, small):
        """Many single insertions: they fill the buffer, split its chunks and force merges."""
        for k in data.draw(st.lists(valid_keys(self.dtype, wide=not small), min_size=5, max_size=40), label="keys"):
            v = self.value(data)
            self.c[k] = v
            self.o[canon(self.dtype, k)] = v

    @precondition(lambda self: self.c is not None and len(self.c) > 0)
    @rule(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 40))
    def del_each(self, seed, n):
        """Many single deletions of present keys."""
        rng = np.random.default_rng(seed)
        for _ in range(min(n, len(self.o))):
            k = self.o.keys()[int(rng.integers(0, len(self.o)))]
            if rng.random() < 0.5:
                del self.c[k]
                del self.o[k]
            else:
                assert norm(self.c.pop(k)) == norm(self.o.pop(k))

    @rule(data=st.data())
    def setitem_refused(self, data):
        self.expect_refused(self.c.__setitem__, self.refused(data), self.value(data))

    @rule(data=st.data())
    def delitem(self, data):
        self.both("__delitem__", self.query(data, nan=True))

    @precondition(lambda self: self.c is not None and len(self.c) > 0)
    @rule(data=st.data())
    def del_present(self, data):
        k = self.o.keys()[data.draw(st.integers(0, len(self.o) - 1))]
        self.both("__delitem__", data.draw(st.sampled_from([k, self.dtype.type(k)])))

    @rule(data=st.data(), with_default=st.booleans())
    def pop(self, data, with_default):
        q = self.query(data, nan=True)
        if with_default:
            self.both("pop", q, self.value(data))
        else:
            self.both("pop", q)

    @rule(i=OPT_INDEX)
    def popitem(self, i):
        if i is None:
            self.both("popitem")
        else:
            self.both("popitem", i)

    @rule(data=st.data())
    def setdefault(self, data):
        k, v = self.keys(data), self.value(data)
        got = self.c.setdefault(k, v)
        want = self.o.setdefault(canon(self.dtype, k), v)
        assert norm(got) == norm(want)

    @rule(data=st.data(), kind=st.sampled_from(["pairs", "dict", "sorteddict"]))
    def update(self, data, kind):
        ks = data.draw(st.lists(valid_keys(self.dtype, wide=data.draw(st.booleans())), max_size=40), label="keys")
        pairs = [(k, self.value(data)) for k in ks]
        if kind == "pairs":
            self.c.update(pairs)
        elif kind == "dict":
            self.c.update(dict(pairs))
        else:
            self.c.update(self.make(pairs))
        self.o.update([(canon(self.dtype, k), v) for k, v in pairs])

    @rule(data=st.data())
    def update_refused(self, data):
        pairs = [(k, self.value(data)) for k in data.draw(st.lists(valid_keys(self.dtype), max_size=4))]
        pairs.append((self.refused(data), self.value(data)))
        self.expect_refused(self.c.update, pairs)

    @rule(seed=st.integers(0, 2 ** 32 - 1), n=st.sampled_from([0, 1, 5, 60, 250]),
          pattern=st.sampled_from(("small",) + BULK_PATTERNS))
    def update_bulk(self, seed, n, pattern):
        arr = bulk_array(self.dtype, seed, n, pattern)
        vals = [(i * 7) % 11 - 5 for i in range(arr.size)]
        self.c.update(zip(arr, vals))
        self.o.update(zip(arr.tolist(), vals))

    @precondition(lambda self: self.c is not None and len(self.c) < 30)
    @rule()
    def clear(self):
        self.c.clear()
        self.o.clear()

    @rule(data=st.data(), view=st.sampled_from(["keys", "values", "items"]), as_slice=st.booleans())
    def view_delitem(self, data, view, as_slice):
        idx = slice(data.draw(OPT_INDEX), data.draw(OPT_INDEX), data.draw(STEPS)) if as_slice else data.draw(INDICES)
        got = outcome(getattr(self.c, view)().__delitem__, idx)
        want = outcome(getattr(self.o, view)().__delitem__, idx)
        assert_same(got, want, f"del {view}()[{idx!r}]")

    @rule(data=st.data())
    def ior(self, data):
        pairs = [(k, self.value(data)) for k in data.draw(st.lists(valid_keys(self.dtype), max_size=6))]
        c = self.c
        self.c |= dict(pairs)
        assert self.c is c
        self.o |= {canon(self.dtype, k): v for k, v in pairs}

    # -------------------------------------------------------------- queries
    @rule(data=st.data())
    def lookups(self, data):
        q = self.query(data, nan=True)
        assert (q in self.c) == (norm(q) in self.o)
        self.both("__getitem__", q)
        self.both("get", q)
        d = self.value(data)
        self.both("get", q, d)
        assert (q in self.c.keys()) == (norm(q) in self.o.keys())

    @rule(i=OPT_INDEX)
    def peekitem(self, i):
        if i is None:
            self.both("peekitem")
        else:
            self.both("peekitem", i)

    @rule(data=st.data(), view=st.sampled_from(["keys", "values", "items"]))
    def views(self, data, view):
        cv, ov = getattr(self.c, view)(), getattr(self.o, view)()
        assert len(cv) == len(ov)
        i = data.draw(INDICES)
        assert_same(outcome(cv.__getitem__, i), outcome(ov.__getitem__, i), f"{view}()[{i}]")
        s = slice(data.draw(OPT_INDEX), data.draw(OPT_INDEX), data.draw(STEPS))
        assert_same(outcome(cv.__getitem__, s), outcome(ov.__getitem__, s), f"{view}()[{s}]")
        assert norm(list(reversed(cv))) == norm(list(reversed(ov)))
        assert norm(list(cv)) == norm(list(ov))
        if len(ov):
            j = data.draw(st.integers(0, len(ov) - 1))
            item = ov[j]
            assert item in cv
            if view != "values":
                assert cv.index(item) == j
        if view == "items":
            q = self.query(data)
            probe = (q, self.value(data))
            assert (probe in cv) == (norm(probe) in ov)

    @rule()
    def iterate(self):
        assert norm(list(reversed(self.c))) == list(reversed(self.o))
        assert dict(zip(norm(list(self.c.keys())), self.c.values())) == dict(self.o)
        assert self.c == dict(self.o)

    def check_many(self, qs):
        default = 0 if self.VALUE_DTYPE is not None else None
        vals = self.c.get_many(qs, default)
        assert len(vals) == qs.size
        assert norm(list(vals)) == [norm(self.o.get(q, default)) for q in qs.tolist()]


class TypedSortedDictMachine(SortedDictMachine):
    """A SortedDict whose values live in a typed array (``value_dtype=``)."""

    VALUE_DTYPE = np.dtype(np.float64)

    def values_strategy(self):
        return st.one_of(st.integers(-5, 5).map(float), st.floats(allow_nan=False, allow_infinity=False))

    @rule(data=st.data())
    def setdefault(self, data):
        k, v = self.keys(data), self.value(data)
        got = self.c.setdefault(k, v)
        want = self.o.setdefault(canon(self.dtype, k), v)
        assert norm(got) == want


# --------------------------------------------------------------------------- running

def _run(machine, examples: int, steps: int, profile: str):
    with thresholds(profile):
        run_state_machine_as_test(machine, settings=settings(max_examples=examples, stateful_step_count=steps,
                                                             **SETTINGS))


MACHINES = {"list": SortedListMachine, "set": SortedSetMachine, "dict": SortedDictMachine,
            "typed_dict": TypedSortedDictMachine}


@pytest.mark.parametrize("profile", ["merges", "buffer", "default"])
@pytest.mark.parametrize("name", list(MACHINES))
def test_stateful(name, profile):
    """Many short interleavings of every method, all six key dtypes; ``tiny`` thresholds
    make buffer splits, merges and retrains happen every few steps."""
    _run(MACHINES[name], examples=12, steps=40, profile=profile)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MACHINES))
def test_stateful_long(name):
    """Fewer, longer runs with tiny thresholds: many merges and retrains per run."""
    _run(MACHINES[name], examples=4, steps=200, profile="merges")
