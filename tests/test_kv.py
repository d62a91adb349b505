"""``learnedidx.KeyValueIndex`` against a dict oracle, and the ``build``/``inspect``/``query`` CLI.

The oracle of a key-value index is a Python dict from each key to its first value
(``duplicates="keep"`` keeps the rest for ``range``) and ``numpy.searchsorted`` on the
sorted keys for ranges.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import learnedidx
from conftest import KEY_DTYPES
from learnedidx import FormatError, KeyValueIndex
from learnedidx.cli import main

VALUE_DTYPES = [np.int8, np.uint64, np.float32, np.complex128, np.bool_, "S5",
                np.dtype([("id", "<u4"), ("score", "<f8"), ("tag", "S3")]),
                np.dtype([("xy", "<f4", (2,)), ("n", "<i2")])]


def _values(dtype, n, seed=0):
    raw = np.random.default_rng(seed).integers(0, 256, n * np.dtype(dtype).itemsize, dtype=np.uint8)
    vals = raw.view(np.dtype(dtype))
    if np.dtype(dtype).kind == "b":
        vals = raw[:n] % 2 == 1
    if np.dtype(dtype).kind in "fc":
        vals = np.where(np.isnan(vals), 0, vals).astype(dtype)
    return np.ascontiguousarray(vals)


def _oracle(keys, values):
    d = {}
    for k, v in zip(keys.tolist(), values):
        d.setdefault(k, v)
    return d


def _same(a, b) -> bool:
    """Equal values, bit for bit (NaN payloads and structured sub-arrays included)."""
    if isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def _check_against_oracle(kv, keys, values, queries):
    oracle = _oracle(keys, values)
    order_keys = np.sort(keys, kind="stable")
    for q in queries.tolist():
        want = oracle.get(q, "absent")
        got = kv.get(q, "absent")
        assert _same(got, want), (q, got, want)
        assert (q in kv) == (q in oracle)
    got, found = kv.get_many(queries, return_found=True)
    assert found.tolist() == [q in oracle for q in queries.tolist()]
    for g, q, f in zip(got if isinstance(got, list) else list(got), queries.tolist(), found.tolist()):
        if f:
            assert _same(g, oracle[q])
    if queries.size >= 2:
        lo, hi = sorted(queries[:2].tolist())
        rk, rv = kv.range(lo, hi)
        a, b = np.searchsorted(order_keys, lo), np.searchsorted(order_keys, hi)
        assert rk.tolist() == order_keys[a:b].tolist()
        assert len(rv) == b - a


# ------------------------------------------------------------------ build and lookups

@pytest.mark.parametrize("vdt", VALUE_DTYPES, ids=str)
@pytest.mark.parametrize("kdt", KEY_DTYPES, ids=str)
def test_fixed_width_values_every_dtype(kdt, vdt):
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(0, 10_000, 500)).astype(kdt)
    rng.shuffle(keys)
    values = _values(vdt, keys.size)
    kv = KeyValueIndex.build(keys, values, sort=True)
    kv._check()
    q = np.concatenate([keys[:50], np.arange(-3, 60).astype(kdt) if np.dtype(kdt).kind != "u" else
                        np.arange(0, 60).astype(kdt)])
    _check_against_oracle(kv, keys, list(values), q)
    assert kv.value_dtype == values.dtype and len(kv) == keys.size


def test_bytes_values_and_duplicates_keep():
    keys = np.array([5, 1, 5, 3, 1, 9], dtype=np.int64)
    values = [b"a", b"", b"bb", b"ccc", b"dd", b"\x00\xff"]
    kv = KeyValueIndex.build(keys, values, sort=True, duplicates="keep")
    kv._check()
    assert kv.get(1) == b"" and kv.get(5) == b"a" and kv.get(9) == b"\x00\xff" and kv.get(2) is None
    rk, rv = kv.range(1, 6)
    assert rk.tolist() == [1, 1, 3, 5, 5] and rv == [b"", b"dd", b"ccc", b"a", b"bb"]
    assert kv.get_many([5, 7, 1], default=b"?") == [b"a", b"?", b""]
    assert kv[9] == b"\x00\xff"
    with pytest.raises(KeyError):
        kv[2]
    with pytest.raises(KeyError, match="7"):
        kv.get_many(np.array([5, 7]))
    assert kv.offsets.tolist() == [0, 0, 2, 5, 6, 8, 10] and kv.blob.tobytes() == b"ddcccabb\x00\xff"
    with pytest.raises(TypeError, match="bytes values"):
        kv.values


def test_rows_and_absent_fill():
    keys = np.arange(0, 40, 4, dtype=np.uint32)
    values = np.arange(keys.size * 3, dtype=np.float32).reshape(-1, 3)
    kv = KeyValueIndex.build(keys, values)
    got = kv.get_many(np.array([[0, 5], [36, 4]]), default=-1.0)
    assert got.shape == (2, 2, 3)
    assert got[0, 1].tolist() == [-1, -1, -1] and got[1, 0].tolist() == values[-1].tolist()
    vals, found = kv.get_many([1, 8], return_found=True)
    assert found.tolist() == [False, True] and vals[0].tolist() == [0, 0, 0]
    assert not kv.get(8).flags.writeable
    assert np.shares_memory(kv.values, values)                # not copied


@pytest.mark.parametrize("vdt", ["S3", "V2", np.dtype([("n", "<i2"), ("tag", "S2"), ("raw", "V1")])], ids=str)
def test_absent_rows_of_bytes_dtypes_are_zero_bytes(vdt):
    """No default (or None): absent rows hold zero bytes, b"" rather than b"0" in a bytes field."""
    values = np.frombuffer(b"\x01\x02\x03" * np.dtype(vdt).itemsize * 2, dtype=vdt)[:3].copy()
    kv = KeyValueIndex.build(np.array([1, 5, 9]), values)
    zero = np.zeros((), dtype=vdt).tobytes()
    vals, found = kv.get_many([5, 6], return_found=True)
    assert found.tolist() == [True, False]
    assert vals[:1].tobytes() == values[1:2].tobytes() and vals[1:].tobytes() == zero
    assert kv.get_many([0, 9], default=None)[:1].tobytes() == zero
    if np.dtype(vdt).kind == "S":
        assert kv.get_many([0], default=None).tolist() == [b""]


def test_exact_comparisons_of_any_numeric_query():
    kv = KeyValueIndex.build(np.array([2 ** 63, 2 ** 64 - 1], dtype=np.uint64), np.array([1, 2]))
    assert kv.get(2 ** 64 - 1) == 2 and kv.get(2.0 ** 64) is None and kv.get(-1) is None
    assert kv.get(float(2 ** 63)) == 1 and kv.get(2 ** 70) is None


def test_empty_index():
    kv = KeyValueIndex.build(np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int32))
    assert len(kv) == 0 and kv.get(1.0) is None
    assert kv.get_many([1.0, 2.0], default=7).tolist() == [7, 7]
    assert kv.range(0, 10)[0].size == 0
    kvb = KeyValueIndex.build([], [])
    assert kvb.get_many(np.array([1]), default=None) == [None]


@pytest.mark.parametrize("keys, values, kwargs, exc, match", [
    ([1, 1], [b"a", b"b"], {}, ValueError, "duplicate key 1.*duplicates='keep'"),
    ([2, 1], [b"a", b"b"], {}, ValueError, "sorted.*sort=True"),
    ([1, 2], [b"a"], {}, ValueError, "1 values for 2 keys"),
    ([1, 2], np.zeros(3), {"sort": True}, ValueError, "3 values for 2 keys"),
    ([1, 2], ["a", "b"], {}, TypeError, "encode"),
    ([1, 2], [1, 2], {}, TypeError, "fixed-width dtype or a sequence of bytes"),
    ([1, 2], np.array([object(), object()]), {}, TypeError, "fixed-width"),
    ([1, 2], np.array(["a", "b"]), {}, TypeError, "cannot be stored"),
    ([1, 2], np.zeros(4)[::2], {}, ValueError, "C-contiguous"),
    ([1, 2], np.float64(1.0), {}, TypeError, "got float64"),
    ([1, 2], np.array(1.0), {}, ValueError, "0-d"),
    ([1, 2], [b"a", b"b"], {"duplicates": "first"}, ValueError, "duplicates must be"),
    ([1.0, float("nan")], [b"a", b"b"], {"sort": True}, ValueError, "NaN"),
    (np.array([1, 2], dtype=np.int8), [b"a", b"b"], {}, TypeError, "unsupported key dtype"),
])
def test_build_errors_name_the_fix(keys, values, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        KeyValueIndex.build(keys, values, **kwargs)


def test_lookup_argument_errors():
    kv = KeyValueIndex.build([1, 2], [b"a", b"b"])
    with pytest.raises(TypeError, match="get_many"):
        kv.get([1, 2])
    with pytest.raises(ValueError, match="1-D"):
        kv.get_many(np.array([[1]]))
    with pytest.raises(TypeError, match="scalar"):
        kv.range([1], 2)


def test_index_parameters_and_default_index():
    keys = np.arange(0, 10_000, 3, dtype=np.int64)
    kv = KeyValueIndex.build(keys, keys.astype(np.float32), index={"root": "cubic", "leaves": 16})
    assert kv.index.root_name == "cubic" and kv.index.n_leaves == 16
    default = KeyValueIndex.build(keys, keys.astype(np.float32))
    assert isinstance(default.index, learnedidx.RMI)
    default.index._check()


@settings(max_examples=40, deadline=None)
@given(data=st.data(), kdt=st.sampled_from(KEY_DTYPES), kind=st.sampled_from(["fixed", "bytes"]),
       dups=st.booleans())
def test_random_builds_match_the_oracle(tmp_path_factory, data, kdt, kind, dups):
    info = np.iinfo(kdt) if np.dtype(kdt).kind in "iu" else None
    lo, hi = (max(info.min, -1000), min(info.max, 1000)) if info else (-1000, 1000)
    raw = data.draw(st.lists(st.integers(lo, hi), max_size=60))
    keys = np.array(raw, dtype=kdt)
    if not dups:
        keys = np.unique(keys)
        np.random.default_rng(0).shuffle(keys)
    n = keys.size
    values = [bytes([i % 256]) * (i % 5) for i in range(n)] if kind == "bytes" else np.arange(n, dtype=np.int64)
    kv = KeyValueIndex.build(keys, values, sort=True, duplicates="keep" if dups else "error")
    kv._check()
    order = np.argsort(keys, kind="stable")
    skeys = keys[order]
    svalues = [values[i] for i in order]
    q = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=30)), dtype=kdt)
    _check_against_oracle(kv, skeys, svalues, q)
    path = str(tmp_path_factory.mktemp("kv") / "kv.lidx")
    kv.save(path)
    for mm in (True, False):
        back = KeyValueIndex.open(path, mmap=mm)
        back._check()
        _check_against_oracle(back, skeys, svalues, q)


def test_state_round_trip_without_a_file():
    kv = KeyValueIndex.build(np.arange(10.0), [b"%d" % i for i in range(10)])
    back = KeyValueIndex._from_state(*kv._state())
    assert back.get_many(np.arange(10.0)) == kv.get_many(np.arange(10.0))
    meta, arrays = kv._state()
    arrays["values.offsets"] = arrays["values.offsets"][:-1].copy()
    with pytest.raises(ValueError, match="value offsets"):
        KeyValueIndex._from_state(meta, arrays)


def test_corrupt_offsets_are_caught_on_use():
    kv = KeyValueIndex.build(np.arange(4), [b"a", b"b", b"c", b"d"])
    offsets = kv.offsets.copy()
    offsets[2] = 99                                   # past the blob, as a forged file could say
    bad = KeyValueIndex(kv.index, None, offsets, kv.blob)
    with pytest.raises(FormatError, match="corrupt value offsets"):
        bad.get(1)
    with pytest.raises(FormatError, match="corrupt value offsets"):
        bad.get_many([0, 1])
    assert bad.get(0) == b"a"
    with pytest.raises(AssertionError, match="offsets"):
        bad._check()


# ------------------------------------------------------------------ CLI

@pytest.fixture
def key_files(tmp_path):
    keys = np.unique(np.random.default_rng(5).integers(0, 10 ** 9, 2000)).astype(np.uint64)
    np.save(tmp_path / "keys.npy", keys)
    np.save(tmp_path / "values.npy", (keys % 1000).astype(np.int32))
    with open(tmp_path / "keys_uint64", "wb") as f:                 # SOSD: count, then the keys
        f.write(np.array([keys.size], dtype="<u8").tobytes() + keys.astype("<u8").tobytes())
    return tmp_path, keys


def test_cli_build_inspect_query_key_value(key_files, capsys):
    d, keys = key_files
    out = str(d / "kv.lidx")
    assert main(["build", str(d / "keys.npy"), "--values", str(d / "values.npy"), "-o", out]) == 0
    cap = capsys.readouterr()
    assert "KeyValueIndex over 2,000 keys" in cap.out or f"over {keys.size:,} keys" in cap.out
    assert "[4/4] writing" in cap.err                             # progress on stderr
    kv = KeyValueIndex.open(out)
    assert kv.get(int(keys[7])) == keys[7] % 1000
    assert main(["inspect", out]) == 0
    text = capsys.readouterr().out
    assert "KeyValueIndex (format version 1" in text and "index.keys" in text and "all verified" in text
    assert "max_error" in text
    assert main(["inspect", out, "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert desc["type"] == "KeyValueIndex" and desc["stats"]["n"] == keys.size
    np.save(d / "q.npy", np.array([keys[3], 5], dtype=np.uint64))
    assert main(["query", out, str(int(keys[0])), "12", "--keys-file", str(d / "q.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{keys[0]}\t{keys[0] % 1000}"
    assert lines[1] == "12\tabsent"
    assert lines[2] == f"{keys[3]}\t{keys[3] % 1000}" and lines[3] == "5\tabsent"


def test_cli_build_index_only_from_sosd(key_files, capsys):
    d, keys = key_files
    out = str(d / "rmi.lidx")
    assert main(["build", str(d / "keys_uint64"), "-o", out, "--quiet", "--index", "root=linear,leaves=8"]) == 0
    assert capsys.readouterr().err == ""
    idx = learnedidx.load(out)
    assert idx.root_name == "linear" and idx.n_leaves == 8
    (d / "q.txt").write_text(f"{keys[1]}\n\n7.5\n")
    assert main(["query", out, "--keys-file", str(d / "q.txt"), "--no-mmap"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{keys[1]}\tposition 1\tfound", f"7.5\tposition {np.searchsorted(keys, 7.5)}\tabsent"]


def test_cli_inspect_plot(key_files, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    d, _ = key_files
    out = str(d / "rmi.lidx")
    assert main(["build", str(d / "keys.npy"), "-o", out, "--quiet"]) == 0
    assert main(["inspect", out, "--plot", str(tmp_path / "plots"), "--no-verify"]) == 0
    assert os.path.getsize(tmp_path / "plots" / "rmi_errors.png") > 1000


@pytest.mark.parametrize("argv, match", [
    (["query", "{d}/missing.lidx", "1"], "No such file"),
    (["inspect", "{d}/keys.npy"], "bad magic.*npy"),
    (["query", "{d}/good.lidx"], "give keys"),
    (["query", "{d}/good.lidx", "one"], "not a number"),
    (["build", "{d}/keys.npy", "--values", "{d}/short.npy", "-o", "{d}/x.lidx"], "values for"),
    (["build", "{d}/keys.npy", "--values", "{d}/values.npy", "--n", "5", "-o", "{d}/x.lidx"], "drop --n"),
    (["build", "{d}/nothing.npy", "-o", "{d}/x.lidx"], "unknown dataset|not a file"),
    (["build", "{d}/keys.npy", "--index", "leaves", "-o", "{d}/x.lidx"], "PARAM=VALUE"),
    (["build", "{d}/keys.npy", "--index", "leaves=0", "-o", "{d}/x.lidx"], "leaves"),
    (["inspect", "{d}/bytes.lidx", "--plot", "{d}/p"], "no model errors"),
])
def test_cli_user_errors_exit_2(key_files, capsys, argv, match):
    d, keys = key_files
    np.save(d / "short.npy", np.zeros(3))
    learnedidx.save(learnedidx.RMI(keys), d / "good.lidx")
    from learnedidx.baselines import BTree
    learnedidx.save(BTree(keys), d / "bytes.lidx")
    (d / "x.lidx").unlink(missing_ok=True)
    assert main([a.format(d=d) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]       # after any progress lines
    assert err.startswith(f"learnedidx {argv[0]}: error:")
    import re
    assert re.search(match, err), err
    assert not (d / "x.lidx").exists()


def test_open_damaged_file_through_the_cli_and_the_api(key_files, capsys):
    d, keys = key_files
    path = d / "kv.lidx"
    KeyValueIndex.build(keys, keys.astype(np.float64)).save(path)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError):
        KeyValueIndex.open(path)
    assert main(["query", str(path), "1"]) == 2
    assert "checksum" in capsys.readouterr().err
