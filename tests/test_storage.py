"""The file format (``learnedidx.storage``): round trips, atomic saves, every rejection.

* Round trips of every savable type and dtype (answers equal before and after, mmap and
  not), and of every storable array dtype through the format layer alone.
* An exception at every section of a save leaves the previous file intact and no
  temporary file behind.
* Each check of the loader, reached through a forged file with valid checksums, raises
  ``FormatError`` with a message that names the defect.
* Loading never imports torch (a subprocess).
"""
from __future__ import annotations

import mmap
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import learnedidx
import storage_files as sf
from conftest import KEY_DTYPES, key_queries, sorted_keys
from learnedidx import FormatError
from learnedidx.storage import format as fmt
from learnedidx.storage import info, persist, registry

OBJECTS = sf.sample_objects()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``name -> path`` of every sample object, saved once."""
    d = tmp_path_factory.mktemp("saved")
    paths = {}
    for name, obj in OBJECTS.items():
        paths[name] = str(d / f"{name}.lidx")
        learnedidx.save(obj, paths[name])
    return paths


def _mapped(arr: np.ndarray) -> bool:
    while arr is not None and not isinstance(arr, mmap.mmap):
        arr = arr.obj if isinstance(arr, memoryview) else getattr(arr, "base", None)
    return isinstance(arr, mmap.mmap)


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("mm", [True, False], ids=["mmap", "memory"])
@pytest.mark.parametrize("name", list(OBJECTS))
def test_round_trip_every_type(saved, name, mm):
    obj = OBJECTS[name]
    back = learnedidx.load(saved[name], mmap=mm)
    assert type(back) is type(obj)
    back._check()
    q = sf.queries_for(obj)
    assert sf.answers(back, q) == sf.answers(obj, q)
    if len(obj) and isinstance(getattr(obj, "keys", None), np.ndarray):
        assert _mapped(back.keys) == mm
        assert not back.keys.flags.writeable
        assert back.keys.ctypes.data % 64 == 0


@pytest.mark.parametrize("name", ["rmi_f64_cubic_3stages", "rmi_hybrid", "btree_i32_dups", "kv_struct"])
def test_round_trip_keeps_configuration(saved, name):
    back = learnedidx.load(saved[name])
    assert repr(back) == repr(OBJECTS[name])
    if hasattr(back, "stats"):
        ignore = {"fallbacks", "backend", "build_seconds"}
        a, b = back.stats(), OBJECTS[name].stats()
        if "index" in a:
            a, b = a["index"], b["index"]
        assert {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


@settings(max_examples=40)
@given(data=st.data(), dtype=st.sampled_from(KEY_DTYPES), kind=st.sampled_from(["RMI", "BTree"]),
       mm=st.booleans())
def test_round_trip_any_keys(tmp_path_factory, data, dtype, kind, mm):
    from learnedidx.baselines import BTree
    keys = data.draw(sorted_keys(dtype, max_size=200))
    obj = learnedidx.RMI(keys, leaves=data.draw(st.integers(1, 40))) if kind == "RMI" else BTree(keys)
    path = str(tmp_path_factory.mktemp("any") / "x.lidx")
    learnedidx.save(obj, path)
    back = learnedidx.load(path, mmap=mm)
    back._check()
    q = data.draw(key_queries(keys, max_size=60))
    assert np.array_equal(back.searchsorted(q), obj.searchsorted(q))
    assert np.array_equal(back.lookup(q), obj.lookup(q))


def test_load_then_save_over_the_mapped_file(saved, tmp_path):
    path = str(tmp_path / "x.lidx")
    learnedidx.save(OBJECTS["rmi_u64"], path)
    first = learnedidx.load(path)                      # mapped
    learnedidx.save(first, path)                       # rename over the file it maps
    learnedidx.save(OBJECTS["btree_u64"], path)
    q = sf.queries_for(OBJECTS["rmi_u64"])
    assert sf.answers(first, q) == sf.answers(OBJECTS["rmi_u64"], q)
    assert type(learnedidx.load(path)).__name__ == "BTree"


STORABLE = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
            np.float16, np.float32, np.float64, np.complex64, np.complex128, "S1", "S7", "V5",
            np.dtype([("a", "<u1"), ("b", "<f8")], align=True),
            np.dtype([("p", [("x", "<f4"), ("y", "<f4")]), ("tag", "S2"), ("v", "<i2", (3,))]),
            np.dtype(("<i4", (2, 2))), ">i8", ">f4", np.dtype([("a", ">i4"), ("b", "<u2")])]


@pytest.mark.parametrize("mm", [True, False], ids=["mmap", "memory"])
@pytest.mark.parametrize("dt", STORABLE, ids=str)
def test_format_round_trips_every_storable_dtype(tmp_path, dt, mm):
    dt = np.dtype(dt)
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, 5 * 3 * dt.itemsize, dtype=np.uint8)
    arr = raw.view(dt).reshape(5, 3) if dt.subdtype is None else np.zeros((5, 3), dtype=dt)
    if dt.kind == "b":
        arr = raw[:15].reshape(5, 3) % 2 == 1
    arrays = {"a": arr, "empty": np.zeros((0, 4), dtype=dt), "scalar": np.zeros((), dtype=dt),
              "t": np.arange(7, dtype=np.int64)}
    path = tmp_path / "x.lidx"
    fmt.write_file(path, "Demo", {"k": [1, 2.5, None, True, "s", {"x": []}]}, arrays)
    loaded = fmt.read_file(path, mmap=mm)
    assert loaded.header.meta == {"k": [1, 2.5, None, True, "s", {"x": []}]}
    for name, a in arrays.items():
        b = loaded.arrays[name]
        assert b.shape == a.shape and b.dtype == a.dtype.newbyteorder("<")
        assert b.tobytes() == a.astype(b.dtype).tobytes()
        assert not b.flags.writeable
    assert sorted(loaded.verified) == sorted(arrays)
    with open(path, "rb") as f:
        assert f.read(8) == fmt.MAGIC


@pytest.mark.parametrize("bad", [np.array([object()]), np.array(["text"]), np.array(["2020"], dtype="M8[D]"),
                                 np.zeros(2, dtype=[("a", "<i4", (0,))])], ids=["object", "unicode", "datetime", "empty"])
def test_save_refuses_unstorable_dtypes(tmp_path, bad):
    with pytest.raises(TypeError, match="stor|objects|zero-size"):
        fmt.write_file(tmp_path / "x.lidx", "Demo", {}, {"a": bad})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("meta, match", [({"x": float("nan")}, "nan"), ({"x": np.int64(3)}, "int64"),
                                         ({1: 2}, "non-str key"), ({"x": {1, 2}}, "set")])
def test_save_refuses_meta_json_cannot_hold(tmp_path, meta, match):
    with pytest.raises(TypeError, match=match):
        fmt.write_file(tmp_path / "x.lidx", "Demo", meta, {})


def test_save_refuses_bad_sections(tmp_path):
    with pytest.raises(ValueError, match="C-contiguous"):
        fmt.write_file(tmp_path / "x.lidx", "Demo", {}, {"a": np.arange(10)[::2]})
    with pytest.raises(ValueError, match="section name"):
        fmt.write_file(tmp_path / "x.lidx", "Demo", {}, {"bad/name": np.arange(3)})
    with pytest.raises(TypeError, match="numpy array"):
        fmt.write_file(tmp_path / "x.lidx", "Demo", {}, {"a": [1, 2]})


def test_save_refuses_unknown_types_and_subclasses(tmp_path):
    class MyRMI(learnedidx.RMI):
        pass
    with pytest.raises(TypeError, match="savable types"):
        learnedidx.save(MyRMI(np.arange(5)), tmp_path / "x.lidx")
    with pytest.raises(TypeError, match="savable types"):
        learnedidx.save(np.arange(5), tmp_path / "x.lidx")


# ------------------------------------------------------------------ atomic save

def _listing(d):
    return sorted(os.listdir(d))


@pytest.mark.parametrize("name", ["rmi_f64_cubic_3stages", "kv_bytes", "btree_u64", "sortedlist_churned"])
def test_save_interrupted_at_every_section_keeps_the_old_file(tmp_path, monkeypatch, name):
    path = str(tmp_path / "idx.lidx")
    old = OBJECTS["rmi_u64"]
    learnedidx.save(old, path)
    before = open(path, "rb").read()
    sections = len(OBJECTS[name]._state()[1])
    real = fmt._write_section
    for fail_at in range(sections):
        calls = []

        def failing(f, sec_name, arr):
            calls.append(sec_name)
            if len(calls) > fail_at:
                raise OSError(f"disk full while writing {sec_name}")
            return real(f, sec_name, arr)

        monkeypatch.setattr(fmt, "_write_section", failing)
        with pytest.raises(OSError, match="disk full"):
            learnedidx.save(OBJECTS[name], path)
        assert len(calls) == fail_at + 1
        assert _listing(tmp_path) == ["idx.lidx"], "a temporary file was left behind"
        assert open(path, "rb").read() == before
        back = learnedidx.load(path, verify=True)
        q = sf.queries_for(old)
        assert sf.answers(back, q) == sf.answers(old, q)
    monkeypatch.setattr(fmt, "_write_section", real)
    learnedidx.save(OBJECTS[name], path)            # and a save that completes replaces it
    assert type(learnedidx.load(path)) is type(OBJECTS[name])


@pytest.mark.parametrize("where", ["os.replace", "os.fsync", "KeyboardInterrupt"])
def test_save_failing_late_keeps_the_old_file(tmp_path, monkeypatch, where):
    path = str(tmp_path / "idx.lidx")
    learnedidx.save(OBJECTS["rmi_one"], path)
    before = open(path, "rb").read()
    if where == "KeyboardInterrupt":
        def boom(*a):
            raise KeyboardInterrupt
        monkeypatch.setattr(fmt, "_write_section", boom)
        exc = KeyboardInterrupt
    else:
        mod, fn = where.split(".")

        def boom(*a, **k):
            raise OSError(f"{where} failed")
        monkeypatch.setattr(fmt.os, fn, boom)
        exc = OSError
    with pytest.raises(exc):
        learnedidx.save(OBJECTS["btree_u64"], path)
    monkeypatch.undo()
    assert _listing(tmp_path) == ["idx.lidx"]
    assert open(path, "rb").read() == before


def test_save_keeps_permissions_of_the_replaced_file(tmp_path):
    path = str(tmp_path / "idx.lidx")
    learnedidx.save(OBJECTS["rmi_one"], path)
    assert os.stat(path).st_mode & 0o777 == 0o644
    os.chmod(path, 0o600)
    learnedidx.save(OBJECTS["rmi_one"], path)
    assert os.stat(path).st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ verify

def test_verify_policy_for_large_sections(tmp_path):
    keys = np.arange(0, 3 * 10 ** 6, 10, dtype=np.uint64)       # 2.4 MB of keys: a large section
    path = str(tmp_path / "big.lidx")
    learnedidx.save(learnedidx.RMI(keys), path)
    data = bytearray(open(path, "rb").read())
    offset, nbytes = sf.section(bytes(data), "keys")
    assert nbytes > fmt.SMALL_SECTION
    data[offset + 8 * 1000] ^= 0x01                              # one key changes, order kept
    open(path, "wb").write(data)
    learnedidx.load(path)                                        # mmap, default: large sections unchecked
    learnedidx.load(path, verify=False, mmap=False)
    for kwargs in ({"verify": True}, {"mmap": False}, {"mmap": False, "verify": True}):
        with pytest.raises(FormatError, match="section 'keys' checksum mismatch"):
            learnedidx.load(path, **kwargs)
    with pytest.raises(FormatError, match="checksum mismatch"):
        info(path)
    assert info(path, verify=False)["verified"] is False


def test_small_sections_are_always_verified(saved, tmp_path):
    data = bytearray(open(saved["rmi_u64"], "rb").read())
    data[sf.section(bytes(data), "leaves")[0] + 3] ^= 0x10
    path = tmp_path / "x.lidx"
    path.write_bytes(bytes(data))
    for mm in (True, False):
        with pytest.raises(FormatError, match="section 'leaves' checksum mismatch"):
            learnedidx.load(path, mmap=mm, verify=False)


# ------------------------------------------------------------------ rejections

def _expect(tmp_path, data: bytes, match: str, **kwargs):
    path = tmp_path / "bad.lidx"
    path.write_bytes(data)
    for mm in (True, False):
        with pytest.raises(FormatError, match=match) as exc:
            learnedidx.load(path, mmap=mm, **kwargs)
        assert str(path) in str(exc.value)


@pytest.fixture
def good(saved):
    return open(saved["kv_struct"], "rb").read()


def test_rejects_damaged_preambles(tmp_path, good):
    _expect(tmp_path, b"", "too short")
    _expect(tmp_path, good[:63], "too short")
    _expect(tmp_path, b"\x93NUMPY" + good[6:], "bad magic.*npy")
    _expect(tmp_path, b"PK\x03\x04" + good[4:], "bad magic")
    flipped = bytearray(good)
    flipped[20] ^= 1
    _expect(tmp_path, bytes(flipped), "preamble checksum")
    _expect(tmp_path, sf.repack(good, version=2), "version 2 is not supported")
    _expect(tmp_path, sf.repack(good, flags=1), "unknown flags")
    _expect(tmp_path, sf.repack(good, reserved=b"\x01" + bytes(23)), "reserved")
    _expect(tmp_path, good[:-64], "truncated")
    _expect(tmp_path, good[:1000], "truncated")
    _expect(tmp_path, good + bytes(64), "trailing bytes")
    _expect(tmp_path, sf.repack(good, hlen=fmt.MAX_HEADER_BYTES + 1), "header length")
    _expect(tmp_path, sf.repack(good, hlen=len(good)), "header length")
    _expect(tmp_path, sf.repack(good, hlen=0), "header length")
    _expect(tmp_path, sf.repack(good, hcrc=0), "header checksum")


def test_rejects_bad_json(tmp_path, good):
    _expect(tmp_path, sf.forge(good, header=b"\xff\xfe not utf-8"), "not valid JSON")
    _expect(tmp_path, sf.forge(good, header=b"[" * 5000 + b"]" * 5000), "not valid JSON|JSON values|object")
    _expect(tmp_path, sf.forge(good, header=b"{" + b'"a":1,' * 70000 + b'"b":1}'), "more than 65536")
    _expect(tmp_path, sf.forge(good, header=b'{"type":"RMI","type":"RMI"}'), "repeats the key")
    _expect(tmp_path, sf.forge(good, header=b'{"x":NaN}'), "NaN")
    _expect(tmp_path, sf.forge(good, header=b'{"x":' + b"9" * 5000 + b"}"), "not valid JSON")
    _expect(tmp_path, sf.forge(good, header=b"[]"), "exactly the keys")


def _set(path_, value):
    def mutate(doc):
        target = doc
        for k in path_[:-1]:
            target = target[k]
        target[path_[-1]] = value
    return mutate


def _sec(doc, name):
    return next(i for i, s in enumerate(doc["sections"]) if s["name"] == name)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(type="os.system"), "bad type tag"),
    (lambda d: d.update(type="Pickle"), "unknown type tag 'Pickle'"),
    (lambda d: d.update(meta=[1]), "meta must be an object"),
    (lambda d: d.update(writer=5), "writer"),
    (lambda d: d.update(extra=1), "exactly the keys"),
    (lambda d: d.update(sections={}), "sections must be a list"),
    (lambda d: d["sections"][0].update(dtype="|O8"), "unsupported dtype '|O8'"),
    (lambda d: d["sections"][0].update(dtype="<U4"), "unsupported dtype"),
    (lambda d: d["sections"][0].update(dtype="<b1"), "canonical"),
    (lambda d: d["sections"][0].update(dtype="<u3"), "unsupported dtype"),
    (lambda d: d["sections"][0].update(dtype={"base": "<f8", "shape": [0]}), "ints >= 1"),
    (lambda d: d["sections"][0].update(dtype={"base": "<f8", "shape": [1]}), "sub-array dtype is only allowed"),
    (lambda d: d["sections"][0].update(dtype={"base": "<i4", "shape": [2]}), "sub-array dtype is only allowed"),
    (lambda d: d.update(writer="\ud800"), "not valid Unicode"),
    (lambda d: d["meta"].update({"\udc00": 1}), "not valid Unicode"),
    (lambda d: d["sections"][0].update(dtype={"names": ["a", "a"], "formats": ["<f8", "<f8"], "offsets": [0, 8],
                                              "itemsize": 16}), "distinct"),
    (lambda d: d["sections"][0].update(dtype={"names": ["a", "b"], "formats": ["<f8", "<f8"], "offsets": [0, 4],
                                              "itemsize": 16}), "overlap"),
    (lambda d: d["sections"][0].update(dtype={"names": ["a"], "formats": ["<f8"], "offsets": [12],
                                              "itemsize": 16}), "outside"),
    (lambda d: d["sections"][0].update(dtype={"names": ["a"], "formats": ["|O8"], "offsets": [0],
                                              "itemsize": 8}), "unsupported dtype"),
    (lambda d: d["sections"][0].update(dtype={"base": {"base": {"base": {"base": {"base": {"base": "<f8",
     "shape": [1]}, "shape": [1]}, "shape": [1]}, "shape": [1]}, "shape": [1]}, "shape": [1]}), "nested deeper"),
    (lambda d: d["sections"][0].update(shape=[3, -1]), "ints >= 0"),
    (lambda d: d["sections"][0].update(shape=[True]), "ints >= 0"),
    (lambda d: d["sections"][0].update(shape=[0, 2 ** 62]), "larger than the file"),
    (lambda d: d["sections"][0].update(shape=[1] * 9), "at most 8"),
    (lambda d: d["sections"][0].update(nbytes=d["sections"][0]["nbytes"] + 8), "needs"),
    (lambda d: d["sections"][0].update(offset=d["sections"][0]["offset"] + 8), "not a multiple"),
    (lambda d: d["sections"][0].update(offset=d["sections"][0]["offset"] + 64), "canonical layout"),
    (lambda d: d["sections"][0].update(offset=-64), ">= 0"),
    (lambda d: d["sections"][0].update(crc32="XYZ"), "8 lowercase hex"),
    (lambda d: d["sections"][0].update(crc32="00000000"), "checksum mismatch"),
    (lambda d: d["sections"][0].update(name="../etc"), "bad name"),
    (lambda d: d["sections"][0].update(extra=1), "exactly the keys"),
    (lambda d: d["sections"].append(dict(d["sections"][0])), "appears twice"),
    (lambda d: d["sections"].pop(), "does not end where"),
    (lambda d: d["sections"].__setitem__(slice(None), [dict(s, shape=[10 ** 9], nbytes=8 * 10 ** 9)
                                                       if i == 0 else s for i, s in enumerate(d["sections"])]),
     "larger than the file|past the end"),
])
def test_rejects_forged_headers(tmp_path, good, edit, match):
    _expect(tmp_path, sf.forge(good, edit), match)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["meta"].update(version=99), "unknown version"),
    (lambda d: d["meta"].update(values="pickle"), "values kind"),
    (lambda d: d["meta"]["index"].update(n=5), "key count|n"),
    (lambda d: d["meta"]["index"].update(leaves="many"), "leaves"),
    (lambda d: d["meta"]["index"].update(dtype="object"), "dtype"),
    (lambda d: d["meta"]["index"].update(root="os.system"), "root|model"),
    (lambda d: d["meta"].pop("index"), "index"),
    (lambda d: d["sections"][_sec(d, "index.keys")].update(name="index.kees"), "keys|KeyError"),
])
def test_state_a_type_rejects_is_a_format_error(tmp_path, good, edit, match):
    _expect(tmp_path, sf.forge(good, edit), match)


@pytest.mark.parametrize("name", ["sortedlist_f64", "sortedset_i32", "sorteddict_f32", "sortedlist_empty"])
def test_containers_reject_an_unknown_state_version(tmp_path, saved, name):
    data = open(saved[name], "rb").read()
    _expect(tmp_path, sf.forge(data, lambda d: d["meta"].update(version=3)), "unknown .* state version 3")


def test_nonzero_padding_is_rejected(tmp_path, good):
    doc, start = sf.split(good)
    data = bytearray(good)
    data[start - 1] = 1                                  # after the header
    _expect(tmp_path, sf.repack(bytes(data)), "padding before section")
    data = bytearray(good)
    data[-1] = 1                                         # after the last section
    _expect(tmp_path, bytes(data), "padding at the end")


def test_btree_with_inconsistent_nodes_is_rejected(tmp_path, saved):
    data = open(saved["btree_u64"], "rb").read()
    doc, _ = sf.split(data)
    inner = doc["sections"][_sec(doc, "inner")]
    for pos, match in ((inner["offset"], "not its child's maximum|not sorted"),
                       (inner["offset"] + inner["nbytes"] - 8, "padding|maximum|sorted")):
        bad = bytearray(data)
        bad[pos:pos + 8] = np.uint64(12345).tobytes()
        import zlib
        lo, hi = inner["offset"], inner["offset"] + inner["nbytes"]
        fixed = sf.forge(bytes(bad), lambda d: d["sections"][_sec(d, "inner")].update(
            crc32=f"{zlib.crc32(bytes(bad[lo:hi])):08x}"))
        _expect(tmp_path, fixed, match)


# ------------------------------------------------------------------ content behind valid checksums

def _keys_with(data: bytes, name: str, dtype, edit) -> bytes:
    off, nbytes = sf.section(data, name)
    arr = np.frombuffer(data[off:off + nbytes], dtype=dtype).copy()
    edit(arr)
    return sf.rewrite_section(data, name, arr)


def _swap(a):
    a[10], a[11] = a[11].copy(), a[10].copy()


def _repeat(a):
    a[11] = a[10]


@pytest.mark.parametrize("name, section, dtype, edit, match", [
    ("rmi_u64", "keys", "<u8", _swap, "section 'keys' is not sorted: position 11"),
    ("rmi_f64_cubic_3stages", "keys", "<f8", lambda a: a.__setitem__(-1, np.nan), "holds NaN at position"),
    ("kv_f64", "index.keys", "<u8", _swap, "'index.keys' is not sorted"),
    ("kv_f64", "index.keys", "<u8", _repeat, "'index.keys' repeats the key .* at position 11"),
    ("kv_bytes", "values.offsets", "<u8", lambda a: a.__setitem__(5, a[-1]), "'values.offsets' is not sorted"),
    ("sortedset_i32", "keys", "<i4", _repeat, "repeats the key"),
    ("sorteddict_f32", "keys", "<i8", _repeat, "repeats the key"),
    ("sortedlist_f64", "keys", "<f8", _swap, "not sorted"),
    ("btree_u64", "keys", "<u8", _swap, "not sorted"),
    ("btree_u64", "keys", "<u8", lambda a: a.__setitem__(31, a[32]), "inner nodes do not match its keys"),
])
def test_section_content_is_checked(tmp_path, saved, name, section, dtype, edit, match):
    """Unsorted or NaN keys, repeated keys of a type whose keys are unique, decreasing value
    offsets, B-tree separators that are not the pages' last keys: rejected, not answered wrongly."""
    data = _keys_with(open(saved[name], "rb").read(), section, dtype, edit)
    _expect(tmp_path, data, match)                                   # small sections: always checked
    _expect(tmp_path, data, match, verify=False)


def test_duplicate_keys_are_kept_where_the_file_says_so(tmp_path, saved):
    data = _keys_with(open(saved["kv_f64"], "rb").read(), "index.keys", "<u8", _repeat)
    path = tmp_path / "dups.lidx"
    path.write_bytes(sf.forge(data, _set(("meta", "duplicates"), "keep")))
    kv = learnedidx.load(path)
    assert kv.get(int(kv.keys[10])) == kv.values[10]                  # the first of equal keys
    assert kv.range(kv.keys[10], kv.keys[12])[1].tolist() == kv.values[10:12].tolist()


def test_content_of_large_sections_is_checked_when_verified(tmp_path, monkeypatch):
    keys = np.arange(0, 3 * 10 ** 6, 10, dtype=np.uint64)          # 2.4 MB: a large section
    path = tmp_path / "big.lidx"
    learnedidx.save(learnedidx.RMI(keys), path)
    monkeypatch.setattr(persist, "_CHECK_CHUNK", 1000)
    at = 5000                                                       # a swap across two steps of the check
    data = _keys_with(path.read_bytes(), "keys", "<u8",
                      lambda a: a.__setitem__(slice(at - 1, at + 1), a[at - 1:at + 1][::-1].copy()))
    path.write_bytes(data)
    for kwargs in ({"verify": True}, {"mmap": False}, {"mmap": False, "verify": True}):
        with pytest.raises(FormatError, match=f"not sorted: position {at}"):
            learnedidx.load(path, **kwargs)
    learnedidx.load(path)                          # a mapped open without verify trusts the keys
    learnedidx.load(path, mmap=False, verify=False)


def test_leaf_counts_that_wrap_around_are_rejected(tmp_path, saved):
    data = open(saved["rmi_u64"], "rb").read()
    n = len(OBJECTS["rmi_u64"])

    def wrap(c):
        c[:] = 0
        c[:3] = [2 ** 63 - 1, 2 ** 63 - 1, n + 2]                    # int64 sum: n
    _expect(tmp_path, _keys_with(data, "leaf_counts", "<i8", wrap), "leaf counts must add up to n")


@pytest.mark.parametrize("config", [
    dict(root="radix", root_params={"bits": 18}, leaves=16),             # a 1 MiB root table
    dict(root="spline", root_params={"knots": 1 << 16}, leaves=16),      # 1 MiB of knots
    dict(stages=3, middle=1 << 16, leaves=1 << 16),                      # 65,536 middle models
    dict(stages=3, middle=1 << 12, leaves=1 << 14, middle_model="mlp"),
    dict(leaves=1 << 14, leaf_model="fences"),
])
@pytest.mark.parametrize("mm", [True, False])
def test_opening_allocates_no_more_than_the_file(tmp_path, config, mm):
    """Model tables are used in place: their Python-level forms (float lists, network
    objects) are only made when the reference path first needs them.  A mapped open
    allocates less than the file; an in-memory one holds the file's bytes plus the
    tables derived from them (spline slopes, the kernels' parameter vector)."""
    import tracemalloc
    keys = np.unique(np.random.default_rng(5).integers(0, 1 << 40, 200_000)).astype(np.uint64)
    path = tmp_path / "big_model.lidx"
    idx = learnedidx.RMI(keys, **config)
    learnedidx.save(idx, path)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        loaded = learnedidx.load(path, mmap=mm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limit = (size if mm else 2 * size) + (256 << 10)
    assert peak <= limit, f"opening a {size:,}-byte file allocated {peak:,} bytes"
    q = keys[::997]
    assert np.array_equal(loaded.searchsorted(q), np.searchsorted(keys, q))
    ref = learnedidx.load(path, mmap=mm)
    assert all(ref.searchsorted(int(x)) == int(np.searchsorted(keys, x)) for x in q[:50])


def test_open_kv_of_another_type(saved):
    with pytest.raises(FormatError, match="not a KeyValueIndex"):
        learnedidx.KeyValueIndex.open(saved["rmi_u64"])


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        learnedidx.load(tmp_path / "nope.lidx")


def test_fake_type_through_the_registry(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.TYPES, "Fake", "storage_files:Fake")
    obj = sf.Fake(np.arange(12, dtype=np.int16).reshape(3, 4), {"label": "x"})
    path = tmp_path / "f.lidx"
    learnedidx.save(obj, path)
    back = learnedidx.load(path)
    assert back.meta == {"label": "x"} and np.array_equal(back.table, obj.table)
    monkeypatch.setattr(sf.Fake, "reject", True)
    with pytest.raises(FormatError, match="Fake state in this file is inconsistent: ValueError: rejected"):
        learnedidx.load(path)
    monkeypatch.setitem(registry.TYPES, "Fake", "storage_files:Missing")
    with pytest.raises(FormatError, match="not available"):
        learnedidx.load(path)


def test_info_describes_the_file(saved):
    d = info(saved["kv_bytes"])
    assert d["type"] == "KeyValueIndex" and d["format_version"] == 1 and d["verified"]
    assert d["file_bytes"] == os.path.getsize(saved["kv_bytes"])
    names = [s["name"] for s in d["sections"]]
    assert names[0] == "index.keys" and names[-2:] == ["values.offsets", "values.blob"]
    assert all(s["offset"] % 64 == 0 for s in d["sections"])


# ------------------------------------------------------------------ imports

def test_load_never_imports_torch_or_matplotlib(saved):
    code = textwrap.dedent(f"""
        import sys, learnedidx
        for p in {[saved[k] for k in ("rmi_u64", "kv_bytes", "btree_u64")]!r}:
            obj = learnedidx.load(p)
            obj.get(1) if hasattr(obj, "get") else obj.searchsorted(1)
        bad = [m for m in ("torch", "matplotlib", "pickle") if m in sys.modules]
        print(bad)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             [os.path.dirname(__file__)] + os.environ.get("PYTHONPATH", "").split(os.pathsep))})
    assert out.returncode == 0, out.stderr
    assert "torch" not in out.stdout and "matplotlib" not in out.stdout, out.stdout


@pytest.mark.slow
def test_mlp_root_loads_without_torch(tmp_path):
    """An RMI with an MLP root (trained with torch) loads and answers with numpy alone."""
    pytest.importorskip("torch")
    from learnedidx.models import get_model
    try:
        get_model("mlp")
    except ValueError:
        pytest.skip("this build has no MLP root")
    keys = np.sort(np.random.default_rng(3).lognormal(0, 2, 500))
    path = str(tmp_path / "mlp.lidx")
    learnedidx.save(learnedidx.RMI(keys, root="mlp", leaves=16), path)
    code = textwrap.dedent(f"""
        import sys, numpy as np, learnedidx
        idx = learnedidx.load({path!r})
        k = idx.keys
        assert np.array_equal(idx.searchsorted(k), np.searchsorted(k, k))
        assert idx.root_name == "mlp"
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
