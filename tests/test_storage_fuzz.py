"""Fuzzing the loader: damaged files raise ``FormatError`` and nothing else.

Truncations, bit flips, overwritten ranges, random bytes, and edits of the JSON header,
of the preamble and of the sections' bytes behind valid checksums (so the checks behind
the checksums are reached too: a file whose sections all verify answers exactly).  Every load runs with and without mmap, under an alarm (no hang) and
``tracemalloc`` (no allocation beyond a small multiple of the file).  A forged file that
still loads must answer queries without crashing (a ``ValueError`` naming corrupt
value offsets is allowed: those are checked on use).
"""
from __future__ import annotations

import contextlib
import signal
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import learnedidx
import storage_files as sf
from learnedidx import FormatError

#: Small files of each type (a few KB each), so every example is quick.
_OBJECTS = {
    "rmi": learnedidx.RMI(np.sort(np.random.default_rng(1).lognormal(0, 2, 300)), root="cubic", leaves=8, stages=3),
    "rmi_hybrid": learnedidx.RMI(np.arange(0, 3000, 7, dtype=np.uint32), leaves=2, max_error=4),
    "kv_bytes": learnedidx.KeyValueIndex.build(np.arange(100, dtype=np.int64) * 3, [b"%d" % i for i in range(100)]),
    "kv_struct": learnedidx.KeyValueIndex.build(np.arange(50, dtype=np.uint64),
                                                np.zeros(50, dtype=[("a", "<i2"), ("b", "<f4", (2,))])),
}


def _btree():
    from learnedidx.baselines import BTree
    return BTree(np.arange(0, 2000, 3, dtype=np.int32), page_keys=4)


def _sorteddict():
    from learnedidx.containers import SortedDict
    d = SortedDict(dict.fromkeys(range(0, 600, 2), 1.5), value_dtype=np.float64)
    d.update({1: 2.0, 3: 4.0})                        # buffered updates beside the static run
    del d[10]
    return d


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    out = {}
    for name, obj in {**_OBJECTS, "btree": _btree(), "sorteddict": _sorteddict()}.items():
        path = d / f"{name}.lidx"
        learnedidx.save(obj, path)
        out[name] = (path.read_bytes(), obj)
    out["_scratch"] = d / "case.lidx"
    return out


NAMES = st.sampled_from(["rmi", "rmi_hybrid", "kv_bytes", "kv_struct", "btree", "sorteddict"])


@contextlib.contextmanager
def _alarm(seconds: int):
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def hang(*_):
        raise TimeoutError(f"load took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _exercise(obj) -> None:
    """Queries on an object loaded from a forged file: any answer, but no crash."""
    if not isinstance(getattr(obj, "keys", None), np.ndarray):     # a sorted container
        keys = np.array(list(obj)[:5], dtype=obj.dtype)
        obj.bisect_left_many(keys)
        obj._check()
        return
    keys = obj.keys
    q = np.concatenate([keys[:5], keys[-5:], np.zeros(3, dtype=keys.dtype)]) if keys.size else \
        np.zeros(3, dtype=keys.dtype)
    try:
        if isinstance(obj, learnedidx.KeyValueIndex):
            obj.get_many(q, default=None)
            obj.get(q[0].item())
            obj.range(q.min(), q.max())
        else:
            obj.searchsorted(q)
            obj.searchsorted(q[0].item())
            obj.lookup(q)
    except ValueError as exc:
        assert "corrupt value offsets" in str(exc), exc


def check_only_format_errors(files, data: bytes) -> None:
    path = files["_scratch"]
    path.write_bytes(data)
    for mm in (True, False):
        tracemalloc.start()
        try:
            with _alarm(20):
                try:
                    obj = learnedidx.load(path, mmap=mm, verify=True)
                except FormatError:
                    obj = None
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= 4 * len(data) + (4 << 20), f"loading a {len(data)}-byte file allocated {peak} bytes"
        if obj is not None:
            _exercise(obj)


@settings(max_examples=30, deadline=None)
@given(name=NAMES, cut=st.floats(0, 1, exclude_max=True))
def test_truncated(files, name, cut):
    data = files[name][0]
    check_only_format_errors(files, data[:int(cut * len(data))])


@settings(max_examples=60, deadline=None)
@given(name=NAMES, flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                                  min_size=1, max_size=8))
def test_bit_flips(files, name, flips):
    data = bytearray(files[name][0])
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    check_only_format_errors(files, bytes(data))


@settings(max_examples=30, deadline=None)
@given(name=NAMES, where=st.floats(0, 1, exclude_max=True), junk=st.binary(min_size=1, max_size=200))
def test_overwritten_range(files, name, where, junk):
    data = bytearray(files[name][0])
    i = int(where * len(data))
    data[i:i + len(junk)] = junk
    check_only_format_errors(files, bytes(data))


@settings(max_examples=30, deadline=None)
@given(junk=st.binary(max_size=3000), magic=st.booleans(),
       fields=st.tuples(st.integers(0, 3), st.integers(0, 2 ** 64 - 1), st.integers(0, 4000)))
def test_random_bytes(files, junk, magic, fields):
    data = junk
    if magic:                     # a valid preamble in front of garbage reaches the header checks
        version, hlen, extra = fields
        data = sf.repack(bytes(64) + junk, magic=learnedidx.storage.format.MAGIC, version=version, flags=0,
                         hlen=hlen % (len(junk) + 2), flen=64 + len(junk) + (extra if extra < 2 else 0), hcrc=0)
    check_only_format_errors(files, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["<u8", "|O8", "<f8", "RMI", "BTree", "keys", "index.keys", -1, 0, 64]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)


def _paths(doc, prefix=()):
    """Every (container, key) position in a JSON document."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append((doc, k))
        out += _paths(v, prefix + (k,))
    return out


@settings(max_examples=100, deadline=None)
@given(name=NAMES, picks=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), JSON,
                                            st.sampled_from(["set", "delete", "nudge"])), min_size=1, max_size=3))
def test_header_edits_behind_valid_checksums(files, name, picks):
    def mutate(doc):
        for where, value, how in picks:
            spots = _paths(doc)
            container, key = spots[int(where * len(spots))]
            if how == "delete":
                del container[key]
            elif how == "nudge" and isinstance(container[key], int) and not isinstance(container[key], bool):
                container[key] += 1 if isinstance(value, bool) and value else -1
            else:
                container[key] = value
    check_only_format_errors(files, sf.forge(files[name][0], mutate))


def _exact(obj) -> None:
    """A file that loads with every section verified answers exactly (sorted keys, exact search)."""
    if not isinstance(getattr(obj, "keys", None), np.ndarray):     # a sorted container
        keys = np.array(list(obj), dtype=obj.dtype)
        assert keys.size < 2 or not np.any(keys[1:] < keys[:-1])
        assert obj.bisect_left_many(keys).tolist() == np.searchsorted(keys, keys).tolist()
        return
    keys = obj.keys
    assert keys.size < 2 or not np.any(keys[1:] < keys[:-1]), "a file with unsorted keys was loaded"
    q = np.concatenate([keys, keys[:20] + keys.dtype.type(1)]) if keys.size else keys
    if isinstance(obj, learnedidx.KeyValueIndex):
        pos = np.searchsorted(keys, q)
        found = (pos < keys.size) & (keys[np.minimum(pos, keys.size - 1)] == q)
        values, got = obj.get_many(q, default=None, return_found=True)
        assert got.tolist() == found.tolist()
        first = [obj.values[p] if obj.value_dtype is not bytes else
                 obj.blob[int(obj.offsets[p]):int(obj.offsets[p + 1])].tobytes() for p in pos[found]]
        kept = [v for v, f in zip(values, found) if f]
        assert all(np.array_equal(a, b) for a, b in zip(kept, first))
    else:
        assert obj.searchsorted(q).tolist() == np.searchsorted(keys, q).tolist()
        assert obj.searchsorted(q, side="right").tolist() == np.searchsorted(keys, q, side="right").tolist()


@settings(max_examples=60, deadline=None)
@given(name=NAMES, pick=st.floats(0, 1, exclude_max=True), where=st.floats(0, 1, exclude_max=True),
       junk=st.binary(min_size=1, max_size=16))
def test_section_bytes_behind_valid_checksums(files, name, pick, where, junk):
    """Bytes of a section rewritten and its checksum fixed: rejected, or exact answers."""
    data = files[name][0]
    doc, _ = sf.split(data)
    secs = [s for s in doc["sections"] if s["nbytes"]]
    sec = secs[int(pick * len(secs))]
    off, nbytes = sec["offset"], sec["nbytes"]
    body = bytearray(data[off:off + nbytes])
    i = int(where * nbytes)
    body[i:i + len(junk)] = junk[:nbytes - i]
    path = files["_scratch"]
    path.write_bytes(sf.rewrite_section(data, sec["name"], bytes(body)))
    for mm in (True, False):
        with _alarm(20):
            try:
                obj = learnedidx.load(path, mmap=mm, verify=True)
            except FormatError:
                continue
        _exact(obj)


@settings(max_examples=50, deadline=None)
@given(name=NAMES, field=st.sampled_from(["version", "flags", "hlen", "flen", "hcrc"]),
       value=st.one_of(st.integers(0, 2 ** 32 - 1), st.sampled_from([0, 1, 2, 63, 64, 65, 2 ** 32 - 1])))
def test_preamble_edits_behind_a_valid_checksum(files, name, field, value):
    data = files[name][0]
    if field in ("hlen", "flen"):
        value = value % (2 * len(data))
    check_only_format_errors(files, sf.repack(data, **{field: value}))
